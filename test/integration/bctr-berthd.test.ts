/**
 * bctr end to end against a real berthd (test/helpers/daemon.ts): metadata commands, events, and the task
 * commands (run --rm, exit codes, stdin, -d + tasks ls/ps/exec/pause/resume/metrics/kill/rm, -t, memory
 * limit, --runc-binary), with the real ctr's output on the same daemon as the reference where both apply.
 * Root only; skipped with a reason otherwise.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBerthd, type TestDaemon } from '../helpers/daemon';
import { makeBusyboxRootfs } from '../helpers/rootfs';
import { CTR, runCli, spawnCli, collect, newId, waitFor, runBctrUnderPty, type CliResult } from './bctr-harness';

const skip = process.getuid?.() !== 0 ? 'needs root: berthd runs containers' : false;

let berthd: TestDaemon | undefined;
let work = '';
let rootfs = '';
let fifoDir = '';
const hasCtr = fs.existsSync(CTR);

const bctr = (args: string[], opts?: Parameters<typeof runCli>[3]): Promise<CliResult> => runCli('bctr', berthd!.address, args, opts);
const ctr = (args: string[], opts?: Parameters<typeof runCli>[3]): Promise<CliResult> => runCli('ctr', berthd!.address, args, opts);

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-bctr-'));
  rootfs = path.join(work, 'rootfs');
  fifoDir = path.join(work, 'fifo');
  fs.mkdirSync(fifoDir);
  await makeBusyboxRootfs(rootfs);
  berthd = await startBerthd({ logLevel: 'warn' });
});

after(async () => {
  if (berthd) {
    const ids = (await bctr(['t', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    for (const id of ids) await bctr(['t', 'rm', '-f', id]);
    const cids = (await bctr(['c', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    if (cids.length > 0) await bctr(['c', 'rm', ...cids]);
    await berthd.stop();
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('version, namespaces, plugins', { skip }, async () => {
  const v = ok(await bctr(['version']), 'version');
  assert.match(v.stdout, /\nServer:\n {2}Version: {2}\S+\n {2}Revision: \S*\n {2}UUID: [0-9a-f-]{36}\n$/);
  ok(await bctr(['ns', 'create', 'bt-other', 'a=b']), 'ns create');
  assert.match(ok(await bctr(['ns', 'ls']), 'ns ls').stdout, /^bt-other +a=b *$/m);
  if (hasCtr) assert.equal((await bctr(['ns', 'ls'])).stdout, (await ctr(['ns', 'ls'])).stdout);
  assert.equal(ok(await bctr(['ns', 'rm', 'bt-other']), 'ns rm').stdout, 'bt-other\n');
  assert.match(ok(await bctr(['plugins', 'ls']), 'plugins').stdout, /^TYPE +ID +PLATFORMS +STATUS *\n/);
});

test('containers create/ls/info/label/rm; the spec ctr would build', { skip }, async () => {
  const id = newId();
  ok(await bctr(['c', 'create', '--label', 'k=v', '--env', 'A=1', '--rootfs', rootfs, id, '/bin/sh', '-c', 'echo -n']), 'create');
  try {
    assert.match(ok(await bctr(['c', 'ls']), 'ls').stdout, new RegExp(`^${id} +- +io\\.containerd\\.runc\\.v2 +$`, 'm'));
    const info = JSON.parse(ok(await bctr(['c', 'info', id]), 'info').stdout);
    assert.equal(info.ID, id);
    assert.deepEqual(info.Labels, { k: 'v' });
    assert.deepEqual(info.Spec.process.args, ['/bin/sh', '-c', 'echo -n']);
    assert.deepEqual(info.Spec.process.env, ['A=1']);
    assert.equal(info.Spec.linux.cgroupsPath, `/default/${id}`);
    if (hasCtr) assert.equal((await bctr(['c', 'info', id])).stdout, (await ctr(['c', 'info', id])).stdout);
    assert.equal(ok(await bctr(['c', 'label', id, 'x=y']), 'label').stdout, 'k=v,x=y\n');
  } finally {
    ok(await bctr(['c', 'rm', id]), 'rm');
  }
  const gone = await bctr(['c', 'info', id]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^ctr: .*not found\n$/);
});

test('run --rm: output, exit codes, stdin to cat; nothing left behind', { skip }, async () => {
  const fifo = ['--fifo-dir', fifoDir];
  assert.equal(ok(await bctr(['run', '--rm', ...fifo, '--rootfs', rootfs, newId(), '/bin/echo', 'hi']), 'echo').stdout, 'hi\n');
  const r = await bctr(['run', '--rm', ...fifo, '--rootfs', rootfs, newId(), '/bin/sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [7, 'out\n', 'err\n']);
  const input = 'berth\n'.repeat(5000);
  assert.equal(ok(await bctr(['run', '--rm', ...fifo, '--rootfs', rootfs, newId(), '/bin/cat'], { input }), 'cat').stdout, input);
  assert.equal((await bctr(['c', 'ls', '-q'])).stdout, '');
  assert.deepEqual(fs.readdirSync(fifoDir), []);
});

test('run -d, tasks ls/ps/exec/pause/resume/metrics, kill shows /tasks/exit, rm', { skip }, async () => {
  const id = newId();
  const fifo = ['--fifo-dir', fifoDir];
  ok(await bctr(['run', '-d', ...fifo, '--rootfs', rootfs, id, '/bin/sleep', '300']), 'run -d');
  const events = spawnCli('bctr', berthd!.address, ['events', `topic~=|^/tasks/|`]);
  let evOut = '';
  events.stdout!.on('data', (d: Buffer) => (evOut += d.toString()));
  const evDone = collect(events, 60_000);
  try {
    const ls = ok(await bctr(['t', 'ls']), 'ls');
    assert.match(ls.stdout, new RegExp(`^${id} +\\d+ +RUNNING$`, 'm'));
    if (hasCtr) assert.equal(ls.stdout, (await ctr(['t', 'ls'])).stdout);
    assert.match(ok(await bctr(['t', 'ps', id]), 'ps').stdout, /^PID +INFO\n\d+ +-\n/);
    const ex = await bctr(['t', 'exec', ...fifo, '--exec-id', 'e1', id, '/bin/sh', '-c', 'echo exec-out; exit 4']);
    assert.deepEqual([ex.code, ex.stdout], [4, 'exec-out\n']);
    ok(await bctr(['t', 'pause', id]), 'pause');
    assert.match((await bctr(['t', 'ls'])).stdout, new RegExp(`^${id} +\\d+ +PAUSED$`, 'm'));
    ok(await bctr(['t', 'resume', id]), 'resume');
    const m = ok(await bctr(['t', 'metrics', id]), 'metrics').stdout;
    assert.match(m, new RegExp(`^ID +TIMESTAMP +\n${id} +\\d{4}-\\d\\d-\\d\\d [\\d:.]+ \\+0000 UTC +\n\nMETRIC +VALUE +\n`));
    assert.match(m, /^(pids\.current|memory\.usage_in_bytes) +\d+ +$/m);
    JSON.parse(ok(await bctr(['t', 'metrics', '--format', 'json', id]), 'metrics json').stdout);
    ok(await bctr(['t', 'kill', '-s', 'KILL', id]), 'kill');
    await waitFor(() => (evOut.includes(`/tasks/exit {"container_id":"${id}"`) ? true : undefined), '/tasks/exit event');
    await waitFor(async () => /STOPPED$/m.test((await bctr(['t', 'ls'])).stdout) || undefined, 'STOPPED');
    ok(await bctr(['t', 'rm', id]), 't rm');
  } finally {
    events.kill('SIGTERM');
    await evDone;
    await bctr(['t', 'rm', '-f', id]);
    ok(await bctr(['c', 'rm', id]), 'c rm');
  }
  assert.match(evOut, new RegExp(`/tasks/exit \\{"container_id":"${id}","id":"${id}","pid":\\d+,"exit_status":137,"exited_at":"[^"]+"\\}`));
  assert.deepEqual(fs.readdirSync(fifoDir), []);
});

test('run -t under a pty; --memory-limit; --runc-binary', { skip }, async () => {
  if (fs.existsSync('/usr/bin/script')) {
    const r = await runBctrUnderPty(berthd!.address, ['run', '-t', '--rm', '--rootfs', rootfs, newId(), '/bin/sh', '-c', 'test -t 0 && echo is-a-tty; exit 3']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /is-a-tty/);
  }
  const m = newId();
  ok(await bctr(['run', '-d', '--memory-limit', '33554432', '--rootfs', rootfs, m, '/bin/sleep', '60']), 'run -d');
  try {
    const limit = fs.readFileSync(`/sys/fs/cgroup/memory/default/${m}/memory.limit_in_bytes`, 'utf8').trim();
    assert.equal(limit, '33554432');
  } finally {
    await bctr(['t', 'rm', '-f', m]);
    await bctr(['c', 'rm', m]);
  }
  if (fs.existsSync('/usr/sbin/runc')) {
    const r = ok(await bctr(['run', '--rm', '--runc-binary', '/usr/sbin/runc', '--rootfs', rootfs, newId(), '/bin/echo', 'via-runc']), 'runc');
    assert.equal(r.stdout, 'via-runc\n');
  }
});

test('signals sent to bctr go to the process (run without -t)', { skip }, async () => {
  const id = newId();
  const script = 'trap "echo got-term; exit 9" TERM; echo ready; while true; do sleep 0.1; done';
  const child = spawnCli('bctr', berthd!.address, ['run', '--rm', '--rootfs', rootfs, id, '/bin/sh', '-c', script]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = collect(child);
  await waitFor(() => out.includes('ready') || undefined, 'the process to be ready');
  child.kill('SIGTERM');
  const r = await done;
  assert.equal(r.code, 9, r.stdout + r.stderr);
  assert.match(r.stdout, /got-term/);
});
