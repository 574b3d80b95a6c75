/**
 * Starts a real berthd (bin/berthd, built into dist/) as a child process in a fresh temp dir
 * (`berth-test-XXXXXX/` holding the socket, root and state) and gives promise-based gRPC clients for it.
 *
 *   const d = await startBerthd();
 *   const containers = d.client('containers');            // namespace 'default'
 *   await containers.Create({ container: {...} });        // unary → Promise
 *   for await (const env of d.client('events').Subscribe({ filters: [] })) { ... }  // stream → async iterable
 *   await d.kill(); await d.restart();                    // SIGKILL, then start again on the same dirs
 *   await d.stop();                                       // SIGTERM, wait, remove the temp dir
 *
 * Anything still running when the test process exits is SIGKILLed and its dir removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';

export const SERVICES = {
  version: { file: PROTO_FILES.version, name: 'containerd.services.version.v1.Version' },
  introspection: { file: PROTO_FILES.introspection, name: 'containerd.services.introspection.v1.Introspection' },
  namespaces: { file: PROTO_FILES.namespaces, name: 'containerd.services.namespaces.v1.Namespaces' },
  containers: { file: PROTO_FILES.containers, name: 'containerd.services.containers.v1.Containers' },
  tasks: { file: PROTO_FILES.tasks, name: 'containerd.services.tasks.v1.Tasks' },
  events: { file: PROTO_FILES.events, name: 'containerd.services.events.v1.Events' },
  leases: { file: PROTO_FILES.leases, name: 'containerd.services.leases.v1.Leases' },
} as const;
export type ServiceName = keyof typeof SERVICES;

/** Repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = path.resolve(__dirname, path.basename(path.resolve(__dirname, '../..')) === 'dist' ? '../../..' : '../..');
export const BERTHD_BIN = path.join(REPO_ROOT, 'bin', 'berthd');

export interface CallOptions {
  /** Extra metadata (the namespace is added by the client). */
  metadata?: grpc.Metadata;
  /** Deadline in ms from now (default 30 s). */
  timeoutMs?: number;
}

/**
 * A client whose unary methods return Promises (rejecting with the grpc-js ServiceError, `.code` and
 * `.details`) and whose server-streaming methods return the grpc-js ClientReadableStream (async iterable;
 * `.cancel()` ends it).
 */
export type ServiceClient = Record<string, (request?: object, opts?: CallOptions) => any> & { close(): void };

export interface ClientOptions {
  /** Namespace sent in `containerd-namespace`; null sends none. Default 'default'. */
  namespace?: string | null;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestDaemon {
  address: string;
  root: string;
  state: string;
  dir: string;
  /** pid of the current berthd process. */
  readonly pid: number;
  /** Resolves when the current process exits. */
  readonly exited: Promise<ExitInfo>;
  client<T = ServiceClient>(service: ServiceName, opts?: ClientOptions): T;
  /** What berthd wrote to stderr (all its runs). */
  logs(): string;
  /** Sends `signal` (default SIGTERM) and waits for the exit; the dirs stay (for restart). */
  terminate(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGKILL and wait; the dirs stay. */
  kill(): Promise<ExitInfo>;
  /** Starts berthd again on the same socket and dirs (terminating it first when running). */
  restart(): Promise<void>;
  /** Graceful stop (signal default SIGTERM), closes clients, removes the temp dir. */
  stop(signal?: NodeJS.Signals): Promise<ExitInfo>;
}

export interface StartOptions {
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Default 'info'. */
  logLevel?: string;
  /** How long to wait for the socket to answer Version (default 20 s). */
  readyTimeoutMs?: number;
}

const live = new Set<{ child: ChildProcess; dir: string }>();
process.once('exit', () => {
  for (const { child, dir } of live) {
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A promise-based client for `service` on the berthd socket `address` (namespace null = none sent). */
export function serviceClient(address: string, service: ServiceName, namespace: string | null = 'default'): ServiceClient {
  return makeClient(address, service, namespace);
}

function makeClient(address: string, service: ServiceName, namespace: string | null): ServiceClient {
  const { file, name } = SERVICES[service];
  const def = serviceDefinition(file, name);
  const Ctor = grpc.makeGenericClientConstructor(def, name);
  const raw = new Ctor(`unix:${address}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  }) as unknown as Record<string, (...args: unknown[]) => any> & grpc.Client;
  const out: ServiceClient = { close: () => raw.close() } as ServiceClient;
  for (const [method, m] of Object.entries(def)) {
    out[method] = (request: object = {}, opts: CallOptions = {}) => {
      const md = opts.metadata ?? new grpc.Metadata();
      if (namespace !== null && md.get('containerd-namespace').length === 0) md.set('containerd-namespace', namespace);
      const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
      if (m.responseStream) return raw[method]!(request, md, m.requestStream ? undefined : {});
      return new Promise((resolve, reject) => {
        raw[method]!(request, md, { deadline }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
      });
    };
  }
  return out;
}

async function waitReady(address: string, child: ChildProcess, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`berthd exited before serving:\n${logs()}`);
    if (fs.existsSync(address)) {
      const c = makeClient(address, 'version', null);
      try {
        await c.Version!({}, { timeoutMs: 1000 });
        return;
      } catch {
      } finally {
        c.close();
      }
    }
    if (Date.now() > deadline) throw new Error(`berthd did not answer on ${address} within ${timeoutMs} ms:\n${logs()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startBerthd(opts: StartOptions = {}): Promise<TestDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
  const address = path.join(dir, 'berthd.sock');
  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  let stderr = '';
  const clients = new Set<ServiceClient>();
  let current: { child: ChildProcess; dir: string; exited: Promise<ExitInfo> } | undefined;

  const spawnOnce = async (): Promise<void> => {
    const args = [BERTHD_BIN, '--address', address, '--root', root, '--state', state, '--log-level', opts.logLevel ?? 'info', ...(opts.extraArgs ?? [])];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...(opts.env ?? {}) },
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000);
    });
    const exited = new Promise<ExitInfo>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const entry = { child, dir, exited };
    live.add(entry);
    exited.then(() => live.delete(entry)).catch(() => {});
    current = entry;
    await waitReady(address, child, opts.readyTimeoutMs ?? 20_000, () => stderr);
  };

  const isRunning = (): boolean => !!current && current.child.exitCode === null && current.child.signalCode === null;

  const terminate = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo> => {
    if (!current) return { code: null, signal: null };
    if (isRunning()) current.child.kill(signal);
    const timer = setTimeout(() => current?.child.kill('SIGKILL'), 15_000);
    const info = await current.exited;
    clearTimeout(timer);
    return info;
  };

  const closeClients = (): void => {
    for (const c of clients) c.close();
    clients.clear();
  };

  try {
    await spawnOnce();
  } catch (err) {
    await terminate('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    address,
    root,
    state,
    dir,
    get pid() {
      return current!.child.pid!;
    },
    get exited() {
      return current!.exited;
    },
    client<T = ServiceClient>(service: ServiceName, copts: ClientOptions = {}): T {
      const c = makeClient(address, service, copts.namespace === undefined ? 'default' : copts.namespace);
      clients.add(c);
      return c as unknown as T;
    },
    logs: () => stderr,
    terminate,
    kill: () => terminate('SIGKILL'),
    async restart() {
      if (isRunning()) await terminate('SIGTERM');
      await spawnOnce();
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      closeClients();
      const info = await terminate(signal);
      fs.rmSync(dir, { recursive: true, force: true });
      return info;
    },
  };
}
