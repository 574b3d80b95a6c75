/**
 * The shim's event queue: every event the shim causes gets the next sequence number, is appended to a file in
 * the bundle and fsync'd, and only then offered to the subscriber (berthd's Events stream). Events stay queued
 * until berthd acknowledges them (`ack(seq)` drops every event with seq <= that value), so a daemon that
 * reconnects after a restart replays what it missed with `subscribe(afterSeq)`.
 *
 * File format (`<bundle>/shim-events`): one JSON object per line,
 *   {"seq":1,"ts":"2024-01-01T00:00:00.000Z","topic":"/tasks/exit","ns":"default","type":"containerd.events.TaskExit","value":"<base64 protobuf>"}
 * holding exactly the unacknowledged events in seq order (rewritten through a temp file + rename on ack), so
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
  /** Serializes appends and rewrites so file order == seq order. */
  private chain: Promise<void> = Promise.resolve();

  /** Attaches the queue to its file in `dir` (the bundle), loading unacknowledged events already there. */
  async attach(dir: string): Promise<void> {
    await this.serialized(async () => {
      const file = path.join(dir, EVENTS_FILE);
      let existing: QueuedEvent[] = [];
      try {
        existing = parseEventsFile(await fs.promises.readFile(file, 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      // Normally there is no file yet (a shim serves one bundle); a file left there is kept and continued.
      if (this.queued.length === 0) this.queued = existing;
      this.lastSeq = Math.max(this.lastSeq, ...existing.map((e) => e.seq));
      this.file = file;
      await this.rewrite();
    });
  }

  /** Assigns the next seq, persists the event (fsync), then offers it to the subscriber. */
  async publish(topic: string, namespace: string, typeName: string, value: Buffer): Promise<QueuedEvent> {
    let event!: QueuedEvent;
    await this.serialized(async () => {
      event = { seq: ++this.lastSeq, timestamp: new Date(), topic, namespace, typeName, value };
      if (this.fd !== undefined) {
        await writeAll(this.fd, Buffer.from(lineOf(event)));
        await fdatasync(this.fd);
      }
      this.queued.push(event);
      // Offered in the same tick as it becomes visible to subscribe(): never twice, never skipped.
      try {
        this.listener?.(event);
      } catch {
        // a broken stream must not stop the queue; the event stays queued for the next subscriber
      }
    });
    return event;
  }

  /**
   * Replaces the subscriber: returns the queued events with seq > afterSeq and calls `listener` for every
   * later one. Synchronous, so nothing published meanwhile is missed or duplicated.
   */
  subscribe(afterSeq: number, listener: Listener): { backlog: QueuedEvent[]; unsubscribe: () => void } {
    this.listener = listener;
    // An event being persisted right now is not yet in `queued`; it reaches the listener when done.
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
    await this.serialized(async () => {
      const before = this.queued.length;
      this.queued = this.queued.filter((e) => e.seq > seq);
      if (this.queued.length !== before) await this.rewrite();
    });
  }

  pending(): readonly QueuedEvent[] {
    return this.queued;
  }

  get highestSeq(): number {
    return this.lastSeq;
  }

  /** Waits for every write in flight (used before the shim exits). */
  async flush(): Promise<void> {
    await this.serialized(async () => {});
  }

  async close(): Promise<void> {
    await this.serialized(async () => {
      if (this.fd !== undefined) await closeFd(this.fd);
      this.fd = undefined;
    });
  }

  private serialized(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => {});
    return next;
  }

  /** Writes the queued events to a temp file, fsyncs, renames over the file and reopens it for appends. */
  private async rewrite(): Promise<void> {
    if (!this.file) return;
    const tmp = this.file + '.tmp';
    const fd = await openFd(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    try {
      await writeAll(fd, Buffer.from(this.queued.map(lineOf).join('')));
      await fdatasync(fd);
    } catch (err) {
      await closeFd(fd);
      throw err;
    }
    await fs.promises.rename(tmp, this.file);
    if (this.fd !== undefined) await closeFd(this.fd);
    this.fd = fd;
    // The fd now refers to the renamed file; appends go on at its end.
  }
}

function openFd(p: string, flags: number, mode: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(p, flags | fs.constants.O_APPEND, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}
function closeFd(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}
function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
async function writeAll(fd: number, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await new Promise<number>((resolve, reject) => fs.write(fd, buf, off, buf.length - off, null, (err, written) => (err ? reject(err) : resolve(written))));
    off += n;
  }
}
