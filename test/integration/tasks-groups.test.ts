/**
 * Shim groups (issue 6): containers sharing the label io.containerd.runc.v2.group (or the CRI annotation
 * io.kubernetes.cri.sandbox-id) in one namespace share one berth-shim. Each task still runs, execs, is
 * killed and deleted on its own; the shim exits after the last delete; a SIGKILLed group shim cleans up
 * every task of the group; a restarted berthd reconnects the group and new members still join it. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OCI_PROCESS_TYPE_URL, OCI_SPEC_TYPE_URL, packJsonAny } from '../../proto/any';
import { EventCollector, ROOT_SKIP, TasksEnv, makeFifo, randomId, waitFor, isAlive } from './tasks-harness';

const skip = ROOT_SKIP;
const env = new TasksEnv();
const GROUP_LABEL = 'io.containerd.runc.v2.group';

before(async () => {
  if (skip) return;
  await env.start();
});

after(async () => {
  if (skip) return;
  await env.stop();
});



/** A container of `group` (label, or with `annotation` the CRI sandbox annotation), its task created and started. */
async function runInGroup(id: string, group: string, args: string[], how: 'label' | 'annotation' = 'label'): Promise<number> {
  const spec = env.spec(id, { args }) as Record<string, unknown>;
  if (how === 'annotation') spec.annotations = { 'io.kubernetes.cri.sandbox-id': group };
  const labels = how === 'label' ? { [GROUP_LABEL]: group } : {};
  await env.containers.Create!({ container: { id, labels, runtime: { name: 'io.containerd.runc.v2', options: null }, spec: packJsonAny(OCI_SPEC_TYPE_URL, spec) } });
  await env.tasks.Create!(env.createTaskRequest(id));
  const { pid } = await env.tasks.Start!({ container_id: id, exec_id: '' });
  return pid as number;
}

async function execEcho(id: string, execId: string, text: string): Promise<void> {
  const out = makeFifo(env.work, `${id}-${execId}`);
  try {
    const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/echo', text], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
    await env.tasks.Exec!({ container_id: id, exec_id: execId, stdin: '', stdout: out.path, stderr: '', terminal: false, spec });
    const w = env.tasks.Wait!({ container_id: id, exec_id: execId });
    await env.tasks.Start!({ container_id: id, exec_id: execId });
    assert.equal((await w).exit_status, 0);
    await waitFor(() => out.read().includes(text), `exec output of ${id}`);
    await env.tasks.DeleteProcess!({ container_id: id, exec_id: execId });
  } finally {
    out.close();
  }
}

async function killAndDelete(id: string): Promise<void> {
  const w = env.tasks.Wait!({ container_id: id, exec_id: '' });
  await env.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false });
  assert.equal((await w).exit_status, 137);
  assert.equal((await env.tasks.Delete!({ container_id: id })).exit_status, 137);
  await env.containers.Delete!({ id });
}

test('two containers of a group share one shim; each runs, execs, is killed and deleted on its own', { skip }, async () => {
  const group = randomId('g');
  const a = randomId();
  const b = randomId();
  try {
    const pidA = await runInGroup(a, group, ['/bin/sleep', '1000']);
    const pidB = await runInGroup(b, group, ['/bin/sleep', '1000']);
    const shim = env.shimPid(a);
    assert.equal(env.shimPid(b), shim, 'one shim pid for the group');
    assert.notEqual(pidA, pidB);
    await execEcho(a, 'x1', 'from a');
    await execEcho(b, 'x1', 'from b');
    // A container of another group (and one of none) gets a shim of its own.
    const c = randomId();
    await runInGroup(c, randomId('g'), ['/bin/sleep', '1000']);
    assert.notEqual(env.shimPid(c), shim);
    await killAndDelete(c);

    await killAndDelete(a);
    assert.equal((await env.tasks.Get!({ container_id: b, exec_id: '' })).process.status, 'RUNNING', 'deleting one leaves the other');
    assert.ok(isAlive(shim), 'the shim serves the rest of its group');
    await execEcho(b, 'x2', 'still here');
    // A new member joins the same shim after another left.
    const d = randomId();
    await runInGroup(d, group, ['/bin/sleep', '1000']);
    assert.equal(env.shimPid(d), shim);
    await killAndDelete(b);
    assert.ok(isAlive(shim));
    await killAndDelete(d);
    await waitFor(() => !isAlive(shim), 'the shim exits after its last task is deleted', 5000);
    await env.settled();
  } finally {
    for (const id of [a, b]) await env.remove(id);
  }
});

test('the CRI sandbox annotation groups containers too', { skip }, async () => {
  const sandbox = randomId('sb');
  const a = randomId();
  const b = randomId();
  try {
    await runInGroup(a, sandbox, ['/bin/sleep', '1000'], 'annotation');
    await runInGroup(b, sandbox, ['/bin/sleep', '1000'], 'annotation');
    assert.equal(env.shimPid(a), env.shimPid(b));
    await killAndDelete(a);
    await killAndDelete(b);
    await env.settled();
  } finally {
    for (const id of [a, b]) await env.remove(id);
  }
});

test('a SIGKILLed group shim: every task of the group exits 137 and is deleted, nothing left', { skip }, async () => {
  const group = randomId('g');
  const ids = [randomId(), randomId()];
  const events = new EventCollector(env.events, ['topic~="^/tasks/"']);
  try {
    const pids: number[] = [];
    for (const id of ids) pids.push(await runInGroup(id, group, ['/bin/sleep', '1000']));
    const shim = env.shimPid(ids[0]!);
    process.kill(shim, 'SIGKILL');
    for (const [i, id] of ids.entries()) {
      await waitFor(() => events.topics(id).includes('/tasks/delete'), `${id} /tasks/delete`);
      const exit = events.events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === id);
      assert.equal(exit?.event.exit_status, 137);
      assert.equal(exit?.event.pid, pids[i]);
      await waitFor(() => !isAlive(pids[i]!), `${id} init killed`);
    }
    for (const id of ids) await env.containers.Delete!({ id });
    await env.settled();
  } finally {
    events.stop();
    for (const id of ids) await env.remove(id);
  }
});

test('berthd restarted: a group is reconnected over one shim and new members still join it', { skip, timeout: 120_000 }, async () => {
  const group = randomId('g');
  const ids = [randomId(), randomId(), randomId()];
  try {
    const pids: number[] = [];
    for (const id of ids) pids.push(await runInGroup(id, group, ['/bin/sleep', '1000']));
    const shim = env.shimPid(ids[0]!);
    await env.berthd.kill();
    await env.berthd.restart();
    env.connect();
    for (const [i, id] of ids.entries()) {
      const st = await waitFor(async () => (await env.status(id)) === 'RUNNING', `${id} running after restart`);
      assert.ok(st);
      assert.equal(env.shimPid(id), shim);
      assert.ok(isAlive(pids[i]!));
    }
    await execEcho(ids[1]!, 'x1', 'after restart');
    const late = randomId();
    ids.push(late);
    await runInGroup(late, group, ['/bin/sleep', '1000']);
    assert.equal(env.shimPid(late), shim, 'a new member joins the reconnected shim');
    for (const id of ids.slice(0, -1)) {
      await killAndDelete(id);
      assert.ok(isAlive(shim));
    }
    await killAndDelete(late);
    await waitFor(() => !isAlive(shim), 'the shim exits after its last task', 5000);
    await env.settled();
  } finally {
    for (const id of ids) await env.remove(id);
  }
});
