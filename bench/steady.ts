/**
 * Measurements taken with many long-running tasks: (3) memory and (5) List rates with `count` idle
 * `sleep` containers on each side, and (6) how long a daemon SIGKILLed and started again on the same dirs
 * takes to serve all of its running tasks.
 */
import type { SideName } from './daemons';
import {
  callsPerSecond,
  measureMemory,
  removeSleepers,
  startSleepers,
  waitAllRunning,
  type ListResult,
  type MemoryResult,
  type PerSide,
  type RestartResult,
} from './metrics';
import type { Side } from './ops';
import { findShims } from './procs';
import { round } from './stats';

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface IdleOptions {
  count: number;
  /** How long each List rate is measured. */
  listMs: number;
  /** Pause after the last start before memory is read (lets start-up garbage be collected). */
  settleMs: number;
}

/** (3) and (5): start `count` sleepers per side, read memory, measure List rates (alternating), remove them. */
export async function measureIdle(sides: Side[], opts: IdleOptions): Promise<{ memory: PerSide<MemoryResult>; list: PerSide<ListResult> }> {
  const memory: PerSide<MemoryResult> = {};
  const list: PerSide<ListResult> = {};
  const fail = (name: SideName, err: unknown): void => {
    const e = { ok: false as const, error: errorText(err) };
    memory[name] ??= e;
    list[name] ??= e;
  };
  const ids = new Map<Side, string[]>();
  for (const side of sides) {
    try {
      ids.set(side, await startSleepers(side, opts.count, 'idle'));
      await waitAllRunning(side, opts.count, 30_000);
    } catch (err) {
      fail(side.daemon.name, err);
    }
  }
  const ready = sides.filter((s) => memory[s.daemon.name] === undefined);
  await sleep(opts.settleMs);
  for (const side of ready) {
    try {
      memory[side.daemon.name] = { ok: true, value: measureMemory(side, opts.count) };
    } catch (err) {
      memory[side.daemon.name] = { ok: false, error: errorText(err) };
    }
  }
  const rates = new Map<Side, Partial<ListResult>>(ready.map((s) => [s, { containers: opts.count }]));
  for (const what of ['tasks', 'containers'] as const) {
    for (const side of ready) {
      if (list[side.daemon.name]) continue;
      try {
        const c = side.daemon.client;
        const call = what === 'tasks' ? () => c.tasks.List({ filter: '' }) : () => c.containers.List({ filters: [] });
        rates.get(side)![what === 'tasks' ? 'tasksListPerSec' : 'containersListPerSec'] = await callsPerSecond(call, opts.listMs);
      } catch (err) {
        list[side.daemon.name] = { ok: false, error: errorText(err) };
      }
    }
  }
  for (const side of ready) list[side.daemon.name] ??= { ok: true, value: rates.get(side) as ListResult };
  for (const side of sides) {
    await removeSleepers(side, ids.get(side) ?? []).catch((err) => fail(side.daemon.name, err));
  }
  return { memory, list };
}

/** Shim processes a side keeps with no container: berth's default `[shim] prestart = 2`, containerd none. */
const IDLE_SHIMS_AT_REST = 2;

/** Polls the side's shim processes until at most `max` are left, or `timeoutMs` passed. */
async function waitIdleShims(side: Side, max: number, timeoutMs: number): Promise<void> {
  const d = side.daemon;
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const n = findShims({ dir: d.dir, stateDir: d.stateDir, daemonPid: d.pid, cgroupParent: side.cgroupParent }).length;
    if (n <= max) return;
    await sleep(1000);
  }
}

/**
 * (3b) the same memory figure with the sleepers in shim groups of `groupSize` (container label
 * io.containerd.runc.v2.group; containerd's runc v2 shim groups the same way): start, settle, read, remove.
 */
export async function measureIdleGrouped(sides: Side[], opts: { count: number; groupSize: number; settleMs: number }): Promise<PerSide<MemoryResult>> {
  const memory: PerSide<MemoryResult> = {};
  for (const side of sides) {
    let ids: string[] = [];
    try {
      // berth keeps the shims of the sleepers just removed warm for a while (its pool's surplus, 30 s): they
      // would be counted here, so wait until only the pool's own pre-started ones (2 by default) are left.
      await waitIdleShims(side, IDLE_SHIMS_AT_REST, 45_000);
      ids = await startSleepers(side, opts.count, 'grouped', opts.groupSize);
      await waitAllRunning(side, opts.count, 30_000);
      await sleep(opts.settleMs);
      memory[side.daemon.name] = { ok: true, value: { ...measureMemory(side, opts.count), groupSize: opts.groupSize } };
    } catch (err) {
      memory[side.daemon.name] = { ok: false, error: errorText(err) };
    }
    await removeSleepers(side, ids).catch((err) => {
      memory[side.daemon.name] ??= { ok: false, error: errorText(err) };
    });
  }
  return memory;
}

/**
 * (6) per side: `count` sleepers, SIGKILL of the daemon pid this run started, spawn again on the same dirs;
 * the clock runs from the new spawn until Tasks.List (polled back to back) returns all `count` RUNNING.
 */
export async function measureRestart(sides: Side[], count: number): Promise<PerSide<RestartResult>> {
  const out: PerSide<RestartResult> = {};
  for (const side of sides) {
    const d = side.daemon;
    let ids: string[] = [];
    try {
      ids = await startSleepers(side, count, 'restart');
      await waitAllRunning(side, count, 60_000);
      await d.killHard();
      side.signal.throwIfAborted();
      const t0 = performance.now();
      d.spawn();
      const polled = await pollUntilAllRunning(side, count, 60_000);
      out[d.name] = {
        ok: true,
        value: { tasks: count, firstAnswerMs: round(polled.firstAnswer - t0, 3), allRunningMs: round(polled.allRunning - t0, 3) },
      };
    } catch (err) {
      out[d.name] = { ok: false, error: errorText(err) };
    }
    if (!d.alive() && !side.signal.aborted) await d.start().catch(() => undefined);
    await removeSleepers(side, ids).catch((err) => {
      if (out[d.name]?.ok) out[d.name] = { ok: false, error: `cleanup after restart: ${errorText(err)}` };
    });
  }
  return out;
}

/** Polls Tasks.List back to back; times (performance.now) of the first answer and of "all RUNNING". */
async function pollUntilAllRunning(side: Side, count: number, timeoutMs: number): Promise<{ firstAnswer: number; allRunning: number }> {
  const d = side.daemon;
  const until = performance.now() + timeoutMs;
  let firstAnswer: number | undefined;
  let seen = 0;
  while (performance.now() < until) {
    if (!d.alive()) throw new Error(`${d.name} exited after restart: ${d.logTail()}`);
    try {
      const res = await d.client.tasks.List({ filter: '' }, 2000);
      const now = performance.now();
      firstAnswer ??= now;
      seen = (res.tasks as { status: string }[]).filter((t) => t.status === 'RUNNING').length;
      if (seen >= count) return { firstAnswer, allRunning: now };
    } catch {
      await sleep(1);
    }
  }
  throw new Error(`restart: ${seen} of ${count} tasks RUNNING after ${timeoutMs} ms`);
}
