/**
 * The tasks plugin of berthd (`io.containerd.grpc.v1` / `tasks`): builds the shim manager over the state
 * directory, serves containerd.services.tasks.v1.Tasks, reconnects to the shims of a previous berthd on
 * start (then pre-starts `[shim] prestart` idle shims), and on stop closes its clients and event streams —
 * never the shims of tasks, which outlive berthd (idle pre-started ones are killed).
 *
 * Reconnection: `start()` reads the records of every bundle (no shim asked, before the socket listens),
 * then reaches the shims in the background. Meanwhile List and Get answer from each task's recorded state
 * (recovered tasks are never omitted), calls on a task wait for its own shim, and Create and Metrics wait
 * until every recorded shim was reached (or found dead / mute).
 */
import { isNotFound, messageOf } from '../../pkg/errdefs';
import type { DaemonContext, DaemonPlugin } from '../daemon';
import type { GrpcServer } from '../server';
import { ShimManager, defaultShimBinary } from '../shims/manager';
import { reconnectAll, scanBundles } from '../shims/recovery';
import { registerTasksService } from './service';
import { TasksLogic } from './tasks';

export interface TasksPluginOptions {
  /** Bound on reaching one shim (default 3000 ms). */
  connectTimeoutMs?: number;
  /** Hold-back of events replayed after a restart (default 3000 ms). */
  replayHoldMs?: number;
}

export class TasksPlugin implements DaemonPlugin {
  readonly name = 'tasks';
  readonly type = 'io.containerd.grpc.v1';
  manager: ShimManager | undefined;
  logic: TasksLogic | undefined;
  private reconnecting: Promise<void> | undefined;
  private reconnected = false;
  private stopping = false;

  constructor(private readonly opts: TasksPluginOptions = {}) {}

  register(server: GrpcServer, ctx: DaemonContext): void {
    const log = ctx.log.child({ component: 'tasks' });
    const envHold = Number(process.env.BERTH_REPLAY_HOLD_MS);
    this.manager = new ShimManager({
      stateDir: ctx.config.state,
      shimBinary: ctx.config.shim.binary || defaultShimBinary(),
      publisher: ctx.events,
      log,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      replayHoldMs: this.opts.replayHoldMs ?? (Number.isFinite(envHold) && envHold >= 0 ? envHold : undefined),
      prestart: ctx.config.shim.prestart ?? 0,
      containerExists: (ns, id) => {
        try {
          ctx.store.containers.get(ns, id);
          return true;
        } catch (err) {
          if (isNotFound(err)) return false;
          throw err;
        }
      },
    });
    this.logic = new TasksLogic(ctx.store.containers, this.manager, log);
    let open: () => void = () => {};
    const opened = new Promise<void>((resolve) => (open = resolve));
    const gate = { isOpen: () => this.reconnected, opened };
    registerTasksService(server, this.logic, gate);
    this.openGate = () => {
      this.reconnected = true;
      open();
    };
  }

  private openGate: () => void = () => {};

  async start(): Promise<void> {
    const manager = this.manager!;
    const log = manager.opts.log;
    let reconnect: Promise<void>;
    try {
      const recovering = scanBundles(manager);
      this.logic!.recovering = recovering;
      reconnect = reconnectAll(manager, recovering);
    } catch (err) {
      reconnect = Promise.reject(err);
    }
    this.reconnecting = reconnect
      .catch((err: unknown) => log.error('reconnecting to shims failed', { error: messageOf(err) }))
      .then(() => {
        this.logic!.recovering = undefined;
        this.openGate();
        if (!this.stopping) manager.startPool();
      });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.reconnecting;
    await this.manager?.close();
  }
}

export function tasksPlugin(opts?: TasksPluginOptions): DaemonPlugin {
  return new TasksPlugin(opts);
}
