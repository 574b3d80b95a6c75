/**
 * berth.shim.v1.Shim: the wire adapter. Decodes requests, calls the Task, encodes responses, and maps errors
 * through pkg/grpc-errors. See proto/berth/shim/v1/shim.proto and docs/shim.md for the protocol.
 */
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { callSignal } from '../pkg/call-signal';
import { FailedPrecondition, InvalidArgument, messageOf, NotFound, Unavailable } from '../pkg/errdefs';
import { toGrpcStatus } from '../pkg/grpc-errors';
import type { Logger } from '../pkg/log';
import { encodeMessage } from '../proto/loader';
import { toTimestamp } from '../proto/timestamp';
import { toShimEvent } from './events/queue';
import { ExecProcess } from './process/exec';
import type { InitProcess } from './process/init';
import type { ProcessStatus } from './process/state';
import { forgetPid } from './runtime/reap';
import type { Task, TaskIdentity } from './task';
import { Members, MAX_TASKS_PER_SHIM } from './members';

export const SHIM_VERSION = 'berth-shim 0.1.0';
export { MAX_TASKS_PER_SHIM };

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
  /** The tasks this shim serves (one, or a group's: shim/members.ts). */
  readonly members: Members;
  /** unary handlers running now */
  private inflight = 0;
  private log: Logger;
  /** The open Events stream of each task (by task id; '' on a shim serving nothing). */
  private readonly streams = new Map<string, ServerWritableStream<Req, object>>();

  constructor(private readonly opts: ShimServiceOptions) {
    this.log = opts.log;
    this.members = new Members(opts.log);
  }

  /** Ties the shim to a task (from the command line, or a Bind call; `group`: see shim/members.ts). */
  async bind(identity: TaskIdentity, group = ''): Promise<void> {
    await this.members.bind(identity, group);
    if (this.members.size === 1) this.log = this.opts.log.child({ namespace: identity.namespace, id: identity.id });
  }

  /**
   * Create{..., namespace, group} binds first, as Bind would (shim.proto step 2). A shim that cannot take the
   * task answers Unavailable, whatever the reason (bound to another task, shutting down): berthd then takes
   * another shim, as it does when a pre-started shim refuses Bind.
   */
  private async bindForCreate(identity: TaskIdentity, group: string): Promise<void> {
    try {
      await this.bind(identity, group);
    } catch (err) {
      throw new Unavailable(`task ${identity.id}: this shim cannot take it: ${messageOf(err)}`, { cause: err });
    }
  }

  /** True while the shim serves nothing: never bound, or every task deleted and every event acknowledged. */
  isIdle(): boolean {
    return this.members.isIdle();
  }

  private requireTask(id: string): Task {
    return this.members.require(id).task;
  }

  /** The grpc-js implementation object. */
  handlers(): UntypedServiceImplementation {
    return {
      State: this.unary(async (r) => {
        const task = this.requireTask(r.id);
        const p = task.process(r.exec_id);
        return {
          id: p.execId || r.id,
          bundle: task.identity.bundle,
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
        if (r.namespace) await this.bindForCreate({ id: r.id, namespace: r.namespace, bundle: r.bundle }, r.group ?? '');
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
      Connect: this.unary(async (r) => ({ shim_pid: process.pid, task_pid: this.members.pick(r.id ?? '')?.task.initProcess?.pid ?? 0, version: SHIM_VERSION })),
      Shutdown: this.unary(async (r) => {
        await this.shutdown(r.id, r.now);
        return {};
      }),
      Events: (call: ServerWritableStream<Req, object>) => this.events(call),
      Ack: this.unary(async (r) => {
        await (this.members.pick(r.id ?? '')?.queue ?? this.members.spare).ack(r.seq);
        return {};
      }),
      Bind: this.unary(async (r) => {
        await this.bind({ id: r.id, namespace: r.namespace, bundle: r.bundle }, r.group ?? '');
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
      const cancel = callSignal(call);
      this.inflight++;
      fn(call.request, cancel.signal)
        .finally(() => cancel.settle())
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

  /**
   * Replays the queued events of one task (`id`, or the only one) after `after_seq`, then streams live ones;
   * a newer stream of the same task replaces this one.
   */
  private events(call: ServerWritableStream<Req, object>): void {
    let member;
    try {
      member = this.members.pick(String(call.request.id ?? ''));
    } catch (err) {
      call.emit('error', toGrpcStatus(err));
      return;
    }
    const key = member?.identity.id ?? '';
    const queue = member?.queue ?? this.members.spare;
    const previous = this.streams.get(key);
    this.streams.set(key, call);
    if (previous && !previous.destroyed) previous.end();
    const send = (e: Parameters<typeof toShimEvent>[0]): void => {
      if (!call.destroyed && !call.writableEnded) call.write(toShimEvent(e));
    };
    const { backlog, unsubscribe } = queue.subscribe(Number(call.request.after_seq ?? 0), send);
    for (const e of backlog) send(e);
    const done = (): void => {
      unsubscribe();
      if (this.streams.get(key) === call) this.streams.delete(key);
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
    (member?.log ?? this.log).debug('events stream opened', { afterSeq: call.request.after_seq, backlog: backlog.length });
  }

  /**
   * Shutdown{id}: forgets that task (refused while it is not deleted, unless `now`: then it is destroyed);
   * the shim exits once no task is left. An id the shim does not serve: exit when no task of it is alive.
   */
  private async shutdown(id: string, now: boolean): Promise<void> {
    const member = id ? this.members.get(id) : undefined;
    if (member) {
      const task = member.task;
      if (!task.isDeleted && task.initProcess) {
        if (!now) {
          const live = task.processes().filter((p) => p.status !== 'stopped');
          if (live.length > 0) throw new FailedPrecondition(`task ${id}: cannot shut down the shim while processes run`);
          throw new FailedPrecondition(`task ${id}: cannot shut down the shim before the task is deleted`);
        }
        await task.destroy();
      }
      this.endStream(id);
      await this.members.forget(id);
      if (this.members.size > 0) {
        member.log.info('task forgotten; the shim serves others', { tasks: this.members.size });
        return;
      }
    } else if (this.members.all().some((m) => !m.task.isDeleted && m.task.initProcess)) {
      throw new NotFound('container not created');
    }
    if (this.members.shuttingDown) return;
    this.members.shuttingDown = true;
    this.log.info('shutting down', { now });
    setTimeout(() => this.opts.onShutdown(), 20);
  }

  /** True while a task has a process that has not exited. */
  hasLiveProcesses(): boolean {
    return this.members.hasLiveProcesses();
  }

  /** Ends the event stream of one task, or every one (before exiting). */
  endStream(id?: string): void {
    for (const [key, stream] of this.streams) {
      if (id !== undefined && key !== id) continue;
      if (!stream.destroyed) stream.end();
    }
  }
}
