/**
 * Safety of the runtime (see docs/runtime.md "Safety"): no host path after pivot_root, only fds 0-2 reach the
 * process (CVE-2024-21626), cwd through /proc/self/fd refused, a rootfs whose /proc is a symlink refused,
 * mount destinations stay inside the rootfs, berth-init cannot be overwritten from inside (CVE-2019-5736).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runtimeFixture, waitFor, withTimeout, type RuntimeFixture } from '../helpers/runtime-fixture';

const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, mounts and cgroups' : false;

describe('runtime: safety', { skip }, () => {
  let fx: RuntimeFixture;
  before(async () => {
    fx = await runtimeFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('the process starts with no signal ignored or blocked', async () => {
    const r = await fx.runToEnd(fx.spec({ args: ['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status'] }).spec);
    assert.match(r.stdout, /^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
  });

  it('only fds 0-2 reach the process', async () => {
    const leaked = fs.openSync(fx.dir, 'r'); // a host directory open in the runtime's process
    try {
      // pid 1 is the shell (`; true` keeps it from exec'ing ls); ls lists the shell's descriptors
      const r = await fx.runToEnd(fx.spec({ args: ['sh', '-c', 'ls /proc/1/fd; true'] }).spec);
      assert.equal(r.stdout.split(/\s+/).filter(Boolean).join(' '), '0 1 2', r.stderr);
    } finally {
      fs.closeSync(leaked);
    }
  });

  it('extra fds the caller asks for arrive as 3, 4, ... and nothing else (init and exec)', async () => {
    const extraA = fs.openSync(`${fx.dir}/extra-a`, 'w');
    const extraB = fs.openSync(`${fx.dir}/extra-b`, 'w');
    const { spec } = fx.spec({ args: ['sh', '-c', 'echo to-a >&3; echo to-b >&4; ls /proc/1/fd; sleep 600'] });
    const c = await fx.create(spec);
    const files = fx.outputFiles();
    try {
      const p = await c.start({ stdout: files.out, stderr: files.err, extraFds: [extraA, extraB] });
      await c.run();
      const ex = fx.outputFiles();
      const e = await c.exec({ args: ['sh', '-c', 'echo exec-to-a >&3; ls /proc/$$/fd; true'], cwd: '/', user: { uid: 0, gid: 0 } }, { stdout: ex.out, extraFds: [extraA] });
      await withTimeout(e.wait(), 10_000, 'exec exit');
      assert.equal(ex.read().stdout.split(/\s+/).filter(Boolean).join(' '), '0 1 2 3', ex.read().stderr);
      await waitFor(() => files.read().stdout.split(/\s+/).filter(Boolean).length >= 5, 5000, 'init output');
      assert.equal(files.read().stdout.split(/\s+/).filter(Boolean).join(' '), '0 1 2 3 4', files.read().stderr);
      assert.equal(fs.readFileSync(`${fx.dir}/extra-a`, 'utf8'), 'to-a\nexec-to-a\n');
      assert.equal(fs.readFileSync(`${fx.dir}/extra-b`, 'utf8'), 'to-b\n');
      await c.kill('KILL');
      await withTimeout(p.wait(), 10_000, 'exit');
    } finally {
      fs.closeSync(extraA);
      fs.closeSync(extraB);
      await c.destroy();
    }
  });

  it('the host root is not reachable after pivot_root', async () => {
    const marker = `berth-marker-${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(path.join(fx.dir, marker), 'x');
    const r = await fx.runToEnd(fx.spec({ args: ['sh', '-c', `find / -xdev -name '${marker}' 2>/dev/null; cat /proc/1/root/${marker} 2>/dev/null; echo done`] }).spec);
    assert.equal(r.stdout, 'done\n');
  });

  it('a cwd through /proc/self/fd is refused', async () => {
    for (const cwd of ['/proc/self/fd/7', '/proc/thread-self/fd/3/..', '/proc/1/cwd']) {
      await assert.rejects(fx.create(fx.spec({ args: ['true'], cwd }).spec), (err: Error) => err.name === 'InvalidArgument' && /process\.cwd/.test(err.message));
    }
  });

  it('a rootfs whose /proc is a symlink is refused', async () => {
    const bundle = path.join(fx.dir, 'bad-bundle');
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    fs.symlinkSync('/tmp', path.join(bundle, 'rootfs', 'proc'));
    const { id, spec } = fx.spec({ args: ['true'] });
    await assert.rejects(fx.factory.create(id, { bundle, spec }), (err: Error) => err.name === 'InvalidArgument' && err.message.includes('/proc is a symlink'));
    // Replaced after create: berth-init refuses it at mount time.
    const c = await fx.create(fx.spec({ args: ['true'] }).spec);
    const proc = path.join(fx.rootfs, 'proc');
    fs.renameSync(proc, `${proc}.real`);
    fs.symlinkSync('/tmp', proc);
    try {
      await assert.rejects(c.start({}), (err: Error) => err.name === 'InvalidArgument' && /symlink/.test(err.message));
    } finally {
      fs.unlinkSync(proc);
      fs.renameSync(`${proc}.real`, proc);
      await c.destroy();
    }
  });

  it('mount destinations cannot escape the rootfs through symlinks or ..', async () => {
    const outside = path.join(fx.dir, 'outside');
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(fx.rootfs, 'escape')); // absolute symlink to a host path
    fs.symlinkSync('../../../../../../..' + outside, path.join(fx.rootfs, 'escape2'));
    try {
      const { spec } = fx.spec({ args: ['sh', '-c', 'echo a > /escape/sub/f && echo b > /escape2/sub2/g && echo c > /dotdot/h && echo ok'] });
      spec.mounts!.push(
        { destination: '/escape/sub', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        { destination: '/escape2/sub2', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        { destination: '/../../../../dotdot', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      );
      const r = await fx.runToEnd(spec);
      assert.equal(r.stdout, 'ok\n', r.stderr);
      assert.deepEqual(fs.readdirSync(outside), [], 'something was created or mounted outside the rootfs');
      assert.ok(fs.existsSync(path.join(fx.rootfs, outside, 'sub')), 'the destination was not created inside the rootfs');
      assert.ok(fs.existsSync(path.join(fx.rootfs, 'dotdot')));
      assert.ok(!fs.existsSync(path.join(path.dirname(fx.dir), 'dotdot')));
    } finally {
      fs.unlinkSync(path.join(fx.rootfs, 'escape'));
      fs.unlinkSync(path.join(fx.rootfs, 'escape2'));
    }
  });

  it('the init binary cannot be overwritten from inside the container', async () => {
    const binary = fx.factory.initBinary;
    const before = crypto.createHash('sha256').update(fs.readFileSync(binary)).digest('hex');
    const c = await fx.create(fx.spec({ args: ['true'] }).spec);
    try {
      const init = await c.start({}); // waiting at the barrier: still berth-init
      assert.match(fs.readlinkSync(`/proc/${init.pid}/exe`), /^\/memfd:berth-init/);
      const files = fx.outputFiles();
      const ex = await c.exec({
        args: ['sh', '-c', 'echo pwned >> /proc/1/exe; echo append=$?; echo pwned > /proc/1/exe; echo trunc=$?'],
        cwd: '/', user: { uid: 0, gid: 0 }, capabilities: { bounding: ['CAP_SYS_PTRACE', 'CAP_DAC_OVERRIDE'], effective: ['CAP_SYS_PTRACE', 'CAP_DAC_OVERRIDE'], permitted: ['CAP_SYS_PTRACE', 'CAP_DAC_OVERRIDE'] },
      }, { stdout: files.out, stderr: files.err });
      await withTimeout(ex.wait(), 10_000, 'exec exit');
      const out = files.read().stdout;
      assert.match(out, /append=[1-9]/);
      assert.match(out, /trunc=[1-9]/);
      await c.run();
      await withTimeout(init.wait(), 10_000, 'init exit');
    } finally {
      await c.destroy();
    }
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(binary)).digest('hex'), before);
  });
});
