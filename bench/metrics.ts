/**
 * The six measurements. Each takes both sides and interleaves them (A B A B) so that drift of the machine
 * (page cache, CPU frequency, other load) spreads over both; a side that fails a measurement gets an error
 * for that measurement only, and the other side carries on.
 */
import type { SideName } from './daemons';
import { inParallel, lifecycle, newId, removeSleeper, SIGKILL, startSleeper, type Side } from './ops';
import { findShims, memoryOf, sumMemory } from './procs';
import { median, round, summarize, type Summary } from './stats';

/** A measurement's outcome for one side. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };
export type PerSide<T> = Partial<Record<SideName, Outcome<T>>>;

export interface LifecycleResult extends Summary {
  samples: number[];
  /** Median milliseconds per step. */
  phases: Record<string, number>;
}
export interface BurstResult { size: number; roundsMs: number[]; medianMs: number }
export interface EventResult extends Summary { samples: number[] }
export interface MemoryResult {
  containers: number;
  shimPids: number[];
  shimPssKiB: number;
  shimRssKiB: number;
  daemonPssKiB: number;
  daemonRssKiB: number;
  /** (shims' PSS + daemon's PSS) / containers. */
  perContainerPssKiB: number;
  /** Containers per shim group (grouped measurement only). */
  groupSize?: number;
}
export interface ListResult { containers: number; tasksListPerSec: number; containersListPerSec: number }
export interface RestartResult {
  tasks: number;
  /** From the new spawn to the first Tasks.List answer. */
  firstAnswerMs: number;
  /** From the new spawn to a Tasks.List answer listing every task RUNNING. */
  allRunningMs: number;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** Runs `step(side, i)` for i < n, alternating sides; a side stops at its first error. */
async function alternate(sides: Side[], n: number, step: (side: Side, i: number) => Promise<void>): Promise<Map<Side, string>> {
  const failed = new Map<Side, string>();
  for (let i = 0; i < n; i++) {
    for (const side of sides) {
      if (failed.has(side)) continue;
      try {
        await step(side, i);
      } catch (err) {
        failed.set(side, errorText(err));
      }
    }
  }
  return failed;
}

function collect<T>(sides: Side[], failed: Map<Side, string>, value: (side: Side) => T): PerSide<T> {
  const out: PerSide<T> = {};
  for (const s of sides) {
    const error = failed.get(s);
    out[s.daemon.name] = error !== undefined ? { ok: false, error } : { ok: true, value: value(s) };
  }
  return out;
}

/** (1) /bin/true lifecycle latency: `warmups` unrecorded, then `n` recorded, alternating. */
export async function measureLifecycle(sides: Side[], warmups: number, n: number): Promise<PerSide<LifecycleResult>> {
  const samples = new Map<Side, { total: number; phases: Record<string, number> }[]>(sides.map((s) => [s, []]));
  const failed = await alternate(sides, warmups + n, async (side, i) => {
    const t = await lifecycle(side, newId(side, 'life'));
    if (i >= warmups) samples.get(side)!.push({ total: t.totalMs, phases: t.phases });
  });
  return collect(sides, failed, (s) => {
    const rows = samples.get(s)!;
    const totals = rows.map((r) => round(r.total, 3));
    const phases: Record<string, number> = {};
    for (const k of Object.keys(rows[0]?.phases ?? {})) phases[k] = round(median(rows.map((r) => r.phases[k])), 3);
    return { ...summarize(totals), samples: totals, phases };
  });
}

/** (2) `size` lifecycles at once, total wall time; `rounds` rounds alternating, median reported. */
export async function measureBurst(sides: Side[], size: number, rounds: number): Promise<PerSide<BurstResult>> {
  const times = new Map<Side, number[]>(sides.map((s) => [s, []]));
  const failed = await alternate(sides, rounds, async (side) => {
    const ids = Array.from({ length: size }, () => newId(side, 'burst'));
    const t0 = performance.now();
    const results = await Promise.allSettled(ids.map((id) => lifecycle(side, id)));
    const ms = performance.now() - t0;
    const bad = results.find((r) => r.status === 'rejected');
    if (bad) throw (bad as PromiseRejectedResult).reason;
    times.get(side)!.push(round(ms, 3));
  });
  return collect(sides, failed, (s) => ({ size, roundsMs: times.get(s)!, medianMs: round(median(times.get(s)!), 3) }));
}

/** (4) Kill(SIGKILL) of a running `sleep` → arrival of its `/tasks/exit` on an Events.Subscribe stream. */
export async function measureExitEvents(sides: Side[], n: number): Promise<PerSide<EventResult>> {
  const samples = new Map<Side, number[]>(sides.map((s) => [s, []]));
  const waiters = new Map<string, () => void>();
  const streamErrors = new Map<Side, string>();
  const unsubscribe = sides.map((side) =>
    side.daemon.client.subscribeExits(
      (e) => waiters.get(`${side.daemon.name}/${e.container_id}`)?.(),
      (err) => streamErrors.set(side, errorText(err)),
    ),
  );
  try {
    // Sample 0 is a warm-up: its event proves the subscription is live before anything is timed.
    const failed = await alternate(sides, n + 1, async (side, i) => {
      const broken = streamErrors.get(side);
      if (broken) throw new Error(`Events.Subscribe: ${broken}`);
      const id = newId(side, 'event');
      await startSleeper(side, id);
      const key = `${side.daemon.name}/${id}`;
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<number>((resolve, reject) => {
        waiters.set(key, () => resolve(performance.now()));
        timer = setTimeout(() => reject(new Error(`no /tasks/exit for ${id} within 30 s`)), 30_000);
      });
      try {
        const t0 = performance.now();
        await side.daemon.client.tasks.Kill({ container_id: id, exec_id: '', signal: SIGKILL, all: false });
        const t1 = await arrived;
        if (i > 0) samples.get(side)!.push(round(t1 - t0, 3));
      } finally {
        clearTimeout(timer);
        waiters.delete(key);
      }
      await removeSleeper(side, id, true);
    });
    return collect(sides, failed, (s) => ({ ...summarize(samples.get(s)!), samples: samples.get(s)! }));
  } finally {
    for (const u of unsubscribe) u();
  }
}

/** Starts `count` sleepers on one side (5 at a time); returns their ids. */
/** `count` sleepers; with `groupSize`, the i-th is in shim group `<what>-g<i / groupSize>`. */
export async function startSleepers(side: Side, count: number, what: string, groupSize?: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => newId(side, what));
  const groupOf = (id: string): string | undefined => (groupSize ? `${what}-g${Math.floor(ids.indexOf(id) / groupSize)}` : undefined);
  await inParallel(ids, 5, (id) => startSleeper(side, id, groupOf(id)));
  return ids;
}

export async function removeSleepers(side: Side, ids: string[]): Promise<void> {
  await inParallel(ids, 5, (id) => removeSleeper(side, id));
}

/** Tasks.List until it shows `count` RUNNING tasks (the sleepers are all up) or the timeout passes. */
export async function waitAllRunning(side: Side, count: number, timeoutMs: number, pauseMs = 5): Promise<void> {
  const until = Date.now() + timeoutMs;
  let seen = -1;
  let last = '';
  while (Date.now() < until) {
    try {
      const res = await side.daemon.client.tasks.List({ filter: '' }, 2000);
      seen = (res.tasks as { status: string }[]).filter((t) => t.status === 'RUNNING').length;
      if (seen >= count) return;
    } catch (err) {
      last = errorText(err);
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error(`Tasks.List: ${seen} of ${count} tasks RUNNING after ${timeoutMs} ms${last ? ` (${last})` : ''}`);
}

/** (3) memory of shims + daemon with `count` idle sleepers. The sleepers must be running. */
export function measureMemory(side: Side, count: number): MemoryResult {
  const d = side.daemon;
  if (d.pid === undefined) throw new Error(`${d.name}: daemon is not running`);
  const shimPids = findShims({ dir: d.dir, stateDir: d.stateDir, daemonPid: d.pid, cgroupParent: side.cgroupParent });
  if (shimPids.length === 0) throw new Error(`${d.name}: no shim process found for ${count} running tasks`);
  const shims = sumMemory(shimPids);
  const daemon = memoryOf(d.pid);
  return {
    containers: count,
    shimPids,
    shimPssKiB: shims.pssKiB,
    shimRssKiB: shims.rssKiB,
    daemonPssKiB: daemon.pssKiB,
    daemonRssKiB: daemon.rssKiB,
    perContainerPssKiB: round((shims.pssKiB + daemon.pssKiB) / count, 1),
  };
}

/** (5) sequential calls of `call` for `durationMs`; calls per second. */
export async function callsPerSecond(call: () => Promise<unknown>, durationMs: number): Promise<number> {
  await call();
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < durationMs) {
    await call();
    calls++;
    t = performance.now();
  }
  return round((calls * 1000) / (t - t0), 1);
}
