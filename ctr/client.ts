/**
 * bctr's gRPC client for the containerd 1.6 v1 API: one channel to the daemon's unix socket, one typed
 * facade per service, the namespace in every call's metadata, one deadline for the whole command (ctr's
 * --timeout), and errors turned back into Berth errors (pkg/grpc-errors fromGrpcError, only here) whose
 * messages read as ctr prints them.
 */
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition, PROTO_FILES } from '../proto/loader';
import { fromGrpcError } from '../pkg/grpc-errors';
import { errorOfKind, type BerthError, type ErrorKind } from '../pkg/errdefs';
import { namespaceMetadata } from '../pkg/namespaces';
import type * as T from './types';
import { log, isDebug } from './log';

/** containerd's errdefs class names, which ctr appends to every error that came over gRPC. */
const CLASS_TEXT: Record<ErrorKind, string> = {
  'not-found': 'not found',
  'already-exists': 'already exists',
  'failed-precondition': 'failed precondition',
  'invalid-argument': 'invalid argument',
  unavailable: 'unavailable',
  unimplemented: 'not implemented',
  canceled: 'context canceled',
  'deadline-exceeded': 'context deadline exceeded',
  'resource-exhausted': 'unknown',
  internal: 'unknown',
};

/**
 * A gRPC failure as ctr shows it: containerd's FromGRPC keeps the server's text, drops a trailing
 * ": <class>" and appends it again, so every message ends with its class (`...: not found`).
 */
export function errorFromGrpc(err: unknown): BerthError {
  const e = fromGrpcError(err);
  const cls = CLASS_TEXT[e.kind];
  const desc = e.message;
  const message = desc === cls ? cls : `${desc.endsWith(`: ${cls}`) ? desc.slice(0, -cls.length - 2) : desc}: ${cls}`;
  return errorOfKind(e.kind, message, e);
}

export interface ClientOptions {
  /** Socket path or `unix://` address. */
  address: string;
  namespace: string;
  /** Whole-command timeout in ms (0: none), like ctr's --timeout. */
  timeoutMs?: number;
  /** How long to wait for the connection (ctr waits 10 s when --connect-timeout is 0). */
  connectTimeoutMs?: number;
}

export interface CallOptions {
  /** Overrides the command deadline for this call (e.g. Infinity for Wait). */
  deadline?: number;
}

type Unary<Req, Res> = (request: Req, options?: CallOptions) => Promise<Res>;

/** A server stream: iterate it; cancel() ends it early. */
export interface ResponseStream<Res> extends AsyncIterable<Res> {
  cancel(): void;
}
type Streaming<Req, Res> = (request: Req, options?: CallOptions) => ResponseStream<Res>;

export interface VersionService {
  Version: Unary<object, T.VersionResponse>;
}
export interface IntrospectionService {
  Plugins: Unary<{ filters: string[] }, T.PluginsResponse>;
  Server: Unary<object, T.ServerResponse>;
}
export interface NamespacesService {
  Get: Unary<{ name: string }, { namespace: T.Namespace | null }>;
  List: Unary<{ filter?: string }, { namespaces: T.Namespace[] }>;
  Create: Unary<{ namespace: T.NamespaceInput }, { namespace: T.Namespace | null }>;
  Update: Unary<{ namespace: T.NamespaceInput; update_mask?: { paths: string[] } }, { namespace: T.Namespace | null }>;
  Delete: Unary<{ name: string }, object>;
}
export interface ContainersService {
  Get: Unary<{ id: string }, { container: T.Container | null }>;
  List: Unary<{ filters: string[] }, { containers: T.Container[] }>;
  ListStream: Streaming<{ filters: string[] }, { container: T.Container | null }>;
  Create: Unary<{ container: T.ContainerInput }, { container: T.Container | null }>;
  Update: Unary<{ container: T.ContainerInput; update_mask?: { paths: string[] } }, { container: T.Container | null }>;
  Delete: Unary<{ id: string }, object>;
}
export interface TasksService {
  Create: Unary<T.CreateTaskRequest, T.CreateTaskResponse>;
  Start: Unary<{ container_id: string; exec_id?: string }, { pid: number }>;
  Delete: Unary<{ container_id: string }, T.DeleteResponse>;
  DeleteProcess: Unary<{ container_id: string; exec_id: string }, T.DeleteResponse>;
  Get: Unary<{ container_id: string; exec_id?: string }, { process: T.Process | null }>;
  List: Unary<{ filter?: string }, { tasks: T.Process[] }>;
  Kill: Unary<{ container_id: string; exec_id?: string; signal: number; all?: boolean }, object>;
  Exec: Unary<T.ExecProcessRequest, object>;
  ResizePty: Unary<{ container_id: string; exec_id?: string; width: number; height: number }, object>;
  CloseIO: Unary<{ container_id: string; exec_id?: string; stdin: boolean }, object>;
  Pause: Unary<{ container_id: string }, object>;
  Resume: Unary<{ container_id: string }, object>;
  ListPids: Unary<{ container_id: string }, { processes: T.ProcessInfo[] }>;
  Metrics: Unary<{ filters: string[] }, { metrics: T.Metric[] }>;
  Wait: Unary<{ container_id: string; exec_id?: string }, T.WaitResponse>;
}
export interface EventsService {
  Subscribe: Streaming<{ filters: string[] }, T.Envelope>;
}
export interface LeasesService {
  Create: Unary<{ id?: string; labels?: Record<string, string> }, { lease: T.Lease | null }>;
  Delete: Unary<{ id: string; sync?: boolean }, object>;
  List: Unary<{ filters: string[] }, { leases: T.Lease[] }>;
}

const SERVICES = {
  version: [PROTO_FILES.version, 'containerd.services.version.v1.Version'],
  introspection: [PROTO_FILES.introspection, 'containerd.services.introspection.v1.Introspection'],
  namespaces: [PROTO_FILES.namespaces, 'containerd.services.namespaces.v1.Namespaces'],
  containers: [PROTO_FILES.containers, 'containerd.services.containers.v1.Containers'],
  tasks: [PROTO_FILES.tasks, 'containerd.services.tasks.v1.Tasks'],
  events: [PROTO_FILES.events, 'containerd.services.events.v1.Events'],
  leases: [PROTO_FILES.leases, 'containerd.services.leases.v1.Leases'],
} as const;

/** `/run/x.sock` or `unix:///run/x.sock` → the grpc-js target. */
export function grpcTarget(address: string): string {
  if (address.startsWith('unix://')) return address;
  if (address.startsWith('unix:')) return `unix://${path.resolve(address.slice(5))}`;
  return `unix://${path.resolve(address)}`;
}

const MAX_MESSAGE = 16 << 20; // containerd's defaults.DefaultMaxRecvMsgSize / SendMsgSize

export class Client {
  private readonly channel: grpc.Channel;
  private readonly stubs = new Map<string, grpc.Client>();
  private readonly deadline: number;

  private constructor(private readonly opts: ClientOptions) {
    this.channel = new grpc.Channel(grpcTarget(opts.address), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE,
      'grpc.max_send_message_length': MAX_MESSAGE,
    });
    this.deadline = opts.timeoutMs && opts.timeoutMs > 0 ? Date.now() + opts.timeoutMs : Infinity;
  }

  /** Connects (waiting up to the connect timeout, as ctr's dial does) and returns the client. */
  static async connect(opts: ClientOptions): Promise<Client> {
    const client = new Client(opts);
    const stub = client.stub('version');
    const wait = opts.connectTimeoutMs && opts.connectTimeoutMs > 0 ? opts.connectTimeoutMs : 10_000;
    try {
      await new Promise<void>((resolve, reject) => {
        stub.waitForReady(Date.now() + wait, (err) => (err ? reject(err) : resolve()));
      });
    } catch {
      client.close();
      throw errorOfKind('unavailable', `failed to dial "${opts.address}": context deadline exceeded`);
    }
    return client;
  }

  get namespace(): string {
    return this.opts.namespace;
  }

  get version(): VersionService {
    return this.facade('version');
  }
  get introspection(): IntrospectionService {
    return this.facade('introspection');
  }
  get namespaces(): NamespacesService {
    return this.facade('namespaces');
  }
  get containers(): ContainersService {
    return this.facade('containers');
  }
  get tasks(): TasksService {
    return this.facade('tasks');
  }
  get events(): EventsService {
    return this.facade('events');
  }
  get leases(): LeasesService {
    return this.facade('leases');
  }

  close(): void {
    for (const s of this.stubs.values()) s.close();
    this.channel.close();
  }

  private stub(name: keyof typeof SERVICES): grpc.Client {
    let s = this.stubs.get(name);
    if (!s) {
      const [file, fullName] = SERVICES[name];
      const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(file, fullName), fullName);
      s = new Ctor(grpcTarget(this.opts.address), grpc.credentials.createInsecure(), { channelOverride: this.channel });
      this.stubs.set(name, s);
    }
    return s;
  }

  private callOptions(options?: CallOptions): grpc.CallOptions {
    const d = options?.deadline ?? this.deadline;
    return Number.isFinite(d) ? { deadline: d } : {};
  }

  private facade<F>(name: keyof typeof SERVICES): F {
    const [file, fullName] = SERVICES[name];
    const def = serviceDefinition(file, fullName);
    const stub = this.stub(name) as unknown as Record<string, (...args: unknown[]) => unknown>;
    const out: Record<string, unknown> = {};
    for (const [method, md] of Object.entries(def)) {
      const fn = stub[method].bind(stub);
      out[method] = md.responseStream
        ? (req: object, o?: CallOptions) => this.streamCall(fn, req, o)
        : (req: object, o?: CallOptions) =>
            new Promise((resolve, reject) => {
              const t0 = isDebug() ? performance.now() : 0;
              fn(req, namespaceMetadata(this.opts.namespace), this.callOptions(o), (err: unknown, res: unknown) => {
                if (t0) log('debug', `${name}.${method}`, { ms: (performance.now() - t0).toFixed(1), error: err ? String(err) : '' });
                if (err) reject(errorFromGrpc(err));
                else resolve(res);
              });
            });
    }
    return out as F;
  }

  private streamCall(fn: (...args: unknown[]) => unknown, req: object, o?: CallOptions): ResponseStream<unknown> {
    const call = fn(req, namespaceMetadata(this.opts.namespace), this.callOptions(o)) as grpc.ClientReadableStream<unknown>;
    return {
      cancel: () => call.cancel(),
      async *[Symbol.asyncIterator]() {
        try {
          for await (const msg of call) yield msg;
        } catch (err) {
          throw errorFromGrpc(err);
        }
      },
    };
  }
}
