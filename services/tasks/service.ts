/**
 * containerd.services.tasks.v1.Tasks on the wire: decodes requests, takes the namespace from the call
 * metadata, and hands over to TasksLogic (tasks.ts), which holds the behaviour.
 */
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import { unary, type GrpcServer } from '../server';
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

export function registerTasksService(server: GrpcServer, tasks: TasksLogic): void {
  server.addService(serviceDefinition(PROTO_FILES.tasks, TASKS_SERVICE), {
    Create: unary((req: CreateTaskRequest__Output, ctx) => tasks.create(ctx.requireNamespace(), req, ctx.signal)),
    Start: unary((req: Proc, ctx) => tasks.start(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal)),
    Delete: unary((req: Task, ctx) => tasks.delete(ctx.requireNamespace(), req.container_id, ctx.signal)),
    DeleteProcess: unary((req: Proc, ctx) => tasks.deleteProcess(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal)),
    Get: unary(async (req: Proc, ctx) => ({
      process: await tasks.get(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal),
    })),
    List: unary(async (_req: { filter: string }, ctx) => ({ tasks: await tasks.list(ctx.requireNamespace(), ctx.signal) })),
    Kill: unary(async (req: KillRequest__Output, ctx) => {
      await tasks.kill(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    Exec: unary(async (req: ExecProcessRequest__Output, ctx) => {
      await tasks.exec(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    ResizePty: unary(async (req: ResizePtyRequest__Output, ctx) => {
      await tasks.resizePty(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    CloseIO: unary(async (req: CloseIORequest__Output, ctx) => {
      await tasks.closeIO(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    Pause: unary(async (req: Task, ctx) => {
      await tasks.pause(ctx.requireNamespace(), req.container_id, ctx.signal);
      return {};
    }),
    Resume: unary(async (req: Task, ctx) => {
      await tasks.resume(ctx.requireNamespace(), req.container_id, ctx.signal);
      return {};
    }),
    ListPids: unary((req: Task, ctx) => tasks.listPids(ctx.requireNamespace(), req.container_id, ctx.signal)),
    Checkpoint: unary((_req: Task, ctx) => {
      ctx.requireNamespace();
      return tasks.checkpoint();
    }),
    Update: unary(async (req: UpdateTaskRequest__Output, ctx) => {
      await tasks.update(ctx.requireNamespace(), req, ctx.signal);
      return {};
    }),
    Metrics: unary(async (req: { filters: string[] }, ctx) => ({
      metrics: await tasks.metrics(ctx.requireNamespace(), req.filters ?? [], ctx.signal),
    })),
    Wait: unary((req: Proc, ctx) => tasks.wait(ctx.requireNamespace(), req.container_id, req.exec_id, ctx.signal)),
  });
}
