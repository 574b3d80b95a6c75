/**
 * The bundles a restarted berthd is still reconnecting to (recovery.ts), one entry per bundle from the
 * scan at start until its reconnect finished (answered, mute, dead, retired or removed).
 *
 * The Tasks service answers reads from an entry's recorded state (recorded-state.ts) without waiting for
 * its shim, and makes every other call on the task wait for the entry (`hurry`: its reconnect starts at
 * once if it was still queued). Reconnects run a few at a time (`concurrency`), so the event loop keeps
 * answering calls while 50 shims are reached instead of queueing them behind 50 connection setups.
 */
import type { StateResponse } from './messages';
import type { TaskShim } from './task-shim';
import { taskKey } from './task-shim';

export interface RecoveringEntry {
  readonly namespace: string;
  readonly id: string;
  readonly bundle: string;
  /** The registered task (state `starting` until its reconnect ends); none for a bundle with invalid names. */
  task?: TaskShim;
  /** The init's state from the bundle's records: listed from it before the shim answers. */
  recorded?: StateResponse;
  /** The shim was found dead (or without a usable record): the task goes, it is not listed meanwhile. */
  dead: boolean;
}

interface Slot {
  entry: RecoveringEntry;
  started: boolean;
  done: Promise<void>;
  start(): Promise<void>;
}

export class RecoveringTasks {
  private readonly slots = new Map<string, Slot>();
  private readonly queue: Slot[] = [];
  private running = 0;
  private added = 0;
  private allDone: (() => void) | undefined;

  constructor(
    private readonly work: (entry: RecoveringEntry) => Promise<void>,
    private readonly concurrency = 8,
  ) {}

  add(entry: RecoveringEntry): void {
    let resolve: () => void = () => {};
    const done = new Promise<void>((r) => (resolve = r));
    const key = taskKey(entry.namespace, entry.id);
    const slot: Slot = {
      entry,
      started: false,
      done,
      start: () => {
        if (slot.started) return done;
        slot.started = true;
        this.running++;
        void this.work(entry)
          .catch(() => {})
          .finally(() => {
            this.running--;
            if (this.slots.get(key) === slot) this.slots.delete(key);
            resolve();
            this.next();
          });
        return done;
      },
    };
    this.slots.set(key, slot);
    this.queue.push(slot);
    this.added++;
  }

  /** How many bundles were added. */
  get size(): number {
    return this.added;
  }

  /** The entry of a task still being reconnected. */
  get(namespace: string, id: string): RecoveringEntry | undefined {
    return this.slots.get(taskKey(namespace, id))?.entry;
  }

  /** Every entry of a namespace still being reconnected. */
  pending(namespace: string): RecoveringEntry[] {
    return [...this.slots.values()].filter((s) => s.entry.namespace === namespace).map((s) => s.entry);
  }

  /** Resolves when the task's reconnect has ended (started now if still queued); undefined if not pending. */
  hurry(namespace: string, id: string): Promise<void> | undefined {
    return this.slots.get(taskKey(namespace, id))?.start();
  }

  /** Reconnects every entry, `concurrency` at a time; resolves once all ended. */
  run(): Promise<void> {
    const all = new Promise<void>((resolve) => (this.allDone = resolve));
    this.next();
    return all;
  }

  private next(): void {
    while (this.running < this.concurrency) {
      const slot = this.queue.shift();
      if (!slot) break;
      if (!slot.started) void slot.start();
    }
    if (this.running === 0 && this.queue.length === 0) this.allDone?.();
  }
}
