/**
 * Pipes between the shim and a process, made from a FIFO in a private directory that is unlinked at once
 * (a FIFO is the kernel's pipe object with a name; after the unlink the two ends are an ordinary pipe).
 * Both ends are close-on-exec (Node opens everything with O_CLOEXEC; runtimes dup the process's end).
 *
 * The process's end is opened in blocking mode (programs expect blocking stdio); ours is wrapped in a libuv
 * pipe handle. Our write end of an input pipe is write-only, so writes fail with EPIPE (never block) once the
 * process has closed its stdin.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkfifo } from '../../native/sys/linux';
import { closeFd, openFd } from './fifo';

const { O_RDONLY, O_WRONLY, O_RDWR, O_NONBLOCK } = fs.constants;
let counter = 0;

async function withFifo<T>(dir: string, use: (p: string) => Promise<T>): Promise<T> {
  const p = path.join(dir, `pipe-${process.pid}-${++counter}`);
  mkfifo(p, 0o600);
  try {
    return await use(p);
  } finally {
    fs.unlink(p, () => {});
  }
}

/** A pipe the process writes (stdout/stderr): { ours: read end, theirs: write end }. */
export function outputPipe(dir: string): Promise<{ ours: number; theirs: number }> {
  return withFifo(dir, async (p) => {
    const ours = await openFd(p, O_RDONLY | O_NONBLOCK);
    try {
      const theirs = await openFd(p, O_WRONLY); // a reader exists: does not wait
      return { ours, theirs };
    } catch (err) {
      closeFd(ours);
      throw err;
    }
  });
}

/** A pipe the process reads (stdin): { ours: write end, theirs: read end }. */
export function inputPipe(dir: string): Promise<{ ours: number; theirs: number }> {
  return withFifo(dir, async (p) => {
    const both = await openFd(p, O_RDWR | O_NONBLOCK); // holds a writer while the blocking read end opens
    try {
      const theirs = await openFd(p, O_RDONLY);
      try {
        const ours = await openFd(p, O_WRONLY | O_NONBLOCK);
        return { ours, theirs };
      } catch (err) {
        closeFd(theirs);
        throw err;
      }
    } finally {
      closeFd(both);
    }
  });
}
