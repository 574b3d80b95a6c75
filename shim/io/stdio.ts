/**
 * The stdio of one process: the client's FIFOs (any may be empty), the pipes or pty the process gets, and the
 * copies between them.
 *
 * Without a terminal the process gets three pipes we create (never the FIFOs themselves: a client that goes
 * away must not SIGPIPE the container). stdout/stderr are copied pipe → FIFO with backpressure; when the
 * client's reader is gone the data is dropped (FifoOutput). With a terminal the runtime hands us the pty
 * master: master → stdout FIFO, stdin FIFO → master.
 *
 * `drained(ms)` resolves once every output copy reached end of file and flushed into its FIFO, or when `ms`
 * passed (grandchildren can hold the pipe open): the shim reports an exit only after it, so output written
 * just before exit is never lost.
 */
import net from 'node:net';
import tty from 'node:tty';
import { FifoInput, FifoOutput, closeFd, pipeSocket } from './fifo';
import { FileOutput, fileUriPath, type OutputSink } from './file-output';
import { inputPipe, outputPipe } from './pipe';
import type { Logger } from '../../pkg/log';

export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** The ends the process gets (dup'ed by the runtime, or stdio of the OCI runtime binary). */
export interface ProcessFds {
  stdin?: number;
  stdout?: number;
  stderr?: number;
}

type Source = net.Socket;

export class ProcessStdio {
  /** Ends for the process; closed by `started()` once the runtime has them. */
  readonly processFds: ProcessFds = {};
  private stdinIn: FifoInput | undefined;
  private outputs: OutputSink[] = [];
  private stdinSink: net.Socket | undefined;
  private sources: Source[] = [];
  private copies: Promise<void>[] = [];
  private consoleStream: tty.ReadStream | undefined;
  private closed = false;

  private constructor(
    readonly paths: StdioPaths,
    private readonly log: Logger,
  ) {}

  /** Opens the FIFOs and, without a terminal, creates the process's pipes. Cleans up after itself on error. */
  static async open(paths: StdioPaths, workDir: string, log: Logger): Promise<ProcessStdio> {
    const io = new ProcessStdio(paths, log);
    try {
      await io.openAll(workDir);
      return io;
    } catch (err) {
      io.close();
      throw err;
    }
  }

  private async openAll(workDir: string): Promise<void> {
    const { stdin, stdout, stderr, terminal } = this.paths;
    const opened = await Promise.allSettled([
      stdin ? FifoInput.open(stdin) : undefined,
      stdout ? openOutput(stdout, 'stdout') : undefined,
      stderr && !terminal ? openOutput(stderr, 'stderr') : undefined,
    ] as const);
    const [inp, out, err] = opened.map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as [FifoInput?, OutputSink?, OutputSink?];
    this.stdinIn = inp;
    if (out) this.outputs.push(out);
    if (err) this.outputs.push(err);
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (terminal) return; // the runtime gives us a pty master instead of pipes

    if (inp) {
      const { ours, theirs } = await inputPipe(workDir);
      this.processFds.stdin = theirs;
      this.stdinSink = pipeSocket(ours, 'write');
      this.stdinSink.on('error', () => this.stdinSink?.destroy()); // EPIPE: the process closed its stdin
      inp.socket.pipe(this.stdinSink);
    }
    for (const [which, o] of [['stdout', out], ['stderr', err]] as const) {
      if (!o) continue;
      const { ours, theirs } = await outputPipe(workDir);
      this.processFds[which] = theirs;
      const src = pipeSocket(ours, 'read');
      this.sources.push(src);
      this.copies.push(copyOut(src, o));
    }
  }

  /** The runtime holds its copies of the process ends now: close ours so end of file can happen. */
  started(): void {
    for (const k of ['stdin', 'stdout', 'stderr'] as const) {
      closeFd(this.processFds[k]);
      delete this.processFds[k];
    }
  }

  /** Terminal: copy between the pty master (owned by us from now on) and the FIFOs. */
  attachConsole(master: number): void {
    const con = new tty.ReadStream(master);
    this.consoleStream = con;
    const out = this.outputs[0];
    if (out) {
      this.copies.push(copyOut(con as unknown as net.Socket, out));
    } else {
      con.on('error', () => {});
      con.resume(); // keep the pty drained
    }
    if (this.stdinIn) {
      const input = this.stdinIn.socket;
      input.on('data', (chunk: Buffer) => {
        if (!con.destroyed) (con as unknown as net.Socket).write(chunk);
      });
    }
  }

  /** CloseIO: the process sees end of file on stdin once the client's writes are delivered. */
  closeStdin(): void {
    if (this.stdinIn) this.stdinIn.closeKeepalive();
    else this.stdinSink?.end();
  }

  /** True once every output copy is done (EOF + flushed), false when `timeoutMs` ran out first. */
  async drained(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([Promise.all(this.copies).then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes everything (Delete, or a failed create). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.started();
    this.stdinIn?.destroy();
    this.stdinSink?.destroy();
    for (const s of this.sources) s.destroy();
    this.consoleStream?.destroy();
    for (const o of this.outputs) o.destroy();
    this.log.debug('stdio closed');
  }
}

/** A FIFO path, or a file:// URI. */
function openOutput(p: string, what: string): Promise<OutputSink> {
  const file = fileUriPath(p, what);
  return file ? FileOutput.open(file) : FifoOutput.open(p, what);
}

/** Copies a process output to its sink with backpressure; resolves after end of file and flush. */
function copyOut(src: net.Socket, out: OutputSink): Promise<void> {
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      out.end().then(resolve, resolve);
    };
    src.on('data', (chunk: Buffer) => {
      if (!out.write(chunk)) {
        src.pause();
        out.once('drain', () => src.resume());
      }
    });
    src.on('end', finish);
    src.on('close', finish);
    src.on('error', () => finish()); // EIO on a pty master when the last slave closes = end of file
  });
}
