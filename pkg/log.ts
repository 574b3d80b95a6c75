/**
 * Structured, levelled logging. Every line carries the component and, where known, the namespace,
 * container id and pid: `log.child({ namespace, id, pid })`.
 *
 * Output goes to stderr (berthd, shim) as JSON lines by default — `{"component":"shim","level":"info",
 * "message":"...",...,"timestamp":"<ISO 8601>"}`, keys sorted as winston's json format wrote them — or as
 * `timestamp level msg key=value` text when BERTH_LOG_FORMAT=text. Level from `setLogLevel` or
 * BERTH_LOG_LEVEL (default info); npm levels (error warn info http verbose debug silly).
 *
 * A few lines of our own instead of winston: every shim writes through this, and loading winston cost a
 * shim ~80 ms of CPU at start and a few MiB of heap for life.
 */
import fs from 'node:fs';

export type LogFields = Record<string, unknown>;
export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS: Record<string, number> = { error: 0, warn: 1, info: 2, http: 3, verbose: 4, debug: 5, silly: 6 };

let threshold = LEVELS[process.env.BERTH_LOG_LEVEL ?? 'info'] ?? LEVELS.info!;

export function setLogLevel(level: string): void {
  const n = LEVELS[level];
  if (n !== undefined) threshold = n;
}

/** JSON.stringify that survives bigints, errors and cycles (a log line must never throw). */
function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return { message: v.message, stack: v.stack };
    if (v !== null && typeof v === 'object') {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    return v;
  });
}

function sorted(o: LogFields): LogFields {
  const out: LogFields = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}

/** Once a synchronous write would block, every later line goes through process.stderr's queue (in order). */
let queued = false;

function write(line: string): void {
  if (queued) {
    process.stderr.write(line);
    return;
  }
  // stderr is a file (shim.log, daemon.log) or a pipe: a synchronous write keeps lines whole and in order.
  // A pipe can be non-blocking (Node makes it so once anything touches process.stderr, e.g. a warning):
  // then a full pipe answers EAGAIN or takes part of the line, and the rest must be queued, never dropped.
  let buf = Buffer.from(line);
  try {
    while (buf.length > 0) buf = buf.subarray(fs.writeSync(2, buf));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return; // nowhere to report a failed log write
    queued = true;
    process.stderr.write(buf);
  }
}

function emit(level: string, message: string, base: LogFields, fields: LogFields | undefined): void {
  if ((LEVELS[level] ?? 0) > threshold) return;
  const timestamp = new Date().toISOString();
  const all: LogFields = { ...base, ...fields };
  if (process.env.BERTH_LOG_FORMAT === 'text') {
    const kv = Object.entries(all)
      .map(([k, v]) => `${k}=${safeJson(v)}`)
      .join(' ');
    write(`${timestamp} ${level} ${message}${kv ? ' ' + kv : ''}\n`);
    return;
  }
  write(safeJson(sorted({ ...all, level, message, timestamp })) + '\n');
}

function make(base: LogFields): Logger {
  return {
    error: (m, f) => emit('error', m, base, f),
    warn: (m, f) => emit('warn', m, base, f),
    info: (m, f) => emit('info', m, base, f),
    debug: (m, f) => emit('debug', m, base, f),
    child: (fields) => make({ ...base, ...fields }),
  };
}

/** A logger for one component (`berthd`, `shim`, `runtime`...). */
export function getLogger(component: string): Logger {
  return make({ component });
}
