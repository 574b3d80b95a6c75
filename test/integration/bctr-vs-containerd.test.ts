/**
 * bctr against a private real containerd 1.6 (its own socket and dirs), side by side with the real ctr on
 * the same daemon: the same requests (the spec bctr builds is the one ctr builds) and the same output
 * (tables, JSON, events), plus bctr's task commands end to end. Root only; skipped with a reason when
 * not root or when containerd/ctr are not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeBusyboxRootfs } from '../helpers/rootfs';
import {
  CONTAINERD,
  CTR,
  runCli,
  spawnCli,
  collect,
  newId,
  waitFor,
  startContainerd,
  removeNamespaceCgroups,
  runBctrUnderPty,
  type PrivateContainerd,
  type CliResult,
} from './bctr-harness';

const skip =
  process.getuid?.() !== 0
    ? 'needs root: runs containers through a real containerd'
    : !fs.existsSync(CONTAINERD) || !fs.existsSync(CTR)
      ? 'containerd/ctr (Debian package containerd) is not installed'
      : false;

let cd: PrivateContainerd | undefined;
let work = '';
let rootfs = '';
let fifoDir = '';
const ns = newId('bt-ns');

const bctr = (args: string[], opts?: Parameters<typeof runCli>[3]): Promise<CliResult> =>
  runCli('bctr', cd!.address, ['-n', ns, ...args], opts);
const ctr = (args: string[], opts?: Parameters<typeof runCli>[3]): Promise<CliResult> => runCli('ctr', cd!.address, ['-n', ns, ...args], opts);

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-bctr-'));
  rootfs = path.join(work, 'rootfs');
  fifoDir = path.join(work, 'fifo');
  await makeBusyboxRootfs(rootfs);
  cd = await startContainerd();
});

after(async () => {
  if (cd) await cd.stop([ns]);
  if (!skip) removeNamespaceCgroups(ns);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('version: the server part is what ctr prints', { skip }, async () => {
  const [b, c] = [ok(await bctr(['version']), 'bctr version'), ok(await ctr(['version']), 'ctr version')];
  const server = (s: string): string => s.slice(s.indexOf('Server:'));
  assert.equal(server(b.stdout), server(c.stdout));
  assert.match(b.stdout, /^Client:\n {2}Version: /);
});

test('plugins ls prints the same table as ctr', { skip }, async () => {
  assert.equal(ok(await bctr(['plugins', 'ls']), 'bctr').stdout, ok(await ctr(['plugins', 'ls']), 'ctr').stdout);
  assert.equal(ok(await bctr(['plugin', 'ls', '-q']), 'bctr').stdout, ok(await ctr(['plugin', 'ls', '-q']), 'ctr').stdout);
});

test('namespaces: create/label/rm by bctr, ls identical to ctr', { skip }, async () => {
  const other = newId('bt-ns');
  try {
    ok(await bctr(['ns', 'create', other, 'a=b', 'c=']), 'ns create');
    ok(await bctr(['namespaces', 'label', other, 'x=y', 'a=']), 'ns label'); // empty values clear labels: only x=y stays
    const b = ok(await bctr(['ns', 'ls']), 'bctr ns ls');
    assert.equal(b.stdout, ok(await ctr(['ns', 'ls']), 'ctr ns ls').stdout);
    assert.match(b.stdout, new RegExp(`^${other} +x=y *$`, 'm'));
    assert.equal((await bctr(['ns', 'ls', '-q'])).stdout, (await ctr(['ns', 'ls', '-q'])).stdout);
  } finally {
    const rm = await bctr(['ns', 'rm', other, 'bt-never-existed']);
    assert.equal(rm.stdout, `${other}\nbt-never-existed\n`);
  }
});

test('containers: bctr builds the spec ctr builds; ls, info, label, rm print as ctr', { skip }, async () => {
  const flags = ['--env', 'A=1', '--cwd', '/tmp', '--memory-limit', '67108864', '--label', 'k=v', '--cap-add', 'CAP_SYS_ADMIN', '-t', '--rootfs'];
  const [b, c] = [newId(), newId()];
  try {
    ok(await bctr(['c', 'create', ...flags, rootfs, b, '/bin/sleep', '1']), 'bctr c create');
    ok(await ctr(['c', 'create', ...flags, rootfs, c, '/bin/sleep', '1']), 'ctr c create');
    const specB = ok(await ctr(['c', 'info', '--spec', b]), 'spec b').stdout;
    const specC = ok(await ctr(['c', 'info', '--spec', c]), 'spec c').stdout;
    assert.equal(specB.replaceAll(b, 'ID'), specC.replaceAll(c, 'ID'), 'same spec as ctr');
    for (const id of [b, c]) {
      assert.equal(ok(await bctr(['c', 'info', id]), 'bctr info').stdout, ok(await ctr(['c', 'info', id]), 'ctr info').stdout);
      assert.equal((await bctr(['c', 'info', '--spec', id])).stdout, (await ctr(['c', 'info', '--spec', id])).stdout);
    }
    assert.equal(ok(await bctr(['c', 'ls']), 'bctr ls').stdout, ok(await ctr(['c', 'ls']), 'ctr ls').stdout);
    assert.equal((await bctr(['c', 'ls', '-q', `id==${b}`])).stdout, `${b}\n`, 'filters reach the daemon');
    assert.equal(ok(await bctr(['c', 'label', b, 'k=', 'n=1']), 'label').stdout, 'n=1\n');
    const missing = await bctr(['c', 'info', 'bt-nope']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, (await ctr(['c', 'info', 'bt-nope'])).stderr);
  } finally {
    ok(await bctr(['c', 'rm', b, c]), 'c rm');
  }
  assert.equal((await ctr(['c', 'ls', '-q'])).stdout, '');
});

test('run --rm: output, exit status, stderr and stdin as ctr; no FIFO left', { skip }, async () => {
  const fifo = ['--fifo-dir', fifoDir];
  const hi = ok(await bctr(['run', '--rm', ...fifo, '--rootfs', rootfs, newId(), '/bin/echo', 'hi']), 'echo hi');
  assert.equal(hi.stdout, 'hi\n');
  const seven = await bctr(['run', '--rm', ...fifo, '--rootfs', rootfs, newId(), '/bin/sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.deepEqual([seven.code, seven.stdout, seven.stderr], [7, 'out\n', 'err\n']);
  const ctrSeven = await ctr(['run', '--rm', '--rootfs', rootfs, newId(), '/bin/sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.deepEqual([ctrSeven.code, ctrSeven.stdout, ctrSeven.stderr], [7, 'out\n', 'err\n']);
  const input = 'line one\nline two\n'.repeat(2000);
  const cat = ok(await bctr(['run', '--rm', ...fifo, '--rootfs', rootfs, newId(), '/bin/cat'], { input }), 'cat');
  assert.equal(cat.stdout, input, 'stdin reaches the process and its end closes the process stdin');
  const wc = ok(await bctr(['run', '--rm', ...fifo, '--rootfs', rootfs, newId(), '/bin/sh', '-c', 'wc -c'], { input: '' }), 'empty stdin');
  assert.equal(wc.stdout.trim(), '0');
  assert.deepEqual(fs.readdirSync(fifoDir), []);
  assert.equal((await ctr(['c', 'ls', '-q'])).stdout, '', '--rm removed every container');
});

test('run -d, then tasks ls/ps/exec/pause/resume/metrics/kill/rm as ctr', { skip }, async () => {
  const id = newId();
  const fifo = ['--fifo-dir', fifoDir];
  ok(await bctr(['run', '-d', ...fifo, '--rootfs', rootfs, id, '/bin/sleep', '300']), 'run -d');
  try {
    const ls = ok(await bctr(['t', 'ls']), 't ls');
    assert.match(ls.stdout, new RegExp(`^${id} +\\d+ +RUNNING$`, 'm'));
    assert.equal(ls.stdout, (await ctr(['t', 'ls'])).stdout);
    assert.equal(ok(await bctr(['t', 'ps', id]), 'ps').stdout, (await ctr(['t', 'ps', id])).stdout);

    const ex = await bctr(['t', 'exec', ...fifo, '--exec-id', 'e1', id, '/bin/sh', '-c', 'echo exec-out; exit 4']);
    assert.deepEqual([ex.code, ex.stdout], [4, 'exec-out\n']);
    const exIn = ok(await bctr(['t', 'exec', '--exec-id', 'e2', id, '/bin/cat'], { input: 'to exec\n' }), 'exec stdin');
    assert.equal(exIn.stdout, 'to exec\n');

    ok(await bctr(['t', 'pause', id]), 'pause');
    assert.match((await bctr(['t', 'ls'])).stdout, new RegExp(`^${id} +\\d+ +PAUSED$`, 'm'));
    ok(await bctr(['t', 'resume', id]), 'resume');
    assert.match((await bctr(['t', 'ls'])).stdout, new RegExp(`^${id} +\\d+ +RUNNING$`, 'm'));

    const m = ok(await bctr(['t', 'metrics', id]), 'metrics');
    const mc = ok(await ctr(['t', 'metrics', id]), 'ctr metrics');
    const keys = (s: string): string[] => s.split('\n').map((l) => l.split(/ +/)[0]);
    assert.deepEqual(keys(m.stdout), keys(mc.stdout), 'same rows as ctr');
    const mj = JSON.parse(ok(await bctr(['t', 'metrics', '--format', 'json', id]), 'metrics json').stdout);
    const mcj = JSON.parse((await ctr(['t', 'metrics', '--format', 'json', id])).stdout);
    assert.deepEqual(Object.keys(mj), Object.keys(mcj));

    const rmLive = await bctr(['t', 'rm', id]);
    assert.equal(rmLive.code, 1);
    assert.match(rmLive.stderr, /ctr: task must be stopped before deletion: running: failed precondition\n$/);
    assert.equal((await bctr(['c', 'rm', id])).code, 1);

    ok(await bctr(['t', 'kill', '-s', 'SIGKILL', id]), 'kill');
    await waitFor(async () => /STOPPED$/m.test((await bctr(['t', 'ls'])).stdout) || undefined, 'STOPPED');
    const rm = ok(await bctr(['t', 'rm', id]), 't rm');
    assert.match(rm.stderr, /level=warning msg="task .* exit with non-zero exit code 137"/);
  } finally {
    await bctr(['t', 'rm', '-f', id]);
    ok(await bctr(['c', 'rm', id]), 'c rm');
  }
  assert.deepEqual(fs.readdirSync(fifoDir), [], 'FIFOs of the task and its execs removed');
});

test('events: bctr prints exactly the lines ctr prints', { skip }, async () => {
  const filter = `namespace==${ns}`;
  const subs = [spawnCli('bctr', cd!.address, ['events', filter]), spawnCli('ctr', cd!.address, ['events', filter])];
  const outs = ['', ''];
  subs.forEach((s, i) => s.stdout!.on('data', (d: Buffer) => (outs[i] += d.toString())));
  const results = subs.map((s) => collect(s, 60_000));
  const id = newId();
  try {
    await new Promise((r) => setTimeout(r, 500)); // both subscribed
    ok(await bctr(['run', '--rm', '--rootfs', rootfs, id, '/bin/true']), 'run');
    ok(await bctr(['ns', 'label', ns, 'bt=1']), 'label');
    await waitFor(() => outs.every((o) => o.includes('/namespaces/update')) || undefined, 'both to print the events');
  } finally {
    for (const s of subs) s.kill('SIGTERM');
    await Promise.all(results);
  }
  assert.equal(outs[0], outs[1]);
  for (const topic of ['/containers/create', '/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete', '/containers/delete']) {
    assert.match(outs[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d+)? \\+0000 UTC ${ns} ${topic} \\{`, 'm'), topic);
  }
});

test('run -t under a pty, --memory-limit applied, --runc-binary', { skip }, async () => {
  const id = newId();
  if (fs.existsSync('/usr/bin/script')) {
    const r = await runBctrUnderPty(cd!.address, ['-n', ns, 'run', '-t', '--rm', '--rootfs', rootfs, id, '/bin/sh', '-c', 'test -t 0 && echo is-a-tty; exit 3']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /is-a-tty/);
  }
  const m = newId();
  ok(await bctr(['run', '-d', '--memory-limit', '33554432', '--rootfs', rootfs, m, '/bin/sleep', '60']), 'run -d memory');
  try {
    const limit = fs.readFileSync(`/sys/fs/cgroup/memory/${ns}/${m}/memory.limit_in_bytes`, 'utf8').trim();
    assert.equal(limit, '33554432');
  } finally {
    await bctr(['t', 'rm', '-f', m]);
    await bctr(['c', 'rm', m]);
  }
  const viaRunc = ok(await bctr(['run', '--rm', '--runc-binary', '/usr/sbin/runc', '--rootfs', rootfs, newId(), '/bin/echo', 'via-runc']), 'runc');
  assert.equal(viaRunc.stdout, 'via-runc\n');
});

test('signals sent to bctr go to the process (run without -t), as with ctr', { skip }, async () => {
  const script = 'trap "echo got-term; exit 9" TERM; echo ready; while true; do sleep 0.1; done';
  for (const which of ['bctr', 'ctr'] as const) {
    const child = spawnCli(which, cd!.address, ['-n', ns, 'run', '--rm', '--rootfs', rootfs, newId(), '/bin/sh', '-c', script]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const done = collect(child);
    await waitFor(() => out.includes('ready') || undefined, `${which}: the process to be ready`);
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 9, `${which}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /got-term/);
  }
});
