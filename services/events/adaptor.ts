/**
 * How the filter engine sees an event envelope, as containerd's Envelope.Field and the generated `Field`
 * methods of its event messages: `namespace`, `topic` (timestamp is not filterable), and `event.<path>` into
 * the decoded event — string fields (present when non-empty), `labels`-style string maps (the rest of the
 * path joined by `.` is the key), nested messages and nested Any payloads. Numbers, booleans and
 * timestamps are not filterable, as upstream. The event is decoded only when a filter asks for it.
 */
import * as protobuf from 'protobufjs';
import type { AnyMessage } from '../../proto/any';
import { typeNameOf } from '../../proto/any';
import { decodeMessage, lookupType } from '../../proto/loader';
import type { Adaptor } from '../filters';
import type { Envelope } from './exchange';

function typeOf(any: AnyMessage): protobuf.Type | undefined {
  try {
    return lookupType(typeNameOf(any.type_url));
  } catch {
    return undefined;
  }
}

function decodeAny(any: AnyMessage | null | undefined): { type: protobuf.Type; obj: Record<string, unknown> } | undefined {
  if (!any || !any.type_url) return undefined;
  const type = typeOf(any);
  if (!type) return undefined;
  try {
    return { type, obj: decodeMessage(type.fullName.replace(/^\./, ''), any.value ?? Buffer.alloc(0)) };
  } catch {
    return undefined;
  }
}

function fieldOf(type: protobuf.Type, obj: Record<string, unknown>, path: readonly string[]): string | undefined {
  if (path.length === 0) return undefined;
  const field = type.fields[path[0]!];
  if (!field) return undefined;
  const value = obj[field.name];
  if (field instanceof protobuf.MapField) {
    if (field.keyType !== 'string' || field.type !== 'string') return undefined;
    const map = (value ?? {}) as Record<string, string>;
    if (Object.keys(map).length === 0) return undefined;
    const key = path.slice(1).join('.');
    return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
  }
  if (field.repeated) return undefined;
  if (field.type === 'string') return typeof value === 'string' && value.length > 0 ? value : undefined;
  field.resolve();
  const nested = field.resolvedType;
  if (!(nested instanceof protobuf.Type) || value === null || value === undefined) return undefined;
  if (nested.fullName === '.google.protobuf.Any') {
    const inner = decodeAny(value as AnyMessage);
    return inner ? fieldOf(inner.type, inner.obj, path.slice(1)) : undefined;
  }
  if (nested.fullName === '.google.protobuf.Timestamp') return undefined;
  return fieldOf(nested, value as Record<string, unknown>, path.slice(1));
}

export function envelopeAdaptor(env: Envelope): Adaptor {
  let decoded: ReturnType<typeof decodeAny> | null = null;
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case 'namespace':
        return env.namespace.length > 0 ? env.namespace : undefined;
      case 'topic':
        return env.topic.length > 0 ? env.topic : undefined;
      case 'event':
        if (decoded === null) decoded = decodeAny(env.event);
        return decoded ? fieldOf(decoded.type, decoded.obj, fieldpath.slice(1)) : undefined;
    }
    return undefined;
  };
}
