/**
 * Where a task's shim comes from (shim.proto steps 1–2): the live shim of the task's group (groups.ts), else a
 * pre-started one from the pool, else one spawned for it. A group's shim and a spawned one are bound to the
 * task with Bind{id, namespace, bundle, group}; a pre-started one is bound by the task's Create, which carries
 * the same fields (one round trip fewer). Each is recorded in the bundle (address, shim.pid, shim.starttime).
 * berthd keeps one connection per shim socket (`clientFor`): the tasks of a group, and the bundles a restarted
 * berthd reconnects that name one shim, hold handles on it (client.ts `share()`).
 */
import path from 'node:path';
import { isKind, messageOf } from '../../pkg/errdefs';
import { ShimClient } from './client';
import { ShimGroups } from './groups';
import { BUNDLE_FILES, type StateLayout } from './layout';
import type { ShimPool } from './pool';
import { recordShim, spawnShim, waitUntilServing } from './spawn';
import { removeFile, signalVerified } from './files';
import type { ShimProcess, TaskShim } from './task-shim';
import type { CreateTaskRequest, CreateTaskResponse } from './messages';

export interface ShimSourceOptions {
  layout: StateLayout;
  pool: ShimPool | undefined;
  binary: string;
  argsPrefix: string[];
  env?: NodeJS.ProcessEnv;
  connectTimeoutMs: number;
  /** Every task berthd knows (a group's shim is found among them after a restart). */
  tasks: () => Iterable<TaskShim>;
}

/** A shim for a task, and how it came: `joined` a group's live shim; `bound` false: Create must bind it. */
export interface SourcedShim {
  shim: ShimProcess;
  client: ShimClient;
  joined: boolean;
  bound: boolean;
}

export class ShimSource {
  readonly groups: ShimGroups;
  /** One open connection per shim socket. */
  private readonly connections = new Map<string, ShimClient>();

  constructor(private readonly opts: ShimSourceOptions) {
    this.groups = new ShimGroups(opts.tasks);
  }

  /**
   * A shim for the task: the live shim of its group (bound with Bind), else a pre-started one from the pool
   * (not bound yet: `bound` false, Create{..., namespace, group} binds it in the same call), else a new one
   * spawned for it and bound with Bind. Its address and pid are recorded in the bundle either way.
   */
  async shimFor(task: TaskShim): Promise<SourcedShim> {
    const bindReq = { id: task.id, namespace: task.namespace, bundle: task.bundle, group: task.group };
    const group = task.group ? this.groups.find(task) : undefined;
    if (group) {
      const client = this.clientFor(group.shim.address);
      try {
        await client.bind(bindReq, { timeoutMs: this.opts.connectTimeoutMs });
        recordShim(task.bundle, group.shim);
        task.log.debug('joined the shim of its group', { group: task.group, pid: group.shim.pid, tasks: group.members.size + 1 });
        return { shim: group.shim, client, joined: true, bound: true };
      } catch (err) {
        client.close();
        task.log.warn('the shim of its group refused the task; taking another', { group: task.group, pid: group.shim.pid, error: messageOf(err) });
      }
    }
    const pooled = this.opts.pool?.take();
    if (pooled) {
      try {
        this.opts.pool!.adopt(pooled, task.bundle);
        task.log.debug('pre-started shim taken', { pid: pooled.shim.pid, address: pooled.shim.address });
        return { shim: pooled.shim, client: this.adoptConnection(pooled.client), joined: false, bound: false };
      } catch (err) {
        task.log.warn('cannot take a pre-started shim; spawning one', { pid: pooled.shim.pid, error: messageOf(err) });
        this.opts.pool!.discard(pooled);
      }
    }
    return this.spawnFor(task);
  }

  /** A shim spawned for the task and bound to it with Bind (the way when no pre-started shim can serve it). */
  async spawnFor(task: TaskShim): Promise<SourcedShim> {
    const bindReq = { id: task.id, namespace: task.namespace, bundle: task.bundle, group: task.group };
    const logFile = path.join(task.bundle, BUNDLE_FILES.log);
    // Spawned without a task on its command line and bound like a pre-started one: after the task is deleted
    // it can serve another (recycling), and its command line never names a task it no longer serves.
    const shim = await spawnShim({
      binary: this.opts.binary,
      args: [...(this.opts.argsPrefix)],
      address: this.opts.layout.newSocketPath(),
      cwd: task.bundle,
      logFile,
      env: this.opts.env,
      bundle: task.bundle,
    });
    task.log.debug('shim spawned', { pid: shim.pid, address: shim.address });
    const client = this.clientFor(shim.address);
    try {
      await waitUntilServing(client, shim, logFile);
      // As generous as the wait above: a burst of shims starting on few cores answers slowly.
      await client.bind(bindReq, { timeoutMs: 60_000 });
    } catch (err) {
      client.close();
      signalVerified(shim.pid, shim.startTime, 'SIGKILL');
      removeFile(shim.address);
      throw err;
    }
    return { shim, client, joined: false, bound: true };
  }

  /**
   * Create on the task's shim. A pre-started one (`bound` false) gets Create{..., namespace, group}, which
   * binds it first; when it answers UNAVAILABLE (it cannot take the task) it is killed, the task gets a shim
   * spawned and bound with Bind, and Create goes again. `use` learns each shim that serves the task.
   */
  async create(
    task: TaskShim,
    sourced: SourcedShim,
    req: CreateTaskRequest,
    signal: AbortSignal | undefined,
    use: (s: SourcedShim) => void,
  ): Promise<{ sourced: SourcedShim; res: CreateTaskResponse }> {
    if (sourced.bound) return { sourced, res: await sourced.client.create(req, { signal }) };
    try {
      return { sourced, res: await sourced.client.create({ ...req, namespace: task.namespace, group: task.group ?? '' }, { signal }) };
    } catch (err) {
      if (!isKind(err, 'unavailable')) throw err;
      task.log.warn('pre-started shim refused the task; spawning one', { pid: sourced.shim.pid, error: messageOf(err) });
      sourced.client.close();
      signalVerified(sourced.shim.pid, sourced.shim.startTime, 'SIGKILL');
      if (this.opts.layout.ownsSocket(sourced.shim.address)) removeFile(sourced.shim.address);
    }
    const spawned = await this.spawnFor(task);
    use(spawned);
    return { sourced: spawned, res: await spawned.client.create(req, { signal }) };
  }

  /**
   * A handle on the one connection to the shim at `address` (opened when none is): the tasks of a shim group,
   * and a restarted berthd reconnecting several bundles that name one shim, share it.
   */
  clientFor(address: string): ShimClient {
    const open = this.connections.get(address);
    if (open?.open) return open.share();
    return this.adoptConnection(new ShimClient(address));
  }

  /** Registers a connection opened elsewhere (a pooled shim's) as the one to its shim. */
  private adoptConnection(client: ShimClient): ShimClient {
    const open = this.connections.get(client.address);
    if (open === client && open.open) return client;
    this.connections.set(client.address, client);
    client.onClosed(() => {
      if (this.connections.get(client.address) === client) this.connections.delete(client.address);
    });
    return client;
  }

}
