/**
 * Protobuf messages printed the way ctr prints them: ctr unpacks an Any into the gogo-generated Go struct and
 * runs `encoding/json` over it. The struct tags are the proto field names with `omitempty`, fields come in
 * declaration order, map keys sorted, 64-bit integers as plain numbers, enums as numbers, bytes as base64,
 * nested messages left out only when absent, Any as `{"type_url","value"}`, and Timestamps (containerd's
 * events declare them `stdtime`, non-nullable) as RFC 3339 strings that are always present.
 */
import * as protobuf from 'protobufjs';
import { lookupType, CONVERSION } from '../../proto/loader';
import { typeNameOf, type AnyMessage } from '../../proto/any';
import { GoNumber, sortedMap } from './gojson';
import { formatRFC3339Nano, type TimestampLike } from './gotime';

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** The message held in an Any, with 64-bit integers as decimal strings so no digit is lost. */
export interface DecodedAny {
  typeName: string;
  type: protobuf.Type;
  value: Record<string, unknown>;
}

/** Decodes an Any by the message name in its type URL; throws when the type is unknown. */
export function decodeAnyLossless(any: AnyMessage): DecodedAny {
  const typeName = typeNameOf(any.type_url);
  const type = lookupType(typeName);
  const value = type.toObject(type.decode(any.value), { ...CONVERSION, longs: String }) as Record<string, unknown>;
  return { typeName, type, value };
}

function isEmptyScalar(field: protobuf.Field, v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (LONG_TYPES.has(field.type)) return String(v) === '0';
  if (field.resolvedType instanceof protobuf.Enum) return scalarValue(field, v) === 0;
  if (typeof v === 'string') return v === '';
  if (typeof v === 'number') return v === 0;
  if (typeof v === 'boolean') return !v;
  if (v instanceof Uint8Array) return v.length === 0;
  return false;
}

function scalarValue(field: protobuf.Field, v: unknown): unknown {
  if (LONG_TYPES.has(field.type)) return new GoNumber(String(v));
  if (field.resolvedType instanceof protobuf.Enum) {
    return typeof v === 'string' ? (field.resolvedType.values[v] ?? 0) : v;
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return v;
}

function anyValue(v: { type_url?: string; value?: Uint8Array } | null): unknown {
  if (!v) return undefined;
  const out = new Map<string, unknown>();
  if (v.type_url) out.set('type_url', v.type_url);
  if (v.value && v.value.length > 0) out.set('value', Buffer.from(v.value).toString('base64'));
  return out;
}

/** One element (a map value, a list item, or a singular field's value) in Go form. */
function elementValue(field: protobuf.Field, v: unknown): unknown {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    if (rt.fullName === '.google.protobuf.Timestamp') return formatRFC3339Nano(v as TimestampLike | null);
    if (rt.fullName === '.google.protobuf.Any') return anyValue(v as AnyMessage | null);
    return v === null || v === undefined ? undefined : toGoJsonValue(rt, v as Record<string, unknown>);
  }
  return scalarValue(field, v);
}

/** A decoded message as the ordered value encoding/json would write for its gogo struct. */
export function toGoJsonValue(type: protobuf.Type, obj: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const field of type.fieldsArray) {
    field.resolve();
    const v = obj[field.name];
    if (field.map) {
      const m = (v ?? {}) as Record<string, unknown>;
      if (Object.keys(m).length === 0) continue;
      const sorted = sortedMap(m);
      for (const [k, x] of sorted) sorted.set(k, elementValue(field, x));
      out.set(field.name, sorted);
    } else if (field.repeated) {
      const list = (v ?? []) as unknown[];
      if (list.length > 0) out.set(field.name, list.map((x) => elementValue(field, x)));
    } else if (field.resolvedType instanceof protobuf.Type) {
      const x = elementValue(field, v);
      if (x !== undefined) out.set(field.name, x);
    } else if (!isEmptyScalar(field, v)) {
      out.set(field.name, scalarValue(field, v));
    }
  }
  return out;
}
