/**
 * berth-runc's log, in runc's shape (callers parse it): logrus-style lines, either text
 *   time="2026-11-23T18:05:46Z" level=error msg="container does not exist"
 * or JSON (`--log-format json`)
 *   {"level":"error","msg":"container does not exist","time":"2026-11-23T18:05:46Z"}
 * written to the `--log` file (appended) or, without one, to stderr. containerd-shim-runc-v2 passes
 * `--log <bundle>/log.json --log-format json` and reports the last "error" line's msg when a call fails.
 *
 * A fatal error is logged, and also printed bare to stderr when the log goes to a file, as runc does.
 */
import fs from 'node:fs';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

interface LogTarget {
  fd: number;
  toStderr: boolean;
  format: LogFormat;
  debug: boolean;
}

let target: LogTarget = { fd: 2, toStderr: true, format: 'text', debug: false };

/** Sets where and how the log is written (from the global flags). An unopenable file falls back to stderr. */
export function configureLog(opts: { file?: string; format?: string; debug?: boolean }): void {
  const format: LogFormat = opts.format === 'json' ? 'json' : 'text';
  let fd = 2;
  let toStderr = true;
  if (opts.file) {
    try {
      fd = fs.openSync(opts.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | 0o2000000 /* O_CLOEXEC */, 0o644);
      toStderr = false;
    } catch {
      fd = 2;
    }
  }
  target = { fd, toStderr, format, debug: opts.debug ?? false };
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function line(level: LogLevel, msg: string): string {
  if (target.format === 'json') return JSON.stringify({ level, msg, time: timestamp() }) + '\n';
  return `time="${timestamp()}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

export function log(level: LogLevel, msg: string): void {
  if (level === 'debug' && !target.debug) return;
  try {
    fs.writeSync(target.fd, line(level, msg));
  } catch {}
}

/** Logs a fatal error as runc does: to the log, plus bare on stderr when the log is a file. */
export function logFatal(msg: string): void {
  log('error', msg);
  if (!target.toStderr) {
    try {
      fs.writeSync(2, msg + '\n');
    } catch {}
  }
}

export function logToStderr(): boolean {
  return target.toStderr;
}
