/**
 * Shim recycling and Tasks.List from berthd's own view (docs/tasks.md "Pre-started shims", "The other
 * calls"): after Tasks.Delete a task's shim goes back to the pool and serves the next task; every task still
 * gets its events exactly once, in order, with its own exit status; List follows Create, Start, the exit,
 * Pause and Resume without asking the shims; nothing is left behind. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EventCollector, ROOT_SKIP, TasksEnv, randomId, waitFor } from './tasks-harness';

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

async function listed(id: string): Promise<any> {
  return (await env.tasks.List!({})).tasks.find((t: any) => t.id === id);
}

test('a deleted task\'s shim serves the next task; events exactly once per task; nothing left', { skip, timeout: 120_000 }, async () => {
  const shimOf = new Map<string, number>();
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const id = randomId(`berth-test-recycle${i}`);
    ids.push(id);
    await env.createContainer(id, ['/bin/sh', '-c', `exit ${i}`]);
    const created = await env.tasks.Create!(env.createTaskRequest(id));
    shimOf.set(id, Number(fs.readFileSync(path.join(env.berthd.state, 'tasks', 'default', id, 'shim.pid'), 'utf8')));
    assert.equal((await listed(id)).status, 'CREATED');
    const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
    await env.tasks.Start!({ container_id: id, exec_id: '' });
    assert.equal((await waited).exit_status, i);
    const l = await listed(id);
    assert.equal(l.status, 'STOPPED');
    assert.equal(l.exit_status, i);
    assert.equal(l.pid, created.pid);
    assert.equal((await env.tasks.Delete!({ container_id: id })).exit_status, i);
    await env.containers.Delete!({ id });
  }
  const pids = [...shimOf.values()];
  assert.ok(new Set(pids).size < pids.length, `some shim served more than one task: ${pids.join(' ')}`);
  for (const [i, id] of ids.entries()) {
    await waitFor(() => events.topics(id).includes('/tasks/delete'), `${id} delete event`);
    assert.deepEqual(events.topics(id), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    const exit = events.events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === id)!;
    assert.equal(exit.event.exit_status, i);
  }
  await env.settled();
});

test('List follows start, pause, resume and a kill of a recycled shim\'s task', { skip, timeout: 60_000 }, async () => {
  const first = randomId('berth-test-recycle-a');
  await env.createContainer(first, ['/bin/true']);
  await env.tasks.Create!(env.createTaskRequest(first));
  const w = env.tasks.Wait!({ container_id: first, exec_id: '' });
  await env.tasks.Start!({ container_id: first, exec_id: '' });
  await w;
  await env.tasks.Delete!({ container_id: first });
  await env.containers.Delete!({ id: first });

  const id = randomId('berth-test-recycle-b');
  try {
    const pid = await env.run(id, ['/bin/sleep', '1000']);
    assert.equal((await listed(id)).status, 'RUNNING');
    assert.equal((await listed(id)).pid, pid);
    await env.tasks.Pause!({ container_id: id });
    assert.equal((await listed(id)).status, 'PAUSED');
    await env.tasks.Resume!({ container_id: id });
    assert.equal((await listed(id)).status, 'RUNNING');
    await env.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false });
    // The exit reaches berthd as an event: List shows it without a Wait.
    await waitFor(async () => (await listed(id)).status === 'STOPPED', 'stopped in List');
    assert.equal((await listed(id)).exit_status, 137);
  } finally {
    await env.remove(id);
  }
  await env.settled();
});
