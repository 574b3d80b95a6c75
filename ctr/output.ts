/**
 * Where bctr's own text goes: stdout and stderr by default; tests running `main()` in process swap in
 * buffers. (A process's IO copied from its FIFOs always goes to the real stdio.)
 */
export interface TextSink {
  write(text: string): unknown;
}

let out: TextSink = process.stdout;
let err: TextSink = process.stderr;

export function setOutput(stdout: TextSink, stderr: TextSink): void {
  out = stdout;
  err = stderr;
}

export function writeOut(text: string): void {
  out.write(text);
}

export function writeErr(text: string): void {
  err.write(text);
}
