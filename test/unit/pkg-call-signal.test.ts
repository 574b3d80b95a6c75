import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { callSignal } from '../../pkg/call-signal';
import { isKind } from '../../pkg/errdefs';

test('call signal: a cancel while the handler runs aborts with a Canceled reason', () => {
  const call = new EventEmitter();
  const c = callSignal(call);
  assert.equal(c.signal.aborted, false);
  call.emit('cancelled');
  assert.equal(c.signal.aborted, true);
  assert.ok(isKind(c.signal.reason, 'canceled'), 'reason is a Canceled error');
  assert.match((c.signal.reason as Error).message, /^call: cancelled by the client$/);
});

test('call signal: after settle, the cancelled event grpc-js emits at every stream close aborts nothing', () => {
  const call = new EventEmitter();
  const c = callSignal(call);
  c.settle();
  assert.equal(call.listenerCount('cancelled'), 0, 'listener removed');
  call.emit('cancelled');
  assert.equal(c.signal.aborted, false);
});

test('call signal: streams also end on close; either event aborts once', () => {
  const call = new EventEmitter();
  const c = callSignal(call, ['cancelled', 'close']);
  let aborts = 0;
  c.signal.addEventListener('abort', () => aborts++);
  call.emit('close');
  call.emit('cancelled');
  assert.equal(aborts, 1);
  c.settle();
  assert.equal(call.listenerCount('close') + call.listenerCount('cancelled'), 0);
});
