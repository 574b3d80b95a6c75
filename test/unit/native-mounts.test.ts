/** Mount planning and the init configuration (native/runtime/mounts.ts, cgroup-mounts.ts, init-config.ts). No root. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exampleSpec } from '../../native';
import {
  MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_SLAVE, MS_STRICTATIME,
  cleanDestination, parseMountOptions, planDevices, planMounts,
} from '../../native/runtime/mounts';
import { expandCgroupMount, parseCgroupMounts } from '../../native/runtime/cgroup-mounts';
import { encodeConfig, execOps, initOps, type InitOp } from '../../native/runtime/init-config';

const MOUNTINFO = `22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;

describe('native mount planning', () => {
  it('parses options into flags, propagation and data', () => {
    const o = parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k', 'rw', 'ro', 'rprivate']);
    assert.equal(o.flags, MS_NOSUID | MS_STRICTATIME | MS_RDONLY);
    assert.deepEqual(o.propagation, [MS_PRIVATE | MS_REC]);
    assert.equal(o.data, 'mode=755,size=65536k');
    assert.equal(parseMountOptions(['ro', 'rw']).flags, 0);
    assert.equal(parseMountOptions(['rbind']).flags, MS_BIND | MS_REC);
  });

  it('cleans destinations so they stay under /', () => {
    assert.equal(cleanDestination('/a/../../../etc'), '/etc');
    assert.equal(cleanDestination('relative/dir/'), '/relative/dir');
    assert.equal(cleanDestination('/x//y/./z'), '/x/y/z');
    assert.equal(cleanDestination('..'), '/');
  });

  it('plans bind and filesystem mounts', () => {
    const plan = planMounts([
      { destination: '/data', type: 'bind', source: 'host-data', options: ['ro', 'rslave'] },
      { destination: '/etc/hosts', type: 'none', source: '/etc/hosts', options: ['rbind', 'nosuid'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid'] },
    ], '/bundle');
    assert.deepEqual(plan[0], { kind: 'mount', source: '/bundle/host-data', destination: '/data', type: 'bind', flags: MS_BIND | MS_RDONLY, data: '', propagation: [MS_SLAVE | MS_REC] });
    assert.equal(plan[1]!.kind === 'mount' && plan[1]!.flags, MS_BIND | MS_REC | MS_NOSUID);
    assert.deepEqual(plan[2], { kind: 'mount', source: 'tmpfs', destination: '/tmp', type: 'tmpfs', flags: 0, data: 'size=1m', propagation: [] });
    assert.deepEqual(plan[3], { kind: 'cgroup', destination: '/sys/fs/cgroup', flags: MS_RDONLY | MS_NOSUID });
    assert.throws(() => planMounts([{ destination: '/x', type: 'bind' }], '/b'), /mounts\[0\]\.source/);
    assert.throws(() => planMounts([{ destination: '/../', type: 'tmpfs' }], '/b'), /mounts\[0\]\.destination/);
  });

  it('plans the default devices plus the spec ones, under /dev only', () => {
    const devs = planDevices([{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600 }]);
    assert.deepEqual(devs.map((d) => d.path), ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/fuse']);
    assert.equal(devs[6]!.mode, 0o600);
    assert.throws(() => planDevices([{ path: '/etc/passwd', type: 'c' }]), /linux\.devices\[0\]\.path/);
    assert.throws(() => planDevices([{ path: '/dev/../etc/x', type: 'c' }]), /not under \/dev/);
  });

  it('finds the host cgroup hierarchies and expands a cgroup mount', () => {
    const hosts = parseCgroupMounts(MOUNTINFO, '/sys/fs/cgroup');
    assert.deepEqual(hosts.map((h) => [h.mountpoint, h.key]), [
      ['/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct'], ['/sys/fs/cgroup/memory', 'memory'],
      ['/sys/fs/cgroup/systemd', 'name=systemd'], ['/sys/fs/cgroup/unified', ''],
    ]);
    const ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    const ops = expandCgroupMount('/sys/fs/cgroup', MS_RDONLY, hosts, '/sys/fs/cgroup', false);
    assert.deepEqual(ops[0]!.slice(0, 4), ['mount', 'tmpfs', '/sys/fs/cgroup', 'tmpfs']);
    assert.deepEqual(ops[1], ['cgroup-bind', '/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct', String(ro)]);
    assert.deepEqual(ops[2], ['symlink', 'cpu,cpuacct', '/sys/fs/cgroup/cpu']);
    assert.deepEqual(ops[3], ['symlink', 'cpu,cpuacct', '/sys/fs/cgroup/cpuacct']);
    assert.equal(ops.at(-1)![0], 'remount');
    const withNs = expandCgroupMount('/sys/fs/cgroup', 0, hosts, '/sys/fs/cgroup', true);
    assert.deepEqual(withNs[1], ['mount', 'cgroup', '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', String(MS_NOSUID | MS_NODEV | MS_NOEXEC), 'cpu,cpuacct']);
    const v2 = expandCgroupMount('/sys/fs/cgroup', 0, [{ mountpoint: '/sys/fs/cgroup', fstype: 'cgroup2', key: '', data: '' }], '/sys/fs/cgroup', false);
    assert.deepEqual(v2, [['cgroup-bind', '/sys/fs/cgroup', '', '/sys/fs/cgroup', String(MS_NOSUID | MS_NODEV | MS_NOEXEC)]]);
  });
});

describe('native init configuration', () => {
  const names = (ops: InitOp[]): string[] => ops.map((o) => o[0]!);

  it('orders the init operations: clone, namespaces, mounts, pivot, paths, process, exec', () => {
    const spec = exampleSpec({ args: ['sh', '-c', 'echo hi'], terminal: true });
    spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'ipc' ? { type: 'ipc', path: '/proc/1/ns/ipc' } : n));
    spec.linux!.namespaces.push({ type: 'cgroup' });
    spec.root!.readonly = true;
    spec.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
    const ops = initOps({ spec, bundle: '/b', rootfs: '/b/rootfs', execFifo: '/s/exec.fifo', consoleSlave: '/dev/pts/9', cgroupRoot: '/sys/fs/cgroup', hostCgroupMounts: [], cgroupJoinFiles: ['/cg/a/tasks', '/cg/b/tasks'] });
    const n = names(ops);
    assert.deepEqual(ops[0], ['cgroup-join', '/cg/a/tasks', '/cg/b/tasks']);
    assert.deepEqual(ops[1], ['join', 'ipc', '/proc/1/ns/ipc']);
    assert.equal(n[2], 'clone');
    const cloneFlags = Number(ops[2]![1]);
    assert.equal(cloneFlags & 0x08000000, 0, 'ipc namespace joined, not cloned');
    assert.equal(cloneFlags & 0x20000000, 0x20000000, 'pid namespace cloned');
    assert.equal(cloneFlags & 0x02000000, 0, 'cgroup namespace unshared later');
    assert.equal(cloneFlags & 0x40000000, 0, 'network namespace unshared later');
    assert.ok(n.indexOf('unshare') > 0 && n.indexOf('unshare') < n.indexOf('rootfs'));
    for (const [a, b] of [['rootfs', 'mount'], ['mount', 'mknod'], ['mknod', 'console'], ['console', 'fifo'], ['fifo', 'pivot'],
      ['pivot', 'sysctl'], ['sysctl', 'readonly'], ['readonly', 'mask'], ['mask', 'remount-root-ro'], ['remount-root-ro', 'hostname'],
      ['hostname', 'user'], ['user', 'args'], ['args', 'exec']] as const) {
      assert.ok(n.indexOf(a) < n.indexOf(b), `${a} before ${b}: ${n.join(' ')}`);
    }
    assert.equal(n.at(-1), 'exec');
    assert.ok(n.includes('ctty'));
    assert.deepEqual(ops.find((o) => o[0] === 'args'), ['args', 'sh', '-c', 'echo hi']);
  });

  it('exec joins every namespace of the init, mount last', () => {
    const ops = execOps(exampleSpec(), 1234, { args: ['ls'], cwd: '/', user: { uid: 1, gid: 2, additionalGids: [3] } });
    const joins = ops.filter((o) => o[0] === 'join');
    assert.deepEqual(joins.map((j) => j[1]), ['ipc', 'uts', 'net', 'pid', 'mnt']);
    assert.equal(joins[0]![2], '/proc/1234/ns/ipc');
    assert.deepEqual(ops.find((o) => o[0] === 'user'), ['user', '1', '2', '3']);
    assert.equal(names(ops).at(-1), 'exec');
  });

  it('encodes netstrings of netstrings, counting bytes', () => {
    assert.equal(encodeConfig([['args', 'a', 'é']]).toString(), '20:16:4:args,1:a,2:é,,,');
    assert.equal(encodeConfig([]).toString(), '0:,');
  });
});
