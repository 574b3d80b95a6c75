/**
 * The init process of the task (the container itself): Create builds it through the runtime without running
 * the user's program, Start runs it; pause/resume/update/kill/delete act on the whole container.
 */
import { FailedPrecondition, NotFound, messageOf } from '../../pkg/errdefs';
import { ProcessStdio, type StdioPaths } from '../io/stdio';
import { ShimProcess, type ExitResult, type ProcessDeps } from './process';

const SIGKILL = 9;
/** How often the OOM-kill counter is read while the container runs. */
export const OOM_POLL_MS = 2000;
/** How long Delete of a created (never started) task waits for its killed init to be reaped. */
const DELETE_CREATED_WAIT_MS = 5000;

export interface InitOptions {
  rootfs: object[];
  /** the spec has its own pid namespace (else the shim kills every process when the init exits) */
  hasPidNamespace: boolean;
}

export class InitProcess extends ShimProcess {
  readonly execId = '';
  private oomKills = 0;
  private oomTimer: NodeJS.Timeout | undefined;
  /** where Create spent its time (debug log) */
  readonly timings: Record<string, number> = {};

  constructor(
    deps: ProcessDeps,
    paths: StdioPaths,
    private readonly opts: InitOptions,
  ) {
    super('init', deps, paths);
  }

  /** Opens the stdio, creates the container's init process, queues /tasks/create. Returns the pid. */
  create(): Promise<number> {
    return this.reported(async () => {
      const runtime = this.deps.runtime();
      const t0 = performance.now();
      this.io = await ProcessStdio.open(this.paths, this.deps.bundle, this.log);
      const t1 = performance.now();
      try {
        const rp = await runtime.create(this.io.processFds);
        this.io.started();
        this.adopt(rp);
        this.timings.stdioMs = Math.round((t1 - t0) * 10) / 10;
        this.timings.runtimeMs = Math.round((performance.now() - t1) * 10) / 10;
      } catch (err) {
        this.io.close();
        this.io = undefined;
        await runtime.delete().catch((e) => this.log.warn('cleanup after failed create', { err: messageOf(e) }));
        throw err;
      }
      await this.deps.events.create(this.deps.containerId, this.deps.bundle, this.opts.rootfs, this.paths, this.pid);
      return this.pid;
    });
  }

  start(): Promise<number> {
    return this.lock.run(() =>
      this.reported(async () => {
        this.state.check('start');
        await this.deps.runtime().start();
        if (this.state.status === 'created') this.state.apply('start');
        await this.deps.events.start(this.deps.containerId, this.pid);
        this.startOomWatch();
        return this.pid;
      }),
    );
  }

  async kill(signal: number, all: boolean): Promise<void> {
    this.state.check('kill');
    const wasPaused = this.status === 'paused' || this.status === 'pausing';
    if (!all && this.reaped) throw new NotFound('process already finished');
    await this.deps.runtime().kill(signal, { all });
    // A frozen process cannot die: thaw the container so a SIGKILL takes effect (its exit leaves it stopped).
    if (signal === SIGKILL && wasPaused) await this.deps.runtime().resume().catch(() => {});
  }

  pause(): Promise<void> {
    return this.lock.run(async () => {
      this.state.beginPause();
      try {
        await this.deps.runtime().pause();
      } catch (err) {
        this.state.abortPause();
        throw err;
      }
      this.state.finishPause();
      await this.deps.events.paused(this.deps.containerId);
    });
  }

  resume(): Promise<void> {
    return this.lock.run(async () => {
      this.state.check('resume');
      await this.deps.runtime().resume();
      if (this.status === 'paused') this.state.apply('resume');
      await this.deps.events.resumed(this.deps.containerId);
    });
  }

  async update(resources: Record<string, unknown>): Promise<void> {
    this.state.check('update');
    await this.deps.runtime().update(resources);
  }

  /** Delete: a created task is killed first (its exit is reported), a running one is refused. */
  delete(): Promise<ExitResult> {
    return this.lock.run(async () => {
      if (this.status === 'created') {
        await this.deps.runtime().kill(SIGKILL, { all: true }).catch(() => {});
        if (!(await this.exitedWithin(DELETE_CREATED_WAIT_MS))) {
          throw new FailedPrecondition(`task ${this.deps.containerId}: created process did not exit after SIGKILL`);
        }
      }
      this.state.check('delete');
      this.stopOomWatch();
      await this.deps.runtime().delete();
      this.state.apply('delete');
      this.io?.close();
      await this.deps.events.delete(this.deps.containerId, this.pid, this.exitStatus, this.exitedAt);
      return this.exitResult();
    });
  }

  protected override async beforeExit(): Promise<void> {
    this.stopOomWatch();
    const runtime = this.deps.runtime();
    if (!this.opts.hasPidNamespace) {
      await runtime.kill(SIGKILL, { all: true }).catch((err) => this.log.debug('kill leftovers', { err: messageOf(err) }));
    }
    if (this.status === 'paused' || this.status === 'pausing') {
      await runtime.resume().catch((err) => this.log.debug('thaw after exit', { err: messageOf(err) }));
    }
    await this.checkOom();
  }

  private startOomWatch(): void {
    if (this.oomTimer) return;
    this.oomTimer = setInterval(() => void this.checkOom(), OOM_POLL_MS);
    this.oomTimer.unref();
  }

  private stopOomWatch(): void {
    if (this.oomTimer) clearInterval(this.oomTimer);
    this.oomTimer = undefined;
  }

  /** Queues /tasks/oom when the memory cgroup's OOM-kill counter went up since the last look. */
  private async checkOom(): Promise<void> {
    try {
      const n = await this.deps.runtime().oomKillCount();
      if (n > this.oomKills) {
        this.oomKills = n;
        await this.deps.events.oom(this.deps.containerId);
      }
    } catch (err) {
      this.log.debug('oom check', { err: messageOf(err) });
    }
  }
}
