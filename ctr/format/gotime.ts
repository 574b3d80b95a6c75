/**
 * Go's time and duration formats as ctr prints them. Timestamps keep their nanoseconds (JavaScript dates
 * stop at milliseconds), so these work from `google.protobuf.Timestamp` values, not from Date.
 */

export interface TimestampLike {
  seconds: number | string;
  nanos: number;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Go's `.999999999` fraction: up to nine digits with trailing zeros removed, nothing when zero. */
function fraction(nanos: number): string {
  if (!nanos) return '';
  return '.' + String(nanos).padStart(9, '0').replace(/0+$/, '');
}

function parts(ts: TimestampLike | null | undefined, offsetMinutes: number) {
  if (!ts) return null; // Go's zero time
  const d = new Date((Number(ts.seconds) + offsetMinutes * 60) * 1000);
  return {
    date: `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    clock: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  };
}

/** `time.RFC3339Nano` of a UTC time: `2026-11-23T17:36:32.513934699Z`; a missing time is Go's zero time. */
export function formatRFC3339Nano(ts: TimestampLike | null | undefined): string {
  const p = parts(ts, 0);
  if (!p) return '0001-01-01T00:00:00Z';
  return `${p.date}T${p.clock}${fraction(ts!.nanos)}Z`;
}

/** Go's `Time.String()` of a UTC time: `2026-11-23 17:37:05.640847362 +0000 UTC`. */
export function formatGoTimeString(ts: TimestampLike | null | undefined): string {
  const p = parts(ts, 0);
  if (!p) return '0001-01-01 00:00:00 +0000 UTC';
  return `${p.date} ${p.clock}${fraction(ts!.nanos)} +0000 UTC`;
}

function zoneSuffix(offsetMinutes: number): string {
  if (offsetMinutes === 0) return 'Z';
  const sign = offsetMinutes > 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** `t.Local().Format(time.RFC3339)`: seconds precision in the machine's zone (`Z` when it is UTC). */
export function formatRFC3339Local(ts: TimestampLike | null | undefined): string {
  const seconds = ts ? Number(ts.seconds) : -62135596800;
  const offset = -new Date(seconds * 1000).getTimezoneOffset();
  const d = new Date((seconds + offset * 60) * 1000);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return `${date}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${zoneSuffix(offset)}`;
}

/** `time.Now().Add(ms).Format(time.RFC3339)` in the local zone. */
export function rfc3339LocalIn(ms: number, now = Date.now()): string {
  return formatRFC3339Local({ seconds: Math.floor((now + ms) / 1000), nanos: 0 });
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration (`10s`, `1m30s`, `1.5h`, `0`) into milliseconds; throws on anything else. */
export function parseGoDuration(text: string): number {
  const s = text.trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m || s === '') throw new Error(`time: invalid duration "${text}"`);
  let total = 0;
  for (const part of s.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * UNIT_MS[part[2]];
  }
  return m[1] === '-' ? -total : total;
}

/** Go's `Duration.String()` for whole seconds and above (`24h0m0s`, `10s`, `0s`), as ctr prints defaults. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const totalSeconds = ms / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const sec = +(totalSeconds % 60).toFixed(9);
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  if (totalSeconds >= 1) return `${sec}s`;
  return `${ms}ms`;
}
