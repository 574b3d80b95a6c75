/**
 * Collecting exit statuses of container processes. The process that uses the runtime (the shim, a test) is
 * their reaper: container inits and exec'd processes are cloned with CLONE_PARENT, so they are its
 * children; orphans of its other descendants come to it as a child subreaper.
 *
 * On SIGCHLD the Reaper calls waitpid(pid, WNOHANG) for each WATCHED pid only — never waitpid(-1), which
 * would steal the statuses of libuv's own children (child_process). A pid stays a zombie until it is
 * waited for, so `watch` works before or after the exit: it tries waitpid at once, then on every SIGCHLD.
 */
import fs from 'node:fs';
import os from 'node:os';
import { decodeWaitStatus, setChildSubreaper, waitpid, WNOHANG } from '../sys/linux';
import { getLogger } from '../../pkg/log';

export interface ExitStatus {
  /** the exit code, or 128 + the signal number when a signal killed the process */
  exitStatus: number;
  /** the signal's name (SIGKILL) when a signal killed the process */
  signal?: string;
  exitedAt: Date;
}

const signalNames: Record<number, string> = Object.fromEntries(
  Object.entries(os.constants.signals).map(([name, num]) => [num, name]),
);

/** Builds an ExitStatus from a raw wait status. */
export function exitStatusOf(status: number, exitedAt = new Date()): ExitStatus {
  const { code, signal } = decodeWaitStatus(status);
  if (signal !== undefined) return { exitStatus: 128 + signal, signal: signalNames[signal] ?? `SIG${signal}`, exitedAt };
  return { exitStatus: code ?? 255, exitedAt };
}

const POLL_INTERVAL_MS = 250;

/** True when pid exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface Watch {
  promise: Promise<ExitStatus>;
  resolve: (s: ExitStatus) => void;
}

export class Reaper {
  private static instance: Reaper | undefined;
  private readonly watches = new Map<number, Watch>();
  private readonly done = new Map<number, Promise<ExitStatus>>();
  private readonly log = getLogger('reaper');

  static get(): Reaper {
    return (Reaper.instance ??= new Reaper());
  }

  private constructor() {
    setChildSubreaper();
    process.on('SIGCHLD', () => this.reap());
  }

  /** Resolves when pid exits (safe before or after the exit; watching twice returns the same promise). */
  watch(pid: number): Promise<ExitStatus> {
    const known = this.watches.get(pid)?.promise ?? this.done.get(pid);
    if (known) return known;
    let resolve!: (s: ExitStatus) => void;
    const promise = new Promise<ExitStatus>((r) => (resolve = r));
    this.watches.set(pid, { promise, resolve });
    this.tryReap(pid);
    this.updateTimer();
    return promise;
  }

  /** Forgets a collected status (call once nobody will ask for it again; the pid may be reused). */
  forget(pid: number): void {
    if (!this.watches.has(pid)) this.done.delete(pid);
  }

  /**
   * While pids are watched a timer runs: it keeps the event loop alive (a pending watch is work to do; a
   * signal listener alone does not hold the loop) and re-checks now and then, for pids that are not our
   * children (ECHILD: polled until they disappear).
   */
  private pollTimer: NodeJS.Timeout | undefined;

  private updateTimer(): void {
    if (this.watches.size > 0 && !this.pollTimer) {
      this.pollTimer = setInterval(() => this.reap(), POLL_INTERVAL_MS);
    } else if (this.watches.size === 0 && this.pollTimer) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    }
  }

  private reap(): void {
    for (const pid of [...this.watches.keys()]) this.tryReap(pid);
    this.updateTimer();
  }

  private tryReap(pid: number): void {
    const w = this.watches.get(pid);
    if (!w) return;
    let status: ExitStatus;
    try {
      const r = waitpid(pid, WNOHANG);
      if (r.pid === 0) return;
      status = exitStatusOf(r.status);
      if (decodeWaitStatus(r.status).code === undefined && decodeWaitStatus(r.status).signal === undefined) return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINTR') return;
      // ECHILD: not (yet) our child. While it lives, poll for it: it may be re-parented to us, or belong to
      // another process; once it is gone without us collecting it, its status is lost.
      if (isAlive(pid)) return;
      this.log.warn('process exited without us collecting its status', { pid, error: String(err) });
      status = { exitStatus: 255, exitedAt: new Date() };
    }
    this.watches.delete(pid);
    this.done.set(pid, w.promise);
    w.resolve(status);
  }
}
