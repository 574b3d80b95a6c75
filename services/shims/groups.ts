/**
 * Shim groups (issue 6; shim.proto "Groups", docs/shim.md "Shim groups"): containers of one namespace that
 * share a group — the container label `io.containerd.runc.v2.group`, else the spec annotation of that name,
 * else the spec annotation `io.kubernetes.cri.sandbox-id` (containerd-shim-runc-v2 reads the two annotations
 * in that order; `ctr run --label` sets label and annotation) — share one berth-shim process.
 *
 * The registry maps `<namespace>/<group>` to the group's live shim and the tasks using it. Joining (a Create
 * binding its task to the group's shim, or founding the group) and leaving (a Delete deciding whether the
 * shim must exit) of one group run under the group's lock, so a task never joins a shim that its last task
 * is shutting down. After a berthd restart the registry is rebuilt on first use from the reconnected tasks
 * (each task's group is recorded in its task.json).
 */
import type { OciSpecDoc } from './bundle';
import { isProcessAlive } from './files';
import type { ShimProcess, TaskShim } from './task-shim';

export const GROUP_LABEL = 'io.containerd.runc.v2.group';
export const SANDBOX_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

/** The shim group of a container ('' when it has none). */
export function shimGroupOf(labels: Record<string, string> | undefined, doc: OciSpecDoc): string {
  const label = labels?.[GROUP_LABEL];
  if (label) return label;
  const annotations = (doc.annotations ?? {}) as Record<string, unknown>;
  for (const key of [GROUP_LABEL, SANDBOX_ANNOTATION]) {
    const value = annotations[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return '';
}

export interface ShimGroup {
  shim: ShimProcess;
  /** Task keys using the shim (created, being created, or not yet shut down). */
  members: Set<string>;
}

const sameShim = (a: ShimProcess | undefined, b: ShimProcess): boolean => Boolean(a && a.pid === b.pid && a.startTime === b.startTime);

export class ShimGroups {
  private readonly groups = new Map<string, ShimGroup>();
  private readonly locks = new Map<string, Promise<void>>();
  /** Tasks that left their group (a rebuilt registry never counts them again). */
  private readonly left = new WeakSet<TaskShim>();

  constructor(private readonly tasks: () => Iterable<TaskShim>) {}

  /** Takes the lock of the task's group (joins and leaves of one group never interleave); returns its release. */
  async acquire(task: TaskShim): Promise<() => void> {
    const key = groupKey(task);
    const previous = this.locks.get(key) ?? Promise.resolve();
    let unlock!: () => void;
    const mine = new Promise<void>((resolve) => (unlock = resolve));
    const chained = previous.then(() => mine);
    this.locks.set(key, chained);
    await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      unlock();
      if (this.locks.get(key) === chained) this.locks.delete(key);
    };
  }

  /** Runs `fn` holding the lock of the task's group. */
  async locked<T>(task: TaskShim, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(task);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** The live shim of the task's group, if any (rebuilt from the tasks berthd knows after a restart). */
  find(task: TaskShim): ShimGroup | undefined {
    const key = groupKey(task);
    let g = this.groups.get(key);
    if (g && !isProcessAlive(g.shim.pid, g.shim.startTime)) {
      this.groups.delete(key);
      g = undefined;
    }
    if (g) return g;
    const others = [...this.tasks()].filter((t) => t !== task && !this.left.has(t) && t.namespace === task.namespace && t.group === task.group && t.shim);
    // Any state but gone: a task still being reconnected (starting) uses the shim as much as a ready one.
    const live = others.find((t) => t.state !== 'gone' && isProcessAlive(t.shim!.pid, t.shim!.startTime));
    if (!live) return undefined;
    g = { shim: live.shim!, members: new Set(others.filter((t) => sameShim(t.shim, live.shim!)).map((t) => t.key)) };
    this.groups.set(key, g);
    return g;
  }

  /** Records that the task uses `shim` (joined, or founded the group). */
  add(task: TaskShim, shim: ShimProcess): void {
    const key = groupKey(task);
    const g = this.groups.get(key);
    if (g && sameShim(g.shim, shim)) g.members.add(task.key);
    else this.groups.set(key, { shim, members: new Set([task.key]) });
  }

  /**
   * The task no longer uses its group's shim. Returns true when other tasks still do (the shim must then
   * not be waited for or killed: it exits after the Shutdown of its last task). Called again for the same
   * task, it answers the same question without changing anything.
   */
  leave(task: TaskShim): boolean {
    if (!task.group || !task.shim) return false;
    this.left.add(task);
    const key = groupKey(task);
    const g = this.groups.get(key) ?? this.find(task);
    if (!g || !sameShim(g.shim, task.shim)) return false;
    g.members.delete(task.key);
    if (g.members.size > 0) return true;
    this.groups.delete(key);
    return false;
  }

  /** How many tasks use the group's shim (tests, logs). */
  size(task: TaskShim): number {
    return this.groups.get(groupKey(task))?.members.size ?? 0;
  }
}

function groupKey(task: TaskShim): string {
  return `${task.namespace}/${task.group}`;
}
