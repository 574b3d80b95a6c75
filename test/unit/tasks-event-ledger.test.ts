/**
 * The event ledger's file (`<bundle>/events.json`, services/shims/event-ledger.ts): written in place while
 * it fits one page (padded, never truncated), through a temporary file and rename beyond; always read back
 * as what was recorded.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventLedger } from '../../services/shims/event-ledger';
import { getLogger } from '../../pkg/log';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-ledger-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const log = getLogger('test');

const exit = (id: string, pid: number, sec: number) => ({
  container_id: 'c1',
  id,
  pid,
  exit_status: 1,
  exited_at: { seconds: sec, nanos: 5 },
});

test('ledger: seq and exits survive a new reader; file mode 0600', () => {
  const file = path.join(dir, 'a.json');
  const l = new EventLedger(file, log);
  l.published(3);
  assert.equal(l.claimExit(exit('x1', 40, 1)), true);
  l.published(4);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const again = new EventLedger(file, log);
  assert.equal(again.seq, 4);
  assert.equal(again.claimExit(exit('x1', 40, 1)), false, 'an exit is claimed once');
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('a.json.')), [], 'no temporary file left');
});

test('ledger: a shorter record over a longer one still parses (padding, no truncation needed)', () => {
  const file = path.join(dir, 'b.json');
  fs.writeFileSync(file, JSON.stringify({ seq: 1, exits: ['a-very-long-exec-id-that-makes-the-file-long|1|1.0'] }) + ' '.repeat(200));
  const l = new EventLedger(file, log);
  l.published(123456);
  const size = fs.statSync(file).size;
  assert.ok(size >= 200, 'file not truncated');
  assert.equal(new EventLedger(file, log).seq, 123456);
});

test('ledger: a record larger than a page goes through rename and reads back', () => {
  const file = path.join(dir, 'c.json');
  const l = new EventLedger(file, log);
  for (let i = 0; i < 200; i++) assert.equal(l.claimExit(exit(`exec-${i}`, 1000 + i, i)), true);
  l.published(7);
  assert.ok(fs.statSync(file).size > 4096);
  const again = new EventLedger(file, log);
  assert.equal(again.seq, 7);
  assert.equal(again.claimExit(exit('exec-199', 1199, 199)), false);
  // and back under a page: the big file is replaced, not padded in place
  const small = path.join(dir, 'c2.json');
  fs.copyFileSync(file, small);
  const s = new EventLedger(small, log);
  s.published(8);
  assert.equal(new EventLedger(small, log).seq, 8);
});
