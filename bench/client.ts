/**
 * The one gRPC client the benchmark drives both daemons with: containerd's v1 Containers, Tasks, Events and
 * Version services, built from our `.proto` files (proto/loader) with grpc-js' generic client constructor.
 * Every call carries the `containerd-namespace` metadata and a deadline, so a daemon that hangs fails the
 * metric instead of stalling the run. Nothing here knows which daemon is on the other end.
 */
import * as grpc from '@grpc/grpc-js';
import { PROTO_FILES, serviceDefinition } from '../proto/loader';
import { unpackAny, type AnyMessage } from '../proto/any';
import { namespaceMetadata } from '../pkg/namespaces';

/** A unary call as a Promise: request object in, response object out. */
export type Unary = (request: object, timeoutMs?: number) => Promise<Record<string, any>>;

export interface Service {
  [method: string]: Unary;
}

export interface TaskExitEvent {
  container_id: string;
  id: string;
  pid: number;
  exit_status: number;
}

/**
 * Reconnect within milliseconds: the restart metric polls a daemon that is coming back, and grpc-js' default
 * backoff (1 s and up) would be measured instead of the daemon. A failed connect on a unix socket is
 * immediate, so this is a tight loop only while the daemon is down.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 2,
  'grpc.min_reconnect_backoff_ms': 2,
  'grpc.max_reconnect_backoff_ms': 5,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

const DEFAULT_TIMEOUT_MS = 30_000;

type GenericClient = grpc.Client & Record<string, (...args: any[]) => any>;

export class BenchClient {
  readonly containers: Service;
  readonly tasks: Service;
  readonly version: Service;
  private readonly clients: GenericClient[] = [];
  private readonly eventsClient: GenericClient;

  constructor(readonly socketPath: string, readonly namespace: string) {
    const address = `unix://${socketPath}`;
    this.containers = this.service(address, PROTO_FILES.containers, 'containerd.services.containers.v1.Containers');
    this.tasks = this.service(address, PROTO_FILES.tasks, 'containerd.services.tasks.v1.Tasks');
    this.version = this.service(address, PROTO_FILES.version, 'containerd.services.version.v1.Version');
    this.eventsClient = this.makeClient(address, PROTO_FILES.events, 'containerd.services.events.v1.Events');
  }

  private makeClient(address: string, file: string, fullName: string): GenericClient {
    const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(file, fullName), fullName);
    const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as GenericClient;
    this.clients.push(client);
    return client;
  }

  private service(address: string, file: string, fullName: string): Service {
    const client = this.makeClient(address, file, fullName);
    const out: Service = {};
    for (const method of Object.keys(serviceDefinition(file, fullName))) {
      out[method] = (request, timeoutMs = DEFAULT_TIMEOUT_MS) =>
        new Promise((resolve, reject) => {
          const deadline = new Date(Date.now() + timeoutMs);
          client[method](request, namespaceMetadata(this.namespace), { deadline }, (err: Error | null, res: any) =>
            err ? reject(new Error(`${fullName.split('.').pop()}.${method}: ${err.message}`)) : resolve(res),
          );
        });
    }
    return out;
  }

  /**
   * Subscribes to `/tasks/exit` events; `onExit` receives each decoded TaskExit. The returned function
   * cancels the stream. Stream errors other than the cancel go to `onError`.
   */
  subscribeExits(onExit: (e: TaskExitEvent) => void, onError: (err: Error) => void): () => void {
    const call: grpc.ClientReadableStream<any> = this.eventsClient.Subscribe(
      { filters: ['topic=="/tasks/exit"'] },
      namespaceMetadata(this.namespace),
    );
    let cancelled = false;
    call.on('data', (envelope: { topic: string; event: AnyMessage | null }) => {
      if (envelope.topic !== '/tasks/exit' || !envelope.event) return;
      onExit(unpackAny<TaskExitEvent>(envelope.event));
    });
    call.on('error', (err: Error) => {
      if (!cancelled) onError(err);
    });
    return () => {
      cancelled = true;
      call.cancel();
    };
  }

  /** Waits until the daemon answers Version (or the timeout passes). */
  async waitReady(timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < until) {
      if (!isAlive()) throw new Error(`daemon on ${this.socketPath} exited before serving`);
      try {
        await this.version.Version({}, 1000);
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    throw new Error(`daemon on ${this.socketPath} not serving after ${timeoutMs} ms: ${String(last)}`);
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
