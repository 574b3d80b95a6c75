/**
 * What a restarted berthd lists before it reached a shim (issue 6): the init status the ledger records from
 * published events, the shim's queued events applied on top (an exit while berthd was down shows STOPPED),
 * no recorded state when the records do not tell; and the reconnect queue (bounded, a hurried task first).
 * No root needed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { packAny } from '../../proto/any';
import { EventLedger } from '../../services/shims/event-ledger';
import { readRecordedState } from '../../services/shims/recorded-state';
import { RecoveringTasks, type RecoveringEntry } from '../../services/shims/recovering';
import { processStartTime } from '../../services/shims/files';
import { getLogger } from '../../pkg/log';

const log = getLogger('test');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function bundle(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-rec-'));
  dirs.push(d);
  return d;
}

const facts = { pid: process.pid, startTime: processStartTime(process.pid)!, cgroups: [] };
const io = { stdin: '/f/in', stdout: '/f/out', stderr: '/f/err', terminal: false };
const createEvent = packAny('containerd.events.TaskCreate', { container_id: 'c1', bundle: '/b', rootfs: [], io, checkpoint: '', pid: process.pid });

function queueLine(seq: number, topic: string, type: string, msg: object): string {
  return `${JSON.stringify({ seq, ts: new Date().toISOString(), topic, ns: 'default', type, value: packAny(type, msg).value.toString('base64') })}\n`;
}

test('the ledger records the init status and stdio of published events; a new reader sees them', () => {
  const b = bundle();
  const file = path.join(b, 'events.json');
  const ledger = new EventLedger(file, log);
  ledger.published(1, '/tasks/create', createEvent);
  assert.deepEqual(EventLedger.read(file).init, { status: 'CREATED', io });
  ledger.published(2, '/tasks/start', null);
  ledger.published(3, '/tasks/exec-added', null);
  ledger.published(4, '/tasks/paused', null);
  assert.deepEqual(EventLedger.read(file).init, { status: 'PAUSED', io });
  ledger.published(5, '/tasks/resumed', null);
  const back = new EventLedger(file, log);
  assert.equal(back.seq, 5);
  assert.deepEqual(back.snapshot.init, { status: 'RUNNING', io });
  const st = readRecordedState(b, 'c1', facts, back.snapshot);
  assert.equal(st?.status, 'RUNNING');
  assert.equal(st?.pid, process.pid);
  assert.equal(st?.stdout, '/f/out');
});

test('queued events above the ledger seq move the recorded state; an init exit makes it STOPPED', () => {
  const b = bundle();
  const ledger = new EventLedger(path.join(b, 'events.json'), log);
  ledger.published(1, '/tasks/create', createEvent);
  ledger.published(2, '/tasks/start', null);
  const exit = { container_id: 'c1', id: 'c1', pid: process.pid, exit_status: 3, exited_at: { seconds: 1700000000, nanos: 5 } };
  const execExit = { ...exit, id: 'x1', exit_status: 9 };
  fs.writeFileSync(
    path.join(b, 'shim-events'),
    queueLine(2, '/tasks/paused', 'containerd.events.TaskPaused', { container_id: 'c1' }) +
      queueLine(3, '/tasks/exit', 'containerd.events.TaskExit', execExit) +
      queueLine(4, '/tasks/exit', 'containerd.events.TaskExit', exit) +
      '{"seq":5,"topic":"/tasks/del', // torn last line
  );
  const st = readRecordedState(b, 'c1', facts, ledger.snapshot);
  assert.equal(st?.status, 'STOPPED');
  assert.equal(st?.exit_status, 3);
  assert.deepEqual(st?.exited_at, { seconds: 1700000000, nanos: 5 });
  // seq 2 was published already: the paused event does not count; only the exec exit is queued.
  fs.writeFileSync(path.join(b, 'shim-events'), queueLine(2, '/tasks/paused', 'containerd.events.TaskPaused', { container_id: 'c1' }) + queueLine(3, '/tasks/exit', 'containerd.events.TaskExit', execExit));
  assert.equal(readRecordedState(b, 'c1', facts, ledger.snapshot)?.status, 'RUNNING');
});

test('no recorded state without task.json, with an old ledger, with an init gone without a recorded exit, or deleted', async () => {
  const b = bundle();
  const ledger = new EventLedger(path.join(b, 'events.json'), log);
  assert.equal(readRecordedState(b, 'c1', undefined, ledger.snapshot), undefined, 'never created');
  ledger.published(1);
  assert.equal(readRecordedState(b, 'c1', facts, ledger.snapshot), undefined, 'ledger without init status');
  ledger.published(2, '/tasks/start', null);
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  const gone = { pid: child.pid!, startTime: '1', cgroups: [] };
  assert.equal(readRecordedState(b, 'c1', gone, ledger.snapshot), undefined, 'init gone, exit not recorded');
  ledger.claimExit({ container_id: 'c1', id: 'c1', pid: child.pid!, exit_status: 0, exited_at: { seconds: 1, nanos: 0 } });
  assert.equal(readRecordedState(b, 'c1', gone, ledger.snapshot)?.status, 'STOPPED', 'published exit');
  fs.writeFileSync(path.join(b, 'shim-events'), queueLine(3, '/tasks/delete', 'containerd.events.TaskDelete', { container_id: 'c1', id: '' }));
  assert.equal(readRecordedState(b, 'c1', gone, ledger.snapshot), undefined, 'delete queued');
  fs.rmSync(path.join(b, 'shim-events'));
  ledger.published(3, '/tasks/delete', null);
  assert.equal(EventLedger.read(path.join(b, 'events.json')).deleted, true);
  assert.equal(readRecordedState(b, 'c1', gone, ledger.snapshot), undefined, 'delete published');
});

test('reconnects run a few at a time; a hurried task starts at once; entries drop out when done', async () => {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const r = new RecoveringTasks(async (e) => {
    started.push(e.id);
    await new Promise<void>((resolve) => release.set(e.id, resolve));
  }, 2);
  const entry = (id: string): RecoveringEntry => ({ namespace: 'ns', id, bundle: `/b/${id}`, dead: false });
  for (const id of ['a', 'b', 'c', 'd', 'e']) r.add(entry(id));
  assert.equal(r.size, 5);
  const all = r.run();
  assert.deepEqual(started, ['a', 'b']);
  const hurried = r.hurry('ns', 'e');
  assert.deepEqual(started, ['a', 'b', 'e']);
  assert.equal(r.hurry('ns', 'nope'), undefined);
  release.get('e')!();
  await hurried;
  assert.equal(r.get('ns', 'e'), undefined);
  assert.deepEqual(r.pending('ns').map((e) => e.id).sort(), ['a', 'b', 'c', 'd']);
  release.get('a')!();
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(started, ['a', 'b', 'e', 'c']);
  for (const id of ['b', 'c']) release.get(id)!();
  await new Promise((res) => setImmediate(res));
  release.get('d')!();
  await all;
  assert.deepEqual(r.pending('ns'), []);
});
