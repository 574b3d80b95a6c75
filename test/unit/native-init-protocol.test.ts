/**
 * berth-init's protocol and the Reaper without root: berth-init in exec mode with no namespaces (clone 0),
 * the start barrier, errors, exit statuses of processes watched before and after they exit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Reaper } from '../../native';
import { InitChannel } from '../../native/runtime/init-channel';
import { encodeConfig, type InitOp } from '../../native/runtime/init-config';
import { defaultInitBinary, sealedInitBinary } from '../../native/runtime/init-binary';
import { mkfifo, posixSpawn } from '../../native/sys/linux';
import { exitStatusOf } from '../../native/runtime/reaper';

const haveInit = fs.existsSync(defaultInitBinary());
const skip = haveInit ? false : 'berth-init is not built (npm run build:native)';

describe('berth-init protocol (no namespaces)', { skip }, () => {
  let dir: string;
  let exe: string;
  const opened: InitChannel[] = [];
  const start = (mode: 'init' | 'exec', config: Buffer, stdio: ['ignore' | number, 'ignore' | number, 'ignore' | number]): InitChannel => {
    const ch = InitChannel.start(exe, mode, config, stdio, 'test');
    opened.push(ch);
    return ch;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-proto-'));
    exe = sealedInitBinary(defaultInitBinary());
    Reaper.get();
  });
  after(() => {
    for (const ch of opened) ch.close(); // a failed test must not keep the event loop alive
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const proc = (args: string[]): InitOp[] => [['cwd', '/'], ['env', 'PATH=/bin:/usr/bin', 'X=1'], ['args', ...args], ['exec']];

  it('exec mode: pid, wait-go, exec; EOF means the exec succeeded', async () => {
    const outFile = path.join(dir, 'out1');
    const out = fs.openSync(outFile, 'w');
    const ch = start('exec', encodeConfig([['clone', '0'], ['wait-go'], ['setsid'], ...proc(['/bin/sh', '-c', 'echo $X $HOME; ls /proc/self/fd | wc -l; grep -E "^Sig(Ign|Blk)" /proc/self/status; exit 3'])]), ['ignore', out, out]);
    fs.closeSync(out);
    const pid = await ch.pid();
    ch.go();
    await ch.execed();
    ch.close();
    const st = await Reaper.get().watch(pid);
    assert.equal(st.exitStatus, 3);
    const lines = fs.readFileSync(outFile, 'utf8').split('\n');
    assert.match(lines[0]!, /^1 \//, 'env passed, HOME added from /etc/passwd');
    assert.equal(lines[1]!.trim(), '4', 'only 0-2 (plus the fd of ls itself) are open');
    assert.match(lines[2]!, /^SigBlk:\s+0+$/, 'no signal blocked');
    assert.match(lines[3]!, /^SigIgn:\s+0+$/, 'no signal ignored');
  });

  it('init mode waits at the start barrier until a byte arrives in the exec FIFO', async () => {
    const fifo = path.join(dir, 'exec.fifo');
    mkfifo(fifo, 0o600);
    const outFile = path.join(dir, 'out2');
    const out = fs.openSync(outFile, 'w');
    const ch = start('init', encodeConfig([['clone', '0'], ['fifo', fifo], ...proc(['/bin/echo', 'started'])]), ['ignore', out, 'ignore']);
    fs.closeSync(out);
    const pid = await ch.pid();
    await ch.ready();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fs.readFileSync(outFile, 'utf8'), '', 'nothing ran before the barrier opened');
    const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, '0');
    fs.closeSync(fd);
    await ch.execed();
    ch.close();
    assert.equal((await Reaper.get().watch(pid)).exitStatus, 0);
    assert.equal(fs.readFileSync(outFile, 'utf8'), 'started\n');
  });

  it('reports errors: a malformed configuration, an unknown operation, a missing executable', async () => {
    const bad = start('exec', Buffer.from('3:abc,'), ['ignore', 'ignore', 'ignore']);
    try {
      await assert.rejects(bad.pid(), /configuration: malformed netstring/);
    } finally {
      bad.close();
    }
    const unknown = start('exec', encodeConfig([['clone', '0'], ['frobnicate']]), ['ignore', 'ignore', 'ignore']);
    const pid = await unknown.pid();
    await assert.rejects(unknown.execed(), /unknown operation frobnicate/);
    unknown.close();
    assert.equal((await Reaper.get().watch(pid)).exitStatus, 1);
    const missing = start('exec', encodeConfig([['clone', '0'], ...proc(['no-such-program'])]), ['ignore', 'ignore', 'ignore']);
    const pid2 = await missing.pid();
    await assert.rejects(missing.execed(), { name: 'NotFound', message: /executable file not found in \$PATH/ });
    missing.close();
    await Reaper.get().watch(pid2);
  });
});

describe('posixSpawn', () => {
  it('maps fds (through temporaries), and its child is ours to reap', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-spawn-'));
    try {
      const a = fs.openSync(path.join(dir, 'a'), 'w');
      const b = fs.openSync(path.join(dir, 'b'), 'w');
      const script = 'echo out; echo err >&2';
      // child stdout = b, stderr = a: crossed on purpose
      const pid = posixSpawn('/bin/sh', ['sh', '-c', script], ['PATH=/bin:/usr/bin'], [a, b, a]);
      fs.closeSync(a);
      fs.closeSync(b);
      const st = await Reaper.get().watch(pid);
      assert.equal(st.exitStatus, 0);
      const out = fs.readFileSync(path.join(dir, 'b'), 'utf8');
      assert.equal(out, 'out\n');
      assert.equal(fs.readFileSync(path.join(dir, 'a'), 'utf8'), 'err\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Reaper', { skip }, () => {
  it('collects a status when watched after the exit, and decodes signals', async () => {
    const exe = sealedInitBinary(defaultInitBinary());
    const ch = InitChannel.start(exe, 'exec', encodeConfig([['clone', '0'], ['cwd', '/'], ['env'], ['args', '/bin/sh', '-c', 'exit 42'], ['exec']]), ['ignore', 'ignore', 'ignore'], 'test');
    const pid = await ch.pid();
    await ch.execed();
    ch.close();
    // wait until it is a zombie, then watch
    for (let i = 0; i < 500 && !/\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
    const st = await Reaper.get().watch(pid);
    assert.equal(st.exitStatus, 42);
    assert.equal(await Reaper.get().watch(pid), st, 'watching again returns the same status');
    assert.deepEqual({ ...exitStatusOf(9), exitedAt: 0 }, { exitStatus: 137, signal: 'SIGKILL', exitedAt: 0 });
    assert.equal(exitStatusOf(1 << 8).exitStatus, 1);
  });

  it('does not steal exit statuses of child_process children', () => {
    Reaper.get();
    assert.equal(execFileSync('/bin/sh', ['-c', 'echo ok']).toString(), 'ok\n');
  });
});
