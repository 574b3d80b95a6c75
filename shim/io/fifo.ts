/**
 * Client FIFOs, opened without ever blocking the event loop (every open uses O_NONBLOCK, on the thread pool).
 *
 * Output (`FifoOutput`): opened write-only; when no reader is there yet (ENXIO) it is opened read-write so
 * output waits in the FIFO for a reader that comes later (as with containerd). A reader that goes away makes
 * our writes fail with EPIPE: the data is dropped (never SIGPIPE: Node ignores it, and the container writes to
 * our pipe, not to the FIFO) and the FIFO is re-opened when a new reader shows up (checked at most every
 * REOPEN_INTERVAL_MS while output flows), so a client that re-attaches gets the output from then on.
 *
 * Input (`FifoInput`): opened read-only, plus a write end we keep ourselves so the client closing its writer
 * is not an end of input; `closeKeepalive()` (CloseIO) drops ours, then the client's close ends the input.
 */
import fs from 'node:fs';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import nodePath from 'node:path';
import { InvalidArgument, NotFound } from '../../pkg/errdefs';

const { O_RDONLY, O_WRONLY, O_RDWR, O_NONBLOCK, O_NOFOLLOW } = fs.constants;
export const REOPEN_INTERVAL_MS = 250;

export function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

export function closeFd(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  fs.close(fd, () => {});
}

/**
 * Opens a client FIFO: O_NOFOLLOW and an fstat after the open, so a path swapped for a symlink or a regular
 * file after `checkFifoPath` (or before a re-open) is refused, never written to or read from.
 */
export async function openFifoFd(path: string, flags: number, what: string): Promise<number> {
  const fd = await openFd(path, flags | O_NOFOLLOW);
  try {
    const st = await new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (err, s) => (err ? reject(err) : resolve(s))));
    if (!st.isFIFO()) throw new InvalidArgument(`${what} ${path}: not a fifo`);
    return fd;
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

/** Client IO paths must be absolute and name a FIFO itself (not a symlink to one). */
export async function checkFifoPath(p: string, what: string): Promise<void> {
  if (!nodePath.isAbsolute(p)) throw new InvalidArgument(`${what} ${p}: fifo path must be absolute`);
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(`${what} ${p}: no such fifo`, { cause: err });
    throw err;
  }
  if (!st.isFIFO()) throw new InvalidArgument(`${what} ${p}: not a fifo`);
}

/** A stream socket over a pipe/FIFO fd (libuv polls it; the socket owns the fd). */
export function pipeSocket(fd: number, mode: 'read' | 'write'): net.Socket {
  const s = new net.Socket({ fd, readable: mode === 'read', writable: mode === 'write', allowHalfOpen: true });
  return s;
}

/** Output to a client FIFO. Emits 'drain' like a writable when a refused write may be retried. */
export class FifoOutput extends EventEmitter {
  private socket: net.Socket | undefined;
  private broken = false;
  private lastReopen = 0;
  private reopening = false;
  private ended = false;

  private constructor(readonly path: string) {
    super();
  }

  static async open(path: string, what = 'stdout'): Promise<FifoOutput> {
    await checkFifoPath(path, what);
    const out = new FifoOutput(path);
    let fd: number;
    try {
      fd = await openFifoFd(path, O_WRONLY | O_NONBLOCK, what);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
      fd = await openFifoFd(path, O_RDWR | O_NONBLOCK, what); // no reader yet: hold the output for one
    }
    out.attach(fd);
    return out;
  }

  private attach(fd: number): void {
    const s = pipeSocket(fd, 'write');
    this.socket = s;
    this.broken = false;
    s.on('drain', () => this.emit('drain'));
    s.on('error', () => {
      // EPIPE (reader gone) or any write error: drop output until a reader comes back.
      if (this.socket === s) {
        this.socket = undefined;
        this.broken = true;
        this.emit('drain');
      }
      s.destroy();
    });
  }

  /** Queues a chunk; false asks the caller to wait for 'drain' (a slow reader). Dropped without a reader. */
  write(chunk: Buffer): boolean {
    if (this.ended) return true;
    if (this.broken || !this.socket) {
      this.maybeReopen();
      return true;
    }
    return this.socket.write(chunk);
  }

  private maybeReopen(): void {
    const now = Date.now();
    if (this.reopening || now - this.lastReopen < REOPEN_INTERVAL_MS) return;
    this.lastReopen = now;
    this.reopening = true;
    openFifoFd(this.path, O_WRONLY | O_NONBLOCK, 'output')
      .then((fd) => {
        if (this.ended || this.socket) closeFd(fd);
        else this.attach(fd);
      })
      .catch(() => {}) // ENXIO: still nobody reading; ENOENT: the client removed it; ELOOP / not a fifo: replaced
      .finally(() => (this.reopening = false));
  }

  /** Flushes what is queued and closes (the reader sees end of file). Resolves when done or failed. */
  end(): Promise<void> {
    this.ended = true;
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      s.once('close', () => resolve());
      s.end(() => s.destroy());
    });
  }

  /** Closes at once, dropping anything queued. */
  destroy(): void {
    this.ended = true;
    this.socket?.destroy();
    this.socket = undefined;
  }
}

/** Input from a client FIFO. */
export class FifoInput {
  private keepalive: number | undefined;

  private constructor(
    readonly path: string,
    readonly socket: net.Socket,
    keepalive: number,
  ) {
    this.keepalive = keepalive;
  }

  static async open(path: string): Promise<FifoInput> {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) throw new InvalidArgument(`stdin ${path}: URIs are not supported for stdin`);
    await checkFifoPath(path, 'stdin');
    const rfd = await openFifoFd(path, O_RDONLY | O_NONBLOCK, 'stdin');
    let wfd: number;
    try {
      wfd = await openFifoFd(path, O_WRONLY | O_NONBLOCK, 'stdin'); // succeeds: we are a reader
    } catch (err) {
      closeFd(rfd);
      throw err;
    }
    const socket = pipeSocket(rfd, 'read');
    socket.on('error', () => socket.destroy());
    return new FifoInput(path, socket, wfd);
  }

  /** CloseIO: from now on the client's close of its write end is the end of input. */
  closeKeepalive(): void {
    closeFd(this.keepalive);
    this.keepalive = undefined;
  }

  destroy(): void {
    this.closeKeepalive();
    this.socket.destroy();
  }
}
