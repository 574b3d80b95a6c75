/**
 * The shim manager: berthd's registry of task shims, keyed by namespace and id. It creates a task (bundle,
 * socket, spawned shim, client, event pump, shim Create), deletes it (shim Delete, events flushed,
 * Shutdown, socket and bundle removed), and handles shims that die (dead-shim cleanup in recovery.ts,
 * which also reconnects to the shims of a previous berthd at start). Containers sharing a shim group share
 * one shim process (groups.ts) and one connection to it (`clientFor`).
 *
 * Protocol with the shim: proto/berth/shim/v1/shim.proto; files: layout.ts; docs/tasks.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AnyMessage } from '../../proto/any';
import { packAny, unpackAny, typeNameOf, RUNC_OPTIONS_TYPE } from '../../proto/any';
import { toTimestamp, type Timestamp } from '../../proto/timestamp';
import { AlreadyExists, FailedPrecondition, NotFound, messageOf } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import { Cleanup } from '../../pkg/cleanup';
import { StateLayout, BUNDLE_FILES } from './layout';
import { parseSpec, createBundle, checkIoPaths, type RootfsMount, type OciSpecDoc } from './bundle';
import { ShimGroups, shimGroupOf } from './groups';
import { ShimSource, type SourcedShim } from './shim-source';
import { ShimPool } from './pool';
import { ShimClient } from './client';
import { EventPump } from './event-pump';
import { EventLedger, type EventPublisher, type HeldPublisher } from './event-ledger';
import { InitSnapshot, TaskShim, taskKey } from './task-shim';
import { isProcessAlive, processStartTime, removeBundleDir, removeFile, signalVerified, waitProcessGone } from './files';
import { cleanupDeadShim, cancelRetries } from './recovery';
import { containerCgroups, writeTaskFacts, type TaskFacts } from './dead-task';
import type { CreateTaskRequest, DeleteResponse } from './messages';

export interface ShimManagerOptions {
  /** berthd's state directory (bundles and sockets go below it). */
  stateDir: string;
  /** The berth-shim executable. */
  shimBinary: string;
  /** Arguments put before the shim's own (e.g. a script path when shimBinary is node). */
  shimArgsPrefix?: string[];
  publisher: EventPublisher;
  log: Logger;
  /** Bound on connecting to a shim and on its first answer (default 3000 ms). */
  connectTimeoutMs?: number;
  /** How long a restarted berthd holds back replayed events of reconnected shims (default 3000 ms). */
  replayHoldMs?: number;
  /** Environment of spawned shims (default: berthd's). */
  shimEnv?: NodeJS.ProcessEnv;
  /** Pre-started shims kept waiting for work (config shim.prestart; default 0). */
  prestart?: number;
  /** Whether the container record still exists (reconnect drops tasks of deleted containers). */
  containerExists?: (namespace: string, id: string) => boolean | Promise<boolean>;
}

export interface CreateTaskParams {
  namespace: string;
  id: string;
  spec: AnyMessage | null | undefined;
  rootfs: RootfsMount[];
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  options: AnyMessage | null;
  /** The container's labels (the shim group label is read from them). */
  labels?: Record<string, string>;
  signal?: AbortSignal;
}

const TASK_DELETE = 'containerd.events.TaskDelete';
const STOPPED_STATES = new Set(['CREATED', 'STOPPED', 'UNKNOWN']);

/** containerd.runc.v1.Options from an Any, when that is what it holds. */
function runcOptions(options: AnyMessage | null): { binary_name: string; root: string } | undefined {
  if (!options || typeNameOf(options.type_url) !== RUNC_OPTIONS_TYPE) return undefined;
  try {
    return unpackAny(options) as { binary_name: string; root: string };
  } catch {
    return undefined;
  }
}

/** The repository's bin/berth-shim (this file runs from dist/services/shims/). */
export function defaultShimBinary(): string {
  let dir = __dirname;
  while (path.basename(dir) !== 'dist' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const repo = path.basename(dir) === 'dist' ? path.dirname(dir) : path.resolve(__dirname, '../..');
  return path.join(repo, 'bin', 'berth-shim');
}

export class ShimManager {
  readonly layout: StateLayout;
  readonly tasks = new Map<string, TaskShim>();
  /** Publishers holding back the events of shims found dead at start (flushed at close at the latest). */
  readonly heldPublishers: HeldPublisher[] = [];
  /** Background work finishing tasks that clients no longer see (shim exit, file removal), by task key. */
  private readonly finishing = new Map<string, Promise<void>>();
  readonly connectTimeoutMs: number;
  /** Set by close(): this berthd no longer acts on its shims (they live on for the next one). */
  closed = false;

  readonly pool: ShimPool | undefined;
  /** Where tasks' shims come from (group, pool, spawn) and the one connection to each. */
  readonly source: ShimSource;

  constructor(readonly opts: ShimManagerOptions) {
    this.layout = new StateLayout(opts.stateDir);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    if ((opts.prestart ?? 0) > 0) {
      this.pool = new ShimPool({
        layout: this.layout,
        size: opts.prestart!,
        binary: opts.shimBinary,
        argsPrefix: opts.shimArgsPrefix ?? [],
        env: opts.shimEnv,
        log: opts.log.child({ component: 'shim-pool' }),
      });
    }
    this.source = new ShimSource({
      layout: this.layout,
      pool: this.pool,
      binary: opts.shimBinary,
      argsPrefix: opts.shimArgsPrefix ?? [],
      env: opts.shimEnv,
      connectTimeoutMs: this.connectTimeoutMs,
      tasks: () => this.tasks.values(),
    });
  }

  /** Shim groups: containers sharing one shim process. */
  get groups(): ShimGroups {
    return this.source.groups;
  }

  /** A handle on the one connection to the shim at `address` (shim-source.ts). */
  clientFor(address: string): ShimClient {
    return this.source.clientFor(address);
  }

  /** Starts pre-starting shims (after reconnect, so stray-socket cleanup cannot see theirs). */
  startPool(): void {
    this.layout.ensure();
    this.pool?.start();
  }

  /** A task that can take calls; NotFound otherwise (also while it is being created). */
  get(namespace: string, id: string): TaskShim {
    const t = this.tasks.get(taskKey(namespace, id));
    if (!t || t.state === 'starting' || t.state === 'gone') throw new NotFound(`task ${id}: not found`);
    return t;
  }

  /** Every visible task of a namespace. */
  list(namespace: string): TaskShim[] {
    return [...this.tasks.values()].filter((t) => t.namespace === namespace && t.state !== 'starting' && t.state !== 'gone');
  }

  /** Creates the task's shim and its init process (not started). Returns the task with `initPid` set. */
  async createTask(p: CreateTaskParams): Promise<TaskShim> {
    const bundle = this.layout.bundleDir(p.namespace, p.id);
    const key = taskKey(p.namespace, p.id);
    if (this.tasks.has(key)) throw new AlreadyExists(`task ${p.id}: already exists`);
    const task = new TaskShim(p.namespace, p.id, bundle, this.opts.log.child({ namespace: p.namespace, id: p.id }));
    this.tasks.set(key, task);
    const undo = new Cleanup();
    undo.push(() => void this.tasks.delete(key));
    let groupRelease: (() => void) | undefined;
    try {
      // A previous task of this id may still be finishing (its shim exiting, its bundle going).
      const previous = this.finishing.get(key);
      if (previous) await previous;
      // Everything the client sent is checked before anything is spawned.
      const t0 = performance.now();
      const { doc, raw } = parseSpec(p.id, p.spec);
      checkIoPaths({ stdin: p.stdin, stdout: p.stdout, stderr: p.stderr });
      this.layout.ensure();
      const bundleUndo = await createBundle({ bundle, containerId: p.id, specRaw: raw, doc, rootfs: p.rootfs });
      undo.push(async () => void (await bundleUndo.run()));
      task.ledger = new EventLedger(path.join(bundle, BUNDLE_FILES.events), task.log);
      task.group = shimGroupOf(p.labels, doc);
      const tBundle = performance.now();
      if (task.group) {
        // The group's lock is held until Create answered: a task never joins a shim its last task is leaving.
        groupRelease = await this.groups.acquire(task);
        undo.push(groupRelease);
      }
      let sourced = await this.source.shimFor(task);
      const tShim = performance.now();
      const useShim = (got: SourcedShim): void => {
        task.shim = got.shim;
        task.client = got.client;
        if (task.group) this.groups.add(task, got.shim);
      };
      useShim(sourced);
      undo.push(async () => {
        const { shim, client, joined } = sourced;
        const others = this.groups.leave(task);
        if (joined || others) {
          // The group's shim serves others: only this task goes.
          await client.shutdown(p.id, true, { timeoutMs: 2000 }).catch(() => {});
          client.close();
          return;
        }
        client.close();
        signalVerified(shim.pid, shim.startTime, 'SIGKILL');
        await waitProcessGone(shim.pid, shim.startTime, 2000);
        removeFile(shim.address);
      });
      undo.push(() => task.pump?.stop());
      const req: CreateTaskRequest = {
        id: p.id,
        bundle,
        rootfs: p.rootfs,
        terminal: p.terminal,
        stdin: p.stdin,
        stdout: p.stdout,
        stderr: p.stderr,
        checkpoint: '',
        parent_checkpoint: '',
        options: p.options,
      };
      // A bound shim's stream opens before Create (its events flow as they happen); a pre-started shim is
      // bound by Create itself (shim.proto step 2), its events wait in its queue until the stream opens.
      if (sourced.bound) this.startPump(task, 0);
      const created = await this.source.create(task, sourced, req, p.signal, useShim);
      sourced = created.sourced;
      const res = created.res;
      if (!task.pump) this.startPump(task, 0);
      const { shim, joined } = sourced;
      const tCreate = performance.now();
      this.recordInit(task, res.pid, doc, p.options);
      task.snapshot ??= new InitSnapshot({
        id: p.id,
        bundle,
        pid: res.pid,
        status: 'CREATED',
        stdin: p.stdin,
        stdout: p.stdout,
        stderr: p.stderr,
        terminal: p.terminal,
        exit_status: 0,
        exited_at: null,
        exec_id: '',
      });
      const ms = (a: number, b: number): number => Math.round((b - a) * 10) / 10;
      task.log.debug('task created', { pid: res.pid, bundleMs: ms(t0, tBundle), shimMs: ms(tBundle, tShim), createMs: ms(tShim, tCreate) });
      task.onShimExit = () => void this.handleShimGone(task);
      if (joined) shim.child?.setMaxListeners(0);
      shim.child?.once('exit', task.onShimExit);
      task.transition('ready');
      undo.release();
      groupRelease?.();
      return task;
    } catch (err) {
      task.transition('gone');
      const errors = await undo.run();
      for (const e of errors) task.log.warn('create: cleanup step failed', { error: messageOf(e) });
      throw err;
    }
  }

  /**
   * Records what cleanup after a dead shim needs (dead-task.ts): the init pid and start time, the
   * container's own cgroups, and the OCI runtime binary and root when runc/crun drives the task.
   */
  recordInit(task: TaskShim, pid: number, doc: OciSpecDoc, options: AnyMessage | null): void {
    task.initPid = pid;
    task.initStartTime = processStartTime(pid) ?? '';
    const linux = doc.linux as { cgroupsPath?: unknown } | undefined;
    const cgroupsPath = typeof linux?.cgroupsPath === 'string' ? linux.cgroupsPath : undefined;
    const facts: TaskFacts = {
      pid,
      startTime: task.initStartTime,
      cgroups: task.shim ? containerCgroups(pid, task.shim.pid, task.id, cgroupsPath) : [],
      ...(task.group ? { group: task.group } : {}),
    };
    const runc = runcOptions(options);
    if (runc?.binary_name) {
      facts.runtime = { binary: runc.binary_name, root: runc.root ? path.join(runc.root, task.namespace) : path.join(task.bundle, 'runc-root') };
    }
    task.facts = facts;
    writeTaskFacts(task.bundle, facts);
  }

  startPump(task: TaskShim, holdUntil: number): void {
    const shim = task.shim!;
    task.pump = new EventPump({
      client: task.client!,
      namespace: task.namespace,
      taskId: task.id,
      publisher: this.opts.publisher,
      ledger: task.ledger!,
      log: task.log,
      holdUntil,
      isShimAlive: () => isProcessAlive(shim.pid, shim.startTime),
      onShimGone: () => void this.handleShimGone(task),
      onEvent: (topic, event) => task.snapshot?.onEvent(topic, event, task.id),
    });
    task.pump.start();
  }

  /**
   * Deletes the init process (the task must be created or stopped), makes sure its /tasks/exit and
   * /tasks/delete reached the exchange, shuts the shim down and removes its socket and bundle.
   */
  async deleteTask(task: TaskShim, signal?: AbortSignal): Promise<DeleteResponse> {
    const client = task.use();
    if (task.state === 'deleting') throw new FailedPrecondition(`task ${task.id}: is being deleted`);
    // A stopped init stays stopped: berthd's own view saves a round trip then (any other status is asked).
    const known = task.snapshot?.state;
    const st = known?.status === 'STOPPED' ? known : await client.state(task.id, '', { signal });
    if (!STOPPED_STATES.has(st.status)) {
      throw new FailedPrecondition(`task ${task.id}: must be stopped before deletion (status ${st.status.toLowerCase()})`);
    }
    task.transition('deleting');
    task.pump?.releaseHold();
    const afterSeq = task.pump?.lastSeq ?? 0;
    let res: DeleteResponse;
    try {
      res = await client.delete(task.id, '', { signal });
    } catch (err) {
      if ((task.state as string) === 'deleting') task.transition('ready');
      throw err;
    }
    const seen = (await task.pump?.waitForTopic('/tasks/delete', afterSeq, 2000)) ?? false;
    if (!seen) {
      task.log.warn('shim did not report /tasks/delete in time; publishing it', {});
      // An exit is only made up for a process that ran (a created one is deleted without exiting).
      const exit = { pid: st.status === 'STOPPED' ? res.pid : 0, exit_status: res.exit_status, exited_at: res.exited_at ?? toTimestamp() };
      this.publishExitAndDelete(task, exit, res.pid);
    }
    // The task is gone for clients now; the shim's exit and the removal of its files finish in the
    // background (a new task with this id waits for them, and so does berthd's stop).
    if (this.tasks.get(task.key) === task) this.tasks.delete(task.key);
    this.track(task, this.recycleOrShutdown(task));
    return res;
  }

  /**
   * After Delete: the shim goes back to the pool when the pool has room (a warm shim serves the next task
   * without a process start), else it is shut down. Either way the socket-less records and the bundle go.
   */
  private async recycleOrShutdown(task: TaskShim): Promise<void> {
    const shim = task.shim;
    const client = task.client;
    // A group's shim is never recycled: it serves its group until its last task is shut down.
    if (!this.pool?.hasRoom() || !shim?.child || !client || this.closed || task.group) return this.shutdownAndRemove(task);
    try {
      await task.pump?.stop();
      // The shim accepts a new Bind only once every event of this task is acknowledged.
      if (task.ledger && task.ledger.seq > 0) await client.ack(task.ledger.seq, { timeoutMs: 2000 }, task.id);
    } catch (err) {
      task.log.debug('shim not recycled', { error: messageOf(err) });
      return this.shutdownAndRemove(task);
    }
    if (task.onShimExit) shim.child.off('exit', task.onShimExit);
    if (!this.pool.giveBack({ ...shim, child: shim.child }, client, task.bundle)) {
      if (task.onShimExit) shim.child.once('exit', task.onShimExit);
      return this.shutdownAndRemove(task);
    }
    task.log.debug('shim recycled', { pid: shim.pid });
    task.client = undefined;
    task.shim = undefined;
    await this.forget(task);
  }

  /** Remembers background work finishing a task until it settles (see `settle`). */
  private track(task: TaskShim, work: Promise<void>): Promise<void> {
    const done = work.catch((err: unknown) => task.log.error('finishing the task failed', { error: messageOf(err) }));
    task.finishing = done;
    this.finishing.set(task.key, done);
    void done.then(() => {
      if (this.finishing.get(task.key) === done) this.finishing.delete(task.key);
    });
    return done;
  }

  /** Resolves once every deleted or dead task's shim has exited and its files are gone. */
  async settle(): Promise<void> {
    while (this.finishing.size > 0) await Promise.all([...this.finishing.values()]);
  }

  /**
   * Publishes /tasks/exit for the init process (unless already published, or `exit.pid` is 0) and
   * /tasks/delete.
   */
  publishExitAndDelete(
    task: TaskShim,
    exit: { pid: number; exit_status: number; exited_at: Timestamp },
    initPid = exit.pid,
    publisher: EventPublisher = this.opts.publisher,
  ): void {
    const ledger = task.ledger;
    if (exit.pid > 0) {
      ledger?.publishSyntheticExit(publisher, task.namespace, { container_id: task.id, id: task.id, ...exit });
    }
    const known = ledger?.initExit ?? { ...exit, pid: initPid };
    publisher.publish(
      task.namespace,
      '/tasks/delete',
      packAny(TASK_DELETE, { container_id: task.id, pid: known.pid, exit_status: known.exit_status, exited_at: known.exited_at, id: '' }),
      new Date(),
    );
  }

  /** Shuts the shim down (SIGKILL if it lingers), then removes its socket and bundle and forgets the task. */
  async shutdownAndRemove(task: TaskShim, now = false): Promise<void> {
    if (task.group) {
      // Under the group's lock: no task joins the shim between "others left?" and the Shutdown.
      await this.groups.locked(task, async () => this.shutdownShim(task, now, this.groups.leave(task)));
    } else {
      await this.shutdownShim(task, now, false);
    }
    await this.forget(task);
  }

  /** Shutdown{id}; unless other tasks still use the shim, waits for it to exit (SIGKILL if it lingers). */
  private async shutdownShim(task: TaskShim, now: boolean, othersUseIt: boolean): Promise<void> {
    const shim = task.shim;
    await task.pump?.stop();
    if (task.client && shim && isProcessAlive(shim.pid, shim.startTime)) {
      await task.client.shutdown(task.id, now, { timeoutMs: 2000 }).catch(() => {});
      if (othersUseIt) return;
      if (!(await waitProcessGone(shim.pid, shim.startTime, 2000))) {
        task.log.warn('shim did not exit after shutdown; killing it', { pid: shim.pid });
        signalVerified(shim.pid, shim.startTime, 'SIGKILL');
        await waitProcessGone(shim.pid, shim.startTime, 2000);
      }
    }
  }

  /** Stops the pump, closes the client, removes socket and bundle, drops the task from the registry. */
  async forget(task: TaskShim): Promise<void> {
    await task.pump?.stop();
    task.ledger?.close();
    task.client?.close();
    const address = task.shim?.address;
    // A group's shim keeps its socket while another task uses it.
    const shared = Boolean(task.group) && this.groups.leave(task);
    if (address && !shared && this.layout.ownsSocket(address)) removeFile(address);
    try {
      await removeBundleDir(task.bundle);
    } catch (err) {
      task.log.error('cannot remove bundle', { error: messageOf(err) });
    }
    if (task.state !== 'gone') task.transition('gone');
    if (this.tasks.get(task.key) === task) this.tasks.delete(task.key);
    this.removeEmptyNamespaceDir(task.namespace);
  }

  private removeEmptyNamespaceDir(namespace: string): void {
    try {
      fs.rmdirSync(this.layout.namespaceDir(namespace));
    } catch {}
  }

  /**
   * A shim died (or vanished): see recovery.ts. `publisher` lets reconnect hold the events back like
   * replayed ones.
   */
  handleShimGone(task: TaskShim, publisher?: EventPublisher): Promise<void> {
    if (this.closed || task.state === 'starting' || task.state === 'deleting' || task.state === 'gone') return Promise.resolve();
    return task.finishing ?? this.track(task, cleanupDeadShim(this, task, publisher));
  }

  /** Stops pumps and closes clients; shims keep running (they outlive berthd). */
  async close(): Promise<void> {
    await this.settle();
    this.closed = true;
    cancelRetries(this);
    for (const held of this.heldPublishers.splice(0)) held.flush();
    this.pool?.close();
    const all = [...this.tasks.values()];
    await Promise.all(all.map((t) => t.pump?.stop()));
    for (const t of all) t.client?.close();
  }
}
