/**
 * cgroup v1 manager against the real /sys/fs/cgroup hierarchies (root only; skipped on a v2-only host).
 * Each test run makes `/berth-test-<random>/...` in every hierarchy, moves spawned processes into it, and
 * removes all of it in `after`, even on failure.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { detectLayout, openCgroup, type CgroupManager, type V1Metrics } from '../../native/cgroups';
import { FailedPrecondition } from '../../pkg/errdefs';

const ROOT = '/sys/fs/cgroup';
const HIERARCHIES = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd'];
const TOP = `berth-test-${randomBytes(4).toString('hex')}`;

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root: writes /sys/fs/cgroup';
  try {
    if ((await detectLayout(ROOT)) !== 'v1') return `${ROOT} is not a cgroup v1 layout`;
  } catch (err) {
    return `no cgroups at ${ROOT}: ${(err as Error).message}`;
  }
  return undefined;
}

const children: ChildProcess[] = [];
/** A shell that runs `script` after reading one line from stdin, so it can be moved into a cgroup first. */
function gated(script: string): { child: ChildProcess; go: () => void; exit: Promise<NodeJS.Signals | number | null> } {
  const child = spawn('sh', ['-c', `read _; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  children.push(child);
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
  return { child, go: () => child.stdin!.write('go\n'), exit };
}

const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8').trim();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('cgroups v1 on the real hierarchies', () => {
  let reason: string | undefined;
  const managers: CgroupManager[] = [];
  const open = async (name: string): Promise<CgroupManager> => {
    const cg = await openCgroup({ path: `/${TOP}/${name}` });
    managers.push(cg);
    return cg;
  };

  before(async () => {
    reason = await skipReason();
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const cg of managers) {
      await cg.thaw().catch(() => undefined);
      await cg.killAll().catch(() => undefined);
      await cg.destroy().catch((err: Error) => console.error(`cleanup: ${err.message}`));
    }
    for (const h of HIERARCHIES) {
      try {
        fs.rmdirSync(path.join(ROOT, h, TOP));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') console.error(`cleanup ${h}/${TOP}: ${(err as Error).message}`);
      }
    }
  });

  it('creates, limits, freezes, measures, kills and destroys a cgroup holding real processes', { timeout: 60_000 }, async (t) => {
    if (reason) return t.skip(reason);
    const cg = await open('ctr');
    const P = cg.path;
    await cg.create({
      memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20 },
      pids: { limit: 32 },
      cpu: { shares: 512, quota: 150000, period: 100000 },
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'rw' }],
    });
    assert.equal(read(`memory${P}/memory.limit_in_bytes`), String(64 << 20));
    assert.equal(read(`memory${P}/memory.soft_limit_in_bytes`), String(32 << 20));
    if (fs.existsSync(path.join(ROOT, `memory${P}/memory.memsw.limit_in_bytes`))) {
      assert.equal(read(`memory${P}/memory.memsw.limit_in_bytes`), String(128 << 20));
    } else t.diagnostic('no swap accounting: memsw not checked');
    assert.equal(read(`pids${P}/pids.max`), '32');
    assert.equal(read(`cpu${P}/cpu.shares`), '512');
    assert.equal(read(`cpu${P}/cpu.cfs_quota_us`), '150000');
    assert.equal(read(`devices${P}/devices.list`).split('\n').sort().join(','), 'c 1:3 rwm,c 1:5 rw');
    assert.ok(read(`cpuset${P}/cpuset.cpus`) !== '', 'cpuset.cpus inherited');

    // Lowering then raising memory with swap exercises the write order (memsw >= limit at every step).
    await cg.update({ memory: { limit: 32 << 20, swap: 48 << 20 } });
    assert.equal(read(`memory${P}/memory.limit_in_bytes`), String(32 << 20));
    await cg.update({ memory: { limit: 256 << 20, swap: 512 << 20 }, pids: { limit: -1 } });
    assert.equal(read(`memory${P}/memory.limit_in_bytes`), String(256 << 20));
    assert.equal(read(`pids${P}/pids.max`), 'max');

    const busy = gated('while :; do :; done');
    await cg.addProcess(busy.child.pid!);
    const self = fs.readFileSync(`/proc/${busy.child.pid}/cgroup`, 'utf8');
    for (const h of ['memory', 'pids', 'freezer', 'cpu', 'cpuacct', 'name=systemd']) {
      assert.ok(self.split('\n').some((l) => l.endsWith(`:${h}:${P}`)), `${h} in /proc/pid/cgroup:\n${self}`);
    }
    assert.deepEqual(await cg.pids(), [busy.child.pid]);
    busy.go();
    const usage = (): number => Number(read(`cpuacct${P}/cpuacct.usage`));
    const t0 = usage();
    await sleep(150);
    assert.ok(usage() > t0, 'the busy loop runs');

    await cg.freeze();
    assert.equal(await cg.frozen(), true);
    assert.equal(read(`freezer${P}/freezer.state`), 'FROZEN');
    t.diagnostic(`frozen task: ${fs.readFileSync(`/proc/${busy.child.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('State:'))}`);
    const frozenAt = usage();
    await sleep(150);
    assert.equal(usage(), frozenAt, 'no cpu time while frozen');
    await cg.thaw();
    assert.equal(await cg.frozen(), false);
    await sleep(100);
    assert.ok(usage() > frozenAt, 'runs again after thaw');

    const s = await cg.stats();
    assert.equal(s.version, 1);
    const m = s.metrics as V1Metrics;
    assert.ok(m.cpu!.usage!.total > 0);
    assert.ok(m.cpu!.usage!.user + m.cpu!.usage!.kernel > 0, 'user+kernel from cpuacct.stat');
    assert.equal(m.cpu!.usage!.per_cpu.length, fs.readFileSync(path.join(ROOT, `cpuacct${P}/cpuacct.usage_percpu`), 'utf8').trim().split(/\s+/).length);
    assert.equal(m.memory!.usage!.limit, 256 << 20);
    assert.deepEqual(m.pids, { current: 1, limit: 0 });
    t.diagnostic(`cpu total ${m.cpu!.usage!.total} ns, memory ${m.memory!.usage!.usage} bytes`);

    // killAll while paused: SIGKILL still gets through (the cgroup is thawed so the processes can die).
    await cg.freeze();
    await cg.killAll();
    assert.equal(await busy.exit, 'SIGKILL');
    assert.deepEqual(await cg.pids(), []);
    await cg.destroy();
    for (const h of HIERARCHIES) assert.ok(!fs.existsSync(path.join(ROOT, h, P)), `${h}${P} removed`);
    await cg.destroy(); // idempotent
  });

  it('counts an OOM kill when a process exceeds the memory limit', { timeout: 60_000 }, async (t) => {
    if (reason) return t.skip(reason);
    const cg = await open('oom');
    await cg.create({ memory: { limit: 32 << 20, swap: 32 << 20 } });
    const hog = gated(`exec perl -e '$x = "a" x (256 << 20); sleep 5'`);
    await cg.addProcess(hog.child.pid!);
    hog.go();
    assert.equal(await hog.exit, 'SIGKILL');
    assert.equal(await cg.oomKillCount(), 1);
    const m = (await cg.stats()).metrics as V1Metrics;
    assert.equal(m.memory_oom_control!.oom_kill, 1);
    t.diagnostic(`failcnt memory ${m.memory!.usage!.failcnt} memsw ${m.memory!.swap!.failcnt}, max usage ${m.memory!.usage!.max}`);
    assert.ok(m.memory!.usage!.max >= (30 << 20), 'max usage reached the limit');
    await cg.destroy();
  });

  it('stops a fork loop at the pids limit and signals every process with killAll', { timeout: 60_000 }, async (t) => {
    if (reason) return t.skip(reason);
    const cg = await open('pids');
    await cg.create({ pids: { limit: 8 } });
    // Each child sleeps; forks beyond the limit fail (perl's fork returns undef) and the loop goes on.
    const forker = gated(`exec perl -e 'my $n = 0; for (1..20) { my $p = fork; if (defined $p) { if ($p == 0) { sleep 30; exit 0 } $n++ } } sleep 30'`);
    await cg.addProcess(forker.child.pid!);
    forker.go();
    const refused = (): number => Number(read(`pids${cg.path}/pids.events`).split(/\s+/)[1]);
    const deadline = Date.now() + 10_000;
    while ((Number(read(`pids${cg.path}/pids.current`)) < 8 || refused() === 0) && Date.now() < deadline) await sleep(10);
    assert.equal(Number(read(`pids${cg.path}/pids.current`)), 8);
    assert.ok(refused() > 0, 'pids.events counts refused forks');
    assert.equal((await cg.pids()).length, 8);
    await cg.killAll(15);
    assert.equal(await forker.exit, 'SIGTERM');
    const end = Date.now() + 10_000;
    while ((await cg.pids()).length > 0 && Date.now() < end) await sleep(10);
    assert.deepEqual(await cg.pids(), []);
    await cg.destroy();
  });

  it('lets a single-threaded process join by writing 0 to the selfJoinFiles', { timeout: 60_000 }, async (t) => {
    if (reason) return t.skip(reason);
    const cg = await open('self');
    await cg.create({ pids: { limit: 4 } });
    const files = cg.selfJoinFiles();
    assert.equal(files.length, HIERARCHIES.filter((h) => fs.existsSync(path.join(ROOT, h, 'cgroup.procs'))).length);
    const quoted = files.map((f) => `'${f}'`).join(' ');
    const joiner = gated(`for f in ${quoted}; do echo 0 > "$f" || exit 3; done; echo joined; exec sleep 30`);
    joiner.go();
    const comm = (): string => fs.readFileSync(`/proc/${joiner.child.pid}/comm`, 'utf8').trim();
    for (let i = 0; i < 500 && comm() !== 'sleep'; i++) await sleep(10); // every write done: it exec'd sleep
    assert.deepEqual(await cg.pids(), [joiner.child.pid]);
    const lines = fs.readFileSync(`/proc/${joiner.child.pid}/cgroup`, 'utf8').trim().split('\n');
    for (const l of lines.filter((x) => !x.startsWith('0::'))) assert.ok(l.endsWith(`:${cg.path}`), l);
    await cg.killAll();
    assert.equal(await joiner.exit, 'SIGKILL');
    await cg.destroy();
  });

  it('refuses a limit for a controller this host does not mount (hugetlb on v1 here)', async (t) => {
    if (reason) return t.skip(reason);
    if (fs.existsSync(path.join(ROOT, 'hugetlb', 'cgroup.procs'))) return t.skip('this host mounts a v1 hugetlb hierarchy');
    const cg = await open('nohuge');
    await cg.create();
    await assert.rejects(cg.update({ hugepageLimits: [{ pageSize: '2MB', limit: 2 << 20 }] }), FailedPrecondition);
    await cg.destroy();
  });
});
