/**
 * 100 sequential create/start/kill/delete cycles on a real berthd leave no shim process, mount, cgroup,
 * FIFO, socket or bundle behind (issue 4). Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT_SKIP, TasksEnv, makeFifo, randomId } from './tasks-harness';

const skip = ROOT_SKIP;
const env = new TasksEnv();
const CYCLES = Number(process.env.BERTH_TEST_CYCLES ?? 100);

before(async () => {
  if (skip) return;
  await env.start();
});

after(async () => {
  if (skip) return;
  await env.stop();
});

/** The cgroup directories of a running task's init process under our test parent. */
function cgroupsOf(pid: number, parent: string): string[] {
  return fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`/${parent}/`));
}

test(`${CYCLES} create/start/kill/delete cycles leave nothing behind`, { skip, timeout: 600_000 }, async (t) => {
  const t0 = Date.now();
  for (let i = 0; i < CYCLES; i++) {
    const id = randomId(`berth-test-cycle${i}`);
    const out = makeFifo(env.work, `${id}-stdout`);
    try {
      await env.createContainer(id, ['/bin/sleep', '1000']);
      await env.tasks.Create!(env.createTaskRequest(id, { stdout: out.path }));
      const { pid } = await env.tasks.Start!({ container_id: id, exec_id: '' });
      if (i === 0) {
        // The scan below would see these: make sure the task really has them while it runs.
        assert.ok(cgroupsOf(pid, env.cgroupParent).length > 0, 'task cgroups under the test parent');
        assert.equal(env.leftovers().bundles.length, 1);
        assert.equal(env.leftovers().shims.length, 1);
      }
      const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
      await env.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false });
      assert.equal((await waited).exit_status, 137);
      const del = await env.tasks.Delete!({ container_id: id });
      assert.equal(del.exit_status, 137);
      await env.containers.Delete!({ id });
    } finally {
      out.close();
      fs.rmSync(out.path, { force: true });
    }
  }
  const perCycle = (Date.now() - t0) / CYCLES;
  t.diagnostic(`${perCycle.toFixed(1)} ms per cycle`);
  await env.settled();
  assert.deepEqual(fs.readdirSync(env.work).filter((f) => f !== 'rootfs'), []);
  assert.deepEqual((await env.tasks.List!({})).tasks, []);
  assert.ok(fs.existsSync(path.join(env.berthd.state, 's')));
});
