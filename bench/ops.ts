/**
 * The containerd v1 call sequences the benchmark is made of, identical for both daemons: a /bin/true
 * lifecycle, starting and removing a long-running `sleep` task, and sweeping a namespace clean.
 */
import type { Daemon } from './daemons';
import { containerRequest } from './spec';

/** One side of the comparison: a daemon plus what the run gave it (namespace, cgroup parent, rootfs). */
export interface Side {
  daemon: Daemon;
  namespace: string;
  /** Cgroup parent of every container of this side (`/<cgroupParent>/<id>`); unique per side and run. */
  cgroupParent: string;
  rootfs: string;
  /** Every container id this side was asked to create (for leftovers cleanup). */
  ids: Set<string>;
  nextId: number;
  /** Aborted on Ctrl-C: no new container is started after that. */
  signal: AbortSignal;
}

export const SIGKILL = 9;
const WAIT_TIMEOUT_MS = 60_000;

export function newId(side: Side, what: string): string {
  return `${what}-${side.nextId++}`;
}

function taskCreateRequest(id: string): object {
  return { container_id: id, rootfs: [], stdin: '', stdout: '', stderr: '', terminal: false, checkpoint: null, options: null, runtime_path: '' };
}

export interface LifecycleTiming {
  totalMs: number;
  /** Milliseconds spent in each step, in call order. */
  phases: { containerCreate: number; taskCreate: number; start: number; wait: number; taskDelete: number; containerDelete: number };
}

/**
 * Containers.Create, Tasks.Create, Tasks.Wait (issued before Start), Tasks.Start, the Wait result,
 * Tasks.Delete, Containers.Delete of `/bin/true`; fails when the exit status is not 0.
 */
export async function lifecycle(side: Side, id: string): Promise<LifecycleTiming> {
  side.signal.throwIfAborted();
  const { containers, tasks } = side.daemon.client;
  side.ids.add(id);
  const t0 = performance.now();
  await containers.Create(containerRequest(id, side.rootfs, ['/bin/true'], side.cgroupParent));
  const t1 = performance.now();
  await tasks.Create(taskCreateRequest(id));
  const t2 = performance.now();
  const waiting = tasks.Wait({ container_id: id, exec_id: '' }, WAIT_TIMEOUT_MS);
  waiting.catch(() => undefined);
  await tasks.Start({ container_id: id, exec_id: '' });
  const t3 = performance.now();
  const res = await waiting;
  const t4 = performance.now();
  await tasks.Delete({ container_id: id });
  const t5 = performance.now();
  await containers.Delete({ id });
  const t6 = performance.now();
  if (res.exit_status !== 0) throw new Error(`lifecycle ${id}: /bin/true exited with ${res.exit_status}`);
  return {
    totalMs: t6 - t0,
    phases: { containerCreate: t1 - t0, taskCreate: t2 - t1, start: t3 - t2, wait: t4 - t3, taskDelete: t5 - t4, containerDelete: t6 - t5 },
  };
}

/** The container label that puts containers into one shim group (containerd's runc v2 shim and berth alike). */
export const GROUP_LABEL = 'io.containerd.runc.v2.group';

/** Creates and starts a task running `sleep 1000` (in shim group `group` when given). */
export async function startSleeper(side: Side, id: string, group?: string): Promise<void> {
  side.signal.throwIfAborted();
  const { containers, tasks } = side.daemon.client;
  side.ids.add(id);
  await containers.Create(containerRequest(id, side.rootfs, ['/bin/sleep', '1000'], side.cgroupParent, group ? { [GROUP_LABEL]: group } : {}));
  await tasks.Create(taskCreateRequest(id));
  await tasks.Start({ container_id: id, exec_id: '' });
}

/** Kills (SIGKILL) a running task, waits for it, deletes the task and the container. */
export async function removeSleeper(side: Side, id: string, alreadyKilled = false): Promise<void> {
  const { containers, tasks } = side.daemon.client;
  if (!alreadyKilled) await tasks.Kill({ container_id: id, exec_id: '', signal: SIGKILL, all: false });
  await tasks.Wait({ container_id: id, exec_id: '' }, WAIT_TIMEOUT_MS);
  await tasks.Delete({ container_id: id });
  await containers.Delete({ id });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Best-effort sweep of the side's namespace through the API: every task killed, waited and deleted, every
 * container deleted. Errors are collected, not thrown (this runs on the failure path too).
 */
export async function sweepNamespace(side: Side, timeoutMs = 10_000): Promise<string[]> {
  const errors: string[] = [];
  const { containers, tasks } = side.daemon.client;
  const note = (err: unknown): void => void errors.push(err instanceof Error ? err.message : String(err));
  const listed = await tasks.List({ filter: '' }, timeoutMs).catch((err) => (note(err), { tasks: [] }));
  // containerd fills `id` (the container id, for the init process) and leaves `container_id` empty.
  const listedIds = ((listed.tasks ?? []) as { container_id: string; id: string; status: string }[]).map((t) => ({
    cid: t.container_id || t.id,
    status: t.status,
  }));
  await inParallel(listedIds, 10, async (t) => {
    if (t.status !== 'STOPPED') {
      await tasks.Kill({ container_id: t.cid, exec_id: '', signal: SIGKILL, all: true }, timeoutMs).catch(note);
      await tasks.Wait({ container_id: t.cid, exec_id: '' }, timeoutMs).catch(note);
    }
    await tasks.Delete({ container_id: t.cid }, timeoutMs).catch(note);
  });
  const cs = await containers.List({ filters: [] }, timeoutMs).catch((err) => (note(err), { containers: [] }));
  await inParallel((cs.containers ?? []) as { id: string }[], 10, async (c) => {
    await containers.Delete({ id: c.id }, timeoutMs).catch(note);
  });
  return errors;
}
