/**
 * cgroup v2 manager against the real unified mount (root only). On this Debian host the v2 tree is
 * /sys/fs/cgroup/unified with almost no controllers, so the test checks what any v2 cgroup has — creation,
 * cgroup.procs, cgroup.freeze/cgroup.events, cpu.stat usage, cgroup.kill, removal — plus a limit only where
 * its controller is delegated (skipping with a reason otherwise).
 *
 * The test never changes the host's root cgroup: it makes `berth-test-<random>` under the unified mount and
 * uses that directory as the manager's root (any v2 cgroup directory has cgroup.controllers).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { detectLayout, openCgroup, type CgroupManager, type V2Metrics } from '../../native/cgroups';
import { FailedPrecondition } from '../../pkg/errdefs';

const CANDIDATES = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'];
const TOP = `berth-test-${randomBytes(4).toString('hex')}`;

async function findUnified(): Promise<string | undefined> {
  for (const dir of CANDIDATES) {
    try {
      if ((await detectLayout(dir)) === 'v2') return dir;
    } catch {}
  }
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('cgroups v2 on the real unified mount', () => {
  let reason: string | undefined;
  let testRoot = '';
  let cg: CgroupManager | undefined;
  const children: ChildProcess[] = [];

  before(async () => {
    if (process.getuid?.() !== 0) {
      reason = 'needs root: writes the cgroup v2 tree';
      return;
    }
    const unified = await findUnified();
    if (!unified) {
      reason = 'no cgroup v2 mount at /sys/fs/cgroup/unified or /sys/fs/cgroup';
      return;
    }
    testRoot = path.join(unified, TOP);
    fs.mkdirSync(testRoot);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (cg) {
      await cg.thaw().catch(() => undefined);
      await cg.killAll().catch(() => undefined);
      await cg.destroy().catch((err: Error) => console.error(`cleanup: ${err.message}`));
    }
    if (testRoot) {
      for (const dir of [path.join(testRoot, 'berth'), testRoot]) {
        for (let i = 0; i < 100; i++) {
          try {
            fs.rmdirSync(dir);
            break;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') break;
            if (code !== 'EBUSY' || i === 99) console.error(`cleanup ${dir}: ${(err as Error).message}`);
            await sleep(20);
          }
        }
      }
    }
  });

  it('creates, freezes, measures, kills and destroys a cgroup holding a real process', { timeout: 60_000 }, async (t) => {
    if (reason) return t.skip(reason);
    cg = await openCgroup({ root: testRoot, path: '/berth/ctr' });
    assert.equal(cg.layout, 'v2');
    await cg.create();
    const dir = path.join(testRoot, 'berth/ctr');
    assert.ok(fs.existsSync(path.join(dir, 'cgroup.procs')));
    const available = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter((s) => s);
    t.diagnostic(`controllers in the test cgroup: ${available.join(' ') || 'none'}`);

    const child = spawn('sh', ['-c', 'read _; while :; do :; done'], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(child);
    const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
    await cg.addProcess(child.pid!);
    const line = fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    assert.ok(line?.endsWith(`/${TOP}/berth/ctr`), `unified line: ${line}`);
    assert.deepEqual(await cg.pids(), [child.pid]);
    child.stdin!.write('go\n');
    await sleep(150);

    await cg.freeze();
    assert.equal(await cg.frozen(), true);
    t.diagnostic(`frozen task: ${fs.readFileSync(`/proc/${child.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('State:'))}`);
    const frozenAt = ((await cg.stats()).metrics as V2Metrics).cpu!.usage_usec;
    await sleep(150);
    assert.equal(((await cg.stats()).metrics as V2Metrics).cpu!.usage_usec, frozenAt, 'no cpu time while frozen');
    await cg.thaw();
    assert.equal(await cg.frozen(), false);
    await sleep(100);
    const m = (await cg.stats()).metrics as V2Metrics;
    assert.ok(m.cpu!.usage_usec > frozenAt, 'runs again after thaw');
    assert.ok(m.cpu!.user_usec + m.cpu!.system_usec > 0);

    if (available.includes('pids')) {
      await cg.update({ pids: { limit: 16 } });
      assert.equal(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim(), '16');
    } else {
      t.diagnostic('pids controller not delegated here: a pids limit must be refused');
      await assert.rejects(cg.update({ pids: { limit: 16 } }), FailedPrecondition);
    }
    if (available.includes('hugetlb') && fs.existsSync(path.join(dir, 'hugetlb.2MB.max'))) {
      await cg.update({ hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] });
      assert.equal(fs.readFileSync(path.join(dir, 'hugetlb.2MB.max'), 'utf8').trim(), String(4 << 20));
    } else {
      t.diagnostic('hugetlb not delegated to the test cgroup: hugepage limit not checked');
    }

    await cg.killAll();
    assert.equal(await exit, 'SIGKILL');
    for (let i = 0; i < 200 && (await cg.pids()).length > 0; i++) await sleep(10);
    assert.deepEqual(await cg.pids(), []);
    await cg.destroy();
    assert.ok(!fs.existsSync(dir));
    await cg.destroy();
  });
});
