/**
 * What berthd has published for one task, kept in `<bundle>/events.json` so a restarted berthd neither
 * repeats nor loses events:
 *
 *   { "seq": 12, "exits": ["|4242|1700000000.5", "x1|4250|1700000001.0"], "initExit": {pid, exit_status, exited_at},
 *     "init": {"status": "RUNNING", "io": {stdin, stdout, stderr, terminal}} }
 *
 * `seq` is the last shim event published (Events resumes after it); `exits` the keys
 * `execId|pid|exitedAt` of the last exits published (bounded), so an exit is published at most once even
 * when berthd has to make one up (dead shim); `initExit` the init process's exit once published; `init` the
 * init's status as the published events left it (/tasks/create, /tasks/start, /tasks/paused, /tasks/resumed)
 * and its stdio from /tasks/create, `deleted` once /tasks/delete went out — a restarted berthd lists the
 * task from it before its shim answers (recorded-state.ts).
 *
 * Writes (one per published event, so on every task's hot path): a record of at most one page is written
 * in place — one `write` at offset 0, padded with spaces to the file's current length (JSON ignores them),
 * never truncated — which a killed berthd cannot leave half done (a single-page write is never torn by a
 * signal), and which costs a tenth of a temporary file plus rename. A larger record (many exec exits) goes
 * through a temporary file and rename.
 */
import fs from 'node:fs';
import { packAny, unpackAny } from '../../proto/any';
import type { AnyMessage } from '../../proto/any';
import { fromTimestamp, type Timestamp } from '../../proto/timestamp';
import type { Logger } from '../../pkg/log';
import { messageOf } from '../../pkg/errdefs';
import { writeFileAtomic } from './files';

/** What berthd's event exchange offers the shim manager. */
export interface EventPublisher {
  publish(namespace: string, topic: string, event: AnyMessage, timestamp?: Date): void;
}

export interface ExitRecord {
  pid: number;
  exit_status: number;
  exited_at: Timestamp;
}

export interface TaskExitEvent extends ExitRecord {
  container_id: string;
  /** The container id for the init process, the exec id otherwise. */
  id: string;
}

/**
 * Holds published events back until a time, then passes them on in order (a restarted berthd gives
 * re-subscribing clients a moment before it replays what happened while it was down).
 */
export class HeldPublisher implements EventPublisher {
  private queue: Parameters<EventPublisher['publish']>[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly target: EventPublisher,
    until: number,
  ) {
    this.timer = setTimeout(() => this.flush(), Math.max(0, until - Date.now()));
    this.timer.unref();
    if (until <= Date.now()) this.flush();
  }

  publish(...args: Parameters<EventPublisher['publish']>): void {
    if (this.queue === undefined) this.target.publish(...args);
    else this.queue.push(args);
  }

  /** Passes on everything held, and from now on publishes directly. */
  flush(): void {
    clearTimeout(this.timer);
    const q = this.queue;
    if (!q) return;
    this.queue = undefined as unknown as typeof q;
    for (const args of q) this.target.publish(...args);
  }
}

export interface InitIo {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export type RecordedStatus = 'CREATED' | 'RUNNING' | 'PAUSED';

export interface LedgerRecord {
  seq: number;
  exits: string[];
  initExit?: ExitRecord;
  init?: { status: RecordedStatus; io?: InitIo };
  /** /tasks/delete was published: the init is deleted (its bundle goes next). */
  deleted?: boolean;
}

/** The init status an event of the task's shim leaves behind (undefined: the event does not change it). */
export function initStatusAfter(topic: string): RecordedStatus | undefined {
  if (topic === '/tasks/create') return 'CREATED';
  if (topic === '/tasks/start' || topic === '/tasks/resumed') return 'RUNNING';
  if (topic === '/tasks/paused') return 'PAUSED';
  return undefined;
}

/** The init's stdio from a /tasks/create event (containerd.events.TaskCreate), if it decodes. */
export function ioOfCreate(event: AnyMessage | null | undefined): InitIo | undefined {
  if (!event) return undefined;
  try {
    const io = (unpackAny(event) as { io?: Partial<InitIo> | null }).io;
    if (!io) return undefined;
    return { stdin: String(io.stdin ?? ''), stdout: String(io.stdout ?? ''), stderr: String(io.stderr ?? ''), terminal: io.terminal === true };
  } catch {
    return undefined;
  }
}

const RECORDED = new Set<string>(['CREATED', 'RUNNING', 'PAUSED']);

const MAX_EXIT_KEYS = 256;
/** Largest record written in place: one page, at offset 0. */
const IN_PLACE_MAX = 4096;

function writeLedgerFile(file: string, json: string): void {
  const data = Buffer.from(json);
  if (data.length > IN_PLACE_MAX) {
    writeFileAtomic(file, data);
    return;
  }
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
  try {
    const size = fs.fstatSync(fd).size;
    if (size > IN_PLACE_MAX) {
      writeFileAtomic(file, data);
      return;
    }
    const out = size > data.length ? Buffer.concat([data, Buffer.alloc(size - data.length, 0x20)]) : data;
    const n = fs.writeSync(fd, out, 0, out.length, 0);
    if (n !== out.length) throw new Error(`short write (${n} of ${out.length} bytes)`);
  } finally {
    fs.closeSync(fd);
  }
}
export const TASK_EXIT_TYPE = 'containerd.events.TaskExit';

export function exitKey(execId: string, pid: number, exitedAt: Timestamp | null | undefined): string {
  return `${execId}|${pid}|${Number(exitedAt?.seconds ?? 0)}.${Number(exitedAt?.nanos ?? 0)}`;
}

export class EventLedger {
  private record: LedgerRecord;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {
    this.record = EventLedger.read(file);
  }

  static read(file: string): LedgerRecord {
    try {
      const r = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LedgerRecord>;
      const seq = Number.isSafeInteger(r.seq) && (r.seq as number) >= 0 ? (r.seq as number) : 0;
      const exits = Array.isArray(r.exits) ? r.exits.filter((k): k is string => typeof k === 'string') : [];
      const ie = r.initExit;
      const initExit = ie && typeof ie === 'object' && typeof ie.pid === 'number' ? ie : undefined;
      const init = r.init && typeof r.init === 'object' && RECORDED.has(r.init.status) ? r.init : undefined;
      return { seq, exits, initExit, init, deleted: r.deleted === true ? true : undefined };
    } catch {
      return { seq: 0, exits: [] };
    }
  }

  get seq(): number {
    return this.record.seq;
  }

  get initExit(): ExitRecord | undefined {
    return this.record.initExit;
  }

  /** The whole record as last read or written (for the recorded state of a task). */
  get snapshot(): Readonly<LedgerRecord> {
    return this.record;
  }

  /** No more writes (the bundle is about to go). */
  close(): void {
    this.closed = true;
  }

  /**
   * Records that the shim event `seq` was published; `topic` and `event` (when given) move the recorded
   * init status forward (written with the seq, no extra write).
   */
  published(seq: number, topic?: string, event?: AnyMessage | null): void {
    if (seq <= this.record.seq) return;
    this.record.seq = seq;
    const status = topic === undefined ? undefined : initStatusAfter(topic);
    if (status) {
      const io = topic === '/tasks/create' ? ioOfCreate(event) : this.record.init?.io;
      this.record.init = io ? { status, io } : { status };
    }
    if (topic === '/tasks/delete') this.record.deleted = true;
    this.save();
  }

  /** Whether this exit is new; when it is, remembers it (not saved: `published` or `save` follows). */
  claimExit(exit: TaskExitEvent): boolean {
    const execId = exit.id === exit.container_id || exit.id === '' ? '' : exit.id;
    if (execId === '' && this.record.initExit) return false;
    const key = exitKey(execId, Number(exit.pid), exit.exited_at);
    if (this.record.exits.includes(key)) return false;
    this.record.exits.push(key);
    if (this.record.exits.length > MAX_EXIT_KEYS) this.record.exits.splice(0, this.record.exits.length - MAX_EXIT_KEYS);
    if (execId === '') {
      this.record.initExit = { pid: Number(exit.pid), exit_status: Number(exit.exit_status), exited_at: exit.exited_at };
    }
    return true;
  }

  /** Publishes an exit berthd made up (dead shim, lost stream) unless it was published before. */
  publishSyntheticExit(publisher: EventPublisher, namespace: string, exit: TaskExitEvent): boolean {
    if (!this.claimExit(exit)) return false;
    publisher.publish(namespace, '/tasks/exit', packAny(TASK_EXIT_TYPE, exit), fromTimestamp(exit.exited_at));
    this.save();
    return true;
  }

  save(): void {
    if (this.closed) return;
    try {
      writeLedgerFile(this.file, JSON.stringify(this.record));
    } catch (err) {
      this.log.warn('event ledger: cannot record progress', { file: this.file, error: messageOf(err) });
    }
  }
}
