/**
 * The one place where gRPC status codes are produced from Berth errors (servers) and turned back into
 * Berth errors (clients). Mapping follows containerd's errdefs/grpc.go.
 */
import { status as Status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { BerthError, errorOfKind, asBerthError, type ErrorKind } from './errdefs';

const codeOfKind: Record<ErrorKind, Status> = {
  'not-found': Status.NOT_FOUND,
  'already-exists': Status.ALREADY_EXISTS,
  'failed-precondition': Status.FAILED_PRECONDITION,
  'invalid-argument': Status.INVALID_ARGUMENT,
  unavailable: Status.UNAVAILABLE,
  unimplemented: Status.UNIMPLEMENTED,
  'deadline-exceeded': Status.DEADLINE_EXCEEDED,
  canceled: Status.CANCELLED,
  'resource-exhausted': Status.RESOURCE_EXHAUSTED,
  internal: Status.UNKNOWN,
};

const kindOfCode = new Map<number, ErrorKind>([
  [Status.NOT_FOUND, 'not-found'],
  [Status.ALREADY_EXISTS, 'already-exists'],
  [Status.FAILED_PRECONDITION, 'failed-precondition'],
  [Status.INVALID_ARGUMENT, 'invalid-argument'],
  [Status.UNAVAILABLE, 'unavailable'],
  [Status.UNIMPLEMENTED, 'unimplemented'],
  [Status.DEADLINE_EXCEEDED, 'deadline-exceeded'],
  [Status.CANCELLED, 'canceled'],
  [Status.RESOURCE_EXHAUSTED, 'resource-exhausted'],
]);

export interface StatusObject {
  code: Status;
  details: string;
  metadata: Metadata;
}

/** Server side: any thrown value → the gRPC status a handler returns. */
export function toGrpcStatus(err: unknown): StatusObject {
  const e = asBerthError(err);
  return { code: codeOfKind[e.kind], details: e.message, metadata: new Metadata() };
}

export function grpcCodeOf(err: unknown): Status {
  return codeOfKind[asBerthError(err).kind];
}

/** Client side: a grpc-js ServiceError → the Berth error class for its code, with the original as cause. */
export function fromGrpcError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const se = err as Partial<ServiceError> | undefined;
  if (se && typeof se.code === 'number') {
    const kind = kindOfCode.get(se.code) ?? 'internal';
    const message = se.details || se.message || 'unknown error';
    return errorOfKind(kind, message, err);
  }
  return asBerthError(err);
}
