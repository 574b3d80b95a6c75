/**
 * cgroup v1 manager against a temporary directory laid out like /sys/fs/cgroup on this host (one hierarchy
 * per controller): detection, path rules, create (cpuset inheritance, missing controllers), resource writes,
 * freezer, pids, killAll, destroy. No root needed.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { detectLayout, openCgroup, V1Cgroup, type CgroupManager } from '../../native/cgroups';
import { deviceRule, memoryWriteOrder } from '../../native/cgroups/v1-resources';
import { FailedPrecondition, InvalidArgument } from '../../pkg/errdefs';
import { makeV1Root, makeV2Root, type FakeRoot } from './cgroups-fake';

const P = '/berth/default/web1';
let fakes: FakeRoot[] = [];
function v1(controllers?: string[]): FakeRoot {
  const f = makeV1Root(controllers);
  fakes.push(f);
  return f;
}
afterEach(() => {
  for (const f of fakes) f.remove();
  fakes = [];
});

describe('cgroups v1: detection and paths', () => {
  it('detects v1, v2, and refuses a directory that is neither', async () => {
    const a = v1();
    assert.equal(await detectLayout(a.root), 'v1');
    const b = makeV2Root();
    fakes.push(b);
    assert.equal(await detectLayout(b.root), 'v2');
    const c = v1([]);
    await assert.rejects(detectLayout(c.root), FailedPrecondition);
  });

  it('makes relative paths absolute and refuses the root, "..", and systemd paths', async () => {
    const f = v1();
    assert.equal((await openCgroup({ root: f.root, path: 'berth/x' })).path, '/berth/x');
    assert.equal((await openCgroup({ root: f.root, path: '//berth/./x/' })).path, '/berth/x');
    for (const bad of ['', '/', '/berth/../..', 'system.slice:docker:abc']) {
      await assert.rejects(openCgroup({ root: f.root, path: bad }), InvalidArgument, bad);
    }
  });

  it('sees co-mounted controllers (cpu,cpuacct with symlinks) as one hierarchy', async () => {
    const f = v1(['memory']);
    f.write('cpu,cpuacct/cgroup.procs', '');
    fs.symlinkSync('cpu,cpuacct', path.join(f.root, 'cpu'));
    fs.symlinkSync('cpu,cpuacct', path.join(f.root, 'cpuacct'));
    const cg = (await openCgroup({ root: f.root, path: P })) as V1Cgroup;
    assert.equal(cg.dirOf('cpu'), cg.dirOf('cpuacct'));
    assert.equal(cg.dirOf('cpu'), path.join(fs.realpathSync(f.root), 'cpu,cpuacct', P));
    await cg.create();
    assert.ok(f.exists(`cpu,cpuacct${P}`));
  });
});

describe('cgroups v1: create', () => {
  it('makes the directory in every mounted hierarchy and skips missing controllers', async () => {
    const f = v1(['cpu', 'memory', 'freezer', 'systemd']);
    const cg = await openCgroup({ root: f.root, path: P });
    assert.equal(cg.layout, 'v1');
    await cg.create();
    await cg.create(); // idempotent
    for (const c of ['cpu', 'memory', 'freezer', 'systemd']) assert.ok(f.exists(`${c}${P}`), c);
    assert.ok(!f.exists(`pids${P}`));
  });

  it('copies cpuset.cpus and cpuset.mems from the parent into every new level', async () => {
    const f = v1();
    f.write('cpuset/berth/cpuset.cpus', '1\n'); // an existing level keeps its own value
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    assert.equal(f.read('cpuset/berth/cpuset.cpus'), '1');
    assert.equal(f.read('cpuset/berth/cpuset.mems'), '0');
    assert.equal(f.read('cpuset/berth/default/cpuset.cpus'), '1');
    assert.equal(f.read(`cpuset${P}/cpuset.cpus`), '1');
    assert.equal(f.read(`cpuset${P}/cpuset.mems`), '0');
  });

  it('adds a process to every hierarchy', async () => {
    const f = v1(['cpu', 'memory', 'pids']);
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    await cg.addProcess(4242);
    for (const c of ['cpu', 'memory', 'pids']) assert.equal(f.read(`${c}${P}/cgroup.procs`), '4242');
  });
});

describe('cgroups v1: resources', () => {
  async function created(f: FakeRoot, files: Record<string, string> = {}): Promise<CgroupManager> {
    for (const [rel, content] of Object.entries(files)) f.write(rel, content);
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    return cg;
  }

  it('writes memory, cpu, cpuset and pids limits', async () => {
    const f = v1();
    const cg = await created(f, { [`memory${P}/memory.memsw.limit_in_bytes`]: '9223372036854771712', [`memory${P}/memory.limit_in_bytes`]: '9223372036854771712' });
    await cg.update({
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, swappiness: 10, disableOOMKiller: true, kernel: 1 << 20 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0', realtimePeriod: 1000000, realtimeRuntime: 950000 },
      pids: { limit: 64 },
    });
    const m = (file: string): string | undefined => f.read(`memory${P}/${file}`);
    assert.equal(m('memory.limit_in_bytes'), String(64 << 20));
    assert.equal(m('memory.memsw.limit_in_bytes'), String(128 << 20));
    assert.equal(m('memory.soft_limit_in_bytes'), String(32 << 20));
    assert.equal(m('memory.swappiness'), '10');
    assert.equal(m('memory.oom_control'), '1');
    assert.equal(m('memory.kmem.limit_in_bytes'), undefined, 'kernel is ignored');
    const c = (file: string): string | undefined => f.read(`cpu${P}/${file}`);
    assert.equal(c('cpu.shares'), '512');
    assert.equal(c('cpu.cfs_quota_us'), '50000');
    assert.equal(c('cpu.cfs_period_us'), '100000');
    assert.equal(c('cpu.rt_period_us'), '1000000');
    assert.equal(c('cpu.rt_runtime_us'), '950000');
    assert.equal(f.read(`cpuset${P}/cpuset.cpus`), '0');
    assert.equal(f.read(`pids${P}/pids.max`), '64');
    await cg.update({ pids: { limit: -1 } });
    assert.equal(f.read(`pids${P}/pids.max`), 'max');
  });

  it('skips swap without swap accounting and refuses swap below the limit', async () => {
    const f = v1();
    const cg = await created(f);
    await cg.update({ memory: { limit: 1 << 20, swap: 2 << 20 } });
    assert.equal(f.read(`memory${P}/memory.limit_in_bytes`), String(1 << 20));
    assert.equal(f.read(`memory${P}/memory.memsw.limit_in_bytes`), undefined);
    f.write(`memory${P}/memory.memsw.limit_in_bytes`, '9223372036854771712');
    await assert.rejects(cg.update({ memory: { limit: 4 << 20, swap: 2 << 20 } }), InvalidArgument);
    // limit -1 with no swap given: swap unlimited too
    await cg.update({ memory: { limit: -1 } });
    assert.equal(f.read(`memory${P}/memory.limit_in_bytes`), '-1');
    assert.equal(f.read(`memory${P}/memory.memsw.limit_in_bytes`), '-1');
  });

  it('orders memory and memsw writes so memsw never drops below the memory limit', () => {
    const M = 1 << 20;
    assert.equal(memoryWriteOrder(100 * M, 200 * M, 400 * M), 'swap-first', 'raising');
    assert.equal(memoryWriteOrder(100 * M, 50 * M, 80 * M), 'limit-first', 'lowering');
    assert.equal(memoryWriteOrder(100 * M, 50 * M, -1), 'swap-first', 'unlimited swap');
    assert.equal(memoryWriteOrder(100 * M, 50 * M, 0), 'limit-first', 'no swap');
  });

  it('writes blkio weight (bfq), weight devices and throttles', async () => {
    const f = v1();
    const cg = await created(f, { [`blkio${P}/blkio.bfq.weight`]: '100' });
    await cg.update({
      blockIO: {
        weight: 300,
        weightDevice: [{ major: 8, minor: 0, weight: 500 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }, { major: 8, minor: 16, rate: 2097152 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      },
    });
    assert.equal(f.read(`blkio${P}/blkio.bfq.weight`), '300');
    assert.equal(f.read(`blkio${P}/blkio.bfq.weight_device`), '8:0 500');
    assert.equal(f.read(`blkio${P}/blkio.throttle.read_bps_device`), '8:0 1048576\n8:16 2097152'); // two writes, appended
    assert.equal(f.read(`blkio${P}/blkio.throttle.write_iops_device`), '8:0 100');
  });

  it('skips the blkio weight when the scheduler has no weight file', async () => {
    const f = v1();
    const cg = await created(f);
    await cg.update({ blockIO: { weight: 300 } });
    assert.equal(f.read(`blkio${P}/blkio.weight`), undefined);
    assert.equal(f.read(`blkio${P}/blkio.bfq.weight`), undefined);
  });

  it('writes device rules in order to devices.allow and devices.deny', async () => {
    const f = v1();
    const cg = await created(f);
    await cg.update({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'c', major: 136, access: 'rw' },
      ],
    });
    assert.equal(f.read(`devices${P}/devices.deny`), 'a *:* rwm');
    assert.equal(f.read(`devices${P}/devices.allow`), 'c 1:3 rwm\nc 136:* rw');
    assert.equal(deviceRule({ allow: true, type: 'b', major: 8, minor: -1 }), 'b 8:* rwm');
    assert.throws(() => deviceRule({ allow: true, type: 'x' }), InvalidArgument);
    assert.throws(() => deviceRule({ allow: true, access: 'rwx' }), InvalidArgument);
  });

  it('writes hugepage limits where the page size exists, refuses others and unified', async () => {
    const f = v1();
    const cg = await created(f, { [`hugetlb${P}/hugetlb.2MB.limit_in_bytes`]: '0' });
    await cg.update({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] });
    assert.equal(f.read(`hugetlb${P}/hugetlb.2MB.limit_in_bytes`), '4194304');
    await assert.rejects(cg.update({ hugepageLimits: [{ pageSize: '1GB', limit: 1 }] }), InvalidArgument);
    await assert.rejects(cg.update({ unified: { 'memory.high': '1' } }), InvalidArgument);
  });

  it('refuses a limit for a controller the host does not mount', async () => {
    const f = v1(['cpu', 'memory']);
    const cg = await created(f);
    await assert.rejects(cg.update({ pids: { limit: 10 } }), (err: Error) => err instanceof FailedPrecondition && /pids controller is not mounted/.test(err.message));
    await assert.rejects(cg.update({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }), FailedPrecondition);
    await cg.update({ pids: { limit: 0 }, memory: {}, cpu: {} }); // nothing set: nothing needed
  });

  it('removes what create made when applying resources fails', async () => {
    const f = v1(['cpu', 'memory']);
    const cg = await openCgroup({ root: f.root, path: '/berth/x' });
    await assert.rejects(cg.create({ pids: { limit: 10 } }), FailedPrecondition);
    assert.ok(!f.exists('cpu/berth/x'));
    assert.ok(!f.exists('memory/berth/x'));
  });
});

describe('cgroups v1: freezer, pids, killAll, destroy', () => {
  it('freezes and thaws through freezer.state', async () => {
    const f = v1();
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    f.write(`freezer${P}/freezer.state`, 'THAWED\n');
    assert.equal(await cg.frozen(), false);
    await cg.freeze();
    assert.equal(f.read(`freezer${P}/freezer.state`), 'FROZEN');
    assert.equal(await cg.frozen(), true);
    await cg.thaw();
    assert.equal(await cg.frozen(), false);
  });

  it('refuses to freeze without a freezer hierarchy', async () => {
    const f = v1(['memory']);
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    await assert.rejects(cg.freeze(), FailedPrecondition);
    assert.equal(await cg.frozen(), false);
  });

  it('lists the pids of the cgroup and its sub-cgroups', async () => {
    const f = v1();
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    f.write(`pids${P}/cgroup.procs`, '30\n1\n');
    f.write(`pids${P}/sub/cgroup.procs`, '7\n');
    assert.deepEqual(await cg.pids(), [1, 7, 30]);
  });

  it('reads the OOM kill count from memory.oom_control', async () => {
    const f = v1();
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    assert.equal(await cg.oomKillCount(), 0);
    f.write(`memory${P}/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
    assert.equal(await cg.oomKillCount(), 3);
  });

  it('killAll signals every listed process under the freezer and thaws again', async () => {
    const f = v1();
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
      f.write(`freezer${P}/freezer.state`, 'THAWED');
      f.write(`pids${P}/cgroup.procs`, `${child.pid}\n999999999\n`); // a pid that does not exist is fine
      await cg.killAll(15);
      assert.equal(await exited, 'SIGTERM');
      assert.equal(f.read(`freezer${P}/freezer.state`), 'THAWED');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('destroy removes the cgroup (and sub-cgroups) everywhere and is idempotent', async () => {
    const f = v1();
    const cg = await openCgroup({ root: f.root, path: P });
    await cg.create({ memory: { limit: 1 << 20 } });
    fs.mkdirSync(path.join(f.root, `memory${P}/nested`));
    f.stripFiles(`memory${P}`);
    f.stripFiles(`cpuset${P}`);
    await cg.destroy();
    await cg.destroy();
    for (const c of ['cpu', 'memory', 'cpuset', 'pids', 'freezer']) assert.ok(!f.exists(`${c}${P}`), c);
    assert.ok(f.exists('memory/berth/default'), 'parents stay');
  });
});
