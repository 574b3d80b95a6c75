/**
 * Loads our `.proto` files with protobufjs and turns their services into grpc-js service definitions.
 *
 * One protobufjs Root per process; files are parsed on first use, so a shim parses only the shim API and
 * the daemon only what it serves. Messages cross the wire as plain objects with the field names of the
 * `.proto` files (snake_case, `keepCase`), 64-bit integers as JS numbers, enums as their names, bytes as
 * Buffers, and every field present (defaults). The generated types under `proto/gen/` describe exactly these
 * objects (`Foo` for what we send, `Foo__Output` for what we receive).
 */
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/** The folder holding our `.proto` files (works from `proto/` and from `dist/proto/`). */
export const PROTO_DIR = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../../proto' : '.');

/** The files, by role. Paths are relative to PROTO_DIR. */
export const PROTO_FILES = {
  version: 'containerd/services/version/v1/version.proto',
  introspection: 'containerd/services/introspection/v1/introspection.proto',
  namespaces: 'containerd/services/namespaces/v1/namespace.proto',
  containers: 'containerd/services/containers/v1/containers.proto',
  tasks: 'containerd/services/tasks/v1/tasks.proto',
  events: 'containerd/services/events/v1/events.proto',
  leases: 'containerd/services/leases/v1/leases.proto',
  shim: 'berth/shim/v1/shim.proto',
} as const;

/** Files holding messages that travel inside `google.protobuf.Any` (events, metrics, runtime options). */
const ANY_PAYLOAD_FILES = [
  'containerd/events/container.proto',
  'containerd/events/namespace.proto',
  'containerd/events/task.proto',
  'cgroups/v1/metrics.proto',
  'cgroups/v2/metrics.proto',
  'containerd/runc/v1/options.proto',
  'containerd/types/task/task.proto',
];

/** How decoded messages look in JavaScript (must match the flags of `npm run gen:types`). */
export const CONVERSION: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

const root = new protobuf.Root();
root.resolvePath = (_origin: string, target: string): string =>
  target.startsWith('google/protobuf/') ? target : path.join(PROTO_DIR, target);
const loaded = new Set<string>();

/** Parses a file (and its imports) once. */
export function loadProtoFile(file: string): void {
  if (loaded.has(file)) return;
  root.loadSync(file, { keepCase: true });
  root.resolveAll();
  loaded.add(file);
}

export function lookupType(fullName: string): protobuf.Type {
  const found = root.lookup(fullName);
  if (found instanceof protobuf.Type) return found;
  for (const f of ANY_PAYLOAD_FILES) loadProtoFile(f);
  return root.lookupType(fullName);
}

/** Encodes a plain object as the named message. */
export function encodeMessage(fullName: string, obj: object): Buffer {
  const t = lookupType(fullName);
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

/** Decodes bytes as the named message into a plain object. */
export function decodeMessage<T = Record<string, unknown>>(fullName: string, bytes: Uint8Array): T {
  const t = lookupType(fullName);
  return t.toObject(t.decode(bytes), CONVERSION) as T;
}

function methodDefinition(service: string, m: protobuf.Method): MethodDefinition<object, object> {
  m.resolve();
  const req = m.resolvedRequestType!;
  const res = m.resolvedResponseType!;
  return {
    path: `/${service}/${m.name}`,
    requestStream: m.requestStream === true,
    responseStream: m.responseStream === true,
    requestSerialize: (o: object) => Buffer.from(req.encode(req.fromObject(o)).finish()),
    requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), CONVERSION),
    responseSerialize: (o: object) => Buffer.from(res.encode(res.fromObject(o)).finish()),
    responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), CONVERSION),
    originalName: m.name,
  };
}

const definitions = new Map<string, ServiceDefinition>();

/**
 * A grpc-js service definition for `fullName` (e.g. `containerd.services.tasks.v1.Tasks`) from `file`.
 * Method keys are the proto method names (`Create`, `Get`...), for both servers and clients.
 */
export function serviceDefinition(file: string, fullName: string): ServiceDefinition {
  const cached = definitions.get(fullName);
  if (cached) return cached;
  loadProtoFile(file);
  const svc = root.lookupService(fullName);
  const def: Record<string, MethodDefinition<object, object>> = {};
  for (const m of svc.methodsArray) def[m.name] = methodDefinition(fullName, m);
  definitions.set(fullName, def);
  return def;
}
