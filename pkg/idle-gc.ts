/**
 * Idle collection for our long-lived processes (the shim, berthd). V8 runs a full (old-generation) collection
 * only when the heap grows toward a limit it raises after every busy period, so the garbage of a burst of calls
 * stays resident while the process then sits idle: in berthd, ~36 MiB of heap of which ~13 MiB is live after
 * the benchmark's lifecycles; in a shim, the garbage of Bind/Create/Start for the container's whole life.
 *
 * IdleCollector runs `collect` once the process has had no call for `delayMs`, and only when `worthIt` says so
 * (default: always). Callers pass the collection itself (global.gc from node's --expose-gc, plus whatever else
 * gives memory back, e.g. the shim's malloc_trim); without one it does nothing.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { getHeapStatistics } from 'node:v8';

/** How long a process must be quiet before it collects. */
export const IDLE_GC_DELAY_MS = 1000;

/** node's global.gc, present only with --expose-gc. */
export const exposedGc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

export interface IdleCollectorOptions {
  delayMs?: number;
  /** The collection; undefined: the collector does nothing. */
  collect?: () => void;
  /** Asked when the quiet period ends: collect now? Default: yes. */
  worthIt?: () => boolean;
}

export class IdleCollector {
  private timer: NodeJS.Timeout | undefined;
  private readonly delayMs: number;
  private readonly collect: (() => void) | undefined;
  private readonly worthIt: () => boolean;

  constructor(opts: IdleCollectorOptions = {}) {
    this.delayMs = opts.delayMs ?? IDLE_GC_DELAY_MS;
    this.collect = opts.collect;
    this.worthIt = opts.worthIt ?? (() => true);
  }

  /** Something happened: (re)start the quiet period. */
  touch(): void {
    if (!this.collect) return;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.worthIt()) this.collect?.();
      }, this.delayMs);
      this.timer.unref();
    }
  }

  /** The same handlers, each of which restarts the quiet period when a call arrives. */
  wrap(handlers: UntypedServiceImplementation): UntypedServiceImplementation {
    const out: UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(handlers)) {
      const fn = handler as (...args: unknown[]) => unknown;
      out[name] = ((...args: unknown[]) => {
        this.touch();
        return fn(...args);
      }) as UntypedServiceImplementation[string];
    }
    return out;
  }
}

/**
 * A `worthIt` for a busy daemon: collect only when the heap has grown by at least `minGrowthBytes` since the
 * last collection it allowed (so a client polling every few seconds does not cost a full collection each time).
 * `usedBytes` is injectable for tests.
 */
export function heapGrowthPolicy(minGrowthBytes: number, usedBytes: () => number = () => getHeapStatistics().used_heap_size): {
  worthIt: () => boolean;
  /** Call after the collection: the new baseline. */
  collected: () => void;
} {
  let baseline = usedBytes();
  return {
    worthIt: () => usedBytes() - baseline >= minGrowthBytes,
    collected: () => {
      baseline = usedBytes();
    },
  };
}
