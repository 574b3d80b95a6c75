/**
 * The Tasks service of a real berthd with real shims, over gRPC: the lifecycle of a task (create, start,
 * wait, delete) with its events exactly once, exec processes, rootfs mounts from the request, and the
 * errors clients branch on (NotFound, FailedPrecondition, AlreadyExists, InvalidArgument) with nothing
 * left behind. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { OCI_PROCESS_TYPE_URL, packJsonAny } from '../../proto/any';
import { EventCollector, ROOT_SKIP, TasksEnv, makeFifo, randomId, waitFor } from './tasks-harness';

const skip = ROOT_SKIP;
const env = new TasksEnv();
let events: EventCollector;

before(async () => {
  if (skip) return;
  await env.start();
  events = new EventCollector(env.events, ['topic~="^/tasks/"']);
});

after(async () => {
  if (skip) return;
  events?.stop();
  await env.stop();
});

const rejectsWith = (code: status) => (err: any) => {
  assert.equal(err.code, code, `${err.code} ${err.details}`);
  return true;
};

test('create, start, wait, delete: exit status, events exactly once, nothing left', { skip }, async () => {
  const id = randomId();
  const out = makeFifo(env.work, `${id}-stdout`);
  try {
    await env.createContainer(id, ['/bin/sh', '-c', 'echo hello from $(hostname); exit 7']);
    const created = await env.tasks.Create!(env.createTaskRequest(id, { stdout: out.path }));
    assert.equal(created.container_id, id);
    assert.ok(created.pid > 0);
    assert.equal((await env.tasks.Get!({ container_id: id, exec_id: '' })).process.status, 'CREATED');
    const listed = (await env.tasks.List!({})).tasks.find((t: any) => t.id === id);
    assert.equal(listed.status, 'CREATED');
    assert.equal(listed.pid, created.pid);

    const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
    const started = await env.tasks.Start!({ container_id: id, exec_id: '' });
    assert.equal(started.pid, created.pid);
    const w = await waited;
    assert.equal(w.exit_status, 7);
    assert.ok(Number(w.exited_at.seconds) > 0);
    await waitFor(() => out.read().includes('hello from berth'), 'output');

    const got = (await env.tasks.Get!({ container_id: id, exec_id: '' })).process;
    assert.equal(got.status, 'STOPPED');
    assert.equal(got.exit_status, 7);
    assert.equal(got.id, id);

    const del = await env.tasks.Delete!({ container_id: id });
    assert.equal(del.exit_status, 7);
    assert.equal(del.pid, created.pid);
    await assert.rejects(env.tasks.Get!({ container_id: id, exec_id: '' }), rejectsWith(status.NOT_FOUND));
    await waitFor(() => events.topics(id).includes('/tasks/delete'), 'delete event');
    assert.deepEqual(events.topics(id), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    const exit = events.events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === id)!;
    assert.equal(exit.event.exit_status, 7);
    assert.equal(exit.event.pid, created.pid);
    assert.equal(exit.event.id, id);
    await env.containers.Delete!({ id });
    await env.settled();
  } finally {
    out.close();
    await env.remove(id);
  }
});

test('exec processes: start, wait, output, delete; events with the exec id', { skip }, async () => {
  const id = randomId();
  const out = makeFifo(env.work, `${id}-exec-stdout`);
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    const spec = packJsonAny(OCI_PROCESS_TYPE_URL, {
      args: ['/bin/sh', '-c', 'echo exec-out; exit 3'],
      env: ['PATH=/bin:/usr/bin'],
      cwd: '/',
      user: { uid: 0, gid: 0 },
      terminal: false,
    });
    await env.tasks.Exec!({ container_id: id, exec_id: 'e1', stdin: '', stdout: out.path, stderr: '', terminal: false, spec });
    await assert.rejects(
      env.tasks.Exec!({ container_id: id, exec_id: '', stdin: '', stdout: '', stderr: '', terminal: false, spec }),
      rejectsWith(status.INVALID_ARGUMENT),
    );
    const waited = env.tasks.Wait!({ container_id: id, exec_id: 'e1' });
    const { pid } = await env.tasks.Start!({ container_id: id, exec_id: 'e1' });
    assert.ok(pid > 0);
    assert.equal((await waited).exit_status, 3);
    await waitFor(() => out.read().includes('exec-out'), 'exec output');
    const del = await env.tasks.DeleteProcess!({ container_id: id, exec_id: 'e1' });
    assert.equal(del.id, 'e1');
    assert.equal(del.exit_status, 3);
    await waitFor(() => events.topics(id).includes('/tasks/exit'), 'exec exit event');
    const exit = events.events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === id)!;
    assert.equal(exit.event.id, 'e1');
    assert.deepEqual(events.topics(id), ['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit']);
    const pids = await env.tasks.ListPids!({ container_id: id });
    assert.ok(pids.processes.length >= 1);
  } finally {
    out.close();
    await env.remove(id);
  }
});

test('rootfs mounts from Tasks.Create are mounted for the task and gone after delete', { skip }, async () => {
  const id = randomId();
  try {
    await env.createContainer(id, ['/bin/sh', '-c', 'test -x /bin/busybox'], { rootfs: 'rootfs' });
    await env.tasks.Create!(env.createTaskRequest(id, { rootfs: [{ type: 'bind', source: env.rootfs, target: '', options: ['rbind', 'ro'] }] }));
    const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
    await env.tasks.Start!({ container_id: id, exec_id: '' });
    assert.equal((await waited).exit_status, 0);
    await env.tasks.Delete!({ container_id: id });
    await env.settled();
  } finally {
    await env.remove(id);
  }
});

test('errors: unknown task NotFound, running delete FailedPrecondition, duplicate AlreadyExists', { skip }, async () => {
  await assert.rejects(env.tasks.Get!({ container_id: 'berth-test-none', exec_id: '' }), rejectsWith(status.NOT_FOUND));
  await assert.rejects(env.tasks.Delete!({ container_id: 'berth-test-none' }), rejectsWith(status.NOT_FOUND));
  await assert.rejects(env.tasks.Kill!({ container_id: 'berth-test-none', exec_id: '', signal: 9, all: false }), rejectsWith(status.NOT_FOUND));
  await assert.rejects(env.tasks.Create!(env.createTaskRequest('berth-test-none')), rejectsWith(status.NOT_FOUND));
  const id = randomId();
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    await assert.rejects(env.tasks.Delete!({ container_id: id }), rejectsWith(status.FAILED_PRECONDITION));
    await assert.rejects(env.tasks.Create!(env.createTaskRequest(id)), (err: any) => {
      assert.equal(err.code, status.ALREADY_EXISTS);
      assert.equal(err.details, `task ${id}: already exists`);
      return true;
    });
    assert.equal(await env.status(id), 'RUNNING');
  } finally {
    await env.remove(id);
  }
});

test('malformed specs are InvalidArgument and leave nothing behind', { skip }, async () => {
  const cases: [string, Buffer][] = [
    ['notjson', Buffer.from('{not json')],
    ['notobject', Buffer.from('"a string"')],
    ['noprocess', Buffer.from(JSON.stringify({ root: { path: env.rootfs } }))],
  ];
  for (const [name, raw] of cases) {
    const id = randomId(`berth-test-${name}`);
    await env.createContainer(id, [], { rawSpec: raw });
    await assert.rejects(env.tasks.Create!(env.createTaskRequest(id)), rejectsWith(status.INVALID_ARGUMENT), name);
    await env.containers.Delete!({ id });
  }
  const missing = randomId();
  await env.createContainer(missing, ['/bin/true'], { rootfs: path.join(env.work, 'no-such-rootfs') });
  await assert.rejects(env.tasks.Create!(env.createTaskRequest(missing)), rejectsWith(status.NOT_FOUND));
  await env.containers.Delete!({ id: missing });
  await env.settled();
  assert.ok(fs.existsSync(env.berthd.state));
});

/** Unix socket inodes a process holds, with the path each is bound to ('' unbound, '@...' abstract). */
function unixSocketsOf(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {}
  }
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 7 && inodes.has(f[6]!)) out.push(f[7] ?? '');
  }
  return out;
}

test('security: path sockets only, socket and directory modes, no berthd or shim descriptor in the container', { skip }, async () => {
  const id = randomId();
  try {
    const pid = await env.run(id, ['/bin/sleep', '1000']);
    const bundle = path.join(env.berthd.state, 'tasks', 'default', id);
    const shimPid = Number(fs.readFileSync(path.join(bundle, 'shim.pid'), 'utf8'));
    const address = fs.readFileSync(path.join(bundle, 'address'), 'utf8').trim();
    assert.equal(fs.statSync(path.dirname(address)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(address).mode & 0o777, 0o600);
    assert.equal(fs.statSync(bundle).mode & 0o777, 0o700);
    for (const p of [env.berthd.pid, shimPid]) {
      for (const bound of unixSocketsOf(p)) assert.ok(!bound.startsWith('@'), `abstract socket ${bound} held by ${p}`);
    }
    // The kernel keeps the name the socket was bound to (berthd binds `<address>.tmp`, then renames it).
    assert.ok(unixSocketsOf(shimPid).some((p) => p === address || p === `${address}.tmp`), 'the shim listens on its path socket');
    const fds = fs.readdirSync(`/proc/${pid}/fd`).sort();
    assert.deepEqual(fds, ['0', '1', '2'], 'only stdio in the container init');
    for (const fd of fds) {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      assert.ok(!target.startsWith('socket:') && !target.includes('berth.db') && !target.includes(env.berthd.state + '/s/'), target);
    }
  } finally {
    await env.remove(id);
  }
});

test('bad exec ids are InvalidArgument and the task goes on', { skip }, async () => {
  const id = randomId();
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } });
    for (const bad of ['a..b', '-a', 'a-', '../x', 'é', 'x'.repeat(77)]) {
      await assert.rejects(
        env.tasks.Exec!({ container_id: id, exec_id: bad, stdin: '', stdout: '', stderr: '', terminal: false, spec }),
        rejectsWith(status.INVALID_ARGUMENT),
        bad,
      );
    }
    await env.tasks.Exec!({ container_id: id, exec_id: 'x'.repeat(76), stdin: '', stdout: '', stderr: '', terminal: false, spec });
    await env.tasks.DeleteProcess!({ container_id: id, exec_id: 'x'.repeat(76) });
    for (const bad of ['a..b', '../x', '']) {
      await assert.rejects(env.tasks.Create!(env.createTaskRequest(bad)), (err: any) => [status.INVALID_ARGUMENT, status.NOT_FOUND].includes(err.code), bad);
    }
    assert.equal(await env.status(id), 'RUNNING');
  } finally {
    await env.remove(id);
  }
});
