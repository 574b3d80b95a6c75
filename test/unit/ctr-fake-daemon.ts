/**
 * A fake containerd for bctr's unit tests: a grpc-js server on a temp unix socket serving the v1 services
 * from our proto files. Every call is recorded (method, request, namespace); handlers are plain functions
 * a test can replace. Unset methods answer UNIMPLEMENTED, as a daemon without that service would.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition, PROTO_FILES } from '../../proto/loader';
import { main } from '../../ctr/main';

export interface RecordedCall {
  /** `Service.Method`, e.g. `Containers.Create`. */
  method: string;
  request: Record<string, unknown>;
  namespace: string | undefined;
}

/** Thrown by a handler to answer with a gRPC status. */
export class FakeStatus extends Error {
  constructor(
    readonly code: grpc.status,
    details: string,
  ) {
    super(details);
  }
}

type Unary = (req: Record<string, unknown>) => unknown | Promise<unknown>;
/** Server-streaming handlers return the messages to send (or a promise that never settles to hang). */
type Stream = (req: Record<string, unknown>) => unknown[] | Promise<unknown[]>;

const SERVICES: [keyof typeof PROTO_FILES, string, string][] = [
  ['version', 'containerd.services.version.v1.Version', 'Version'],
  ['introspection', 'containerd.services.introspection.v1.Introspection', 'Introspection'],
  ['namespaces', 'containerd.services.namespaces.v1.Namespaces', 'Namespaces'],
  ['containers', 'containerd.services.containers.v1.Containers', 'Containers'],
  ['tasks', 'containerd.services.tasks.v1.Tasks', 'Tasks'],
  ['events', 'containerd.services.events.v1.Events', 'Events'],
  ['leases', 'containerd.services.leases.v1.Leases', 'Leases'],
];

export class FakeDaemon {
  readonly calls: RecordedCall[] = [];
  readonly handlers = new Map<string, Unary | Stream>();
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly server: grpc.Server,
  ) {}

  static async start(): Promise<FakeDaemon> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-ctr-'));
    const socket = path.join(dir, 'fake.sock');
    const server = new grpc.Server();
    const daemon = new FakeDaemon(dir, socket, server);
    for (const [file, fullName, short] of SERVICES) {
      const def = serviceDefinition(PROTO_FILES[file], fullName);
      const impl: grpc.UntypedServiceImplementation = {};
      for (const [method, md] of Object.entries(def)) {
        const key = `${short}.${method}`;
        impl[method] = md.responseStream
          ? (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => daemon.serveStream(key, call)
          : (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) =>
              daemon.serveUnary(key, call, cb);
      }
      server.addService(def, impl);
    }
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    return daemon;
  }

  on(method: string, handler: Unary | Stream): this {
    this.handlers.set(method, handler);
    return this;
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async stop(): Promise<void> {
    this.server.forceShutdown();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private record(method: string, request: Record<string, unknown>, md: grpc.Metadata): (req: Record<string, unknown>) => unknown {
    const ns = md.get('containerd-namespace')[0];
    this.calls.push({ method, request, namespace: ns === undefined ? undefined : String(ns) });
    const h = this.handlers.get(method);
    if (!h) throw new FakeStatus(grpc.status.UNIMPLEMENTED, `unknown method ${method}`);
    return h;
  }

  private async serveUnary(
    method: string,
    call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
    cb: grpc.sendUnaryData<unknown>,
  ): Promise<void> {
    try {
      const h = this.record(method, call.request, call.metadata);
      cb(null, (await h(call.request)) ?? {});
    } catch (err) {
      const code = err instanceof FakeStatus ? err.code : grpc.status.UNKNOWN;
      cb({ code, details: (err as Error).message } as grpc.ServiceError, null);
    }
  }

  private async serveStream(method: string, call: grpc.ServerWritableStream<Record<string, unknown>, unknown>): Promise<void> {
    try {
      const h = this.record(method, call.request, call.metadata) as Stream;
      for (const msg of await h(call.request)) call.write(msg);
      call.end();
    } catch (err) {
      const code = err instanceof FakeStatus ? err.code : grpc.status.UNKNOWN;
      call.emit('error', { code, details: (err as Error).message });
    }
  }
}

/** Runs bctr's main() in process against argv (without `node bctr`), capturing its own output. */
export async function runBctr(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const code = await main(['node', 'bctr', ...args], {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    });
    return { code, stdout, stderr };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
