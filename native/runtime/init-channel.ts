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
 * berth-init gets the process's stdio as fds 0-2 and the protocol socket as fd 3 (one end of a socketpair).
 * It is started with posix_spawn(3), not child_process (which forks the whole Node process: ~2.5 ms against
 * ~0.5 ms), and exits right after reporting the pid (reapSoon collects it). The container process is
 * cloned with CLONE_PARENT, so it is our child and our Reaper collects its exit status.
 */
import fs from 'node:fs';
import { Socket } from 'node:net';
import { DeadlineExceeded, Internal, InvalidArgument, NotFound, type BerthError } from '../../pkg/errdefs';
import { posixSpawn, socketPair, waitpid, WNOHANG } from '../sys/linux';

/** How long berth-init may take to report each step. */
export const INIT_STEP_TIMEOUT_MS = 15_000;

type Stdio = number | 'ignore';

let devNull: number | undefined;

export class InitChannel {
  private buf = '';
  private readonly lines: string[] = [];
  private ended = false;
  private sawWaiting = false;
  private wake: (() => void) | undefined;

  private constructor(private readonly sock: Socket, private readonly what: string, private readonly spawnedPid: number) {
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
  }

  /**
   * Starts `exe <mode>` (posix_spawn) with the stdio fds, the protocol socket (fd 3) and `extraFds` (fds 4...,
   * moved down to 3... by berth-init before exec), and writes the configuration.
   */
  static start(exe: string, mode: 'init' | 'exec', config: Buffer, stdio: [Stdio, Stdio, Stdio], what: string, extraFds: readonly number[] = []): InitChannel {
    devNull ??= fs.openSync('/dev/null', 'r+');
    const [ours, theirs] = socketPair();
    let pid: number;
    try {
      pid = posixSpawn(exe, ['berth-init', mode], [], [...stdio.map((s) => (s === 'ignore' ? devNull! : s)), theirs, ...extraFds]);
    } catch (err) {
      fs.closeSync(ours);
      throw new Internal(`${what}: start berth-init: ${(err as Error).message}`, { cause: err });
    } finally {
      fs.closeSync(theirs);
    }
    const sock = new Socket({ fd: ours, readable: true, writable: true });
    const ch = new InitChannel(sock, what, pid);
    sock.on('close', () => reapSoon(pid));
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
    return null;
  }

  /** Waits for "pid N" and returns N. */
  async pid(): Promise<number> {
    const line = await this.expect('pid');
    const pid = Number(line.slice(4));
    if (!Number.isInteger(pid) || pid <= 0) throw new Internal(`${this.what}: berth-init sent "${line}"`);
    reapSoon(this.spawnedPid); // it exits right after this line
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

/**
 * berth-init is our child but not libuv's: collect its exit (it exits right after "pid") without blocking,
 * retrying a few times with growing delays; its status is of no interest (failures arrive as "error").
 */
function reapSoon(pid: number, attempt = 0): void {
  try {
    if (waitpid(pid, WNOHANG).pid !== 0) return;
  } catch {
    return; // ECHILD: already collected
  }
  if (attempt < 20) setTimeout(() => reapSoon(pid, attempt + 1), Math.min(2 ** attempt, 1000)).unref();
}
