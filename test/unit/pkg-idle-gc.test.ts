import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleCollector, heapGrowthPolicy } from '../../pkg/idle-gc';

function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error('condition not met in time'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

test('idle collector: one collection after a quiet period, restarted by each call', async () => {
  let collected = 0;
  const idle = new IdleCollector({ delayMs: 50, collect: () => collected++ });
  let seen: unknown[] = [];
  const handlers = idle.wrap({ State: (...args: unknown[]) => (seen = args) });
  (handlers.State as (...a: unknown[]) => void)('call', 'callback');
  assert.deepEqual(seen, ['call', 'callback']);
  assert.equal(collected, 0);
  await waitFor(() => collected === 1);
  idle.touch();
  idle.touch();
  await waitFor(() => collected === 2);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(collected, 2, 'touches within one quiet period give one collection');
});

test('idle collector: without gc (no --expose-gc) it does nothing', () => {
  const idle = new IdleCollector({ delayMs: 1 });
  idle.touch();
  const handlers = idle.wrap({ Ping: () => 'pong' });
  assert.equal((handlers.Ping as () => string)(), 'pong');
});

test('idle collector: worthIt decides at the end of the quiet period', async () => {
  let collected = 0;
  let worth = false;
  const idle = new IdleCollector({ delayMs: 20, collect: () => collected++, worthIt: () => worth });
  idle.touch();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(collected, 0, 'not worth it: no collection');
  worth = true;
  idle.touch();
  await waitFor(() => collected === 1);
});

test('heap growth policy: worth it only after the heap grew by the minimum since the last collection', () => {
  let used = 100;
  const policy = heapGrowthPolicy(50, () => used);
  assert.equal(policy.worthIt(), false);
  used = 149;
  assert.equal(policy.worthIt(), false);
  used = 150;
  assert.equal(policy.worthIt(), true);
  used = 120;
  policy.collected();
  assert.equal(policy.worthIt(), false, 'the baseline is the heap after the collection');
  used = 170;
  assert.equal(policy.worthIt(), true);
});
