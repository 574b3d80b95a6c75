/**
 * A restarted berthd lists its tasks from their records before it reached their shims (issue 6): with
 * every shim SIGSTOPped, Tasks.List right after the restart shows each running task RUNNING with its pid and
 * a task whose init exited while berthd was down STOPPED with its status; a mutating call on such a task
 * waits for its shim (and goes on when it answers within the reconnect timeout, Unavailable after it); the
 * exit reaches subscribers exactly once once the shim answers. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { EventCollector, ROOT_SKIP, TasksEnv, randomId, waitFor, isAlive } from './tasks-harness';

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

function bundleOf(id: string): string {
  return path.join(env.berthd.state, 'tasks', 'default', id);
}



/** SIGSTOPs the shims; returns a function that SIGCONTs those still stopped (idempotent, for finally). */
function stopShims(pids: number[]): () => void {
  const stopped = new Set<number>();
  for (const pid of pids) {
    process.kill(pid, 'SIGSTOP');
    stopped.add(pid);
  }
  return () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    }
    stopped.clear();
  };
}

test('List right after a restart shows every task from its records while no shim answers', { skip, timeout: 120_000 }, async () => {
  const running = [randomId(), randomId(), randomId()];
  const exited = randomId();
  const ids = [...running, exited];
  let resume = (): void => {};
  try {
    const pids = new Map<string, number>();
    for (const id of ids) pids.set(id, await env.run(id, ['/bin/sleep', '1000']));
    await env.berthd.kill();
    process.kill(pids.get(exited)!, 'SIGKILL');
    // The shim records the exit in its event file (berthd is down: nobody acknowledges it).
    await waitFor(() => fs.readFileSync(path.join(bundleOf(exited), 'shim-events'), 'utf8').includes('"/tasks/exit"'), 'exit recorded by the shim');
    resume = stopShims(ids.map((id) => env.shimPid(id)));
    await env.berthd.restart();
    env.connect();
    const events = new EventCollector(env.events, ['topic~="^/tasks/"']);
    try {
      const t0 = Date.now();
      const list = (await env.tasks.List!({})).tasks as { id: string; pid: number; status: string; exit_status: number }[];
      assert.ok(Date.now() - t0 < 1500, `List took ${Date.now() - t0} ms`);
      const byId = new Map(list.map((t) => [t.id, t]));
      for (const id of running) {
        assert.equal(byId.get(id)?.status, 'RUNNING', id);
        assert.equal(byId.get(id)?.pid, pids.get(id));
      }
      assert.equal(byId.get(exited)?.status, 'STOPPED');
      assert.equal(byId.get(exited)?.exit_status, 137);
      const got = (await env.tasks.Get!({ container_id: running[0], exec_id: '' })).process;
      assert.equal(got.status, 'RUNNING');
      assert.equal(got.pid, pids.get(running[0]!));

      // A mutating call waits for the task's shim: Unavailable once the reconnect attempt timed out.
      const k0 = Date.now();
      await assert.rejects(env.tasks.Kill!({ container_id: running[0], exec_id: '', signal: 9, all: false }), (err: any) => err.code === status.UNAVAILABLE);
      assert.ok(Date.now() - k0 >= 1000, `Kill answered after ${Date.now() - k0} ms: it did not wait for the shim`);
      assert.equal(await env.status(running[0]!), 'UNKNOWN');

      resume();
      for (const id of running) await waitFor(async () => (await env.status(id)) === 'RUNNING', `${id} served again`, 30_000);
      await waitFor(() => events.topics(exited).includes('/tasks/exit'), 'the exit while down is published', 30_000);
      assert.equal((await env.tasks.Delete!({ container_id: exited })).exit_status, 137);
      await waitFor(() => events.topics(exited).includes('/tasks/delete'), '/tasks/delete');
      assert.deepEqual(events.topics(exited), ['/tasks/exit', '/tasks/delete'], 'the exit is published exactly once');
    } finally {
      events.stop();
    }
  } finally {
    resume();
    for (const id of ids) await env.remove(id);
  }
  await env.settled(10_000);
});

test('a call on a task whose shim answers late waits for it and goes on', { skip, timeout: 60_000 }, async () => {
  const id = randomId();
  let resume = (): void => {};
  try {
    const pid = await env.run(id, ['/bin/sleep', '1000']);
    await env.berthd.kill();
    resume = stopShims([env.shimPid(id)]);
    await env.berthd.restart();
    env.connect();
    const timer = setTimeout(() => resume(), 700);
    try {
      const w = env.tasks.Wait!({ container_id: id, exec_id: '' });
      await env.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false });
      assert.equal((await w).exit_status, 137);
      assert.ok(!isAlive(pid), 'the init was killed');
    } finally {
      clearTimeout(timer);
    }
    assert.equal((await env.tasks.Delete!({ container_id: id })).exit_status, 137);
  } finally {
    resume();
    await env.remove(id);
  }
});
