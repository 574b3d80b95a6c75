/**
 * What the init process and exec processes share: the state machine, the stdio, and exit handling.
 *
 * Exit handling (`onExit`), in this order, so that nothing a client relies on is reported early:
 *   1. the reaper reported the exit (the pid is reaped: `reaped`, never signalled again);
 *   2. `beforeExit` (init: kill what is left without a pid namespace, thaw a paused container, OOM check);
 *   3. the stdout/stderr copies reach end of file and are flushed (bounded by `ioDrainMs`);
 *   4. a Create/Start still being reported finishes first (its event precedes the exit event);
 *   5. state → stopped with exit status and time (kept until Delete);
 *   6. /tasks/exit is persisted in the event queue (exactly once per process);
 *   7. Wait callers return.
 */
import { Canceled } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import type { TaskEvents } from '../events/publisher';
import type { ProcessStdio, StdioPaths } from '../io/stdio';
import type { ContainerRuntime, ExitInfo, RuntimeProcess } from '../runtime/types';
import { Deferred, Mutex } from '../sync';
import { ProcessStateMachine, type ProcessKind, type ProcessStatus } from './state';

export interface ProcessDeps {
  containerId: string;
  bundle: string;
  events: TaskEvents;
  runtime: () => ContainerRuntime;
  log: Logger;
  /** how long an exit report waits for the output copies to reach end of file */
  ioDrainMs: number;
}

export interface ExitResult {
  pid: number;
  exitStatus: number;
  exitedAt: Date | undefined;
}

export abstract class ShimProcess {
  readonly state: ProcessStateMachine;
  pid = 0;
  exitStatus = 0;
  exitedAt: Date | undefined;
  /** the pid has been reaped: it may be reused, never signal it again */
  reaped = false;
  io: ProcessStdio | undefined;
  protected terminalMaster: number | undefined;
  protected readonly lock = new Mutex();
  private readonly exited = new Deferred<void>();
  /** cancellable waiters (`wait(signal)`), released when the exit is reported */
  private readonly waiters = new Set<() => void>();
  /** a Create/Start whose event must be queued before this process's exit event */
  private reporting: Promise<void> | undefined;

  protected constructor(
    kind: ProcessKind,
    protected readonly deps: ProcessDeps,
    readonly paths: StdioPaths,
  ) {
    this.state = new ProcessStateMachine(kind);
    void this.exited.promise.then(() => {
      for (const w of this.waiters) w();
      this.waiters.clear();
    });
  }

  /** The exec id, empty for the init process. */
  abstract readonly execId: string;

  /** The id in events: the exec id, or the container id for the init process. */
  get eventId(): string {
    return this.execId || this.deps.containerId;
  }

  get status(): ProcessStatus {
    return this.state.status;
  }

  get log(): Logger {
    return this.deps.log;
  }

  /**
   * Resolves once the exit is fully reported (see the header). With `signal`: Canceled when it aborts first,
   * and the waiter is dropped at once (a cancelled Wait holds nothing until the exit).
   */
  async wait(signal?: AbortSignal): Promise<ExitResult> {
    if (signal && !this.exited.settled) {
      await new Promise<void>((resolve, reject) => {
        const canceled = (): Canceled => new Canceled(`process ${this.eventId}: wait canceled`);
        if (signal.aborted) return reject(canceled());
        const onAbort = (): void => {
          this.waiters.delete(waiter);
          reject(canceled());
        };
        const waiter = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiters.add(waiter);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    await this.exited.promise;
    return this.exitResult();
  }

  get hasExited(): boolean {
    return this.exited.settled;
  }

  exitResult(): ExitResult {
    return { pid: this.pid, exitStatus: this.exitStatus, exitedAt: this.exitedAt };
  }

  /** Runs `step` (a Create/Start and its event) so that an exit meanwhile is reported after it. */
  protected async reported<T>(step: () => Promise<T>): Promise<T> {
    const done = new Deferred<void>();
    const previous = this.reporting;
    this.reporting = done.promise;
    try {
      if (previous) await previous;
      return await step();
    } finally {
      done.resolve();
    }
  }

  /** Takes over a process the runtime started: terminal, stdio copies, exit watch. */
  protected adopt(rp: RuntimeProcess): void {
    this.pid = rp.pid;
    if (rp.terminalMaster !== undefined) {
      this.terminalMaster = rp.terminalMaster;
      this.io?.attachConsole(rp.terminalMaster);
    }
    rp.wait().then(
      (info) => this.onExit(info),
      (err) => this.log.error('waiting for process failed', { pid: rp.pid, err: String(err) }),
    );
  }

  /** Hook for the init process (kill leftovers, thaw, OOM); must not throw. */
  protected async beforeExit(): Promise<void> {}

  private async onExit(info: ExitInfo): Promise<void> {
    this.reaped = true;
    this.log.debug('process exited', { pid: this.pid, exitStatus: info.exitStatus });
    try {
      await this.beforeExit();
    } catch (err) {
      this.log.warn('exit hook failed', { err: String(err) });
    }
    if (this.io && !(await this.io.drained(this.deps.ioDrainMs))) {
      this.log.warn('output still open after exit, reporting the exit anyway', { pid: this.pid, waitedMs: this.deps.ioDrainMs });
    }
    while (this.reporting) {
      const r = this.reporting;
      await r;
      if (this.reporting === r) break;
    }
    if (this.state.status === 'deleted') return this.exited.resolve();
    this.exitStatus = info.exitStatus;
    this.exitedAt = info.exitedAt;
    this.state.apply('exit');
    try {
      await this.deps.events.exit(this.deps.containerId, this.eventId, this.pid, info.exitStatus, info.exitedAt);
    } catch (err) {
      this.log.error('queueing /tasks/exit failed', { err: String(err) });
    }
    this.exited.resolve();
  }

  /** Waits for the exit report, at most `ms`; true when it happened. */
  async exitedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    try {
      return await Promise.race([this.exited.promise.then(() => true), t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** CloseIO. */
  closeStdin(): void {
    this.io?.closeStdin();
  }

  /** ResizePty: a no-op without a terminal, as in containerd. */
  async resize(width: number, height: number): Promise<void> {
    this.state.check('resize');
    if (this.terminalMaster === undefined) return;
    await this.deps.runtime().resizePty(this.terminalMaster, width, height);
  }
}
