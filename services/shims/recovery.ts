/**
 * Recovery (issue 5): reconnecting to the shims of a previous berthd at start, and cleaning up after
 * shims that died.
 *
 * Reconnect walks `<state>/tasks/<ns>/<id>/`, reads `address`, `shim.pid` and `shim.starttime`, and for
 * every bundle in parallel connects with a bounded timeout and asks the shim for its State:
 *   - answers            → the task is served as before; its event pump resumes after the recorded seq
 *                          (events held back for `replayHoldMs` so re-subscribing clients see them);
 *   - alive, but mute    → `unreachable` (calls get Unavailable), retried in the background with backoff;
 *   - dead / no record   → dead-shim cleanup;
 *   - container deleted  → the task is killed and deleted (events published), the bundle removed.
 * Then sockets in `<state>/s/` that no bundle refers to are removed.
 *
 * Dead-shim cleanup: the init process (recorded in task.json with its start time) is SIGKILLed so nothing
 * is orphaned, /tasks/exit (status 137 unless an exit was already published) and /tasks/delete are
 * published, and socket and bundle (after unmounting anything below it) are removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { toTimestamp } from '../../proto/timestamp';
import { isValidIdentifier } from '../../pkg/identifiers';
import { isKind, messageOf } from '../../pkg/errdefs';
import type { ShimManager } from './manager';
import { InitSnapshot, TaskShim, taskKey } from './task-shim';
import { BUNDLE_FILES } from './layout';
import { EventLedger, HeldPublisher, type EventPublisher } from './event-ledger';
import { isProcessAlive, readOptional, readPositiveInt, removeBundleDir, removeFile, signalVerified, waitProcessGone } from './files';
import { destroyContainer, readTaskFacts, replayShimEvents } from './dead-task';
import { readRecordedState } from './recorded-state';
import { RecoveringTasks, type RecoveringEntry } from './recovering';

const SIGKILL_STATUS = 137;
/**
 * Shims reached at once after a restart: enough to keep both cores busy, few enough that berthd's event loop
 * answers calls in between (50 at once delayed the first answer by the whole reconnect).
 */
const RECONNECT_CONCURRENCY = 8;
const retryTimers = new WeakMap<ShimManager, Set<NodeJS.Timeout>>();

/**
 * Cleans up a task whose shim is gone: publishes what the shim had queued, kills every process of the
 * container and removes its cgroups (dead-task.ts), publishes /tasks/exit (137 unless an exit was
 * published) and /tasks/delete, removes socket and bundle.
 */
export async function cleanupDeadShim(manager: ShimManager, task: TaskShim, publisher: EventPublisher = manager.opts.publisher): Promise<void> {
  task.log.warn('shim is gone; cleaning up its task', { shimPid: task.shim?.pid ?? 0 });
  if (task.state !== 'gone') task.transition('deleting');
  await task.pump?.stop();
  task.client?.close();
  const replayed = task.ledger ? replayShimEvents(task.bundle, task.namespace, task.ledger, publisher, task.log) : [];
  const facts = task.facts ?? (task.initPid > 0 ? { pid: task.initPid, startTime: task.initStartTime, cgroups: [] } : undefined);
  if (facts) {
    await destroyContainer(task.id, facts, task.log).catch((err: unknown) =>
      task.log.error('cannot destroy the container of a dead shim', { error: messageOf(err) }),
    );
  }
  if (task.initPid > 0 && !replayed.includes('/tasks/delete')) {
    manager.publishExitAndDelete(task, { pid: task.initPid, exit_status: SIGKILL_STATUS, exited_at: toTimestamp() }, task.initPid, publisher);
  }
  await manager.forget(task);
}

function readInit(task: TaskShim): void {
  const facts = readTaskFacts(task.bundle);
  if (!facts) return;
  task.facts = facts;
  task.initPid = facts.pid;
  task.initStartTime = facts.startTime;
}

/**
 * Tries to reach a recorded shim: `ok` when it answered State for the task within the timeout, `no-task`
 * when it answered but serves no task (berthd died between spawning it and Create, or between Delete and
 * Shutdown), `mute` otherwise.
 */
async function connect(manager: ShimManager, task: TaskShim): Promise<'ok' | 'no-task' | 'mute'> {
  const shim = task.shim!;
  task.client?.close();
  const client = manager.clientFor(shim.address); // shared by every bundle naming this shim (a group)
  task.client = client;
  try {
    await client.waitForReady(manager.connectTimeoutMs);
    const st = await client.state(task.id, '', { timeoutMs: manager.connectTimeoutMs });
    if (st.pid > 0 && task.initPid === 0) task.initPid = st.pid;
    if (task.snapshot) task.snapshot.fromState(st);
    else task.snapshot = new InitSnapshot(st);
    return 'ok';
  } catch (err) {
    if (isKind(err, 'not-found') || isKind(err, 'failed-precondition')) return 'no-task';
    task.log.warn('shim did not answer', { address: shim.address, error: messageOf(err) });
    client.close();
    task.client = undefined;
    return 'mute';
  }
}

/** A live shim without a task: publish what it had queued, shut it down, remove its files. */
async function retireIdleShim(manager: ShimManager, task: TaskShim, publisher: EventPublisher): Promise<void> {
  task.log.info('shim serves no task; shutting it down', { pid: task.shim!.pid });
  if (task.ledger) replayShimEvents(task.bundle, task.namespace, task.ledger, publisher, task.log);
  if (task.state === 'unreachable') task.transition('ready');
  if (task.state === 'starting') task.transition('ready');
  task.transition('deleting');
  await manager.shutdownAndRemove(task, true);
}

async function containerExists(manager: ShimManager, task: TaskShim): Promise<boolean> {
  if (!manager.opts.containerExists) return true;
  try {
    return await manager.opts.containerExists(task.namespace, task.id);
  } catch {
    return true;
  }
}

/** A live task whose container record is gone: kill, delete and remove it. */
async function dropOrphanTask(manager: ShimManager, task: TaskShim): Promise<void> {
  task.log.warn('container record is gone; removing its task', {});
  const client = task.client!;
  await client.kill({ id: task.id, exec_id: '', signal: 9, all: true }, { timeoutMs: 5000 }).catch(() => {});
  await client.wait(task.id, '', { timeoutMs: 10_000 }).catch(() => {});
  try {
    await manager.deleteTask(task);
  } catch (err) {
    task.log.warn('cannot delete orphan task; forcing', { error: messageOf(err) });
    await cleanupDeadShim(manager, task).catch(() => {});
  }
}

function scheduleRetry(manager: ShimManager, task: TaskShim, delayMs: number): void {
  let timers = retryTimers.get(manager);
  if (!timers) retryTimers.set(manager, (timers = new Set()));
  const t = setTimeout(() => {
    timers.delete(t);
    void retryUnreachable(manager, task, delayMs);
  }, delayMs);
  t.unref();
  timers.add(t);
}

async function retryUnreachable(manager: ShimManager, task: TaskShim, lastDelay: number): Promise<void> {
  if (task.state !== 'unreachable') return;
  const shim = task.shim!;
  if (!isProcessAlive(shim.pid, shim.startTime)) {
    await manager.handleShimGone(task);
    return;
  }
  const reached = await connect(manager, task);
  if (reached === 'no-task') {
    await retireIdleShim(manager, task, manager.opts.publisher);
    return;
  }
  if (reached === 'ok') {
    task.transition('ready');
    manager.startPump(task, 0);
    task.log.info('shim reachable again', {});
    return;
  }
  scheduleRetry(manager, task, Math.min(lastDelay * 2, 30_000));
}

/**
 * Reads one bundle's records (no shim is asked): registers its task (state `starting`, invisible to
 * manager.get) and notes whether the shim lives and what state its records give the init.
 */
function scanOne(manager: ShimManager, namespace: string, id: string, bundle: string): RecoveringEntry {
  if (!isValidIdentifier(namespace) || !isValidIdentifier(id)) return { namespace, id, bundle, dead: true };
  const log = manager.opts.log.child({ namespace, id });
  const task = new TaskShim(namespace, id, bundle, log);
  manager.tasks.set(taskKey(namespace, id), task);
  task.ledger = new EventLedger(path.join(bundle, BUNDLE_FILES.events), log);
  readInit(task);
  const address = readOptional(path.join(bundle, BUNDLE_FILES.address)) ?? '';
  const pid = readPositiveInt(path.join(bundle, BUNDLE_FILES.shimPid));
  const startTime = readOptional(path.join(bundle, BUNDLE_FILES.shimStartTime)) ?? '';
  if (pid !== undefined) task.shim = { pid, startTime, address };
  const alive = pid !== undefined && isProcessAlive(pid, startTime);
  const usable = alive && manager.layout.ownsSocket(address) && fs.existsSync(address);
  const recorded = usable ? readRecordedState(bundle, id, task.facts, task.ledger.snapshot) : undefined;
  return { namespace, id, bundle, task, recorded, dead: !usable };
}

/** Reconnects to one scanned bundle. Never throws. */
async function reconnectOne(manager: ShimManager, entry: RecoveringEntry, holdUntil: number, held: HeldPublisher): Promise<void> {
  const { namespace, id, bundle, task } = entry;
  const log = task?.log ?? manager.opts.log.child({ namespace, id });
  if (!task) {
    log.warn('removing bundle with an invalid name', { bundle });
    await removeBundleDir(bundle).catch((err: unknown) => log.error('cannot remove bundle', { error: messageOf(err) }));
    return;
  }
  const pid = task.shim?.pid;
  const startTime = task.shim?.startTime ?? '';
  if (entry.dead) {
    if (pid !== undefined && isProcessAlive(pid, startTime)) {
      log.warn('shim alive without a usable address; killing it', { pid, address: task.shim?.address ?? '' });
      signalVerified(pid, startTime, 'SIGKILL');
      await waitProcessGone(pid, startTime, 2000);
    } else {
      log.info('shim of a previous berthd is gone', { pid: pid ?? 0 });
    }
    task.transition('ready');
    await cleanupDeadShim(manager, task, held);
    return;
  }
  const reached = await connect(manager, task);
  if (reached === 'no-task') {
    await retireIdleShim(manager, task, held);
    return;
  }
  if (reached === 'mute') {
    if (isProcessAlive(pid!, startTime)) {
      task.transition('ready');
      task.transition('unreachable');
      scheduleRetry(manager, task, 1000);
    } else {
      task.transition('ready');
      await cleanupDeadShim(manager, task, held);
    }
    return;
  }
  task.transition('ready');
  const exists = await containerExists(manager, task);
  manager.startPump(task, exists ? holdUntil : 0);
  if (!exists) {
    await dropOrphanTask(manager, task);
    return;
  }
  log.debug('reconnected to shim', { pid, initPid: task.initPid });
}

function listBundles(tasksRoot: string): { namespace: string; id: string; bundle: string }[] {
  const found: { namespace: string; id: string; bundle: string }[] = [];
  const dirs = (p: string): fs.Dirent[] => {
    try {
      return fs.readdirSync(p, { withFileTypes: true });
    } catch {
      return [];
    }
  };
  for (const ns of dirs(tasksRoot)) {
    const nsDir = path.join(tasksRoot, ns.name);
    if (!ns.isDirectory()) {
      removeFile(nsDir);
      continue;
    }
    for (const t of dirs(nsDir)) {
      const bundle = path.join(nsDir, t.name);
      if (t.isDirectory()) found.push({ namespace: ns.name, id: t.name, bundle });
      else removeFile(bundle);
    }
  }
  return found;
}

/** Removes sockets no task refers to, and empty namespace directories. */
function removeStrays(manager: ShimManager): void {
  const used = new Set([...manager.tasks.values()].map((t) => t.shim?.address).filter(Boolean));
  const dir = manager.layout.socketsDir;
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (used.has(p)) continue;
    if (/^[0-9a-f]{12}(\.tmp)?$/.test(name)) {
      manager.opts.log.info('removing stray shim socket', { path: p });
      removeFile(p);
    }
  }
  for (const ns of fs.readdirSync(manager.layout.tasksRoot)) {
    try {
      fs.rmdirSync(path.join(manager.layout.tasksRoot, ns));
    } catch {}
  }
}

/**
 * Reads the records of every bundle under the state directory (no shim is asked; milliseconds for
 * hundreds of bundles) and returns them as pending reconnects, for `reconnectAll`. The Tasks service
 * answers reads from them at once.
 */
export function scanBundles(manager: ShimManager): RecoveringTasks {
  manager.layout.ensure();
  const holdUntil = Date.now() + (manager.opts.replayHoldMs ?? 3000);
  const held = new HeldPublisher(manager.opts.publisher, holdUntil);
  manager.heldPublishers.push(held);
  const recovering = new RecoveringTasks((e) =>
    reconnectOne(manager, e, holdUntil, held).catch((err: unknown) =>
      manager.opts.log.error('reconnect failed', { namespace: e.namespace, id: e.id, error: messageOf(err) }),
    ),
    RECONNECT_CONCURRENCY,
  );
  const t0 = performance.now();
  let recorded = 0;
  for (const b of listBundles(manager.layout.tasksRoot)) {
    const entry = scanOne(manager, b.namespace, b.id, b.bundle);
    if (entry.recorded) recorded++;
    recovering.add(entry);
  }
  if (recovering.size > 0) {
    manager.opts.log.info('task records read', { bundles: recovering.size, recorded, ms: Math.round((performance.now() - t0) * 10) / 10 });
  }
  return recovering;
}

/**
 * Reconnects to every shim recorded under the state directory (a few at a time, each bounded; a task a
 * client acts on goes first), then removes stray sockets.
 */
export async function reconnectAll(manager: ShimManager, recovering: RecoveringTasks = scanBundles(manager)): Promise<void> {
  const t0 = performance.now();
  const bundles = recovering.size;
  await recovering.run();
  await manager.settle();
  removeStrays(manager);
  if (bundles > 0) {
    const ready = [...manager.tasks.values()].filter((t) => t.state === 'ready').length;
    manager.opts.log.info('reconnected to shims', { bundles, ready, ms: Math.round(performance.now() - t0) });
  }
}

/** Cancels background reconnect attempts (berthd stops). */
export function cancelRetries(manager: ShimManager): void {
  for (const t of retryTimers.get(manager) ?? []) clearTimeout(t);
  retryTimers.delete(manager);
}
