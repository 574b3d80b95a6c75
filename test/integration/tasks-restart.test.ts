/**
 * Containers and their exits survive berthd and shim failures (issue 5, the reconnect and dead-shim
 * parts): berthd SIGKILLed with running and exited tasks and restarted; exits that happen while berthd is
 * down reach a subscriber exactly once; a shim SIGKILLed with berthd up or down leaves nothing behind; a
 * stopped (mute) shim does not hold up berthd's start; concurrent creates of one id. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { OCI_PROCESS_TYPE_URL, packJsonAny } from '../../proto/any';
import { EventCollector, ROOT_SKIP, TasksEnv, makeFifo, randomId, waitFor, isAlive } from './tasks-harness';

const skip = ROOT_SKIP;
const env = new TasksEnv();

before(async () => {
  if (skip) return;
  await env.start();
});

after(async () => {
  if (skip) return;
  await env.stop();
});



async function restart(): Promise<number> {
  const t0 = Date.now();
  await env.berthd.restart();
  env.connect();
  return Date.now() - t0;
}

async function exitAndWait(id: string, pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), `${id} init gone`);
}

test('berthd SIGKILLed with 20 running and 5 exited tasks: all served as before after a restart', { skip, timeout: 300_000 }, async () => {
  const running: { id: string; pid: number }[] = [];
  const exited: { id: string; pid: number; code: number }[] = [];
  for (let i = 0; i < 20; i++) {
    const id = randomId(`berth-test-run${i}`);
    running.push({ id, pid: await env.run(id, ['/bin/sleep', '1000']) });
  }
  for (let i = 0; i < 5; i++) {
    const id = randomId(`berth-test-exit${i}`);
    const pid = await env.run(id, ['/bin/sh', '-c', `exit ${10 + i}`]);
    await env.tasks.Wait!({ container_id: id, exec_id: '' });
    exited.push({ id, pid, code: 10 + i });
  }
  await env.berthd.kill();
  for (const r of running) assert.ok(isAlive(r.pid), 'containers keep running while berthd is down');
  await restart();

  const list = (await env.tasks.List!({})).tasks as { id: string; pid: number; status: string; exit_status: number }[];
  const byId = new Map(list.map((t) => [t.id, t]));
  for (const r of running) {
    assert.equal(byId.get(r.id)?.status, 'RUNNING', r.id);
    assert.equal(byId.get(r.id)?.pid, r.pid);
  }
  for (const e of exited) {
    assert.equal(byId.get(e.id)?.status, 'STOPPED', e.id);
    assert.equal(byId.get(e.id)?.exit_status, e.code);
  }

  // exec, kill, wait, delete on reconnected tasks
  const first = running[0]!;
  const out = makeFifo(env.work, `${first.id}-exec`);
  const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/echo', 'after restart'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
  await env.tasks.Exec!({ container_id: first.id, exec_id: 'x1', stdin: '', stdout: out.path, stderr: '', terminal: false, spec });
  const ew = env.tasks.Wait!({ container_id: first.id, exec_id: 'x1' });
  await env.tasks.Start!({ container_id: first.id, exec_id: 'x1' });
  assert.equal((await ew).exit_status, 0);
  await waitFor(() => out.read().includes('after restart'), 'exec output');
  out.close();
  for (const r of running) {
    const w = env.tasks.Wait!({ container_id: r.id, exec_id: '' });
    await env.tasks.Kill!({ container_id: r.id, exec_id: '', signal: 9, all: false });
    assert.equal((await w).exit_status, 137);
    assert.equal((await env.tasks.Delete!({ container_id: r.id })).exit_status, 137);
    await env.containers.Delete!({ id: r.id });
  }
  for (const e of exited) {
    assert.equal((await env.tasks.Delete!({ container_id: e.id })).exit_status, e.code);
    await env.containers.Delete!({ id: e.id });
  }
  await env.settled(10_000);
});

for (const downMs of [2000, 40_000]) {
  test(`an exit while berthd is down for ${downMs / 1000} s reaches a subscriber exactly once`, { skip, timeout: downMs + 120_000 }, async () => {
    const id = randomId();
    const other = randomId();
    const pid = await env.run(id, ['/bin/sleep', '1000']);
    await env.run(other, ['/bin/sleep', '1000']);
    await env.berthd.kill();
    await exitAndWait(id, pid);
    await new Promise((r) => setTimeout(r, downMs));
    await env.berthd.restart();
    const t0 = Date.now();
    env.connect();
    const events = new EventCollector(env.events, ['topic~="^/tasks/"']);
    try {
      assert.ok(Date.now() - t0 < 2000);
      await waitFor(() => events.topics(id).includes('/tasks/exit'), 'replayed /tasks/exit', 15_000);
      const exits = events.events.filter((e) => e.topic === '/tasks/exit' && e.event.container_id === id);
      assert.equal(exits.length, 1);
      assert.equal(exits[0]!.event.exit_status, 137);
      assert.equal(exits[0]!.event.pid, pid);
      assert.equal((await env.tasks.Get!({ container_id: id, exec_id: '' })).process.status, 'STOPPED');
      const del = await env.tasks.Delete!({ container_id: id });
      assert.equal(del.exit_status, 137);
      await waitFor(() => events.topics(id).includes('/tasks/delete'), '/tasks/delete');
      assert.deepEqual(events.topics(id), ['/tasks/exit', '/tasks/delete'], 'nothing replayed twice');
      assert.deepEqual(events.topics(other), [], 'nothing replayed for the running task');
    } finally {
      events.stop();
      await env.remove(id);
      await env.remove(other);
    }
  });
}

test('a shim SIGKILLed while berthd is up: container killed, exit 137 and delete published, nothing left', { skip }, async () => {
  const id = randomId();
  const events = new EventCollector(env.events, ['topic~="^/tasks/"']);
  try {
    const pid = await env.run(id, ['/bin/sleep', '1000']);
    process.kill(env.shimPid(id), 'SIGKILL');
    await waitFor(() => events.topics(id).includes('/tasks/delete'), '/tasks/delete');
    const exit = events.events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === id)!;
    assert.equal(exit.event.exit_status, 137);
    assert.equal(exit.event.pid, pid);
    assert.ok(!isAlive(pid), 'the container init is not orphaned');
    await assert.rejects(env.tasks.Get!({ container_id: id, exec_id: '' }), (err: any) => err.code === status.NOT_FOUND);
    // The container record stays, as in containerd.
    assert.equal((await env.containers.Get!({ id })).container.id, id);
    await env.containers.Delete!({ id });
    await env.settled();
  } finally {
    events.stop();
    await env.remove(id);
  }
});

test('a shim SIGKILLed while berthd is down: cleaned up at start, events published once', { skip }, async () => {
  const id = randomId();
  try {
    const pid = await env.run(id, ['/bin/sleep', '1000']);
    const shim = env.shimPid(id);
    await env.berthd.kill();
    process.kill(shim, 'SIGKILL');
    await waitFor(() => !isAlive(shim), 'shim gone');
    await env.berthd.restart();
    env.connect();
    const events = new EventCollector(env.events, ['topic~="^/tasks/"']);
    try {
      // Published at start but held back, so a subscriber that comes right after the restart sees them.
      await waitFor(() => events.topics(id).includes('/tasks/delete'), '/tasks/delete', 15_000);
      assert.deepEqual(events.topics(id), ['/tasks/exit', '/tasks/delete']);
      assert.equal(events.events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === id)!.event.exit_status, 137);
      assert.ok(!isAlive(pid), 'the container init is not orphaned');
      await assert.rejects(env.tasks.Get!({ container_id: id, exec_id: '' }), (err: any) => err.code === status.NOT_FOUND);
      await env.containers.Delete!({ id });
      await env.settled();
    } finally {
      events.stop();
    }
  } finally {
    await env.remove(id);
  }
});

test('a stopped (mute) shim does not hold up berthd start beyond its timeout; it is served once it answers', { skip, timeout: 120_000 }, async () => {
  const id = randomId();
  const shimStopped: number[] = [];
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    const shim = env.shimPid(id);
    await env.berthd.kill();
    process.kill(shim, 'SIGSTOP');
    shimStopped.push(shim);
    const took = await restart();
    assert.ok(took < 10_000, `restart took ${took} ms`);
    // Listed from its records while berthd still tries to reach it, UNKNOWN once the attempt timed out.
    await waitFor(async () => (await env.status(id)) === 'UNKNOWN', 'task UNKNOWN after the reconnect timeout', 20_000);
    await assert.rejects(env.tasks.ListPids!({ container_id: id }), (err: any) => err.code === status.UNAVAILABLE);
    process.kill(shim, 'SIGCONT');
    shimStopped.pop();
    await waitFor(async () => (await env.status(id)) === 'RUNNING', 'task served again', 60_000);
  } finally {
    for (const pid of shimStopped) process.kill(pid, 'SIGCONT');
    await env.remove(id);
  }
});

test('50 concurrent creates of one id: exactly one succeeds, the rest AlreadyExists', { skip }, async () => {
  const id = randomId();
  try {
    await env.createContainer(id, ['/bin/sleep', '1000']);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => env.tasks.Create!(env.createTaskRequest(id))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as any).code, status.ALREADY_EXISTS);
    assert.equal(env.leftovers().shims.length, 1);
  } finally {
    await env.remove(id);
  }
  await env.settled();
});
