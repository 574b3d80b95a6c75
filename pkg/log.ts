/**
 * Structured, levelled logging through winston. Every line carries the component and, where known, the
 * namespace, container id and pid: `log.child({ namespace, id, pid })`.
 *
 * Output goes to stderr (berthd, shim) as JSON lines by default, or as `level msg key=value` text when
 * BERTH_LOG_FORMAT=text. Level from `setLogLevel` or BERTH_LOG_LEVEL (default info).
 */
import type winston from 'winston';

/** winston is loaded on the first log line, not at import (it costs ~80 ms: short-lived CLIs never log). */
function loadWinston(): typeof winston {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('winston') as typeof winston;
}

export type LogFields = Record<string, unknown>;
export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const textFormat = (w: typeof winston) => w.format.printf((info) => {
  const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
  const kv = Object.entries(rest)
    .filter(([k]) => typeof k === 'string')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
    .join(' ');
  return `${String(timestamp)} ${String(level)} ${String(message)}${kv ? ' ' + kv : ''}`;
});

let root: winston.Logger | undefined;

function rootLogger(): winston.Logger {
  if (!root) {
    const winston = loadWinston();
    root = winston.createLogger({
      level: process.env.BERTH_LOG_LEVEL ?? 'info',
      format: winston.format.combine(
        winston.format.timestamp(),
        process.env.BERTH_LOG_FORMAT === 'text' ? textFormat(winston) : winston.format.json(),
      ),
      transports: [new winston.transports.Stream({ stream: process.stderr })],
    });
  }
  return root;
}

export function setLogLevel(level: string): void {
  rootLogger().level = level;
}

function wrap(w: winston.Logger): Logger {
  return {
    error: (m, f) => void w.error(m, f ?? {}),
    warn: (m, f) => void w.warn(m, f ?? {}),
    info: (m, f) => void w.info(m, f ?? {}),
    debug: (m, f) => void w.debug(m, f ?? {}),
    child: (fields) => wrap(w.child(fields)),
  };
}

/** A logger for one component (`berthd`, `shim`, `runtime`...), lazily created. */
export function getLogger(component: string): Logger {
  let inner: Logger | undefined;
  const get = (): Logger => (inner ??= wrap(rootLogger().child({ component })));
  return {
    error: (m, f) => get().error(m, f),
    warn: (m, f) => get().warn(m, f),
    info: (m, f) => get().info(m, f),
    debug: (m, f) => get().debug(m, f),
    child: (fields) => get().child(fields),
  };
}
