/**
 * The shim's event queue: every event the shim causes gets the next sequence number, is appended to a file in
 * the bundle (a plain write: the file is there for berthd when the shim process dies, which the page cache
 * survives; state lives on tmpfs (/run) in production, and containerd does not fsync its events either), and
 * only then offered to the subscriber (berthd's Events stream). Events stay queued
 * until berthd acknowledges them (`ack(seq)` drops every event with seq <= that value), so a daemon that
 * reconnects after a restart replays what it missed with `subscribe(afterSeq)`.
 *
 * File format (`<bundle>/shim-events`): one JSON object per line,
 *   {"seq":1,"ts":"2024-01-01T00:00:00.000Z","topic":"/tasks/exit","ns":"default","type":"containerd.events.TaskExit","value":"<base64 protobuf>"}
 * holding exactly the unacknowledged events in seq order (truncated when an ack leaves none, else rewritten
 * through a temp file + rename), so
 * berthd can read what a dead shim left behind. Sequence numbers start at 1 and keep increasing for the life
 * of the shim (a reloaded file continues after its highest seq).
 */
import fs from 'node:fs';
import path from 'node:path';
import { toTimestamp, type Timestamp } from '../../proto/timestamp';

export const EVENTS_FILE = 'shim-events';

export interface QueuedEvent {
  seq: number;
  timestamp: Date;
  topic: string;
  namespace: string;
  /** Full protobuf message name, also the Any type URL (`containerd.events.TaskExit`). */
  typeName: string;
  /** Protobuf-encoded payload. */
  value: Buffer;
}

/** The ShimEvent message as it goes on the wire. */
export interface ShimEventMessage {
  seq: number;
  timestamp: Timestamp;
  topic: string;
  event: { type_url: string; value: Buffer };
  namespace: string;
}

export function toShimEvent(e: QueuedEvent): ShimEventMessage {
  return {
    seq: e.seq,
    timestamp: toTimestamp(e.timestamp),
    topic: e.topic,
    event: { type_url: e.typeName, value: e.value },
    namespace: e.namespace,
  };
}

type Listener = (e: QueuedEvent) => void;

interface FileLine {
  seq: number;
  ts: string;
  topic: string;
  ns: string;
  type: string;
  value: string;
}

function lineOf(e: QueuedEvent): string {
  const l: FileLine = { seq: e.seq, ts: e.timestamp.toISOString(), topic: e.topic, ns: e.namespace, type: e.typeName, value: e.value.toString('base64') };
  return JSON.stringify(l) + '\n';
}

/** Parses an events file; a torn last line (shim killed mid-write) is ignored. */
export function parseEventsFile(text: string): QueuedEvent[] {
  const out: QueuedEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const l = JSON.parse(line) as FileLine;
      out.push({ seq: l.seq, timestamp: new Date(l.ts), topic: l.topic, namespace: l.ns, typeName: l.type, value: Buffer.from(l.value, 'base64') });
    } catch {
      // torn write: skip
    }
  }
  return out;
}

export class EventQueue {
  private queued: QueuedEvent[] = [];
  private lastSeq = 0;
  private listener: Listener | undefined;
  private file: string | undefined;
  private fd: number | undefined;

  /** Attaches the queue to its file in `dir` (the bundle), loading unacknowledged events already there. */
  async attach(dir: string): Promise<void> {
    const file = path.join(dir, EVENTS_FILE);
    let existing: QueuedEvent[] = [];
    try {
      existing = parseEventsFile(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Normally there is no file yet (a shim serves one bundle); a file left there is kept and continued.
    if (this.queued.length === 0) this.queued = existing;
    this.lastSeq = Math.max(this.lastSeq, ...existing.map((e) => e.seq));
    this.file = file;
    this.rewrite();
  }

  /**
   * Detaches the queue from its file (a recycled shim serves a new bundle next). Refused while events are
   * unacknowledged: nothing queued may be lost.
   */
  detach(): void {
    if (this.queued.length > 0) throw new Error(`event queue: ${this.queued.length} event(s) not acknowledged`);
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
    this.file = undefined;
  }

  /** Assigns the next seq, persists the event (written to the file), then offers it to the subscriber. */
  async publish(topic: string, namespace: string, typeName: string, value: Buffer): Promise<QueuedEvent> {
    const event: QueuedEvent = { seq: ++this.lastSeq, timestamp: new Date(), topic, namespace, typeName, value };
    if (this.fd !== undefined) writeAll(this.fd, Buffer.from(lineOf(event)));
    this.queued.push(event);
    // Offered in the same tick as it becomes visible to subscribe(): never twice, never skipped.
    try {
      this.listener?.(event);
    } catch {
      // a broken stream must not stop the queue; the event stays queued for the next subscriber
    }
    return event;
  }

  /**
   * Replaces the subscriber: returns the queued events with seq > afterSeq and calls `listener` for every
   * later one. Synchronous, so nothing published meanwhile is missed or duplicated.
   */
  subscribe(afterSeq: number, listener: Listener): { backlog: QueuedEvent[]; unsubscribe: () => void } {
    this.listener = listener;
    const backlog = this.queued.filter((e) => e.seq > afterSeq);
    return {
      backlog,
      unsubscribe: () => {
        if (this.listener === listener) this.listener = undefined;
      },
    };
  }

  /** Drops every event with seq <= `seq` (memory and file). */
  async ack(seq: number): Promise<void> {
    const before = this.queued.length;
    this.queued = this.queued.filter((e) => e.seq > seq);
    if (this.queued.length === before) return;
    if (this.queued.length === 0 && this.fd !== undefined) {
      // The usual case (each event acknowledged before the next): emptying the file in place is one syscall,
      // and a reader sees the old content or none; appends go on from offset 0 (O_APPEND).
      fs.ftruncateSync(this.fd, 0);
      return;
    }
    this.rewrite();
  }

  pending(): readonly QueuedEvent[] {
    return this.queued;
  }

  get highestSeq(): number {
    return this.lastSeq;
  }

  /** Every write is done when the call that made it returns; kept for callers that wait before exiting. */
  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
  }

  /**
   * Writes the queued events to a temp file, renames it over the file and appends to it from then on.
   * Synchronous: a few hundred bytes on the shim's own files, cheaper than event-loop round trips.
   */
  private rewrite(): void {
    if (!this.file) return;
    const tmp = this.file + '.tmp';
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND, 0o600);
    try {
      writeAll(fd, Buffer.from(this.queued.map(lineOf).join('')));
      fs.renameSync(tmp, this.file);
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = fd;
    // The fd now refers to the renamed file; appends go on at its end.
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {}
}
function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}
