/**
 * ctr logs through logrus; when stderr is not a terminal its lines look like
 * `time="2026-11-23T17:37:06Z" level=error msg="unable to delete r2" error="..."`. bctr writes the same
 * lines for the same events (partial failures of multi-target commands, warnings, --debug output).
 */
import { formatRFC3339Local } from './format/gotime';
import { writeErr } from './output';

let debugEnabled = false;

export function setDebug(on: boolean): void {
  debugEnabled = on;
}

export function isDebug(): boolean {
  return debugEnabled;
}

/** logrus quotes a value unless it is made only of letters, digits and `-._/@^+`. */
function field(v: string): string {
  return /^[A-Za-z0-9\-._/@^+]+$/.test(v) ? v : JSON.stringify(v);
}

export type Level = 'debug' | 'info' | 'warning' | 'error';

export function logLine(level: Level, msg: string, fields: Record<string, string> = {}): string {
  const now = { seconds: Math.floor(Date.now() / 1000), nanos: 0 };
  const extra = Object.keys(fields)
    .sort()
    .map((k) => ` ${k}=${field(fields[k])}`)
    .join('');
  return `time=${field(formatRFC3339Local(now))} level=${level} msg=${field(msg)}${extra}`;
}

export function log(level: Level, msg: string, fields?: Record<string, string>): void {
  if (level === 'debug' && !debugEnabled) return;
  writeErr(logLine(level, msg, fields) + '\n');
}
