/**
 * Loads our `.proto` files with protobufjs and turns their services into grpc-js service definitions.
 *
 * One protobufjs Root per process; files are parsed on first use, so a shim parses only the shim API and
 * the daemon only what it serves. Messages cross the wire as plain objects with the field names of the
 * `.proto` files (snake_case, `keepCase`), 64-bit integers as JS numbers, enums as their names, bytes as
 * Buffers, and every field present (defaults). The generated types under `proto/gen/` describe exactly these
 * objects (`Foo` for what we send, `Foo__Output` for what we receive).
 *
 * Start-up cost: parsing `.proto` text takes tens of ms of CPU. The build (`npm run build:ts`) therefore
 * writes `dist/proto/descriptor.json` (`node dist/proto/write-descriptor.js`): every file below as one
 * protobufjs JSON descriptor (`root.toJSON()`) plus each source file's mtime. The first load takes that with
 * `Root.fromJSON` when it is there and no `.proto` file changed since; otherwise it parses as before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs/light';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/**
 * Where this module's compiled files live: `dist/proto/`, or `proto/` when run from source. From a bundle
 * (`dist/bundle/*.js`, scripts/bundle.mjs) __dirname is `dist/bundle/`, whose sibling `proto/` holds descriptor.json.
 */
const HERE = path.basename(__dirname) === 'bundle' ? path.join(path.dirname(__dirname), 'proto') : __dirname;

/** The folder holding our `.proto` files (works from `proto/`, `dist/proto/` and `dist/bundle/`). */
export const PROTO_DIR = path.resolve(HERE, path.basename(path.dirname(HERE)) === 'dist' ? '../../proto' : '.');

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
export const ANY_PAYLOAD_FILES = [
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

/** Where the build writes the precompiled descriptor (next to this module in dist/proto/). */
export const DESCRIPTOR_PATH = path.join(HERE, 'descriptor.json');

/**
 * `descriptor.json`: for each file of PROTO_FILES and ANY_PAYLOAD_FILES, the JSON of a root holding that file
 * and its imports, and the files parsed for it (protobufjs's bundled `google/protobuf/*` included); which of
 * these files defines each message of ANY_PAYLOAD_FILES; the mtimes of our sources. A process takes only the
 * files it uses (a shim: its own API and the event payloads, not the daemon's services).
 */
export interface ProtoDescriptorFile {
  files: Record<string, { parsed: string[]; root: protobuf.INamespace }>;
  payloadTypes: Record<string, string>;
  sources: Record<string, number>;
}

const sourcePath = (f: string): string => (f.startsWith('google/protobuf/') ? f : path.join(PROTO_DIR, f));

/**
 * The `.proto` parser (protobufjs's full build). Loaded only when a file must be parsed: the descriptor is
 * missing or stale, or a file is not in it; otherwise a process never compiles the parser.
 */
function withParser(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('protobufjs');
}

function parseFiles(files: string[]): protobuf.Root {
  withParser();
  const r = new protobuf.Root();
  r.resolvePath = root.resolvePath;
  for (const f of files) r.loadSync(f, { keepCase: true });
  r.resolveAll();
  return r;
}

const relativeName = (abs: string): string => (abs.startsWith('google/protobuf/') ? abs : path.relative(PROTO_DIR, abs));

/** Parses every file of PROTO_FILES and ANY_PAYLOAD_FILES and returns their descriptor. */
export function buildDescriptor(): ProtoDescriptorFile {
  const out: ProtoDescriptorFile = { files: {}, payloadTypes: {}, sources: {} };
  for (const f of [...Object.values(PROTO_FILES), ...ANY_PAYLOAD_FILES]) {
    const r = parseFiles([f]);
    const parsed = r.files.map(relativeName);
    out.files[f] = { parsed, root: r.toJSON() };
    for (const rel of parsed) if (!rel.startsWith('google/protobuf/')) out.sources[rel] = fs.statSync(sourcePath(rel)).mtimeMs;
  }
  for (const f of ANY_PAYLOAD_FILES) {
    const r = parseFiles([f]);
    const own = path.join(PROTO_DIR, f);
    const walk = (ns: protobuf.NamespaceBase): void => {
      for (const o of ns.nestedArray) {
        if (o instanceof protobuf.Type && o.filename === own) out.payloadTypes[o.fullName.slice(1)] ??= f;
        if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
      }
    };
    walk(r);
  }
  return out;
}

/** Whether descriptor.json is there and no source changed since it was written; checked once. */
let descriptorFresh: boolean | undefined;

/**
 * The parsed descriptor.json, kept only until the current turn of the event loop ends: loads that come
 * together (berthd registering its services) parse it once, and a long-lived process does not keep it.
 */
let parsedThisTurn: ProtoDescriptorFile | undefined;

/** descriptor.json when it is fresh (parsed at most once per turn of the event loop; see parsedThisTurn). */
function readDescriptor(): ProtoDescriptorFile | undefined {
  if (descriptorFresh === false) return undefined;
  if (parsedThisTurn) return parsedThisTurn;
  try {
    const d = JSON.parse(fs.readFileSync(DESCRIPTOR_PATH, 'utf8')) as ProtoDescriptorFile;
    if (descriptorFresh === undefined) {
      descriptorFresh = Object.entries(d.sources).every(([f, mtime]) => fs.statSync(path.join(PROTO_DIR, f)).mtimeMs === mtime);
    }
    if (!descriptorFresh) return undefined;
    parsedThisTurn = d;
    setImmediate(() => {
      parsedThisTurn = undefined;
    }).unref();
    return d;
  } catch {
    descriptorFresh = false;
    return undefined;
  }
}

/** Adds what `json` defines and `into` lacks (files share imports: their types are added once). */
function merge(into: protobuf.Namespace, json: protobuf.INamespace): void {
  for (const [name, nested] of Object.entries(json.nested ?? {})) {
    const n = nested as Record<string, unknown>;
    const existing = into.get(name);
    if (n.fields === undefined && n.values === undefined && n.methods === undefined && n.id === undefined) {
      let ns = existing as protobuf.Namespace | null;
      if (!ns) into.add((ns = new protobuf.Namespace(name, n.options as Record<string, unknown> | undefined)));
      merge(ns, n as protobuf.INamespace);
    } else if (!existing) {
      into.addJSON({ [name]: n as protobuf.AnyNestedObject });
    }
  }
}

/** Loads a file (and its imports) once: from descriptor.json when fresh, else by parsing the text. */
export function loadProtoFile(file: string): void {
  if (loaded.has(file)) return;
  const entry = readDescriptor()?.files[file];
  if (entry) {
    merge(root, entry.root);
    // loadSync skips what is in root.files, so a file parsed later never redefines these types.
    for (const f of entry.parsed) if (!root.files.includes(sourcePath(f))) root.files.push(sourcePath(f));
  } else {
    withParser();
    root.loadSync(file, { keepCase: true });
    root.resolveAll();
  }
  loaded.add(file);
}

export function lookupType(fullName: string): protobuf.Type {
  const found = root.lookup(fullName);
  if (found instanceof protobuf.Type) return found;
  const file = readDescriptor()?.payloadTypes[fullName];
  if (file) loadProtoFile(file);
  else for (const f of ANY_PAYLOAD_FILES) loadProtoFile(f);
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
