/**
 * OCI hooks at the points the runtime spec gives them, through the runtime: prestart and createRuntime in
 * the runtime's namespaces once the container's exist; createContainer in the container's namespaces before
 * pivot_root (its path resolves on the host); startContainer in the container after the start barrier (its
 * path resolves in the container); poststart after run; poststop at destroy. Each gets the state on stdin
 * (status and host pid as runc gives them), its args (args[0] is argv[0]) and env; timeouts kill the hook
 * and fail the step (or are logged, for poststart/poststop). Root only; skipped with a reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runtimeFixture, withTimeout, type RuntimeFixture } from '../helpers/runtime-fixture';
import type { OciSpec } from '../../native';

const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, mounts, cgroups' : false;
let fx: RuntimeFixture;

before(async () => {
  if (!skip) fx = await runtimeFixture();
});
after(async () => {
  if (fx) await fx.cleanup();
});

const KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
type Kind = (typeof KINDS)[number];

interface HookRecord {
  state: { ociVersion: string; id: string; status: string; pid: number; bundle: string; annotations?: Record<string, string> };
  argv0: string;
  arg1: string;
  env: string;
  mntns: string;
  hostRootVisible: boolean;
}

/** A spec whose hooks record what they see into <dir>; the container sees <dir> as /hookout. */
function recordingSpec(dir: string, kinds: readonly Kind[], script = 'true'): OciSpec {
  fs.mkdirSync(dir, { recursive: true });
  const { spec } = fx.spec({ args: ['/bin/sh', '-c', script] });
  spec.mounts!.push({ destination: '/hookout', type: 'bind', source: dir, options: ['rbind', 'rw'] });
  spec.annotations = { 'org.berth.test': 'hooks' };
  const hooks: Record<string, unknown[]> = {};
  for (const kind of kinds) {
    // startContainer runs after pivot_root: it sees the directory as /hookout
    const out = kind === 'startContainer' ? '/hookout' : dir;
    const script =
      `cat > ${out}/${kind}.state; tr '\\0' '\\n' < /proc/$$/cmdline | head -n 1 > ${out}/${kind}.argv0; ` +
      `echo "$0 $1" > ${out}/${kind}.arg1; ` +
      `echo "$HOOK_VAR" > ${out}/${kind}.env; readlink /proc/self/ns/mnt > ${out}/${kind}.mntns; ` +
      `if [ -e ${fx.rootfs}/bin/busybox ]; then echo yes; else echo no; fi > ${out}/${kind}.hostroot; echo ${kind} >> ${out}/order`;
    // args[0] is the hook's argv[0] (busybox, the container's sh, needs it to be "sh")
    const argv0 = kind === 'startContainer' ? 'sh' : `hook-${kind}`;
    hooks[kind] = [{ path: '/bin/sh', args: [argv0, '-c', script, `zero-${kind}`, 'one'], env: ['PATH=/bin:/usr/bin', `HOOK_VAR=v-${kind}`], timeout: 20 }];
  }
  spec.hooks = hooks;
  return spec;
}

function readRecord(dir: string, kind: Kind): HookRecord {
  const r = (ext: string): string => fs.readFileSync(path.join(dir, `${kind}.${ext}`), 'utf8').trim();
  return { state: JSON.parse(r('state')), argv0: r('argv0'), arg1: r('arg1'), env: r('env'), mntns: r('mntns'), hostRootVisible: r('hostroot') === 'yes' };
}

test('every hook runs at its point with the state on stdin, its args and env, in the right namespaces', { skip }, async () => {
  const dir = path.join(fx.dir, 'hooks-all');
  const spec = recordingSpec(dir, KINDS, 'echo $$ > /hookout/user.pid; cat /hookout/order > /hookout/order.seen-by-process');
  const c = await fx.create(spec);
  const init = await c.start();
  const initMnt = fs.readlinkSync(`/proc/${init.pid}/ns/mnt`);
  // createContainer ran before start returned; startContainer not yet
  assert.deepEqual(fs.readFileSync(path.join(dir, 'order'), 'utf8').split('\n').filter(Boolean), ['prestart', 'createRuntime', 'createContainer']);
  await c.run();
  const exit = await withTimeout(init.wait(), 20_000, 'container exit');
  assert.equal(exit.exitStatus, 0);
  await c.destroy();

  assert.deepEqual(fs.readFileSync(path.join(dir, 'order'), 'utf8').split('\n').filter(Boolean), [...KINDS]);
  assert.equal(fs.readFileSync(path.join(dir, 'order.seen-by-process'), 'utf8').trim().split('\n').pop(), 'startContainer',
    'startContainer ran before the user process');
  const hostMnt = fs.readlinkSync('/proc/self/ns/mnt');
  const expectedStatus: Record<Kind, string> = {
    prestart: 'creating', createRuntime: 'creating', createContainer: 'creating', startContainer: 'created', poststart: 'running', poststop: 'stopped',
  };
  for (const kind of KINDS) {
    const rec = readRecord(dir, kind);
    assert.equal(rec.state.id, c.id, kind);
    assert.equal(rec.state.status, expectedStatus[kind], kind);
    assert.equal(rec.state.bundle, fx.bundle, kind);
    assert.equal(rec.state.annotations?.['org.berth.test'], 'hooks', kind);
    assert.ok(rec.state.ociVersion, kind);
    if (kind !== 'poststop') assert.equal(rec.state.pid, init.pid, `${kind}: the host pid of the init`);
    // (createContainer runs in the container's pid namespace with the host's /proc: $$ names another process)
    if (kind !== 'createContainer') assert.equal(rec.argv0, kind === 'startContainer' ? 'sh' : `hook-${kind}`, kind);
    assert.equal(rec.arg1, `zero-${kind} one`, kind);
    assert.equal(rec.env, `v-${kind}`, kind);
    const inContainer = kind === 'createContainer' || kind === 'startContainer';
    assert.equal(rec.mntns, inContainer ? initMnt : hostMnt, `${kind} mount namespace`);
    // createContainer runs before pivot_root (host paths resolve), startContainer after it (they do not)
    if (kind === 'createContainer') assert.equal(rec.hostRootVisible, true);
    if (kind === 'startContainer') assert.equal(rec.hostRootVisible, false);
  }
});

test('a hook path resolves on the host for createContainer and in the container for startContainer', { skip }, async () => {
  const dir = path.join(fx.dir, 'hooks-paths');
  fs.mkdirSync(dir, { recursive: true });
  const marker = path.join(fx.rootfs, 'bin', 'only-in-container');
  fs.writeFileSync(marker, '#!/bin/sh\necho startContainer-ran > /hookout/from-container\n', { mode: 0o755 });
  try {
    const spec = recordingSpec(dir, []);
    spec.hooks = { startContainer: [{ path: '/bin/only-in-container' }] };
    const r = await fx.runToEnd(spec);
    assert.equal(r.status.exitStatus, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 'from-container'), 'utf8'), 'startContainer-ran\n');
    const spec2 = recordingSpec(dir, []);
    spec2.hooks = { createContainer: [{ path: '/bin/only-in-container' }] };
    const c = await fx.create(spec2);
    await assert.rejects(c.start(), /createContainer hook \/bin\/only-in-container: exit status 127: exec \/bin\/only-in-container: No such file/);
    await c.destroy();
  } finally {
    fs.rmSync(marker, { force: true });
  }
});

async function timedOutStart(kind: 'prestart' | 'createRuntime' | 'createContainer'): Promise<void> {
  const { spec } = fx.spec({ args: ['true'] });
  spec.hooks = { [kind]: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] };
  const c = await fx.create(spec);
  const t0 = Date.now();
  await assert.rejects(c.start(), new RegExp(`${kind} hook /bin/sleep: timed out after 1 s`));
  assert.ok(Date.now() - t0 < 10_000, `${kind}: took ${Date.now() - t0} ms`);
  assert.notEqual((await c.state()).status, 'created');
  await c.destroy();
}

test('a hook past its timeout is killed and fails create (prestart, createRuntime, createContainer)', { skip }, async () => {
  for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) await timedOutStart(kind);
});

test('a failing or timed-out startContainer hook stops the container before the user process runs', { skip }, async () => {
  for (const hook of [{ path: '/bin/sh', args: ['sh', '-c', 'echo bad >&2; exit 4'] }, { path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }]) {
    const dir = path.join(fx.dir, `hooks-start-fail-${hook.path.length}`);
    const spec = recordingSpec(dir, [], 'echo ran > /hookout/user-ran');
    spec.hooks = { startContainer: [hook] };
    const c = await fx.create(spec);
    const init = await c.start();
    await assert.rejects(c.run(), /startContainer hook .*(exit status 4: bad|timed out after 1 s)/);
    const exit = await withTimeout(init.wait(), 20_000, 'init exit');
    assert.notEqual(exit.exitStatus, 0);
    assert.equal(fs.existsSync(path.join(dir, 'user-ran')), false, 'the user process never ran');
    await c.destroy();
  }
});

test('poststart and poststop failures and timeouts are logged: the lifecycle goes on', { skip }, async () => {
  const { spec } = fx.spec({ args: ['sh', '-c', 'echo fine'] });
  spec.hooks = {
    poststart: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 2'] }, { path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }],
    poststop: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }],
  };
  const r = await fx.runToEnd(spec);
  assert.equal(r.stdout, 'fine\n');
  assert.equal(r.status.exitStatus, 0);
});
