/**
 * The AbortSignal of one incoming gRPC call: aborted when the client cancels it (or goes away) while its
 * handler still runs, never after the handler settled.
 *
 * grpc-js emits 'cancelled' on every server call whose HTTP/2 stream closes, including calls that finished
 * normally (server-interceptors.js notifies onCancel from the stream's 'close'). Aborting then would be
 * harmless but not free: `AbortController.abort()` without a reason builds a DOMException with a stack
 * trace, about 0.2 ms of CPU per call, on every call of a task's lifecycle in berthd and in the shim. So the
 * listener goes once the handler settled (`settle()`), and a cancel aborts with one shared reason object
 * (a Canceled error: a handler that throws it maps to CANCELLED, for a client that is gone anyway).
 */
import type { EventEmitter } from 'node:events';
import { Canceled } from './errdefs';

/** The reason of every call-cancel abort: built once (an Error captures a stack when made). */
const CANCELLED = new Canceled('call: cancelled by the client');

export interface CallSignal {
  readonly signal: AbortSignal;
  /** The handler settled: later 'cancelled' or 'close' events abort nothing. */
  settle(): void;
}

/**
 * Ties an AbortSignal to a server call. `events` names what ends the call early: 'cancelled' for unary
 * calls; streaming calls add 'close' (a stream has no other end while its handler writes).
 */
export function callSignal(call: EventEmitter, events: readonly string[] = ['cancelled']): CallSignal {
  const ac = new AbortController();
  const onEnd = (): void => {
    if (!ac.signal.aborted) ac.abort(CANCELLED);
  };
  for (const e of events) call.once(e, onEnd);
  return {
    signal: ac.signal,
    settle() {
      for (const e of events) call.off(e, onEnd);
    },
  };
}
