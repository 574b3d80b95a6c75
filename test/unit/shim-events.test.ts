/** The shim's event queue: seq numbering, fsync'd file, replay after a seq, ack, reload of a left file. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EVENTS_FILE, EventQueue, parseEventsFile, toShimEvent, type QueuedEvent } from '../../shim/events/queue';
import { TaskEvents } from '../../shim/events/publisher';
import { decodeMessage } from '../../proto/loader';

const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-shim-events-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const seqsInFile = (dir: string): number[] => parseEventsFile(fs.readFileSync(path.join(dir, EVENTS_FILE), 'utf8')).map((e) => e.seq);

describe('shim event queue', () => {
  it('numbers events from 1, persists each before offering it, replays after a seq and drops acknowledged ones', async () => {
    const dir = tmp();
    const q = new EventQueue();
    await q.attach(dir);
    const ev = new TaskEvents(q, () => 'ns1');
    await ev.create('c1', '/b', [], { stdin: '', stdout: '/o', stderr: '', terminal: false }, 42);
    await ev.start('c1', 42);
    const live: QueuedEvent[] = [];
    const sub = q.subscribe(1, (e) => {
      assert.deepEqual(seqsInFile(dir).slice(-1), [e.seq], 'on disk before it is offered');
      live.push(e);
    });
    assert.deepEqual(sub.backlog.map((e) => e.topic), ['/tasks/start']);
    await ev.exit('c1', 'c1', 42, 3, new Date(1_700_000_000_500));
    assert.deepEqual(live.map((e) => e.seq), [3]);
    const exit = decodeMessage<Record<string, any>>('containerd.events.TaskExit', live[0]!.value);
    assert.equal(exit.exit_status, 3);
    assert.equal(exit.exited_at.seconds, 1_700_000_000);
    assert.equal(exit.exited_at.nanos, 500_000_000);
    const wire = toShimEvent(live[0]!);
    assert.equal(wire.event.type_url, 'containerd.events.TaskExit');
    assert.equal(wire.namespace, 'ns1');
    assert.deepEqual(seqsInFile(dir), [1, 2, 3]);
    await q.ack(2);
    assert.deepEqual(seqsInFile(dir), [3]);
    assert.deepEqual(q.pending().map((e) => e.seq), [3]);
    sub.unsubscribe();
    await ev.oom('c1');
    assert.equal(live.length, 1, 'an unsubscribed listener gets nothing');
    assert.deepEqual(seqsInFile(dir), [3, 4]);
    await q.close();
  });

  it('a new subscriber replaces the old one; nothing is delivered twice or skipped under concurrent publishes', async () => {
    const q = new EventQueue();
    await q.attach(tmp());
    const ev = new TaskEvents(q, () => 'ns');
    const first: number[] = [];
    q.subscribe(0, (e) => first.push(e.seq));
    const pubs = Array.from({ length: 20 }, (_, i) => ev.paused(`c${i}`));
    const second: number[] = [];
    await new Promise((r) => setImmediate(r));
    const { backlog } = q.subscribe(0, (e) => second.push(e.seq));
    await Promise.all(pubs);
    const seen = [...backlog.map((e) => e.seq), ...second];
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1));
    assert.ok(first.every((s) => !second.includes(s)));
  });

  it('continues the numbering of an events file left in the bundle and ignores a torn last line', async () => {
    const dir = tmp();
    const q1 = new EventQueue();
    await q1.attach(dir);
    const ev1 = new TaskEvents(q1, () => 'ns');
    await ev1.start('c', 1);
    await ev1.start('c', 1);
    await q1.close();
    fs.appendFileSync(path.join(dir, EVENTS_FILE), '{"seq":3,"ts":"20');
    const q2 = new EventQueue();
    await q2.attach(dir);
    assert.deepEqual(q2.pending().map((e) => e.seq), [1, 2]);
    await new TaskEvents(q2, () => 'ns').resumed('c');
    assert.deepEqual(seqsInFile(dir), [1, 2, 3]);
  });
});
