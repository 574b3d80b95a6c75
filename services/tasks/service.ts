/**
 * containerd.services.tasks.v1.Tasks on the wire: decodes requests, takes the namespace from the call
 * metadata, and hands over to TasksLogic (tasks.ts), which holds the behaviour.
 */
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import { unary, type CallContext, type GrpcServer } from '../server';
import type { TasksLogic } from './tasks';
import type { CreateTaskRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/CreateTaskRequest';
import type { ExecProcessRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/ExecProcessRequest';
import type { KillRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/KillRequest';
import type { ResizePtyRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/ResizePtyRequest';
import type { CloseIORequest__Output } from '../../proto/gen/containerd/services/tasks/v1/CloseIORequest';
import type { UpdateTaskRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/UpdateTaskRequest';

export const TASKS_SERVICE = 'containerd.services.tasks.v1.Tasks';

type Task = { container_id: string };
type Proc = { container_id: string; exec_id: string };

/**
 * berthd serves while it still reconnects to the shims of a previous run. Create and Metrics wait for the
 * gate (Create never races a reconnecting id; Metrics asks every shim); the other calls go through, and
 * TasksLogic answers List and Get from the recorded state of a task still being reached and makes every
 * other call on it wait for its shim (TasksLogic.recovering).
 */
export interface TasksGate {
  isOpen(): boolean;
  opened: Promise<void>;
}

export function registerTasksService(server: GrpcServer, tasks: TasksLogic, gate?: TasksGate): void {
  const gated = <Req, Res>(fn: (req: Req, ctx: CallContext) => Promise<Res> | Res) =>
    unary<Req, Res>((req, ctx) => (!gate || gate.isOpen() ? fn(req, ctx) : gate.opened.then(() => fn(req, ctx))));
  const direct = unary;
  server.addService(serviceDefinition(PROTO_FILES.tasks, TASKS_SERVICE), {
    Create: gated((req: CreateTaskRequest__Output, ctx) => tasks.create(ctx.requireNamespace(), req, ctx.signal)),
    Start: direct((req: Proc, ctx) => tasks.start(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal)),
    Delete: direct((req: Task, ctx) => tasks.delete(ctx.requireNamespace(), req.container_id, ctx.signal)),
    DeleteProcess: direct((req: Proc, ctx) => tasks.deleteProcess(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal)),
    Get: direct(async (req: Proc, ctx) => ({
      process: await tasks.get(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal),
    })),
    List: direct(async (_req: { filter: string }, ctx) => ({ tasks: await tasks.list(ctx.requireNamespace(), ctx.signal) })),
    Kill: direct(async (req: KillRequest__Output, ctx) => {
      await tasks.kill(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    Exec: direct(async (req: ExecProcessRequest__Output, ctx) => {
      await tasks.exec(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    ResizePty: direct(async (req: ResizePtyRequest__Output, ctx) => {
      await tasks.resizePty(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    CloseIO: direct(async (req: CloseIORequest__Output, ctx) => {
      await tasks.closeIO(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    Pause: direct(async (req: Task, ctx) => {
      await tasks.pause(ctx.requireNamespace(), req.container_id, ctx.signal);
      return {};
    }),
    Resume: direct(async (req: Task, ctx) => {
      await tasks.resume(ctx.requireNamespace(), req.container_id, ctx.signal);
      return {};
    }),
    ListPids: direct((req: Task, ctx) => tasks.listPids(ctx.requireNamespace(), req.container_id, ctx.signal)),
    Checkpoint: direct((_req: Task, ctx) => {
      ctx.requireNamespace();
      return tasks.checkpoint();
    }),
    Update: direct(async (req: UpdateTaskRequest__Output, ctx) => {
      await tasks.update(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    Metrics: gated(async (req: { filters: string[] }, ctx) => ({
      metrics: await tasks.metrics(ctx.requireNamespace(), req.filters ?? [], ctx.signal),
    })),
    Wait: direct((req: Proc, ctx) => tasks.wait(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal)),
  });
}
