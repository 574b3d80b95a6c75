/**
 * The event pump of one task (shim.proto step 5): a long-lived `Events(after_seq, id)` stream; each event is
 * published on berthd's exchange, recorded in the task's EventLedger (events.json), then acknowledged
 * with `Ack(seq)`. A restarted berthd resumes after the recorded seq, so nothing is published twice, and
 * exits are additionally deduplicated by (exec id, pid, exit time).
 *
 * The stream is re-opened with backoff while the shim lives; when it ends and the shim is gone, the
 * pump reports it (`onShimGone`). Publishing may be held back until `holdUntil`: a restarted berthd gives
 * clients that re-subscribe when it comes back a moment before it replays what happened while it was
 * down; any call on the task releases the hold at once (`releaseHold`).
 */
import { unpackAny } from '../../proto/any';
import { fromTimestamp } from '../../proto/timestamp';
import type { Logger } from '../../pkg/log';
import { Canceled, messageOf } from '../../pkg/errdefs';
import type { ShimClient } from './client';
import type { EventLedger, EventPublisher, TaskExitEvent } from './event-ledger';
import type { ShimEvent } from './messages';

export interface EventPumpOptions {
  client: ShimClient;
  namespace: string;
  /** The task whose events (a group's shim serves several: each task has its own stream and seq). */
  taskId: string;
  publisher: EventPublisher;
  ledger: EventLedger;
  log: Logger;
  /** Hold publishing until this time (ms since epoch). */
  holdUntil?: number;
  /** Whether the shim process still lives. */
  isShimAlive(): boolean;
  /** Called once when the stream ended and the shim is gone. */
  onShimGone(): void;
  /** Sees every event as it arrives (replayed ones too), before any hold-back. */
  onEvent?(topic: string, event: ShimEvent['event']): void;
}

/** Why a stopped pump's stream was cancelled (made once: an Error captures a stack when built). */
const STOPPED = new Canceled('event pump: stopped');

/** How long acks are gathered before one Ack goes to the shim. */
const ACK_DELAY_MS = 50;

type Waiter = { topic: string; afterSeq: number; resolve: (seen: boolean) => void };

export class EventPump {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private waiters: Waiter[] = [];
  private stopped = false;
  /** The seq of the latest event seen per topic. */
  private readonly seenByTopic = new Map<string, number>();
  private holdUntil: number;
  private wakeHold: (() => void) | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private ackSeq = 0;
  private ackedSeq = 0;

  constructor(private readonly opts: EventPumpOptions) {
    this.holdUntil = opts.holdUntil ?? 0;
  }

  get lastSeq(): number {
    return this.opts.ledger.seq;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops holding events back (a client acts on the task: it must see what happened first). */
  releaseHold(): void {
    this.holdUntil = 0;
    this.wakeHold?.();
  }

  /** Stops the stream (the ledger stays on disk). */
  async stop(): Promise<void> {
    if (!this.stopped && this.ackTimer) this.flushAck();
    this.stopped = true;
    this.abort.abort(STOPPED); // a reason given: no DOMException (and its stack) built on every task delete
    this.resolveAllWaiters();
    await this.running;
  }

  /**
   * Resolves true once an event of `topic` with seq > `afterSeq` went through the pump (at once if it
   * already did), false after `timeoutMs` or when the pump stops.
   */
  waitForTopic(topic: string, afterSeq: number, timeoutMs: number): Promise<boolean> {
    if ((this.seenByTopic.get(topic) ?? 0) > afterSeq) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        topic,
        afterSeq,
        resolve: (seen) => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(seen);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private resolveAllWaiters(): void {
    for (const w of [...this.waiters]) w.resolve(false);
  }

  /** Sleeps `ms`, cut short by stop() and, for `hold`, by releaseHold(). */
  private async sleep(ms: number, hold = false): Promise<void> {
    if (ms <= 0 || this.abort.signal.aborted) return;
    const signal = this.abort.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        if (hold) this.wakeHold = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      if (hold) this.wakeHold = done;
    });
  }

  private async loop(): Promise<void> {
    let backoff = 20;
    while (!this.stopped) {
      try {
        for await (const ev of this.opts.client.events(this.opts.ledger.seq, this.abort.signal, this.opts.taskId)) {
          backoff = 20;
          await this.handle(ev);
          if (this.stopped) break;
        }
      } catch (err) {
        if (!this.stopped) this.opts.log.debug('event stream broke', { error: messageOf(err) });
      }
      if (this.stopped) break;
      if (!this.opts.isShimAlive()) {
        this.stopped = true;
        this.resolveAllWaiters();
        this.opts.onShimGone();
        break;
      }
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  }

  private async handle(ev: ShimEvent): Promise<void> {
    const seq = Number(ev.seq);
    this.opts.onEvent?.(ev.topic, ev.event);
    if (seq > this.opts.ledger.seq) {
      const hold = this.holdUntil - Date.now();
      if (hold > 0) await this.sleep(hold, true);
      if (this.stopped) return;
      this.publish(ev);
      this.opts.ledger.published(seq, ev.topic, ev.event);
    }
    this.scheduleAck(seq);
    this.seenByTopic.set(ev.topic, seq);
    for (const w of this.waiters.filter((x) => x.topic === ev.topic && seq > x.afterSeq)) w.resolve(true);
  }

  /**
   * Acks are coalesced (one Ack for the events of ACK_DELAY_MS): the ledger, not the shim's queue, says what
   * was published, so an event acknowledged late is at worst replayed and skipped by its seq. Whoever needs
   * the shim's queue empty (recycling) acks the ledger's seq itself.
   */
  private scheduleAck(seq: number): void {
    this.ackSeq = Math.max(this.ackSeq, seq);
    if (this.ackTimer || this.stopped) return;
    this.ackTimer = setTimeout(() => this.flushAck(), ACK_DELAY_MS);
    this.ackTimer.unref();
  }

  private flushAck(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const seq = this.ackSeq;
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    this.opts.client.ack(seq, { timeoutMs: 5000 }, this.opts.taskId).catch((err: unknown) => {
      this.opts.log.debug('event ack failed', { seq, error: messageOf(err) });
    });
  }

  private publish(ev: ShimEvent): void {
    if (!ev.event) return;
    const any = { type_url: ev.event.type_url, value: ev.event.value };
    if (ev.topic === '/tasks/exit') {
      try {
        const exit = unpackAny(any) as unknown as TaskExitEvent;
        if (!this.opts.ledger.claimExit(exit)) return;
      } catch (err) {
        this.opts.log.warn('event pump: undecodable exit event', { error: messageOf(err) });
      }
    }
    const ts = ev.timestamp ? fromTimestamp(ev.timestamp) : new Date();
    this.opts.publisher.publish(this.opts.namespace, ev.topic, any, ts);
  }
}
