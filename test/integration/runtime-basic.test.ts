/**
 * The runtime end to end on a busybox rootfs: lifecycle, namespaces, identity, limits. Needs root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { runtimeFixture, withTimeout, type RuntimeFixture } from '../helpers/runtime-fixture';

const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, mounts and cgroups' : false;

describe('runtime: lifecycle and process', { skip }, () => {
  let fx: RuntimeFixture;
  before(async () => {
    fx = await runtimeFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('start waits at the barrier, run execs, wait returns the exit status', async () => {
    const { spec } = fx.spec({ args: ['/bin/echo', 'hello'] });
    const c = await fx.create(spec);
    assert.equal((await c.state()).status, 'creating');
    const files = fx.outputFiles();
    const p = await c.start({ stdout: files.out, stderr: files.err });
    const st = await c.state();
    assert.equal(st.status, 'created');
    assert.equal(st.pid, p.pid);
    assert.equal(files.read().stdout, '', 'nothing runs before run()');
    await c.run();
    const exit = await withTimeout(p.wait(), 10_000, 'exit');
    assert.equal(exit.exitStatus, 0);
    assert.equal(files.read().stdout, 'hello\n');
    assert.equal((await c.state()).status, 'stopped');
    await c.destroy();
    await c.destroy(); // idempotent
  });

  it('the init is pid 1 of a new pid namespace', async () => {
    const r = await fx.runToEnd(fx.spec({ args: ['sh', '-c', 'echo $$; readlink /proc/self/ns/pid'] }).spec);
    const [pid, ns] = r.stdout.trim().split('\n');
    assert.equal(pid, '1');
    assert.notEqual(ns, fs.readlinkSync('/proc/self/ns/pid'));
  });

  it('sets the hostname', async () => {
    const r = await fx.runToEnd(fx.spec({ args: ['hostname'], hostname: 'box42' }).spec);
    assert.equal(r.stdout.trim(), 'box42');
  });

  it('propagates exit codes', async () => {
    const r = await fx.runToEnd(fx.spec({ args: ['sh', '-c', 'exit 7'] }).spec);
    assert.equal(r.status.exitStatus, 7);
    assert.equal(r.status.signal, undefined);
  });

  it('propagates a killing signal as 128+n', async () => {
    const { spec } = fx.spec({ args: ['sleep', '30'] });
    const c = await fx.create(spec);
    const p = await c.start({});
    await c.run();
    await c.kill('SIGKILL');
    const exit = await withTimeout(p.wait(), 10_000, 'exit');
    assert.equal(exit.exitStatus, 137);
    assert.equal(exit.signal, 'SIGKILL');
    await c.destroy();
  });

  it('sets env and cwd (creating the cwd)', async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'echo $FOO; pwd'], cwd: '/work/dir', env: ['FOO=bar baz', 'PATH=/bin:/usr/bin'] });
    const r = await fx.runToEnd(spec);
    assert.equal(r.stdout, 'bar baz\n/work/dir\n');
  });

  it('runs containers concurrently, each exit status to its own waiter', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => fx.runToEnd(fx.spec({ args: ['sh', '-c', `echo c${i}; exit ${i}`] }).spec)),
    );
    results.forEach((r, i) => {
      assert.equal(r.status.exitStatus, i);
      assert.equal(r.stdout, `c${i}\n`);
    });
  });

  it('refuses illegal transitions and bad ids', async () => {
    const c = await fx.create(fx.spec({ args: ['true'] }).spec);
    await assert.rejects(c.run(), { name: 'FailedPrecondition', message: /cannot run a creating container/ });
    await assert.rejects(c.pause(), { name: 'FailedPrecondition' });
    await assert.rejects(c.exec({ args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } }, {}), { name: 'FailedPrecondition' });
    await assert.rejects(fx.factory.create(c.id, { bundle: fx.bundle, spec: fx.spec().spec }), { name: 'AlreadyExists' });
    await assert.rejects(fx.factory.create('bad/id', { bundle: fx.bundle, spec: fx.spec().spec }), { name: 'InvalidArgument' });
    const p = await c.start({});
    await assert.rejects(c.start({}), { name: 'FailedPrecondition', message: /cannot start a created container/ });
    await c.run();
    await withTimeout(p.wait(), 10_000, 'exit');
    await assert.rejects(c.run(), { name: 'FailedPrecondition', message: /stopped/ });
    await c.destroy();
  });

  it('a missing executable fails start with NotFound', async () => {
    const c = await fx.create(fx.spec({ args: ['no-such-binary'] }).spec);
    await assert.rejects(c.start({}), (err: Error) => err.name === 'NotFound' && /executable file not found/.test(err.message));
    await c.destroy();
  });
});
