/**
 * More of the OCI spec: masked and read-only paths, sysctl, the cgroup mount with and without a cgroup
 * namespace, joining a namespace by path, devices, cpu limits and update, kill --all, loading a container
 * from its persisted state. Needs root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Factory } from '../../native';
import { runtimeFixture, waitFor, withTimeout, type RuntimeFixture } from '../helpers/runtime-fixture';

const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, mounts and cgroups' : false;

describe('runtime: more spec coverage', { skip }, () => {
  let fx: RuntimeFixture;
  before(async () => {
    fx = await runtimeFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('masks paths and makes others read-only', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname; echo rc=$?'] });
    const r = await fx.runToEnd(spec);
    assert.equal(r.stdout, '0\n0\nrc=1\n', r.stderr);
  });

  it('bind mounts: read-only, noexec, files, rbind with propagation; the default filesystems', async () => {
    const data = `${fx.dir}/data`;
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(`${data}/f`, 'host data\n');
    fs.writeFileSync(`${data}/x.sh`, '#!/bin/sh\necho ran\n', { mode: 0o755 });
    const { spec } = fx.spec({
      args: ['sh', '-c', 'cat /data/f; echo x > /data/g; echo ro=$?; /exec/x.sh; echo noexec=$?; cat /one-file; grep -c " /data \\| /exec \\| /dev/mqueue \\| /dev/shm \\| /dev/pts " /proc/self/mountinfo'],
    });
    spec.mounts!.push(
      { destination: '/data', type: 'bind', source: data, options: ['rbind', 'ro', 'rprivate'] },
      { destination: '/exec', type: 'none', source: data, options: ['bind', 'noexec'] },
      { destination: '/one-file', type: 'bind', source: `${data}/f`, options: ['rbind', 'ro'] },
    );
    const r = await fx.runToEnd(spec);
    assert.match(r.stdout, /^host data\nro=1\n/, r.stderr);
    assert.match(r.stdout, /noexec=126\nhost data\n5\n$/, r.stderr);
    assert.equal(fs.existsSync(`${data}/g`), false);
  });

  it('applies sysctls of the container namespaces', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax'] });
    spec.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '12345' };
    const r = await fx.runToEnd(spec);
    assert.equal(r.stdout, '1\n12345\n', r.stderr);
    assert.notEqual(fs.readFileSync('/proc/sys/kernel/msgmax', 'utf8').trim(), '12345');
  });

  it('the cgroup mount shows the container its own cgroups (bind, or a cgroup namespace)', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max; cat /proc/self/cgroup | grep pids; touch /sys/fs/cgroup/x; echo rc=$?'] });
    spec.linux!.resources = { ...spec.linux!.resources, pids: { limit: 77 } };
    const r = await fx.runToEnd(spec);
    assert.match(r.stdout, /^77\n/, r.stderr);
    assert.match(r.stdout, new RegExp(`pids:${spec.linux!.cgroupsPath}\\n`));
    assert.match(r.stdout, /rc=1/);
    const ns = fx.spec({ args: ['sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max; grep pids /proc/self/cgroup'] }).spec;
    ns.linux!.namespaces!.push({ type: 'cgroup' });
    ns.linux!.resources = { ...ns.linux!.resources, pids: { limit: 78 } };
    const r2 = await fx.runToEnd(ns);
    assert.match(r2.stdout, /^78\n\d+:pids:\/\n$/, r2.stderr);
  });

  it('joins an existing namespace by path', async () => {
    const a = await fx.create(fx.spec({ args: ['sleep', '600'], hostname: 'shared-uts' }).spec);
    try {
      const pa = await a.start({});
      await a.run();
      const { spec } = fx.spec({ args: ['hostname'] });
      spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'uts' ? { type: 'uts', path: `/proc/${pa.pid}/ns/uts` } : n));
      delete spec.hostname;
      const r = await fx.runToEnd(spec);
      assert.equal(r.stdout, 'shared-uts\n', r.stderr);
    } finally {
      await a.destroy();
    }
  });

  it('the devices cgroup denies what the spec does not allow', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'mknod /dev/sda1x b 8 1 && head -c 1 /dev/sda1x; echo rc=$?; head -c 1 /dev/zero | wc -c'] });
    const r = await fx.runToEnd(spec);
    assert.match(r.stdout, /rc=1\n1\n/, r.stderr);
    assert.match(r.stderr, /Operation not permitted/);
  });

  it('cpu limits, update and kill --all; another Factory loads the container from its state', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'sleep 600 & sleep 600 & wait'] });
    spec.linux!.resources = { ...spec.linux!.resources, cpu: { shares: 512, quota: 50000, period: 100000 } };
    spec.annotations = { 'org.example/key': 'v' };
    const c = await fx.create(spec);
    const p = await c.start({});
    await c.run();
    const cg = `/sys/fs/cgroup/cpu${spec.linux!.cgroupsPath}`;
    assert.equal(fs.readFileSync(`${cg}/cpu.shares`, 'utf8').trim(), '512');
    assert.equal(fs.readFileSync(`${cg}/cpu.cfs_quota_us`, 'utf8').trim(), '50000');
    await c.update({ cpu: { quota: 20000 } });
    assert.equal(fs.readFileSync(`${cg}/cpu.cfs_quota_us`, 'utf8').trim(), '20000');

    const other = new Factory({ stateRoot: fx.factory.stateRoot });
    assert.ok((await other.list()).includes(c.id));
    const loaded = await other.load(c.id);
    const st = await loaded.state();
    assert.equal(st.status, 'running');
    assert.equal(st.pid, p.pid);
    assert.deepEqual(st.annotations, { 'org.example/key': 'v' });
    await waitFor(async () => (await loaded.processes()).length === 3, 5000, 'three processes');
    await loaded.kill('KILL', { all: true });
    assert.equal((await withTimeout(p.wait(), 10_000, 'exit')).exitStatus, 137);
    assert.equal((await loaded.state()).status, 'stopped');
    await assert.rejects(loaded.kill('TERM'), { name: 'NotFound', message: /process already finished/ });
    await loaded.destroy();
    await c.destroy();
  });
});

describe('runtime: hooks', { skip }, () => {
  let fx: RuntimeFixture;
  before(async () => {
    fx = await runtimeFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('runs prestart after the namespaces exist, poststart after run, poststop at destroy, with the state on stdin', async () => {
    const out = `${fx.dir}/hooks`;
    const script = (name: string): string =>
      `cat > ${out}.${name}.json; pid=$(sed -e 's/.*"pid":\\([0-9]*\\).*/\\1/' ${out}.${name}.json); readlink /proc/$pid/ns/net > ${out}.${name}.net 2>/dev/null; true`;
    const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', script(name)], env: ['PATH=/bin:/usr/bin'], timeout: 10 });
    const { spec } = fx.spec({ args: ['sh', '-c', 'readlink /proc/self/ns/net'] });
    spec.hooks = { prestart: [hook('prestart')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    const r = await fx.runToEnd(spec);
    const prestart = JSON.parse(fs.readFileSync(`${out}.prestart.json`, 'utf8')) as { status: string; pid: number; id: string; bundle: string };
    assert.equal(prestart.status, 'creating');
    assert.ok(prestart.pid > 0);
    assert.equal(prestart.bundle, fx.bundle);
    assert.equal(fs.readFileSync(`${out}.prestart.net`, 'utf8'), r.stdout, 'the hook saw the container network namespace');
    assert.equal(JSON.parse(fs.readFileSync(`${out}.poststart.json`, 'utf8')).status, 'running');
    assert.equal(JSON.parse(fs.readFileSync(`${out}.poststop.json`, 'utf8')).status, 'stopped');
  });

  it('a failing prestart hook fails start and leaves nothing running', async () => {
    const { spec } = fx.spec({ args: ['true'] });
    spec.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 3'] }] };
    const c = await fx.create(spec);
    await assert.rejects(c.start({}), /prestart hook \/bin\/sh: exited with 3: nope/);
    assert.equal((await c.state()).status, 'creating');
    await c.destroy();
    for (const h of ['pids', 'memory']) assert.equal(fs.existsSync(`/sys/fs/cgroup/${h}${spec.linux!.cgroupsPath}`), false);
  });
});

const UNIFIED = '/sys/fs/cgroup/unified';
const skipV2 = skip || (!fs.existsSync(`${UNIFIED}/cgroup.controllers`) ? `no cgroup v2 mount at ${UNIFIED}` : false);

describe('runtime: cgroup v2 (the host unified mount as the cgroup root)', { skip: skipV2 }, () => {
  let fx: RuntimeFixture;
  before(async () => {
    fx = await runtimeFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('joins, execs, pauses with cgroup.freeze, reports v2 stats and removes its cgroup', async () => {
    const factory = new Factory({ stateRoot: `${fx.dir}/state-v2`, cgroupRoot: UNIFIED });
    const { id, spec } = fx.spec({ args: ['sleep', '600'] });
    const cg = `${UNIFIED}${spec.linux!.cgroupsPath}`;
    const c = await factory.create(id, { bundle: fx.bundle, spec });
    try {
      const p = await c.start({});
      await c.run();
      assert.match(fs.readFileSync(`/proc/${p.pid}/cgroup`, 'utf8'), new RegExp(`^0::${spec.linux!.cgroupsPath}$`, 'm'));
      await c.pause();
      assert.equal(fs.readFileSync(`${cg}/cgroup.freeze`, 'utf8').trim(), '1');
      await c.resume();
      const files = fx.outputFiles();
      const e = await c.exec({ args: ['grep', '^0::', '/proc/self/cgroup'], cwd: '/', user: { uid: 0, gid: 0 } }, { stdout: files.out });
      await withTimeout(e.wait(), 10_000, 'exec exit');
      assert.equal(files.read().stdout, `0::${spec.linux!.cgroupsPath}\n`);
      assert.equal((await c.stats()).version, 2);
      await c.kill('KILL');
      assert.equal((await withTimeout(p.wait(), 10_000, 'exit')).exitStatus, 137);
    } finally {
      await c.destroy();
    }
    assert.equal(fs.existsSync(cg), false);
  });
});

describe('runtime: user namespace', { skip }, () => {
  let fx: RuntimeFixture;
  const HOST = 100000;
  before(async () => {
    fx = await runtimeFixture();
    fs.chmodSync(fx.dir, 0o755); // the container's root (an unprivileged host id) walks to its rootfs
    const chownTree = (p: string): void => {
      fs.lchownSync(p, HOST, HOST);
      if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(`${p}/${e}`);
    };
    chownTree(fx.rootfs);
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('maps ids, the init is root inside and an unprivileged host id outside; exec joins it', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /tmp/made && ls -n /tmp/made; head -c 1 /dev/zero | wc -c; sleep 600'] });
    spec.linux!.namespaces!.push({ type: 'user' });
    spec.linux!.uidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: HOST, size: 65536 }];
    const c = await fx.create(spec);
    const files = fx.outputFiles();
    try {
      const p = await c.start({ stdout: files.out, stderr: files.err });
      await c.run();
      await waitFor(() => files.read().stdout.split('\n').length >= 5, 5000, 'init output');
      const lines = files.read().stdout.split('\n');
      assert.equal(lines[0], '0', files.read().stderr);
      assert.match(lines[1]!, /^\s*0\s+100000\s+65536$/);
      assert.match(lines[2]!, /^-rw-r--r--\s+1 0\s+0 .*\/tmp\/made$/);
      assert.equal(lines[3]!.trim(), '1');
      assert.equal(fs.statSync(`${fx.rootfs}/tmp/made`).uid, HOST);
      assert.match(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'), /^Uid:\s+100000\s/m);
      const ex = fx.outputFiles();
      const e = await c.exec({ args: ['sh', '-c', 'id -u; readlink /proc/self/ns/user'], cwd: '/', user: { uid: 1000, gid: 1000 } }, { stdout: ex.out, stderr: ex.err });
      assert.equal((await withTimeout(e.wait(), 10_000, 'exec exit')).exitStatus, 0, ex.read().stderr);
      assert.equal(ex.read().stdout, `1000\n${fs.readlinkSync(`/proc/${p.pid}/ns/user`)}\n`);
      await c.kill('KILL');
      await withTimeout(p.wait(), 10_000, 'exit');
    } finally {
      await c.destroy();
    }
  });

  it('refuses mappings without container root', async () => {
    const { spec } = fx.spec({ args: ['true'] });
    spec.linux!.namespaces!.push({ type: 'user' });
    spec.linux!.uidMappings = [{ containerID: 1, hostID: HOST, size: 10 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: HOST, size: 10 }];
    await assert.rejects(fx.create(spec), { name: 'InvalidArgument', message: /linux\.uidMappings: container id 0 must be mapped/ });
  });
});
