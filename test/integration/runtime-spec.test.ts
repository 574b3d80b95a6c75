/**
 * The runtime applies the OCI spec: user and groups, read-only rootfs, rlimits, capabilities, memory and pids
 * limits, isolation of host mounts, and destroy leaving nothing behind. Needs root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { runtimeFixture, waitFor, withTimeout, type RuntimeFixture } from '../helpers/runtime-fixture';

const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, mounts and cgroups' : false;

describe('runtime: spec coverage', { skip }, () => {
  let fx: RuntimeFixture;
  before(async () => {
    fx = await runtimeFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('runs as the uid, gid and additional groups of the spec', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'id -u; id -g; id -G; echo $HOME'] });
    spec.process!.user = { uid: 1000, gid: 1000, additionalGids: [10, 100] };
    const r = await fx.runToEnd(spec);
    // 10 (wheel) also lists berth in /etc/group: runc adds such groups too
    assert.equal(r.stdout, '1000\n1000\n1000 10 100\n/home/berth\n', r.stderr);
    spec.process!.user.additionalGids = [100];
    const r2 = await fx.runToEnd(spec);
    assert.equal(r2.stdout, '1000\n1000\n1000 10 100\n/home/berth\n', r2.stderr);
  });

  it('a read-only rootfs refuses writes', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'touch /newfile; echo rc=$?; touch /tmp/x 2>/dev/null; echo tmp=$?'] });
    spec.root!.readonly = true;
    const r = await fx.runToEnd(spec);
    assert.match(r.stdout, /^rc=1\n/);
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(fs.existsSync(`${fx.rootfs}/newfile`), false);
  });

  it('applies rlimits', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'ulimit -n; ulimit -Hn'] });
    spec.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
    const r = await fx.runToEnd(spec);
    assert.equal(r.stdout, '123\n456\n');
  });

  it('applies the umask (0022 when the spec has none)', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'umask'] });
    spec.process!.user.umask = 0o027;
    assert.equal((await fx.runToEnd(spec)).stdout, '0027\n');
    assert.equal((await fx.runToEnd(fx.spec({ args: ['sh', '-c', 'umask'] }).spec)).stdout, '0022\n');
  });

  it('a capability missing from the spec is really missing (mount fails)', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'grep CapEff /proc/self/status; mount -t tmpfs none /mnt; echo rc=$?'] });
    const r = await fx.runToEnd(spec);
    assert.match(r.stdout, /CapEff:\s+00000000a80425fb/);
    assert.match(r.stdout, /rc=(1|255)/);
    assert.match(r.stderr, /permission denied|Operation not permitted/i);
    const withAdmin = fx.spec({ args: ['sh', '-c', 'mount -t tmpfs none /mnt && echo mounted'] }).spec;
    for (const set of ['bounding', 'effective', 'permitted'] as const) withAdmin.process!.capabilities![set]!.push('CAP_SYS_ADMIN');
    const r2 = await fx.runToEnd(withAdmin);
    assert.equal(r2.stdout, 'mounted\n', r2.stderr);
  });

  it('the memory limit OOM-kills (137) and the OOM is counted in stats', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'tail /dev/zero'] });
    spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 16 << 20, swap: 16 << 20 } };
    const c = await fx.create(spec);
    try {
      const p = await c.start({});
      await c.run();
      const st = await withTimeout(p.wait(), 20_000, 'oom kill');
      assert.equal(st.exitStatus, 137);
      const stats = await c.stats();
      if (stats.version === 1) assert.ok(stats.metrics.memory_oom_control!.oom_kill >= 1 || stats.metrics.memory!.usage!.failcnt > 0);
      else assert.ok(stats.metrics.memory_events!.oom_kill >= 1);
    } finally {
      await c.destroy();
    }
  });

  it('the pids limit stops a fork loop', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; echo forked'] });
    spec.linux!.resources = { ...spec.linux!.resources, pids: { limit: 10 } };
    const c = await fx.create(spec);
    const files = fx.outputFiles();
    try {
      const p = await c.start({ stdout: files.out, stderr: files.err });
      await c.run();
      await withTimeout(p.wait(), 20_000, 'exit');
      assert.match(files.read().stderr, /can't fork|Resource temporarily unavailable/);
    } finally {
      await c.destroy();
    }
  });

  it('host mounts are invisible inside', async () => {
    const r = await fx.runToEnd(fx.spec({ args: ['sh', '-c', `cat /proc/self/mountinfo; ls / ${fx.dir} 2>/dev/null | grep -q bundle && echo HOST-VISIBLE`] }).spec);
    const hostOnly = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .map((l) => l.split(' ')[4]).filter((m): m is string => !!m && m !== '/' && !m.startsWith('/dev') && !m.startsWith('/proc') && !m.startsWith('/sys'));
    const inside = r.stdout.split('\n').map((l) => l.split(' ')[4]);
    for (const m of hostOnly) assert.ok(!inside.includes(m), `host mount ${m} visible inside`);
    assert.ok(!r.stdout.includes('HOST-VISIBLE'), 'the host bundle directory is reachable inside');
  });

  it('destroy leaves no cgroup, mount, process or state', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'sleep 600 & sleep 600'] });
    const c = await fx.create(spec);
    const p = await c.start({});
    await c.run();
    await waitFor(async () => (await c.processes()).length === 2, 5000, 'two processes');
    const pids = await c.processes();
    const cgPath = spec.linux!.cgroupsPath!;
    await c.destroy();
    await withTimeout(p.wait(), 10_000, 'init reaped');
    for (const pid of pids) assert.ok(!fs.existsSync(`/proc/${pid}/stat`) || /\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), `pid ${pid} left`);
    for (const h of fs.readdirSync('/sys/fs/cgroup')) assert.equal(fs.existsSync(`/sys/fs/cgroup/${h}${cgPath}`), false, `cgroup ${h}${cgPath} left`);
    assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(fx.rootfs), 'a mount of the rootfs is left on the host');
    assert.deepEqual(await fx.factory.list(), []);
    await assert.rejects(fx.factory.load(c.id), { name: 'NotFound' });
  });

  it('a spec without cgroupsPath gets /<id> (as runc) and destroy leaves no directory at the top level', async () => {
    const { spec } = fx.spec({ args: ['true'] });
    delete spec.linux!.cgroupsPath;
    const c = await fx.create(spec);
    const p = await c.start({});
    await c.run();
    await withTimeout(p.wait(), 10_000, 'init reaped');
    const top = (await c.state()).cgroupsPath.split('/').filter(Boolean)[0]!;
    assert.equal(top, c.id);
    await c.destroy();
    for (const h of fs.readdirSync('/sys/fs/cgroup')) assert.equal(fs.existsSync(`/sys/fs/cgroup/${h}/${top}`), false, `cgroup ${h}/${top} left`);
  });
});
