/**
 * (7) scale: `count` idle `sleep` containers on one side at a time (default 200), started 8 at a time. A
 * start that fails is counted, not thrown: the figure is how many of `count` failed. Once every task that
 * started runs and `settleMs` passed, it reads the daemon's RSS and PSS and the PSS per container (shims
 * plus the daemon, as the idle row), then times 20 sequential Tasks.List and 20 Containers.List calls
 * (median and p90 ms), and removes the containers. Sides run one after the other, not interleaved: 2 × 200
 * containers at once would measure the machine rather than a daemon.
 */
import { inParallel, newId, removeSleeper, startSleeper, type Side } from './ops';
import { measureMemory, waitAllRunning, type Outcome, type PerSide } from './metrics';
import { percentile, median, round } from './stats';

export interface ScaleOptions {
  count: number;
  settleMs: number;
  /** Starts in flight at once. */
  concurrency?: number;
  /** Sequential calls timed per List method. */
  listCalls?: number;
}

export interface ListLatency {
  medianMs: number;
  p90Ms: number;
}

export interface ScaleResult {
  containers: number;
  /** Starts that failed (Containers.Create, Tasks.Create or Tasks.Start), and the first error text. */
  startErrors: number;
  firstError?: string;
  /** Wall time to start every container. */
  startAllMs: number;
  daemonRssKiB: number;
  daemonPssKiB: number;
  perContainerPssKiB: number;
  tasksList: ListLatency;
  containersList: ListLatency;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `calls` sequential calls of `call` after one warm-up; median and p90 in ms. */
export async function listLatency(call: () => Promise<unknown>, calls: number): Promise<ListLatency> {
  await call();
  const ms: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call();
    ms.push(performance.now() - t0);
  }
  return { medianMs: round(median(ms), 2), p90Ms: round(percentile(ms, 90), 2) };
}

async function scaleOne(side: Side, opts: ScaleOptions): Promise<ScaleResult> {
  const ids = Array.from({ length: opts.count }, () => newId(side, 'scale'));
  const started: string[] = [];
  let startErrors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  try {
    await inParallel(ids, opts.concurrency ?? 8, async (id) => {
      side.signal.throwIfAborted();
      try {
        await startSleeper(side, id);
        started.push(id);
      } catch (err) {
        startErrors++;
        firstError ??= `${id}: ${errorText(err)}`;
      }
    });
    const startAllMs = round(performance.now() - t0, 1);
    await waitAllRunning(side, started.length, 60_000);
    await sleep(opts.settleMs);
    const mem = measureMemory(side, started.length);
    const c = side.daemon.client;
    const calls = opts.listCalls ?? 20;
    const tasksList = await listLatency(() => c.tasks.List({ filter: '' }), calls);
    const containersList = await listLatency(() => c.containers.List({ filters: [] }), calls);
    return {
      containers: opts.count,
      startErrors,
      ...(firstError !== undefined ? { firstError } : {}),
      startAllMs,
      daemonRssKiB: mem.daemonRssKiB,
      daemonPssKiB: mem.daemonPssKiB,
      perContainerPssKiB: mem.perContainerPssKiB,
      tasksList,
      containersList,
    };
  } finally {
    // Everything that started goes, on failure too (the side's teardown sweeps whatever is left).
    await inParallel(started, opts.concurrency ?? 8, (id) => removeSleeper(side, id).catch(() => undefined));
  }
}

/** (7) per side, one side after the other. */
export async function measureScale(sides: Side[], opts: ScaleOptions): Promise<PerSide<ScaleResult>> {
  const out: PerSide<ScaleResult> = {};
  for (const side of sides) {
    let r: Outcome<ScaleResult>;
    try {
      r = { ok: true, value: await scaleOne(side, opts) };
    } catch (err) {
      side.signal.throwIfAborted();
      r = { ok: false, error: errorText(err) };
    }
    out[side.daemon.name] = r;
  }
  return out;
}
