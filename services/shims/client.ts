/**
 * berthd's client of one berth-shim (proto/berth/shim/v1/shim.proto) over its unix path socket.
 *
 * Every call returns a Promise, maps gRPC errors back to Berth errors (pkg/grpc-errors), takes an optional
 * deadline and AbortSignal, and `events()` turns the Events stream into an async iterable.
 *
 * One connection per shim process: the tasks of a shim group (shim.proto "Groups") each hold a handle from
 * `share()` on the same channel; the channel closes when the last handle does (`close()` is idempotent per
 * handle).
 */
import { Metadata, credentials, makeGenericClientConstructor, type Client, type ClientReadableStream } from '@grpc/grpc-js';
import { serviceDefinition, PROTO_FILES } from '../../proto/loader';
import { fromGrpcError } from '../../pkg/grpc-errors';
import { DeadlineExceeded } from '../../pkg/errdefs';
import type { BindResponse, ConnectResponse, CreateTaskRequest, CreateTaskResponse, DeleteResponse, ExecProcessRequest, PidsResponse, ShimEvent, StartResponse, StateResponse, StatsResponse, UpdateTaskRequest, WaitResponse } from './messages';

export const SHIM_SERVICE = 'berth.shim.v1.Shim';

export interface CallOptions {
  /** Milliseconds before the call fails with DeadlineExceeded. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

type Empty = Record<string, never>;

let ShimClientCtor: ReturnType<typeof makeGenericClientConstructor> | undefined;

/** A channel and how many open handles use it. */
interface Channel {
  client: Client;
  handles: number;
  onClosed?: () => void;
}

export class ShimClient {
  private readonly client: Client;
  private readonly channel: Channel;
  private closed = false;

  constructor(
    readonly address: string,
    shared?: Channel,
  ) {
    this.channel = shared ?? { client: newChannel(address), handles: 0 };
    this.channel.handles++;
    this.client = this.channel.client;
  }

  /** Another handle on this connection (for another task of the same shim). */
  share(): ShimClient {
    if (this.channel.handles === 0) throw new Error(`shim ${this.address}: connection closed`);
    return new ShimClient(this.address, this.channel);
  }

  /** Whether the connection is still open (some handle is not closed). */
  get open(): boolean {
    return this.channel.handles > 0;
  }

  /** Called once when the last handle closes the connection. */
  onClosed(fn: () => void): void {
    this.channel.onClosed = fn;
  }

  /** Resolves once the channel is connected; DeadlineExceeded after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err) reject(new DeadlineExceeded(`shim ${this.address}: not reachable within ${timeoutMs} ms`, { cause: err }));
        else resolve();
      });
    });
  }

  /** Closes this handle; the connection closes with the last one. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (--this.channel.handles > 0) return;
    this.client.close();
    this.channel.onClosed?.();
  }

  private unary<Res>(method: string, req: object, opts: CallOptions = {}): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(fromGrpcError({ code: 1, details: `shim ${method}: canceled` }));
        return;
      }
      const callOpts = opts.timeoutMs !== undefined ? { deadline: Date.now() + opts.timeoutMs } : {};
      const fn = (this.client as unknown as Record<string, (...args: unknown[]) => { cancel(): void }>)[method]!;
      const onAbort = (): void => call.cancel();
      const call = fn.call(this.client, req, new Metadata(), callOpts, (err: unknown, res: Res) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(fromGrpcError(err));
        else resolve(res);
      });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  state(id: string, execId = '', opts?: CallOptions): Promise<StateResponse> {
    return this.unary('State', { id, exec_id: execId }, opts);
  }
  create(req: CreateTaskRequest, opts?: CallOptions): Promise<CreateTaskResponse> {
    return this.unary('Create', req, opts);
  }
  start(id: string, execId = '', opts?: CallOptions): Promise<StartResponse> {
    return this.unary('Start', { id, exec_id: execId }, opts);
  }
  delete(id: string, execId = '', opts?: CallOptions): Promise<DeleteResponse> {
    return this.unary('Delete', { id, exec_id: execId }, opts);
  }
  pids(id: string, opts?: CallOptions): Promise<PidsResponse> {
    return this.unary('Pids', { id }, opts);
  }
  pause(id: string, opts?: CallOptions): Promise<Empty> {
    return this.unary('Pause', { id }, opts);
  }
  resume(id: string, opts?: CallOptions): Promise<Empty> {
    return this.unary('Resume', { id }, opts);
  }
  kill(req: { id: string; exec_id: string; signal: number; all: boolean }, opts?: CallOptions): Promise<Empty> {
    return this.unary('Kill', req, opts);
  }
  exec(req: ExecProcessRequest, opts?: CallOptions): Promise<Empty> {
    return this.unary('Exec', req, opts);
  }
  resizePty(req: { id: string; exec_id: string; width: number; height: number }, opts?: CallOptions): Promise<Empty> {
    return this.unary('ResizePty', req, opts);
  }
  closeIO(req: { id: string; exec_id: string; stdin: boolean }, opts?: CallOptions): Promise<Empty> {
    return this.unary('CloseIO', req, opts);
  }
  update(req: UpdateTaskRequest, opts?: CallOptions): Promise<Empty> {
    return this.unary('Update', req, opts);
  }
  wait(id: string, execId = '', opts?: CallOptions): Promise<WaitResponse> {
    return this.unary('Wait', { id, exec_id: execId }, opts);
  }
  stats(id: string, opts?: CallOptions): Promise<StatsResponse> {
    return this.unary('Stats', { id }, opts);
  }
  connect(id: string, opts?: CallOptions): Promise<ConnectResponse> {
    return this.unary('Connect', { id }, opts);
  }
  shutdown(id: string, now = false, opts?: CallOptions): Promise<Empty> {
    return this.unary('Shutdown', { id, now }, opts);
  }
  /** `id`: the task whose events (empty: the shim's only task). */
  ack(seq: number, opts?: CallOptions, id = ''): Promise<Empty> {
    return this.unary('Ack', { seq, id }, opts);
  }
  bind(req: { id: string; namespace: string; bundle: string; group?: string }, opts?: CallOptions): Promise<BindResponse> {
    return this.unary('Bind', req, opts);
  }

  /**
   * The shim's event stream from `afterSeq` (replay of unacknowledged events, then live ones). The
   * iterable ends when the shim closes the stream and throws a Berth error when it breaks; aborting
   * `signal` cancels it.
   */
  async *events(afterSeq: number, signal: AbortSignal, id = ''): AsyncGenerator<ShimEvent> {
    const fn = (this.client as unknown as Record<string, (req: object, md: Metadata) => ClientReadableStream<ShimEvent>>)
      .Events!;
    const call = fn.call(this.client, { after_seq: afterSeq, id }, new Metadata());
    const onAbort = (): void => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const ev of call) yield ev as ShimEvent;
    } catch (err) {
      throw fromGrpcError(err);
    } finally {
      signal.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }
}

function newChannel(address: string): Client {
  ShimClientCtor ??= makeGenericClientConstructor(serviceDefinition(PROTO_FILES.shim, SHIM_SERVICE), 'Shim');
  return new ShimClientCtor(`unix:${address}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
    'grpc.enable_retries': 0,
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.min_reconnect_backoff_ms': 50,
  });
}
