/**
 * Starting berth-init and speaking its protocol (native/init/berth-init.c, docs/init-protocol.md):
 *
 *   runtime → init   the configuration (one netstring); the byte 'G' ("go") after "waiting" when the
 *                    configuration has a "wait-go" operation
 *   init → runtime   "pid <host pid>\n", "waiting\n" (at wait-go: its namespaces exist), "pty <fd>\n" (a pty
 *                    made in the container: the runtime copies the master with pidfd_getfd, then sends 'G'),
 *                    then "ready\n"
 *                    (init only) or "error <message>\n"; EOF after that without an error means the process
 *                    exec'd (the socket is close-on-exec).
 *
 * berth-init gets the process's stdio as fds 0-2 and the protocol socket as fd 3 (a socketpair made by
 * child_process for the 'pipe' slot). It exits right after reporting the pid: the container process is
 * cloned with CLONE_PARENT, so it is our child and our Reaper collects its exit status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { DeadlineExceeded, Internal, InvalidArgument, NotFound, type BerthError } from '../../pkg/errdefs';
import { sendFds } from '../sys/linux';

/** How long berth-init may take to report each step. */
export const INIT_STEP_TIMEOUT_MS = 15_000;

type Stdio = number | 'ignore';

export class InitChannel {
  private buf = '';
  private readonly lines: string[] = [];
  private ended = false;
  private spawnError: Error | undefined;
  private sawWaiting = false;
  private wake: (() => void) | undefined;

  private constructor(private readonly child: ChildProcess, private readonly sock: Socket, private readonly what: string) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
      this.notify();
    });
    const end = (): void => {
      this.ended = true;
      this.notify();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
    child.on('error', (err) => {
      this.spawnError = err;
      end();
    });
  }

  /**
   * Starts berth-init for `mode` with the stdio fds and writes the configuration: a spare one when
   * `useSpare` and one is ready (its mode and stdio sent over the socket), else `spawn(exe <mode>)`.
   */
  static start(exe: string, mode: 'init' | 'exec', config: Buffer, stdio: [Stdio, Stdio, Stdio], what: string, useSpare = false): InitChannel {
    const spare = useSpare ? takeSpare(exe) : undefined;
    if (spare) {
      try {
        const fds = stdio.filter((s): s is number => s !== 'ignore');
        const mask = stdio.reduce<number>((m, s, i) => (s === 'ignore' ? m : m | (1 << i)), 0);
        sendFds(socketFd(spare.sock), fds, Buffer.from([mode === 'init' ? 0x69 : 0x65, mask]));
        spare.child.ref();
        spare.sock.ref();
        const ch = new InitChannel(spare.child, spare.sock, what);
        spare.sock.write(config);
        return ch;
      } catch {
        spare.sock.destroy(); // fall back to a fresh one
      }
    }
    const child = spawn(exe, [mode], { stdio: [...stdio, 'pipe'], env: {}, argv0: 'berth-init' });
    const sock = child.stdio[3] as Socket;
    const ch = new InitChannel(child, sock, what);
    sock.write(config);
    return ch;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next line from berth-init, or null at EOF. */
  async next(timeoutMs = INIT_STEP_TIMEOUT_MS): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0 && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new DeadlineExceeded(`${this.what}: berth-init did not answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.lines.length > 0) return this.lines.shift()!;
    if (this.spawnError) throw new Internal(`${this.what}: start berth-init: ${this.spawnError.message}`, { cause: this.spawnError });
    return null;
  }

  /** Waits for "pid N" and returns N. */
  async pid(): Promise<number> {
    const line = await this.expect('pid');
    const pid = Number(line.slice(4));
    if (!Number.isInteger(pid) || pid <= 0) throw new Internal(`${this.what}: berth-init sent "${line}"`);
    return pid;
  }

  /** Waits for "waiting" (the child reached wait-go: its namespaces exist). */
  async waiting(): Promise<void> {
    this.sawWaiting = true;
    await this.expect('waiting');
  }

  /** Waits for "pty <fd>": the number of the pty master in the child (copy it, then send go). */
  async pty(): Promise<number> {
    const line = await this.expect('pty');
    const fd = Number(line.slice(4));
    if (!Number.isInteger(fd) || fd < 0) throw new Internal(`${this.what}: berth-init sent "${line}"`);
    return fd;
  }

  /** Waits for "ready" (init mode). */
  async ready(): Promise<void> {
    await this.expect('ready');
  }

  /** Waits for EOF (the process exec'd); an "error" line rejects. */
  async execed(timeoutMs = INIT_STEP_TIMEOUT_MS): Promise<void> {
    const line = await this.nextFor('EOF', timeoutMs);
    if (line === null) return;
    throw this.failure(line);
  }

  /** Lets the cloned process go on (it waits for this byte after reporting its pid). */
  go(): void {
    this.sock.write('G');
  }

  close(): void {
    this.sock.destroy();
    this.child.unref();
  }

  /** The next line, skipping "waiting" unless `word` is it (awaited only when needed: prestart hooks). */
  private async nextFor(word: string, timeoutMs?: number): Promise<string | null> {
    const line = await this.next(timeoutMs);
    if (line === 'waiting' && word !== 'waiting' && !this.sawWaiting) {
      this.sawWaiting = true;
      return this.next(timeoutMs);
    }
    return line;
  }

  private async expect(word: string): Promise<string> {
    const line = await this.nextFor(word);
    if (line === null) throw new Internal(`${this.what}: berth-init exited before "${word}"`);
    if (line === word || line.startsWith(word + ' ')) return line;
    throw this.failure(line);
  }

  private failure(line: string): BerthError {
    const msg = `${this.what}: ${line.startsWith('error ') ? line.slice(6) : `unexpected "${line}" from berth-init`}`;
    if (/executable file not found|exec: "[^"]*": stat|no such file or directory/i.test(msg)) return new NotFound(msg);
    if (/symlink|outside the container|bad operation|not a file name/.test(msg)) return new InvalidArgument(msg);
    return new Internal(msg);
  }
}

interface Spare {
  child: ChildProcess;
  sock: Socket;
}

/** One spare berth-init per binary, started ahead of time: taking it saves child_process.spawn (~2 ms). */
const spares = new Map<string, Spare>();

function socketFd(sock: Socket): number {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no socket descriptor');
  return fd;
}

/** Starts a spare berth-init for `exe` if there is none (it waits, unref'd, for a start message). */
export function prepareSpareInit(exe: string): void {
  const known = spares.get(exe);
  if (known && known.child.exitCode === null && !known.sock.destroyed) return;
  const child = spawn(exe, ['spare'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: {}, argv0: 'berth-init' });
  const sock = child.stdio[3] as Socket;
  const spare = { child, sock };
  const drop = (): void => {
    if (spares.get(exe) === spare) spares.delete(exe);
  };
  child.on('error', drop);
  child.on('exit', drop);
  sock.on('error', drop);
  sock.on('close', drop);
  child.unref();
  sock.unref();
  spares.set(exe, spare);
}

/** The spare for `exe`, if one is ready; another is prepared once the current work yields. */
function takeSpare(exe: string): Spare | undefined {
  const spare = spares.get(exe);
  spares.delete(exe);
  setImmediate(() => prepareSpareInit(exe));
  if (!spare || spare.child.exitCode !== null || spare.sock.destroyed || spare.child.pid === undefined) return undefined;
  return spare;
}
