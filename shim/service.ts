/**
 * berth.shim.v1.Shim: the wire adapter. Decodes requests, calls the Task, encodes responses, and maps errors
 * through pkg/grpc-errors. See proto/berth/shim/v1/shim.proto and docs/shim.md for the protocol.
 */
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { FailedPrecondition, InvalidArgument, NotFound } from '../pkg/errdefs';
import { toGrpcStatus } from '../pkg/grpc-errors';
import { validateIdentifier } from '../pkg/identifiers';
import type { Logger } from '../pkg/log';
import { encodeMessage } from '../proto/loader';
import { toTimestamp } from '../proto/timestamp';
import { EventQueue, toShimEvent } from './events/queue';
import { TaskEvents } from './events/publisher';
import { ExecProcess } from './process/exec';
import type { InitProcess } from './process/init';
import type { ProcessStatus } from './process/state';
import { forgetPid } from './runtime/reap';
import { Task, type TaskIdentity } from './task';

export const SHIM_VERSION = 'berth-shim 0.1.0';
/** How many tasks one shim process serves one after the other (Bind after Delete) before berthd must start a new one. */
export const MAX_TASKS_PER_SHIM = 100;

type Req = Record<string, any>;

const statusNames: Record<ProcessStatus, string> = {
  created: 'CREATED',
  running: 'RUNNING',
  pausing: 'PAUSING',
  paused: 'PAUSED',
  stopped: 'STOPPED',
  deleted: 'STOPPED',
};

export interface ShimServiceOptions {
  identity?: TaskIdentity;
  log: Logger;
  /** called after Shutdown was answered: flush and exit */
  onShutdown: () => void;
}

export class ShimService {
  readonly queue = new EventQueue();
  private task: Task | undefined;
  /** unary handlers running now */
  private inflight = 0;
  private identity: TaskIdentity | undefined;
  private log: Logger;
  private stream: ServerWritableStream<Req, object> | undefined;
  private shuttingDown = false;
  /** Tasks this shim was bound to before the current one. */
  private uses = 0;

  constructor(private readonly opts: ShimServiceOptions) {
    this.log = opts.log;
  }

  /** Ties the shim to its task (from the command line, or a Bind call). */
  async bind(identity: TaskIdentity): Promise<void> {
    if (this.identity) {
      const same = this.identity.id === identity.id && this.identity.namespace === identity.namespace && this.identity.bundle === identity.bundle;
      if (same) return;
      if (!this.reusable()) throw new FailedPrecondition(`shim is bound to task ${this.identity.namespace}/${this.identity.id}`);
    }
    validateIdentifier(identity.id);
    validateIdentifier(identity.namespace);
    if (!identity.bundle.startsWith('/')) throw new InvalidArgument(`bundle ${identity.bundle}: must be an absolute path`);
    if (this.identity) {
      // Recycled: the previous task is deleted and every one of its events acknowledged (reusable()).
      this.log.info('shim rebound to a new task', { previous: `${this.identity.namespace}/${this.identity.id}` });
      this.queue.detach();
      this.task = undefined;
      this.uses++;
    }
    this.identity = identity;
    this.log = this.opts.log.child({ namespace: identity.namespace, id: identity.id });
    // The bundle is the shim's working directory (a recycled shim's previous one is gone: runc spawned
    // from a removed cwd fails with ENOENT).
    try {
      process.chdir(identity.bundle);
    } catch (err) {
      this.log.warn('cannot enter the bundle', { err: String(err) });
    }
    await this.queue.attach(identity.bundle);
    const events = new TaskEvents(this.queue, () => identity.namespace);
    this.task = new Task(identity, events, this.log);
    this.log.info('shim bound to task', { bundle: identity.bundle });
  }

  /**
   * Whether Bind may tie this shim to another task: its task was deleted, berthd acknowledged every event,
   * no shutdown is under way, and it has not served too many tasks already (a fresh process now and then).
   */
  /** True while the shim serves nothing: never bound, or its task deleted and every event acknowledged. */
  isIdle(): boolean {
    return !this.task || (this.task.isDeleted && this.queue.pending().length === 0);
  }

  private reusable(): boolean {
    return Boolean(this.task?.isDeleted) && this.queue.pending().length === 0 && !this.shuttingDown && this.uses < MAX_TASKS_PER_SHIM;
  }

  private requireTask(id: string): Task {
    if (!this.task) throw new FailedPrecondition('shim is not bound to a task');
    if (id !== this.task.identity.id) throw new NotFound('container not created');
    return this.task;
  }

  /** The grpc-js implementation object. */
  handlers(): UntypedServiceImplementation {
    return {
      State: this.unary(async (r) => {
        const p = this.requireTask(r.id).process(r.exec_id);
        return {
          id: p.execId || r.id,
          bundle: this.task!.identity.bundle,
          pid: p.pid,
          status: statusNames[p.status],
          stdin: p.paths.stdin,
          stdout: p.paths.stdout,
          stderr: p.paths.stderr,
          terminal: p.paths.terminal,
          exit_status: p.exitStatus,
          exited_at: p.exitedAt ? toTimestamp(p.exitedAt) : null,
          exec_id: p.execId,
        };
      }),
      Create: this.unary(async (r) => {
        const task = this.requireTask(r.id);
        const pid = await task.create({
          id: r.id,
          bundle: r.bundle,
          rootfs: (r.rootfs ?? []).map((m: Req) => ({ type: m.type, source: m.source, target: m.target, options: m.options ?? [] })),
          terminal: r.terminal,
          stdin: r.stdin,
          stdout: r.stdout,
          stderr: r.stderr,
          options: r.options ?? null,
          checkpoint: r.checkpoint,
        });
        return { pid };
      }),
      Start: this.unary(async (r) => {
        const p = this.requireTask(r.id).process(r.exec_id);
        return { pid: await (p as InitProcess | ExecProcess).start() };
      }),
      Delete: this.unary(async (r) => {
        const res = await this.requireTask(r.id).delete(r.exec_id);
        forgetPid(res.pid);
        return { pid: res.pid, exit_status: res.exitStatus, exited_at: res.exitedAt ? toTimestamp(res.exitedAt) : null };
      }),
      Pids: this.unary(async (r) => {
        const task = this.requireTask(r.id);
        const pids = await task.runtimeOrThrow().pids();
        const execByPid = new Map(task.processes().filter((p) => p.execId && p.pid).map((p) => [p.pid, p.execId]));
        return {
          processes: pids.map((pid) => {
            const execId = execByPid.get(pid);
            const info = execId ? { type_url: 'containerd.runc.v1.ProcessDetails', value: encodeMessage('containerd.runc.v1.ProcessDetails', { exec_id: execId }) } : null;
            return { pid, info };
          }),
        };
      }),
      Pause: this.unary(async (r) => {
        await this.requireTask(r.id).requireInit().pause();
        return {};
      }),
      Resume: this.unary(async (r) => {
        await this.requireTask(r.id).requireInit().resume();
        return {};
      }),
      Kill: this.unary(async (r) => {
        const p = this.requireTask(r.id).process(r.exec_id);
        if (p instanceof ExecProcess) await p.kill(r.signal);
        else await (p as InitProcess).kill(r.signal, r.all);
        return {};
      }),
      Exec: this.unary(async (r) => {
        await this.requireTask(r.id).exec(r.exec_id, r.spec ?? null, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal });
        return {};
      }),
      ResizePty: this.unary(async (r) => {
        await this.requireTask(r.id).process(r.exec_id).resize(r.width, r.height);
        return {};
      }),
      CloseIO: this.unary(async (r) => {
        const p = this.requireTask(r.id).process(r.exec_id);
        if (r.stdin) p.closeStdin();
        return {};
      }),
      Update: this.unary(async (r) => {
        const init = this.requireTask(r.id).requireInit();
        let resources: unknown;
        try {
          resources = JSON.parse(Buffer.from(r.resources?.value ?? []).toString('utf8'));
        } catch (err) {
          throw new InvalidArgument(`task ${r.id}: resources are not JSON`, { cause: err });
        }
        if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) throw new InvalidArgument(`task ${r.id}: resources must be an object`);
        await init.update(resources as Record<string, unknown>);
        return {};
      }),
      Wait: this.unary(async (r, signal) => {
        const res = await this.requireTask(r.id).process(r.exec_id).wait(signal);
        return { exit_status: res.exitStatus, exited_at: res.exitedAt ? toTimestamp(res.exitedAt) : null };
      }),
      Stats: this.unary(async (r) => ({ stats: await this.requireTask(r.id).runtimeOrThrow().stats() })),
      Connect: this.unary(async () => ({ shim_pid: process.pid, task_pid: this.task?.initProcess?.pid ?? 0, version: SHIM_VERSION })),
      Shutdown: this.unary(async (r) => {
        await this.shutdown(r.id, r.now);
        return {};
      }),
      Events: (call: ServerWritableStream<Req, object>) => this.events(call),
      Ack: this.unary(async (r) => {
        await this.queue.ack(r.seq);
        return {};
      }),
      Bind: this.unary(async (r) => {
        await this.bind({ id: r.id, namespace: r.namespace, bundle: r.bundle });
        return { shim_pid: process.pid };
      }),
    };
  }

  /**
   * A unary handler; `signal` aborts when berthd cancels the call (or goes away). Handlers running now are
   * counted (`inflight`, logged at debug when one ends): one that outlives its cancelled call is a leak.
   */
  private unary(fn: (req: Req, signal: AbortSignal) => Promise<object>) {
    return (call: ServerUnaryCall<Req, object>, callback: sendUnaryData<object>): void => {
      const method = call.getPath().split('/').pop();
      const ac = new AbortController();
      call.once('cancelled', () => ac.abort());
      this.inflight++;
      fn(call.request, ac.signal)
        .then(
          (res) => callback(null, res),
          (err) => {
            const status = toGrpcStatus(err);
            this.log.debug('request failed', { method, code: status.code, err: status.details });
            callback(status);
          },
        )
        .finally(() => {
          this.inflight--;
          this.log.debug('request done', { method, inflight: this.inflight });
        });
    };
  }

  /** Replays queued events after `after_seq`, then streams live ones; a newer stream replaces this one. */
  private events(call: ServerWritableStream<Req, object>): void {
    const previous = this.stream;
    this.stream = call;
    if (previous && !previous.destroyed) previous.end();
    const send = (e: Parameters<typeof toShimEvent>[0]): void => {
      if (!call.destroyed && !call.writableEnded) call.write(toShimEvent(e));
    };
    const { backlog, unsubscribe } = this.queue.subscribe(Number(call.request.after_seq ?? 0), send);
    for (const e of backlog) send(e);
    const done = (): void => {
      unsubscribe();
      if (this.stream === call) this.stream = undefined;
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
    this.log.debug('events stream opened', { afterSeq: call.request.after_seq, backlog: backlog.length });
  }

  private async shutdown(id: string, now: boolean): Promise<void> {
    const task = this.task;
    if (task && !task.isDeleted && task.initProcess) {
      if (task.identity.id !== id) throw new NotFound('container not created');
      if (!now) {
        const live = task.processes().filter((p) => p.status !== 'stopped');
        if (live.length > 0) throw new FailedPrecondition(`task ${id}: cannot shut down the shim while processes run`);
        throw new FailedPrecondition(`task ${id}: cannot shut down the shim before the task is deleted`);
      }
      await task.destroy();
    }
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.log.info('shutting down', { now });
    setTimeout(() => this.opts.onShutdown(), 20);
  }

  /** True while the task has a process that has not exited. */
  hasLiveProcesses(): boolean {
    return Boolean(this.task && !this.task.isDeleted && this.task.processes().some((p) => p.status !== 'stopped'));
  }

  /** Ends the event stream (before exiting). */
  endStream(): void {
    if (this.stream && !this.stream.destroyed) this.stream.end();
  }
}
