/**
 * The shim manager and the Tasks logic against a stand-in shim (tasks-fake-shim.ts): spawn with the socket
 * as fd 3, files and modes in the state dir, the event pump (order, no duplicates, Ack), errors with their
 * codes, concurrent creates, reconnect after a "daemon restart", dead shims (up and down), a mute shim.
 * No root needed: the fake's init process is a plain `sleep`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShimManager } from '../../services/shims/manager';
import { reconnectAll, scanBundles } from '../../services/shims/recovery';
import { spawnShim } from '../../services/shims/spawn';
import { isProcessAlive, processStartTime } from '../../services/shims/files';
import { spawn as spawnChild } from 'node:child_process';
import { TasksLogic } from '../../services/tasks/tasks';
import type { ContainerRecord } from '../../services/metadata/types';
import { NotFound, isKind } from '../../pkg/errdefs';
import { getLogger } from '../../pkg/log';
import { packJsonAny, unpackAny, OCI_SPEC_TYPE_URL, type AnyMessage } from '../../proto/any';

const FAKE_SHIM = path.join(__dirname, 'tasks-fake-shim.js');
const log = getLogger('test');
const spawnedPids = new Set<number>();

interface Published {
  namespace: string;
  topic: string;
  event: Record<string, unknown>;
}

class Harness {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
  readonly state = path.join(this.dir, 'state');
  readonly rootfs = path.join(this.dir, 'rootfs');
  readonly events: Published[] = [];
  readonly containers = new Map<string, ContainerRecord>();
  manager!: ShimManager;
  logic!: TasksLogic;

  constructor(private readonly extra: { shimEnv?: NodeJS.ProcessEnv; replayHoldMs?: number; connectTimeoutMs?: number; prestart?: number } = {}) {
    fs.mkdirSync(this.rootfs);
    this.boot();
  }

  /** A fresh manager over the same state dir (a berthd restart). */
  boot(): void {
    this.manager = new ShimManager({
      stateDir: this.state,
      shimBinary: process.execPath,
      shimArgsPrefix: [FAKE_SHIM],
      publisher: {
        publish: (namespace: string, topic: string, event: AnyMessage) => {
          this.events.push({ namespace, topic, event: unpackAny(event) });
        },
      },
      log,
      connectTimeoutMs: this.extra.connectTimeoutMs ?? 2000,
      replayHoldMs: this.extra.replayHoldMs ?? 0,
      shimEnv: { ...process.env, ...this.extra.shimEnv },
      containerExists: (ns, id) => this.containers.has(`${ns}/${id}`),
      prestart: this.extra.prestart,
    });
    this.logic = new TasksLogic(
      {
        get: (ns, id) => {
          const c = this.containers.get(`${ns}/${id}`);
          if (!c) throw new NotFound(`container "${id}" in namespace "${ns}": not found`);
          return c;
        },
      },
      this.manager,
      log,
    );
  }

  addContainer(id: string, spec: unknown = { process: { args: ['sleep', '1000'] }, root: { path: this.rootfs } }, ns = 'default'): void {
    const specAny = typeof spec === 'string' ? { type_url: OCI_SPEC_TYPE_URL, value: Buffer.from(spec) } : packJsonAny(OCI_SPEC_TYPE_URL, spec);
    this.containers.set(`${ns}/${id}`, {
      id,
      labels: {},
      image: '',
      runtime: { name: 'io.containerd.runc.v2', options: null },
      spec: specAny,
      snapshotter: '',
      snapshot_key: '',
      created_at: { seconds: 0, nanos: 0 },
      updated_at: { seconds: 0, nanos: 0 },
      extensions: {},
    });
  }

  createReq(id: string): Parameters<TasksLogic['create']>[1] {
    return { container_id: id, rootfs: [], stdin: '', stdout: '', stderr: '', terminal: false, checkpoint: null, options: null, runtime_path: '' };
  }

  async create(id: string, ns = 'default'): Promise<number> {
    const res = await this.logic.create(ns, this.createReq(id));
    const shimPid = this.manager.get(ns, id).shim!.pid;
    spawnedPids.add(shimPid);
    return res.pid!;
  }

  topics(id: string): string[] {
    return this.events.filter((e) => e.event.container_id === id).map((e) => e.topic);
  }

  async waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    await this.manager.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const harnesses: Harness[] = [];
function harness(extra?: ConstructorParameters<typeof Harness>[0]): Harness {
  const h = new Harness(extra);
  harnesses.push(h);
  return h;
}

after(async () => {
  for (const pid of spawnedPids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  for (const h of harnesses) await h.close();
});

const code = (kind: string) => (err: unknown) => isKind(err, kind as never);

test('create, start, kill, wait, delete: events in order, files gone', async () => {
  const h = harness();
  h.addContainer('c1');
  const pid = await h.create('c1');
  assert.ok(pid > 0);
  const task = h.manager.get('default', 'c1');
  const bundle = path.join(h.state, 'tasks', 'default', 'c1');
  assert.equal(task.bundle, bundle);
  assert.equal(fs.statSync(bundle).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(h.state, 's')).mode & 0o777, 0o700);
  const address = fs.readFileSync(path.join(bundle, 'address'), 'utf8').trim();
  assert.ok(fs.statSync(address).isSocket());
  assert.equal(fs.statSync(address).mode & 0o777, 0o600);
  assert.equal(Number(fs.readFileSync(path.join(bundle, 'shim.pid'), 'utf8')), task.shim!.pid);
  assert.ok(fs.existsSync(path.join(bundle, 'config.json')));

  assert.equal((await h.logic.get('default', 'c1', '')).status, 'CREATED');
  await h.logic.start('default', 'c1', '');
  const got = await h.logic.get('default', 'c1', '');
  assert.equal(got.status, 'RUNNING');
  assert.equal(got.id, 'c1');
  assert.deepEqual((await h.logic.list('default')).map((p) => [p.id, p.status]), [['c1', 'RUNNING']]);
  await assert.rejects(h.logic.delete('default', 'c1'), code('failed-precondition'));

  const waited = h.logic.wait('default', 'c1', '');
  await h.logic.kill('default', { container_id: 'c1', exec_id: '', signal: 9, all: false });
  assert.equal((await waited).exit_status, 137);
  const del = await h.logic.delete('default', 'c1');
  assert.equal(del.exit_status, 137);
  assert.equal(del.pid, pid);
  assert.deepEqual(h.topics('c1'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  await assert.rejects(h.logic.get('default', 'c1', ''), code('not-found'));
  await h.manager.settle();
  assert.equal(fs.existsSync(bundle), false);
  assert.equal(fs.existsSync(address), false);
  assert.equal(isProcessAlive(task.shim!.pid, task.shim!.startTime), false);
  await assert.rejects(h.logic.get('default', 'c1', ''), code('not-found'));
  assert.deepEqual(await h.logic.list('default'), []);
});

test('errors: unknown task, unknown container, duplicate, bad runtime', async () => {
  const h = harness();
  await assert.rejects(h.logic.get('default', 'nope', ''), code('not-found'));
  await assert.rejects(h.logic.kill('default', { container_id: 'nope', exec_id: '', signal: 9, all: false }), code('not-found'));
  await assert.rejects(h.logic.create('default', h.createReq('nope')), code('not-found'));
  await assert.rejects(h.logic.create('default', h.createReq('a..b')), code('invalid-argument'));
  h.addContainer('dup');
  await h.create('dup');
  await assert.rejects(h.logic.create('default', h.createReq('dup')), (err: unknown) => {
    assert.ok(isKind(err, 'already-exists'));
    assert.equal((err as Error).message, 'task dup: already exists');
    return true;
  });
  h.addContainer('rt');
  h.containers.get('default/rt')!.runtime.name = 'io.containerd.kata.v2';
  await assert.rejects(h.logic.create('default', h.createReq('rt')), code('invalid-argument'));
  await h.logic.delete('default', 'dup');
});

test('concurrent creates of one id: exactly one wins', async () => {
  const h = harness();
  h.addContainer('race');
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => h.logic.create('default', h.createReq('race'))));
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(isKind(r.reason, 'already-exists'));
  spawnedPids.add(h.manager.get('default', 'race').shim!.pid);
  await h.logic.delete('default', 'race');
});

test('malformed specs and missing rootfs are refused before anything is spawned', async () => {
  const h = harness();
  const cases: [string, unknown, string][] = [
    ['notjson', '{nope', 'invalid-argument'],
    ['notobject', '[1,2]', 'invalid-argument'],
    ['noprocess', { root: { path: h.rootfs } }, 'invalid-argument'],
    ['noroot', { process: {} }, 'invalid-argument'],
    ['missingroot', { process: {}, root: { path: path.join(h.dir, 'nothing-here') } }, 'not-found'],
    ['escape', { process: {}, root: { path: '../../..' } }, 'invalid-argument'],
  ];
  for (const [id, spec, kind] of cases) {
    h.addContainer(id, typeof spec === 'string' ? spec : spec);
    await assert.rejects(h.logic.create('default', h.createReq(id)), code(kind), id);
    assert.equal(fs.existsSync(path.join(h.state, 'tasks', 'default', id)), false, id);
  }
  const sockets = fs.existsSync(path.join(h.state, 's')) ? fs.readdirSync(path.join(h.state, 's')) : [];
  assert.deepEqual(sockets, []);
  assert.equal(h.manager.tasks.size, 0);
  // Missing FIFO paths are NotFound.
  h.addContainer('fifo');
  await assert.rejects(h.logic.create('default', { ...h.createReq('fifo'), stdout: path.join(h.dir, 'no-fifo') }), code('not-found'));
});

test('pause, resume, pids, metrics with id filter', async () => {
  const h = harness();
  h.addContainer('m1');
  h.addContainer('m2');
  const pid = await h.create('m1');
  await h.create('m2');
  await h.logic.start('default', 'm1', '');
  await h.logic.pause('default', 'm1');
  assert.equal((await h.logic.get('default', 'm1', '')).status, 'PAUSED');
  await h.logic.resume('default', 'm1');
  assert.equal((await h.logic.get('default', 'm1', '')).status, 'RUNNING');
  assert.deepEqual((await h.logic.listPids('default', 'm1')).processes!.map((p) => p.pid), [pid]);
  const all = await h.logic.metrics('default', []);
  assert.deepEqual(all.map((m) => m.id).sort(), ['m1', 'm2']);
  const one = await h.logic.metrics('default', ['id==m2']);
  assert.deepEqual(one.map((m) => m.id), ['m2']);
  assert.equal((one[0]!.data as AnyMessage).type_url, 'io.containerd.cgroups.v1.Metrics');
  await h.waitFor(() => h.topics('m1').includes('/tasks/resumed'), 'resumed event');
  assert.deepEqual(h.topics('m1'), ['/tasks/create', '/tasks/start', '/tasks/paused', '/tasks/resumed']);
  await h.logic.kill('default', { container_id: 'm1', exec_id: '', signal: 15, all: false });
  await h.logic.wait('default', 'm1', '');
  await h.logic.delete('default', 'm1');
  await h.logic.delete('default', 'm2');
});

test('restart: reconnect, exit while down published exactly once, no replay of acked events', async () => {
  const h = harness();
  h.addContainer('r1');
  h.addContainer('r2');
  const pid1 = await h.create('r1');
  await h.create('r2');
  await h.logic.start('default', 'r1', '');
  await h.logic.start('default', 'r2', '');
  await h.waitFor(() => h.topics('r1').length === 2 && h.topics('r2').length === 2, 'start events');
  await h.manager.close();
  process.kill(pid1, 'SIGKILL'); // exits while "berthd" is down
  await h.waitFor(() => !isProcessAlive(pid1), 'init exit');
  h.boot();
  await reconnectAll(h.manager);
  assert.equal(h.manager.get('default', 'r1').state, 'ready');
  await h.waitFor(() => h.topics('r1').includes('/tasks/exit'), 'replayed exit');
  const st = await h.logic.get('default', 'r1', '');
  assert.equal(st.status, 'STOPPED');
  assert.equal(st.exit_status, 137);
  assert.equal((await h.logic.get('default', 'r2', '')).status, 'RUNNING');
  // Another restart: nothing is published again.
  await h.manager.close();
  h.boot();
  await reconnectAll(h.manager);
  const del = await h.logic.delete('default', 'r1');
  assert.equal(del.exit_status, 137);
  assert.deepEqual(h.topics('r1'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  await h.logic.kill('default', { container_id: 'r2', exec_id: '', signal: 9, all: false });
  await h.logic.wait('default', 'r2', '');
  await h.logic.delete('default', 'r2');
  assert.deepEqual(h.topics('r2'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
});

test('dead shim while berthd is up: init killed, exit 137 and delete published, bundle removed', async () => {
  const h = harness();
  h.addContainer('d1');
  const pid = await h.create('d1');
  await h.logic.start('default', 'd1', '');
  const task = h.manager.get('default', 'd1');
  process.kill(task.shim!.pid, 'SIGKILL');
  await h.waitFor(() => h.topics('d1').includes('/tasks/delete'), 'delete event');
  const exit = h.events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === 'd1')!;
  assert.equal(exit.event.exit_status, 137);
  assert.equal(exit.event.pid, pid);
  await h.waitFor(() => !isProcessAlive(pid), 'init killed');
  await h.waitFor(() => !fs.existsSync(task.bundle), 'bundle removed');
  assert.equal(fs.existsSync(task.shim!.address), false);
  await assert.rejects(h.logic.get('default', 'd1', ''), code('not-found'));
  assert.deepEqual(h.topics('d1'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
});

test('dead shim while berthd is down, stale files, deleted container', async () => {
  const h = harness();
  h.addContainer('d2');
  h.addContainer('gone');
  const pid = await h.create('d2');
  await h.create('gone');
  await h.logic.start('default', 'd2', '');
  const shimPid = h.manager.get('default', 'd2').shim!.pid;
  await h.waitFor(() => h.topics('d2').length === 2, 'start event');
  await h.manager.close();
  process.kill(shimPid, 'SIGKILL');
  h.containers.delete('default/gone');
  // Stale state: a bundle with no files, one with a truncated address, a bundle with an invalid name.
  fs.mkdirSync(path.join(h.state, 'tasks', 'default', 'empty'), { recursive: true });
  fs.mkdirSync(path.join(h.state, 'tasks', 'default', 'trunc'));
  fs.writeFileSync(path.join(h.state, 'tasks', 'default', 'trunc', 'address'), '/tmp/x');
  fs.writeFileSync(path.join(h.state, 'tasks', 'default', 'trunc', 'shim.pid'), '99999999');
  fs.mkdirSync(path.join(h.state, 'tasks', 'default', 'bad..name'));
  fs.writeFileSync(path.join(h.state, 's', 'abcdefabcdef'), '');
  h.boot();
  await reconnectAll(h.manager);
  await h.waitFor(() => !isProcessAlive(pid), 'init killed');
  assert.deepEqual(h.topics('d2'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  assert.deepEqual(h.topics('gone'), ['/tasks/create', '/tasks/exit', '/tasks/delete']);
  assert.deepEqual(fs.readdirSync(path.join(h.state, 'tasks')), []);
  assert.deepEqual(fs.readdirSync(path.join(h.state, 's')), []);
  assert.equal(h.manager.tasks.size, 0);
});

test('a mute shim does not hold up reconnect beyond its timeout', async () => {
  const h = harness({ connectTimeoutMs: 500 });
  const bundle = path.join(h.state, 'tasks', 'default', 'mute');
  fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(h.state, 's'), { recursive: true, mode: 0o700 });
  h.addContainer('mute');
  const shim = await spawnShim({
    binary: process.execPath,
    args: [FAKE_SHIM, '--namespace', 'default', '--id', 'mute', '--bundle', bundle],
    address: h.manager.layout.newSocketPath(),
    cwd: bundle,
    logFile: path.join(bundle, 'shim.log'),
    env: { ...process.env, FAKE_SHIM_MODE: 'mute' },
    bundle,
  });
  spawnedPids.add(shim.pid);
  const t0 = Date.now();
  await reconnectAll(h.manager);
  const took = Date.now() - t0;
  assert.ok(took < 2500, `reconnect took ${took} ms`);
  assert.equal(h.manager.get('default', 'mute').state, 'unreachable');
  assert.deepEqual((await h.logic.list('default')).map((p) => [p.id, p.status]), [['mute', 'UNKNOWN']]);
  process.kill(shim.pid, 'SIGKILL');
});

test('while a mute shim is being reached its task is listed from its records, and calls on it wait', async () => {
  const h = harness({ connectTimeoutMs: 500 });
  const bundle = path.join(h.state, 'tasks', 'default', 'rec');
  fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(h.state, 's'), { recursive: true, mode: 0o700 });
  h.addContainer('rec');
  const init = spawnChild('sleep', ['1000'], { stdio: 'ignore' });
  spawnedPids.add(init.pid!);
  fs.writeFileSync(path.join(bundle, 'task.json'), JSON.stringify({ pid: init.pid, startTime: processStartTime(init.pid!), cgroups: [] }));
  const io = { stdin: '', stdout: '/tmp/out', stderr: '', terminal: false };
  fs.writeFileSync(path.join(bundle, 'events.json'), JSON.stringify({ seq: 2, exits: [], init: { status: 'RUNNING', io } }));
  const shim = await spawnShim({
    binary: process.execPath,
    args: [FAKE_SHIM, '--namespace', 'default', '--id', 'rec', '--bundle', bundle],
    address: h.manager.layout.newSocketPath(),
    cwd: bundle,
    logFile: path.join(bundle, 'shim.log'),
    env: { ...process.env, FAKE_SHIM_MODE: 'mute' },
    bundle,
  });
  spawnedPids.add(shim.pid);
  const recovering = scanBundles(h.manager);
  h.logic.recovering = recovering;
  const reconnecting = reconnectAll(h.manager, recovering);
  const t0 = Date.now();
  const listed = await h.logic.list('default');
  assert.ok(Date.now() - t0 < 300, `list took ${Date.now() - t0} ms`);
  assert.deepEqual(listed.map((p) => [p.id, p.status, p.pid, p.stdout]), [['rec', 'RUNNING', init.pid, '/tmp/out']]);
  assert.equal((await h.logic.get('default', 'rec', '')).status, 'RUNNING');
  await assert.rejects(h.logic.get('default', 'nope', ''), code('not-found'));
  const k0 = Date.now();
  await assert.rejects(h.logic.kill('default', { container_id: 'rec', exec_id: '', signal: 9, all: false }), code('unavailable'));
  assert.ok(Date.now() - k0 >= 400, `kill answered after ${Date.now() - k0} ms without waiting for the shim`);
  await reconnecting;
  h.logic.recovering = undefined;
  assert.deepEqual((await h.logic.list('default')).map((p) => [p.id, p.status]), [['rec', 'UNKNOWN']]);
  process.kill(shim.pid, 'SIGKILL');
  init.kill('SIGKILL');
});

test('replayed events are held back after a restart until the hold ends or the task is used', async () => {
  const h = harness({ replayHoldMs: 60_000 });
  h.addContainer('h1');
  const pid = await h.create('h1');
  await h.logic.start('default', 'h1', '');
  await h.waitFor(() => h.topics('h1').length === 2, 'start event');
  await h.manager.close();
  process.kill(pid, 'SIGKILL');
  await h.waitFor(() => !isProcessAlive(pid), 'init exit');
  h.boot();
  await reconnectAll(h.manager);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(h.topics('h1'), ['/tasks/create', '/tasks/start'], 'exit held back');
  await h.logic.delete('default', 'h1');
  assert.deepEqual(h.topics('h1'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
});

test('a shim that never reports /tasks/delete: berthd publishes it', async () => {
  const h = harness({ shimEnv: { FAKE_SHIM_NO_DELETE_EVENT: '1' } });
  h.addContainer('nd');
  await h.create('nd');
  await h.logic.delete('default', 'nd');
  assert.deepEqual(h.topics('nd'), ['/tasks/create', '/tasks/delete']);
});

/** pids of the idle shims recorded under <state>/pool/. */
function poolPids(h: Harness): number[] {
  const dir = path.join(h.state, 'pool');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((n) => Number(fs.readFileSync(path.join(dir, n, 'shim.pid'), 'utf8')))
    .filter((pid) => isProcessAlive(pid));
}

test('pre-started shims: a create binds an idle one, the pool refills, close kills the idle ones', async () => {
  const h = harness({ prestart: 1 });
  h.manager.startPool();
  const [idle] = await (async () => {
    await h.waitFor(() => h.manager.pool!.ready === 1, 'an idle shim');
    return poolPids(h);
  })();
  spawnedPids.add(idle!);
  h.addContainer('p1');
  await h.create('p1');
  const task = h.manager.get('default', 'p1');
  assert.equal(task.shim!.pid, idle);
  assert.equal(Number(fs.readFileSync(path.join(task.bundle, 'shim.pid'), 'utf8')), idle);
  assert.ok(fs.existsSync(path.join(task.bundle, 'shim.log')));
  await h.waitFor(() => h.manager.pool!.ready === 1, 'the pool refilled');
  assert.notEqual(poolPids(h)[0], idle);
  const next = poolPids(h)[0]!;
  spawnedPids.add(next);
  await h.logic.start('default', 'p1', '');
  await h.logic.kill('default', { container_id: 'p1', exec_id: '', signal: 9, all: false });
  await h.logic.wait('default', 'p1', '');
  await h.logic.delete('default', 'p1');
  assert.deepEqual(h.topics('p1'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  await h.manager.close();
  await h.waitFor(() => !isProcessAlive(next), 'idle shim killed at close');
  assert.deepEqual(fs.readdirSync(path.join(h.state, 'pool')), []);
  assert.deepEqual(fs.readdirSync(path.join(h.state, 's')), []);
});

test('pre-started shims: one that refuses its task in Create is killed and the task gets a spawned shim', async () => {
  const h = harness({ prestart: 1, shimEnv: { FAKE_SHIM_MODE: 'refuse-create-bind' } });
  h.manager.startPool();
  await h.waitFor(() => h.manager.pool!.ready === 1, 'an idle shim');
  const [idle] = poolPids(h);
  spawnedPids.add(idle!);
  h.addContainer('r1');
  await h.create('r1');
  const task = h.manager.get('default', 'r1');
  assert.notEqual(task.shim!.pid, idle, 'served by another shim');
  spawnedPids.add(task.shim!.pid);
  assert.equal(Number(fs.readFileSync(path.join(task.bundle, 'shim.pid'), 'utf8')), task.shim!.pid, 'the bundle names the serving shim');
  await h.waitFor(() => !isProcessAlive(idle!), 'the refusing shim killed');
  await h.logic.start('default', 'r1', '');
  await h.logic.kill('default', { container_id: 'r1', exec_id: '', signal: 9, all: false });
  await h.logic.wait('default', 'r1', '');
  await h.logic.delete('default', 'r1');
  assert.deepEqual(h.topics('r1'), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  await h.manager.close();
});

test('a live shim that serves no task (berthd died mid-create) is shut down at start', async () => {
  const h = harness();
  const bundle = path.join(h.state, 'tasks', 'default', 'half');
  fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
  h.manager.layout.ensure();
  h.addContainer('half');
  const shim = await spawnShim({
    binary: process.execPath,
    args: [FAKE_SHIM, '--namespace', 'default', '--id', 'half', '--bundle', bundle],
    address: h.manager.layout.newSocketPath(),
    cwd: bundle,
    logFile: path.join(bundle, 'shim.log'),
    bundle,
  });
  spawnedPids.add(shim.pid);
  await reconnectAll(h.manager);
  await h.waitFor(() => !isProcessAlive(shim.pid, shim.startTime), 'idle shim gone');
  assert.equal(fs.existsSync(bundle), false);
  assert.deepEqual(fs.readdirSync(path.join(h.state, 's')), []);
  assert.deepEqual(h.topics('half'), []);
  await assert.rejects(h.logic.get('default', 'half', ''), code('not-found'));
});
