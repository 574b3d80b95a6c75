/**
 * ctr/spec: the OCI spec bctr builds must be byte for byte what ctr 1.6.20 stores for the same command line
 * (fixtures captured from the real ctr, see ctr-spec-fixtures.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, specJson, replaceOrAppendEnv, defaultUnixSpec } from '../../ctr/spec/builder';
import { goSpecValue } from '../../ctr/spec/schema';
import { goMarshal } from '../../ctr/format/gojson';
import { specRequest, parseMountFlag, runtimeOptions, type ContainerFlagValues } from '../../ctr/commands/container-flags';
import { SPEC_CREATE, SPEC_RUN_PLAIN, SPEC_RUN_FLAGS, SPEC_CREATE_MANY, SPEC_RUN_CPUS } from './ctr-spec-fixtures';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOTFS = '/tmp/ctrref/rootfs';

/** Flag values as commander hands them over when only `--rootfs` is given. */
function flags(over: Partial<ContainerFlagValues> = {}, run = false): ContainerFlagValues {
  return {
    env: [],
    label: [],
    annotation: [],
    mount: [],
    runtime: 'io.containerd.runc.v2',
    withNs: [],
    capAdd: [],
    capDrop: [],
    memoryLimit: 0,
    cpuQuota: -1,
    cpuPeriod: 0,
    rootfs: true,
    pivot: true,
    ...(run ? { cpus: 0, cpuShares: 1024 } : {}),
    ...over,
  };
}

test('ctr c create --rootfs DIR c1 /bin/true', () => {
  const spec = buildSpec(specRequest('default', 'c1', ROOTFS, ['/bin/true'], flags(), false));
  assert.equal(specJson(spec), SPEC_CREATE);
});

test('ctr run -d --rootfs DIR r4 /bin/true (run adds cpu shares 1024)', () => {
  const spec = buildSpec(specRequest('default', 'r4', ROOTFS, ['/bin/true'], flags({}, true), true));
  assert.equal(specJson(spec), SPEC_RUN_PLAIN);
});

test('ctr run with --env, --cwd, -t, --memory-limit, --label', () => {
  const f = flags({ env: ['A=1', 'PATH=/x'], cwd: '/tmp', tty: true, memoryLimit: 67108864, label: ['a=b', 'c'] }, true);
  const spec = buildSpec(specRequest('default', 'r3', ROOTFS, ['/bin/sh', '-c', 'sleep 1'], f, true));
  assert.equal(specJson(spec), SPEC_RUN_FLAGS);
});

test('ctr c create with most container flags', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-ctr-spec-'));
  try {
    const envFile = path.join(dir, 'envfile');
    fs.writeFileSync(envFile, 'E1=x\nA=0\n');
    const f = flags({
      env: ['A=1', 'PATH=/x'],
      envFile,
      cwd: '/tmp',
      memoryLimit: 67108864,
      label: ['a=b', 'c'],
      annotation: ['z=1'],
      mount: ['type=bind,src=/tmp,dst=/host,options=rbind:ro'],
      capAdd: ['CAP_SYS_ADMIN'],
      capDrop: ['CAP_KILL'],
      withNs: ['network:/proc/1/ns/net'],
      allowNewPrivs: true,
      readOnly: true,
      cpuQuota: 5000,
      cpuPeriod: 10000,
      rootfsPropagation: 'rslave',
      tty: true,
    });
    const req = specRequest('default', 'sa', ROOTFS, ['/bin/sleep', '1'], f, false);
    req.netHost = { hostname: 'vm' }; // --net-host on the machine the fixture came from
    assert.equal(specJson(buildSpec(req)), SPEC_CREATE_MANY);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ctr run --cpus 1.5 --cgroup /my/cg', () => {
  const f = flags({ cpus: 1.5, cgroup: '/my/cg' }, true);
  f.cpuShares = 1024;
  assert.equal(specJson(buildSpec(specRequest('default', 'cp1', ROOTFS, ['/bin/true'], f, true))), SPEC_RUN_CPUS);
});

test('default spec: namespaces, mounts, caps, rlimit, cgroups path', () => {
  const s = defaultUnixSpec('ns1', 'web');
  assert.deepEqual(s.linux!.namespaces!.map((n) => n.type), ['pid', 'ipc', 'uts', 'mount', 'network']);
  assert.deepEqual(s.mounts!.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run']);
  assert.equal(s.linux!.cgroupsPath, '/ns1/web');
  assert.deepEqual(s.process!.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
  assert.equal(s.process!.capabilities!.bounding!.length, 14);
  assert.equal(s.process!.env, undefined, 'ctr sets no PATH for --rootfs');
});

test('replaceOrAppendEnv: replace, append, remove', () => {
  assert.deepEqual(replaceOrAppendEnv(['A=1', 'B=2'], ['B=3', 'C=4', 'A']), ['B=3', 'C=4']);
  assert.deepEqual(replaceOrAppendEnv([], ['X=1']), ['X=1']);
});

test('mount flag parsing as ctr (CSV of key=value)', () => {
  assert.deepEqual(parseMountFlag('type=bind,src=/tmp,dst=/host,options=rbind:ro'), {
    destination: '/host',
    type: 'bind',
    source: '/tmp',
    options: ['rbind', 'ro'],
  });
  assert.deepEqual(parseMountFlag('"type=bind","source=/a,b",destination=/c'), { destination: '/c', type: 'bind', source: '/a,b' });
  assert.throws(() => parseMountFlag('bind'), /expected key=val/);
  assert.throws(() => parseMountFlag('foo=bar'), /mount option "foo" not supported/);
});

test('flag validation as ctr', () => {
  assert.throws(() => specRequest('default', 'x', ROOTFS, [], flags({ capAdd: ['SYS_ADMIN'] }), false), /'CAP_' prefix/);
  assert.throws(() => specRequest('default', 'x', ROOTFS, [], flags({ withNs: ['net'] }), false), /'nstype:path'/);
  assert.throws(() => specRequest('default', 'x', ROOTFS, [], flags({ withNs: ['foo:/x'] }), false), /not valid: foo/);
  assert.throws(() => specRequest('default', 'x', ROOTFS, [], flags({ cpus: 1, cpuQuota: 10 }, true), true), /used separately/);
  assert.throws(() => specRequest('default', 'x', 'busybox:latest', [], flags({ rootfs: false }), false), /--rootfs/);
});

test('runtime options: empty runc Options by default, binary_name with --runc-binary', () => {
  const empty = runtimeOptions(flags());
  assert.deepEqual(empty, { type_url: 'containerd.runc.v1.Options', value: Buffer.alloc(0) });
  const withBinary = runtimeOptions(flags({ runcBinary: '/usr/sbin/runc' }, true))!;
  assert.equal(withBinary.type_url, 'containerd.runc.v1.Options');
  assert.ok(Buffer.from(withBinary.value).toString().includes('/usr/sbin/runc'));
  assert.equal(runtimeOptions(flags({ runtime: 'io.containerd.other' })), null);
  assert.throws(() => runtimeOptions(flags({ runtime: 'x', runcBinary: 'y' })), /only supported/);
});

test('specs from other clients are re-marshalled like Go: field order, omitempty, zero values, unknown keys dropped', () => {
  const foreign = {
    linux: { namespaces: [{ path: '', type: 'pid' }], unknownKey: 1 },
    process: { cwd: '', args: ['sh'], terminal: false, user: { gid: 5 } },
    ociVersion: '1.0.2',
    root: { readonly: false, path: 'rootfs' },
    annotations: {},
  };
  assert.equal(
    goMarshal(goSpecValue(foreign)),
    '{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":5},"args":["sh"],"cwd":""},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"}]}}',
  );
});
