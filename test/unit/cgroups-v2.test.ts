/**
 * cgroup v2 manager against a temporary directory laid out like a unified mount: controller delegation,
 * resource writes and conversions, cgroup.freeze/cgroup.events, cgroup.kill, destroy. No root needed.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openCgroup, type CgroupManager } from '../../native/cgroups';
import { blkioWeightToIoWeight, sharesToWeight, swapToV2 } from '../../native/cgroups/v2-resources';
import { FailedPrecondition, InvalidArgument } from '../../pkg/errdefs';
import { makeV2Root, waitFor, type FakeRoot } from './cgroups-fake';

const P = '/berth/default/web1';
let fakes: FakeRoot[] = [];
function v2(controllers?: string[]): FakeRoot {
  const f = makeV2Root(controllers);
  fakes.push(f);
  return f;
}
afterEach(() => {
  for (const f of fakes) f.remove();
  fakes = [];
});

/** A created cgroup whose leaf lists every controller as the kernel would after delegation. */
async function created(f: FakeRoot, files: Record<string, string> = {}): Promise<CgroupManager> {
  const cg = await openCgroup({ root: f.root, path: P });
  assert.equal(cg.layout, 'v2');
  await cg.create();
  f.write(`${P}/cgroup.controllers`, f.read('cgroup.controllers')!);
  for (const [rel, content] of Object.entries(files)) f.write(`${P}/${rel}`, content);
  return cg;
}

describe('cgroups v2: create', () => {
  it('enables the root controllers in every level above the leaf', async () => {
    const f = v2(['cpu', 'memory', 'pids']);
    f.write('berth/cgroup.subtree_control', 'cpu memory pids\n'); // already delegated: left alone
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    assert.equal(f.read('cgroup.subtree_control'), '+cpu +memory +pids');
    assert.equal(f.read('berth/cgroup.subtree_control'), 'cpu memory pids');
    assert.equal(f.read('berth/default/cgroup.subtree_control'), '+cpu +memory +pids');
    assert.equal(f.read(`${P}/cgroup.subtree_control`), undefined, 'not in the leaf');
    await cg.addProcess(99);
    assert.equal(f.read(`${P}/cgroup.procs`), '99');
  });

  it('removes what it created when applying resources fails', async () => {
    const f = v2([]);
    const cg = await openCgroup({ root: f.root, path: '/a/b' });
    await assert.rejects(cg.create({ memory: { limit: 1 << 20 } }), (err: Error) => err instanceof FailedPrecondition && /memory controller is not enabled/.test(err.message));
    assert.ok(!f.exists('a/b'));
    assert.ok(!f.exists('a'));
  });
});

describe('cgroups v2: resources', () => {
  it('converts and writes memory, cpu, cpuset, pids, io and hugetlb limits', async () => {
    const f = v2();
    const cg = await created(f, { 'memory.swap.max': 'max', 'hugetlb.2MB.max': 'max' });
    await cg.update({
      memory: { limit: 64 << 20, swap: 96 << 20, reservation: 16 << 20, swappiness: 5, disableOOMKiller: true },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0', idle: 0 },
      pids: { limit: 100 },
      blockIO: { weight: 500, throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }],
      devices: [{ allow: false, access: 'rwm' }],
    });
    const r = (file: string): string | undefined => f.read(`${P}/${file}`);
    assert.equal(r('memory.max'), String(64 << 20));
    assert.equal(r('memory.swap.max'), String(32 << 20));
    assert.equal(r('memory.low'), String(16 << 20));
    assert.equal(r('cpu.weight'), '100');
    assert.equal(r('cpu.max'), '50000 100000');
    assert.equal(r('cpu.idle'), '0');
    assert.equal(r('cpuset.cpus'), '0-1');
    assert.equal(r('cpuset.mems'), '0');
    assert.equal(r('pids.max'), '100');
    assert.equal(r('io.weight'), undefined, 'no io.weight file: skipped');
    assert.equal(r('io.max'), '8:0 wbps=1000');
    assert.equal(r('hugetlb.2MB.max'), '2097152');
    assert.equal(r('devices.allow'), undefined);
    assert.equal(r('memory.swappiness'), undefined);
  });

  it('keeps the quota when only the period changes, and the period when only the quota does', async () => {
    const f = v2();
    const cg = await created(f, { 'cpu.max': '20000 100000' });
    await cg.update({ cpu: { period: 50000 } });
    assert.equal(f.read(`${P}/cpu.max`), '20000 50000');
    await cg.update({ cpu: { quota: -1 } });
    assert.equal(f.read(`${P}/cpu.max`), 'max');
  });

  it('writes io.weight converted, or io.bfq.weight as is', async () => {
    const f = v2();
    const cg = await created(f, { 'io.weight': 'default 100' });
    await cg.update({ blockIO: { weight: 500 } });
    assert.equal(f.read(`${P}/io.weight`), String(blkioWeightToIoWeight(500)));
    f.write(`${P}/io.bfq.weight`, 'default 100');
    await cg.update({ blockIO: { weight: 500 } });
    assert.equal(f.read(`${P}/io.bfq.weight`), '500');
  });

  it('writes unified key/values last and refuses bad keys', async () => {
    const f = v2();
    const cg = await created(f);
    await cg.update({ memory: { limit: 1000 }, unified: { 'memory.max': '2000', 'memory.high': '1500' } });
    assert.equal(f.read(`${P}/memory.max`), '2000');
    assert.equal(f.read(`${P}/memory.high`), '1500');
    for (const key of ['../memory.max', 'memory', 'a/b.c']) {
      await assert.rejects(cg.update({ unified: { [key]: '1' } }), InvalidArgument, key);
    }
  });

  it('refuses limits for controllers that are not enabled', async () => {
    const f = v2(['hugetlb']);
    const cg = await created(f);
    await assert.rejects(cg.update({ pids: { limit: 5 } }), FailedPrecondition);
    await assert.rejects(cg.update({ cpu: { shares: 5 } }), FailedPrecondition);
    await cg.update({ devices: [{ allow: true, access: 'rwm' }], memory: { swappiness: 3 }, cpu: { realtimeRuntime: 5 } });
  });

  it('converts values as runc does', () => {
    assert.equal(sharesToWeight(0), 0);
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 100);
    assert.equal(sharesToWeight(262144), 10000);
    assert.equal(blkioWeightToIoWeight(10), 1);
    assert.equal(blkioWeightToIoWeight(1000), 10000);
    assert.equal(swapToV2(0, -1), -1);
    assert.equal(swapToV2(-1, 100), -1);
    assert.equal(swapToV2(300, 100), 200);
    assert.equal(swapToV2(100, 100), 0);
    assert.throws(() => swapToV2(50, 100), InvalidArgument);
    assert.throws(() => swapToV2(50, 0), InvalidArgument);
  });

  it('writes memory.swap.max 0 when swap equals the limit, and skips swap without accounting', async () => {
    const f = v2();
    const cg = await created(f);
    await cg.update({ memory: { limit: 100, swap: 100 } });
    assert.equal(f.read(`${P}/memory.swap.max`), undefined, 'no memory.swap.max: skipped');
    f.write(`${P}/memory.swap.max`, 'max');
    await cg.update({ memory: { limit: 100, swap: 100 } });
    assert.equal(f.read(`${P}/memory.swap.max`), '0');
  });
});

describe('cgroups v2: freezer, kill, destroy', () => {
  it('freezes by cgroup.freeze and waits for cgroup.events to say frozen', async () => {
    const f = v2();
    const cg = await created(f, { 'cgroup.events': 'populated 1\nfrozen 0\n', 'cgroup.freeze': '0' });
    assert.equal(await cg.frozen(), false);
    let done = false;
    const freezing = cg.freeze().then(() => (done = true));
    await waitFor(() => f.read(`${P}/cgroup.freeze`) === '1');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false, 'still waiting for the kernel');
    f.write(`${P}/cgroup.events`, 'populated 1\nfrozen 1\n');
    await freezing;
    assert.equal(await cg.frozen(), true);
    const thawing = cg.thaw();
    await waitFor(() => f.read(`${P}/cgroup.freeze`) === '0');
    f.write(`${P}/cgroup.events`, 'populated 1\nfrozen 0\n');
    await thawing;
    assert.equal(await cg.frozen(), false);
  });

  it('killAll(SIGKILL) writes cgroup.kill; other signals go to each pid', async () => {
    const f = v2();
    const cg = await created(f, { 'cgroup.kill': '' });
    await cg.killAll();
    assert.equal(f.read(`${P}/cgroup.kill`), '1');
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
      f.write(`${P}/cgroup.procs`, `${child.pid}\n`);
      await cg.killAll(15);
      assert.equal(await exited, 'SIGTERM');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('stats, pids and oom count of a fake group', async () => {
    const f = v2();
    const cg = await created(f, { 'cgroup.procs': '5\n3\n', 'memory.events': 'low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n' });
    assert.deepEqual(await cg.pids(), [3, 5]);
    assert.equal(await cg.oomKillCount(), 1);
    const s = await cg.stats();
    assert.equal(s.version, 2);
  });

  it('destroy removes the leaf and is idempotent', async () => {
    const f = v2();
    const cg = await created(f);
    f.stripFiles(P);
    await cg.destroy();
    await cg.destroy();
    assert.ok(!f.exists(P));
    assert.ok(f.exists('berth/default'));
  });

  it('killAll signals without the freezer when the kernel never reports frozen', { timeout: 30_000 }, async () => {
    const f = v2();
    const cg = await created(f, { 'cgroup.events': 'frozen 0\n', 'cgroup.freeze': '0' });
    // killAll with a signal other than SIGKILL tries the freezer for 2 s, then signals without it.
    const t0 = Date.now();
    await cg.killAll(0);
    assert.ok(Date.now() - t0 >= 1900);
    assert.equal(f.read(`${P}/cgroup.freeze`), '0', 'thawed again after the failed freeze');
  });
});
