/**
 * The runtime: exec (a setns process), terminals, pause/resume, kill. Needs root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { resizePty, type Container, type Process } from '../../native';
import { runtimeFixture, waitFor, withTimeout, type RuntimeFixture } from '../helpers/runtime-fixture';

const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, mounts and cgroups' : false;

/** Reads a pty master until the slave side is closed by everyone (EIO). */
async function readAll(master: number): Promise<string> {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    try {
      const n = await new Promise<number>((resolve, reject) => fs.read(master, buf, 0, buf.length, null, (e, k) => (e ? reject(e) : resolve(k))));
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EIO') break;
      throw err;
    }
  }
  return Buffer.concat(chunks).toString();
}

describe('runtime: exec, terminal, pause', { skip }, () => {
  let fx: RuntimeFixture;
  let c: Container;
  let init: Process;
  before(async () => {
    fx = await runtimeFixture();
    c = await fx.create(fx.spec({ args: ['sleep', '600'] }).spec);
    init = await c.start({});
    await c.run();
  });
  after(async () => {
    await c?.destroy();
    await fx?.cleanup();
  });

  async function execOut(args: string[], extra: Record<string, unknown> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const files = fx.outputFiles();
    const p = await c.exec({ args, cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin:/usr/bin'], ...extra }, { stdout: files.out, stderr: files.err });
    const st = await withTimeout(p.wait(), 10_000, 'exec exit');
    return { code: st.exitStatus, ...files.read() };
  }

  it('exec sees the same namespaces and cgroup as the init', async () => {
    const r = await execOut(['sh', '-c', 'for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const ns = ['pid', 'mnt', 'uts', 'ipc', 'net'].map((n) => fs.readlinkSync(`/proc/${init.pid}/ns/${n}`));
    assert.deepEqual(lines.slice(0, 5), ns);
    assert.equal(lines.slice(5).join('\n') + '\n', fs.readFileSync(`/proc/${init.pid}/cgroup`, 'utf8'));
    const pids = await c.processes();
    assert.ok(pids.includes(init.pid));
  });

  it('an exec process can be signalled by pid (128+signal)', async () => {
    const p = await c.exec({ args: ['sleep', '60'], cwd: '/', user: { uid: 0, gid: 0 } }, {});
    await waitFor(async () => (await c.processes()).includes(p.pid), 5000, 'exec in cgroup');
    await c.kill('TERM', { pid: p.pid });
    const st = await withTimeout(p.wait(), 10_000, 'exec exit');
    assert.equal(st.exitStatus, 143);
    assert.equal(st.signal, 'SIGTERM');
  });

  it('exec of a missing binary fails with NotFound', async () => {
    await assert.rejects(c.exec({ args: ['nope'], cwd: '/', user: { uid: 0, gid: 0 } }, {}), { name: 'NotFound' });
  });

  it('exec with a terminal gets a pty as controlling terminal', async () => {
    const p = await c.exec({ args: ['sh', '-c', 'tty; stty size'], cwd: '/', user: { uid: 0, gid: 0 }, terminal: true, consoleSize: { width: 100, height: 40 } }, {});
    assert.ok(p.terminalMaster !== undefined);
    const out = readAll(p.terminalMaster!);
    const st = await withTimeout(p.wait(), 10_000, 'exec exit');
    const text = await withTimeout(out, 10_000, 'pty output');
    fs.closeSync(p.terminalMaster!);
    assert.equal(st.exitStatus, 0, text);
    // the pty comes from the container's own devpts, so `tty` names it there
    assert.match(text, /^\/dev\/pts\/\d+\r?$/m);
    assert.match(text, /40 100/);
  });

  it('pause freezes every process, resume thaws them', async () => {
    await c.pause();
    assert.equal((await c.state()).status, 'paused');
    const freezer = `/sys/fs/cgroup/freezer${(await c.state()).cgroupsPath}/freezer.state`;
    if (fs.existsSync(freezer)) assert.equal(fs.readFileSync(freezer, 'utf8').trim(), 'FROZEN');
    await assert.rejects(c.exec({ args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } }, {}), { name: 'FailedPrecondition' });
    await assert.rejects(c.pause(), { name: 'FailedPrecondition' });
    assert.equal((await (await fx.factory.load(c.id)).state()).status, 'paused', 'persisted');
    await c.resume();
    assert.equal((await c.state()).status, 'running');
    assert.equal((await (await fx.factory.load(c.id)).state()).status, 'running', 'persisted');
    if (fs.existsSync(freezer)) assert.equal(fs.readFileSync(freezer, 'utf8').trim(), 'THAWED');
    await assert.rejects(c.resume(), { name: 'FailedPrecondition' });
  });

  it('stats report the cgroup', async () => {
    const s = await c.stats();
    assert.ok(s.version === 1 || s.version === 2);
  });
});

describe('runtime: init with a terminal', { skip }, () => {
  let fx: RuntimeFixture;
  before(async () => {
    fx = await runtimeFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  for (const devpts of [true, false]) {
  it(`the init gets the pty as stdio and /dev/console (${devpts ? "from the container's devpts" : 'no devpts: from the host'})`, async () => {
    const { spec } = fx.spec({ args: ['sh', '-c', 'tty; stty size; ls -l /dev/console'], terminal: true });
    if (!devpts) spec.mounts = spec.mounts!.filter((m) => m.type !== 'devpts');
    const c = await fx.create(spec);
    try {
      const p = await c.start({});
      assert.ok(p.terminalMaster !== undefined);
      resizePty(p.terminalMaster!, 120, 30);
      const out = readAll(p.terminalMaster!);
      await c.run();
      const st = await withTimeout(p.wait(), 10_000, 'exit');
      const text = await withTimeout(out, 10_000, 'pty output');
      fs.closeSync(p.terminalMaster!);
      assert.equal(st.exitStatus, 0, text);
      assert.match(text, devpts ? /^\/dev\/pts\/0\r?$/m : /^\/dev\/console\r?$/m);
      assert.match(text, /30 120/);
      assert.match(text, /crw.* 136, +\d+ .*\/dev\/console/);
    } finally {
      await c.destroy();
    }
  });
  }
});
