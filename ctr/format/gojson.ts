/**
 * Go's `encoding/json` output (Marshal and MarshalIndent of Go 1.19, which ctr 1.6 was built with) for plain
 * JavaScript values whose key order is already the Go struct's field order.
 *
 * What differs from JSON.stringify: `<`, `>`, `&`, U+2028 and U+2029 are escaped as `\u003c`..., control
 * characters other than \n \r \t as `\u00XX`; 64-bit integers can be passed as GoNumber so they keep every
 * digit; a Map is written as an object in its own order.
 */

/** A number written verbatim (a uint64 that a JS number would round). */
export class GoNumber {
  constructor(readonly text: string) {}
}

function escapeString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else out += ch;
  }
  return out + '"';
}

function encode(v: unknown, indent: string, depth: number): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof GoNumber) return v.text;
  if (typeof v === 'string') return escapeString(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return escapeString(Buffer.from(v).toString('base64'));
  const nl = indent === '' ? '' : '\n' + indent.repeat(depth + 1);
  const end = indent === '' ? '' : '\n' + indent.repeat(depth);
  const colon = indent === '' ? ':' : ': ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return '[' + v.map((x) => nl + encode(x, indent, depth + 1)).join(',') + end + ']';
  }
  const all = v instanceof Map ? [...(v as Map<string, unknown>).entries()] : Object.entries(v as Record<string, unknown>);
  const entries = all.filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  return '{' + entries.map(([k, x]) => nl + escapeString(k) + colon + encode(x, indent, depth + 1)).join(',') + end + '}';
}

/** `json.Marshal(v)`. Keys whose value is undefined are left out. */
export function goMarshal(v: unknown): string {
  return encode(v, '', 0);
}

/** `json.MarshalIndent(v, "", indent)`. */
export function goMarshalIndent(v: unknown, indent: string): string {
  return encode(v, indent, 0);
}

/**
 * A Go map as encoding/json writes it: keys sorted by their UTF-8 bytes. A Map, because a plain object
 * would move integer-like keys ("10") to the front.
 */
export function sortedMap<T>(m: Record<string, T> | null | undefined): Map<string, T> {
  const keys = Object.keys(m ?? {}).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return new Map(keys.map((k) => [k, m![k]]));
}
