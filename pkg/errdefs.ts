/**
 * The one error vocabulary of Berth, modelled on containerd's errdefs.
 *
 * Every error that crosses a boundary (gRPC, CLI exit) is one of these classes, each mapped to exactly one
 * gRPC status code in `grpc-errors.ts`. Messages are lowercase, name the object, and have no trailing
 * period: `task web1: already exists`. Wrap lower-level errors with `{ cause }`.
 */

export type ErrorKind =
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition'
  | 'invalid-argument'
  | 'unavailable'
  | 'unimplemented'
  | 'deadline-exceeded'
  | 'canceled'
  | 'resource-exhausted'
  | 'internal';

export abstract class BerthError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFound extends BerthError {
  readonly kind = 'not-found' as const;
}
export class AlreadyExists extends BerthError {
  readonly kind = 'already-exists' as const;
}
export class FailedPrecondition extends BerthError {
  readonly kind = 'failed-precondition' as const;
}
export class InvalidArgument extends BerthError {
  readonly kind = 'invalid-argument' as const;
}
export class Unavailable extends BerthError {
  readonly kind = 'unavailable' as const;
}
export class Unimplemented extends BerthError {
  readonly kind = 'unimplemented' as const;
}
export class DeadlineExceeded extends BerthError {
  readonly kind = 'deadline-exceeded' as const;
}
export class Canceled extends BerthError {
  readonly kind = 'canceled' as const;
}
export class ResourceExhausted extends BerthError {
  readonly kind = 'resource-exhausted' as const;
}
/** An error we did not expect: a bug or a kernel failure with no better class. */
export class Internal extends BerthError {
  readonly kind = 'internal' as const;
}

const byKind: Record<ErrorKind, new (message: string, options?: { cause?: unknown }) => BerthError> = {
  'not-found': NotFound,
  'already-exists': AlreadyExists,
  'failed-precondition': FailedPrecondition,
  'invalid-argument': InvalidArgument,
  unavailable: Unavailable,
  unimplemented: Unimplemented,
  'deadline-exceeded': DeadlineExceeded,
  canceled: Canceled,
  'resource-exhausted': ResourceExhausted,
  internal: Internal,
};

/** Builds the error class for a kind (used by the gRPC mapping and by the shim↔init protocol). */
export function errorOfKind(kind: ErrorKind, message: string, cause?: unknown): BerthError {
  const Ctor = byKind[kind] ?? Internal;
  return new Ctor(message, cause === undefined ? undefined : { cause });
}

export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof BerthError && err.kind === kind;
}
export const isNotFound = (err: unknown): boolean => isKind(err, 'not-found');
export const isAlreadyExists = (err: unknown): boolean => isKind(err, 'already-exists');

/** The message of anything thrown, for logs and wrapping. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Wraps any error into a BerthError, keeping its class when it already is one. */
export function asBerthError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const msg = messageOf(err);
  switch (errno) {
    case 'ENOENT':
      return new NotFound(msg, { cause: err });
    case 'EEXIST':
      return new AlreadyExists(msg, { cause: err });
    case 'EINVAL':
      return new InvalidArgument(msg, { cause: err });
    default:
      return new Internal(msg, { cause: err });
  }
}
