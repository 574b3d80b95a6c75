/**
 * The gRPC server of berthd and the helpers every service adapter (`services/<name>/service.ts`) uses.
 *
 *   server.addService(serviceDefinition(PROTO_FILES.containers, 'containerd.services.containers.v1.Containers'), {
 *     Get: unary(async (req, ctx) => ({ container: store.containers.get(ctx.requireNamespace(), req.id) })),
 *     ListStream: serverStream(async (req, ctx, send, signal) => { for (...) send({ container }); }),
 *   });
 *
 * Handlers throw Berth errors (pkg/errdefs); `unary`/`serverStream` turn them into gRPC statuses through
 * pkg/grpc-errors (the only place codes are produced). The namespace travels in the `containerd-namespace`
 * metadata: `ctx.requireNamespace()` refuses a missing one (FailedPrecondition "namespace is required") and an
 * invalid one (InvalidArgument). Messages are capped at 16 MiB by default (grpc-js answers RESOURCE_EXHAUSTED).
 */
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { callSignal } from '../pkg/call-signal';
import { asBerthError } from '../pkg/errdefs';
import { toGrpcStatus } from '../pkg/grpc-errors';
import { exposedGc, heapGrowthPolicy, IdleCollector } from '../pkg/idle-gc';
import { getLogger, type Logger } from '../pkg/log';
import { namespaceOf, requireNamespace } from '../pkg/namespaces';
import { listenUnixSocket } from './socket';

export interface CallContext {
  /** The namespace named in the request metadata, unvalidated; undefined when absent. */
  namespace?: string;
  /** The request's namespace, present and valid, or a thrown FailedPrecondition / InvalidArgument. */
  requireNamespace(): string;
  metadata: grpc.Metadata;
  /** Aborted when the client cancels the call or goes away. */
  signal: AbortSignal;
  /** Full method path, `/containerd.services.containers.v1.Containers/Get`. */
  method: string;
}

const log = getLogger('berthd');

/**
 * Handlers running now (unary and streaming). Logged at debug with every call's start and end (`call`,
 * `call done {inflight}`): a handler that outlives its cancelled call is a leak, and tests watch this.
 */
let inflight = 0;
export const inflightCalls = (): number => inflight;

/**
 * After a quiet second, one full collection when the heap grew by 8 MiB since the last one (pkg/idle-gc.ts):
 * otherwise the garbage of a burst of calls stays resident while berthd idles (measured after the benchmark's
 * lifecycles: 36 MiB of heap, 13 MiB of it live). Needs --expose-gc (bin/berthd passes it).
 */
const heapGrowth = heapGrowthPolicy(8 * 1024 * 1024);
const gc = exposedGc;
const idle = new IdleCollector({
  collect: gc
    ? () => {
        gc();
        heapGrowth.collected();
      }
    : undefined,
  worthIt: heapGrowth.worthIt,
});

function callContext(metadata: grpc.Metadata, method: string, signal: AbortSignal): CallContext {
  return {
    namespace: namespaceOf(metadata),
    requireNamespace: () => requireNamespace(metadata),
    metadata,
    signal,
    method,
  };
}

function logFailure(method: string, ctx: CallContext, err: unknown): void {
  const e = asBerthError(err);
  const fields = { method, namespace: ctx.namespace, error: e.message };
  if (e.kind === 'internal') log.error('call failed', { ...fields, stack: (err as Error)?.stack });
  else log.debug('call failed', { ...fields, kind: e.kind });
}

/** Wraps an async unary handler. */
export function unary<Req = any, Res = any>(
  fn: (req: Req, ctx: CallContext) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const cancel = callSignal(call);
    const method = call.getPath();
    const ctx = callContext(call.metadata, method, cancel.signal);
    inflight++;
    idle.touch();
    log.debug('call', { method, namespace: ctx.namespace, inflight });
    Promise.resolve()
      .then(() => fn(call.request, ctx))
      .finally(() => cancel.settle())
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          logFailure(method, ctx, err);
          callback(toGrpcStatus(err));
        },
      )
      .finally(() => {
        inflight--;
        log.debug('call done', { method, inflight });
      });
  };
}

/**
 * Wraps an async server-streaming handler: `send` writes one message; the call ends (OK) when the handler
 * resolves, with the mapped status when it throws. `signal` aborts when the client cancels.
 */
export function serverStream<Req = any, Res = any>(
  fn: (req: Req, ctx: CallContext, send: (msg: Res) => void, signal: AbortSignal) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const cancel = callSignal(call, ['cancelled', 'close']);
    const method = call.getPath();
    const ctx = callContext(call.metadata, method, cancel.signal);
    inflight++;
    idle.touch();
    log.debug('call', { method, namespace: ctx.namespace, inflight });
    const send = (msg: Res): void => {
      if (!cancel.signal.aborted && !call.writableEnded) call.write(msg);
    };
    Promise.resolve()
      .then(() => fn(call.request, ctx, send, cancel.signal))
      .then(
        () => {
          if (!call.writableEnded) call.end();
        },
        (err: unknown) => {
          if (cancel.signal.aborted) return;
          logFailure(method, ctx, err);
          call.emit('error', toGrpcStatus(err));
        },
      )
      .finally(() => {
        cancel.settle();
        inflight--;
        log.debug('call done', { method, inflight });
      });
  };
}

export interface GrpcServerOptions {
  maxRecvMessageSize: number;
  maxSendMessageSize: number;
  log?: Logger;
}

/** grpc-js server that remembers what it serves and logs calls to methods it does not serve. */
export class GrpcServer {
  readonly server: grpc.Server;
  /** Full names of the services added, in order. */
  readonly services: string[] = [];
  private readonly log: Logger;

  constructor(opts: GrpcServerOptions) {
    this.log = opts.log ?? log;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxRecvMessageSize,
      'grpc.max_send_message_length': opts.maxSendMessageSize,
    });
    // grpc-js answers unknown methods with UNIMPLEMENTED before any interceptor runs; to see what clients
    // call that we lack, wrap its (internal) handler lookup when it is there.
    const inner = this.server as unknown as { _retrieveHandler?: (path: string) => unknown };
    const retrieve = inner._retrieveHandler;
    if (typeof retrieve === 'function') {
      inner._retrieveHandler = (path: string) => {
        const handler = retrieve.call(this.server, path);
        if (!handler) this.log.warn('call to unimplemented method', { method: path });
        return handler;
      };
    }
  }

  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    this.server.addService(definition, implementation);
    const first = Object.values(definition)[0];
    if (first) this.services.push(first.path.split('/')[1]!);
  }

  /** Binds the unix socket (mode 0660, owner uid:gid) after checking no live server holds it. */
  async listen(address: string, owner: { uid: number; gid: number }): Promise<void> {
    await listenUnixSocket(this.server, address, owner, this.log);
  }

  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then cancels the rest. */
  async shutdown(graceMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
