/**
 * The client's FIFO sets, as containerd's cio.NewFIFOSetInDir makes them: a fresh directory under the FIFO
 * root holding `<id>-stdin`, `<id>-stdout`, `<id>-stderr`; the daemon's shim opens the other ends.
 *
 * Node cannot mkfifo(3) itself, so one `mkfifo` process makes the whole set. Opening is done elsewhere
 * (ctr/io/streams.ts) with O_NONBLOCK so it can never stall the event loop.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface FifoSet {
  /** The directory holding the FIFOs ('' for a set loaded from a task's paths). */
  dir: string;
  /** Paths; '' when that stream is not used. */
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** Where bctr puts its FIFO directories: /run/berth/fifo for root (like /run/containerd/fifo), else tmp. */
export function defaultFifoRoot(): string {
  return process.getuid?.() === 0 ? '/run/berth/fifo' : path.join(os.tmpdir(), 'bctr-fifo');
}

export interface FifoRequest {
  /** Process id (container id, or exec id) used in the FIFO names. */
  id: string;
  terminal: boolean;
  stdin: boolean;
  stdout: boolean;
  /** Ignored when terminal is set: a pty merges stderr into stdout. */
  stderr: boolean;
  /** --fifo-dir; default defaultFifoRoot(). */
  root?: string;
}

/** Creates a directory and the FIFOs in it; the caller removes it with removeFifoSet. */
export async function newFifoSet(req: FifoRequest): Promise<FifoSet> {
  const root = req.root || defaultFifoRoot();
  await fs.promises.mkdir(root, { recursive: true, mode: 0o700 });
  const dir = await fs.promises.mkdtemp(root + path.sep);
  const set: FifoSet = {
    dir,
    stdin: req.stdin ? path.join(dir, `${req.id}-stdin`) : '',
    stdout: req.stdout ? path.join(dir, `${req.id}-stdout`) : '',
    stderr: req.stderr && !req.terminal ? path.join(dir, `${req.id}-stderr`) : '',
    terminal: req.terminal,
  };
  const paths = [set.stdin, set.stdout, set.stderr].filter((p) => p !== '');
  try {
    if (paths.length > 0) await execFileAsync('mkfifo', ['-m', '0700', ...paths]);
  } catch (err) {
    await fs.promises.rm(dir, { recursive: true, force: true });
    throw new Error(`mkfifo in ${dir}: ${(err as Error).message.trim()}`, { cause: err });
  }
  return set;
}

/** Removes a set made by newFifoSet. */
export async function removeFifoSet(set: FifoSet): Promise<void> {
  if (set.dir) await fs.promises.rm(set.dir, { recursive: true, force: true });
}

function isFifo(p: string): boolean {
  try {
    return fs.lstatSync(p).isFIFO();
  } catch {
    return false;
  }
}

/**
 * containerd's loadFifos closer, for a task loaded from the daemon: removes each path that is a FIFO and
 * then its directory when it has become empty.
 */
export async function removeFifoPaths(paths: string[]): Promise<void> {
  const dirs = new Set<string>();
  for (const p of paths) {
    if (p && isFifo(p)) {
      await fs.promises.rm(p, { force: true });
      dirs.add(path.dirname(p));
    }
  }
  for (const d of dirs) await fs.promises.rmdir(d).catch(() => undefined);
}
