/**
 * The tasks plugin of berthd (`io.containerd.grpc.v1` / `tasks`): builds the shim manager over the state
 * directory, serves containerd.services.tasks.v1.Tasks, reconnects to the shims of a previous berthd on
 * start (then pre-starts `[shim] prestart` idle shims), and on stop closes its clients and event streams —
 * never the shims of tasks, which outlive berthd (idle pre-started ones are killed).
 */
import { isNotFound } from '../../pkg/errdefs';
import type { DaemonContext, DaemonPlugin } from '../daemon';
import type { GrpcServer } from '../server';
import { ShimManager, defaultShimBinary } from '../shims/manager';
import { reconnectAll } from '../shims/recovery';
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
    registerTasksService(server, this.logic);
  }

  async start(): Promise<void> {
    await reconnectAll(this.manager!);
    this.manager!.startPool();
  }

  async stop(): Promise<void> {
    await this.manager?.close();
  }
}

export function tasksPlugin(opts?: TasksPluginOptions): DaemonPlugin {
  return new TasksPlugin(opts);
}
