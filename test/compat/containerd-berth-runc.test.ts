/**
 * The real containerd (Debian's 1.6, our own instance: config, socket, root and state in a temp dir) with its
 * own containerd-shim-runc-v2 driving bin/berth-runc as its OCI runtime (`ctr run --runc-binary`): run --rm
 * output and exit codes, run -d with tasks ls/exec/ps/pause/resume/metrics/kill/rm, and run -t under a
 * terminal (script(1)); the console socket carries the pty master to the shim. Root only; skipped with a reason.
 *
 * Cleanup: our containerd pid only; its dirs; the shim sockets containerd 1.6 puts under /run/containerd/s/
 * (named sha256("<address>/<namespace>/<id>")) for our ids; berth-runc state under /run/containerd/runc/default.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { makeBusyboxRootfs } from '../helpers/rootfs';

const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const BERTH_RUNC = path.resolve(__dirname, '../../../bin/berth-runc');
const skip = process.getuid?.() !== 0
  ? 'needs root: containers'
  : !fs.existsSync(CONTAINERD) || !fs.existsSync(CTR) ? 'containerd and ctr (Debian containerd) are not installed'
    : !fs.existsSync('/usr/bin/containerd-shim-runc-v2') ? 'containerd-shim-runc-v2 is not installed' : false;

let work = '';
let address = '';
let rootfs = '';
let containerd: ChildProcess | undefined;
const ids = new Set<string>();
const started = new Set<ChildProcess>();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess, timeoutMs = 60_000): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms: ${stdout} ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function track(child: ChildProcess): ChildProcess {
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

async function ctr(args: string[], timeoutMs?: number): Promise<Result> {
  const child = track(spawn(CTR, ['--address', address, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  child.stdin!.end();
  return collect(child, timeoutMs);
}

function newId(): string {
  const id = `berth-test-${randomBytes(4).toString('hex')}`;
  ids.add(id);
  return id;
}

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function taskLine(id: string): Promise<string | undefined> {
  const ls = await ctr(['tasks', 'ls']);
  return ls.stdout.split('\n').find((l) => l.startsWith(id + ' '));
}

async function removeAll(id: string): Promise<void> {
  await ctr(['tasks', 'kill', '-s', 'SIGKILL', id]).catch(() => {});
  await waitFor(async () => (/RUNNING|PAUSED/.test((await taskLine(id)) ?? '') ? undefined : true), `${id} stopped`, 10_000).catch(() => {});
  await ctr(['tasks', 'rm', '-f', id]).catch(() => {});
  await ctr(['containers', 'rm', id]).catch(() => {});
}

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-containerd-'));
  rootfs = path.join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  address = path.join(work, 'containerd.sock');
  const config = path.join(work, 'config.toml');
  fs.writeFileSync(config, [
    'version = 2', `root = "${work}/root"`, `state = "${work}/state"`, 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = "${address}"`, '',
  ].join('\n'));
  const log = fs.openSync(path.join(work, 'containerd.log'), 'w');
  containerd = spawn(CONTAINERD, ['--config', config, '--address', address, '--root', `${work}/root`, '--state', `${work}/state`], {
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  await waitFor(async () => ((await ctr(['version'], 5000).catch(() => undefined))?.code === 0 ? true : undefined), 'containerd serving');
});

after(async () => {
  for (const c of started) c.kill('SIGKILL');
  if (containerd) {
    for (const id of ids) await removeAll(id);
    const exited = new Promise((r) => containerd!.once('exit', r));
    if (containerd.exitCode === null) containerd.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (containerd.exitCode === null && containerd.signalCode === null) containerd.kill('SIGKILL');
  }
  for (const id of ids) {
    const hash = createHash('sha256').update(`${address}/default/${id}`).digest('hex');
    fs.rmSync(path.join('/run/containerd/s', hash), { force: true });
    fs.rmSync(path.join('/run/containerd/runc/default', id), { recursive: true, force: true });
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const runc = ['--runc-binary', BERTH_RUNC];

test('ctr run --rm through berth-runc prints the output and passes exit codes', { skip }, async () => {
  const r = await ctr(['run', '--rm', ...runc, '--rootfs', rootfs, newId(), '/bin/echo', 'hi']);
  assert.equal(r.stdout, 'hi\n');
  assert.equal(r.code, 0, r.stderr);
  const r4 = await ctr(['run', '--rm', ...runc, '--rootfs', rootfs, newId(), '/bin/sh', '-c', 'echo out; echo err >&2; exit 4']);
  assert.equal(r4.stdout, 'out\n');
  assert.equal(r4.stderr, 'err\n');
  assert.equal(r4.code, 4);
});

test('ctr run -d through berth-runc: tasks ls, exec, ps, pause/resume, metrics, kill, rm', { skip }, async () => {
  const id = newId();
  try {
    const run = await ctr(['run', '-d', ...runc, '--rootfs', rootfs, id, '/bin/sh', '-c', 'exec sleep 1000']);
    assert.equal(run.code, 0, run.stderr);
    const line = await taskLine(id);
    assert.match(line ?? '', /RUNNING/);
    const pid = Number(line!.split(/\s+/)[1]);
    assert.ok(pid > 0);
    // berth-runc exited after create: the init is the shim's (the caller's subreaper's) child
    const ppid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    assert.match(fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8'), /containerd-shim-runc-v2/);

    const ex = await ctr(['tasks', 'exec', '--exec-id', 'x1', id, '/bin/echo', 'from exec']);
    assert.equal(ex.stdout, 'from exec\n');
    assert.equal(ex.code, 0, ex.stderr);
    const exFail = await ctr(['tasks', 'exec', '--exec-id', 'x2', id, '/bin/sh', '-c', 'exit 7']);
    assert.equal(exFail.code, 7, exFail.stderr);

    const ps = await ctr(['tasks', 'ps', id]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, new RegExp(`^${pid}\\b`, 'm'));

    assert.equal((await ctr(['tasks', 'pause', id])).code, 0);
    assert.match((await taskLine(id)) ?? '', /PAUSED/);
    assert.equal(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^State:\s+(\S)/m)?.[1], 'D');
    assert.equal((await ctr(['tasks', 'resume', id])).code, 0);
    assert.match((await taskLine(id)) ?? '', /RUNNING/);

    const metrics = await ctr(['tasks', 'metrics', id]);
    assert.equal(metrics.code, 0, metrics.stderr);
    assert.match(metrics.stdout, new RegExp(id));

    const kill = await ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
    assert.equal(kill.code, 0, kill.stderr);
    await waitFor(async () => (/STOPPED/.test((await taskLine(id)) ?? '') ? true : undefined), `${id} STOPPED`);
    const rm = await ctr(['tasks', 'rm', id]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(await taskLine(id), undefined);
    assert.equal(fs.existsSync(path.join('/run/containerd/runc/default', id)), false, 'berth-runc state removed');
  } finally {
    await removeAll(id);
  }
});

test('ctr run -t through berth-runc: the shim gets the pty master over the console socket', { skip }, async () => {
  const id = newId();
  const cmd = `${CTR} --address ${address} run -t --rm ${runc.join(' ')} --rootfs ${rootfs} ${id} /bin/sh -c 'tty; stty size; echo done'`;
  const child = track(spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const r = await collect(child);
  try {
    assert.match(r.stdout, /\/dev\/pts\/\d+|\/dev\/console/, r.stdout + r.stderr);
    assert.match(r.stdout, /done/);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    await removeAll(id);
  }
});

test('ctr tasks exec -t through berth-runc: exec --tty with the console socket', { skip }, async () => {
  const id = newId();
  try {
    const run = await ctr(['run', '-d', ...runc, '--rootfs', rootfs, id, '/bin/sleep', '1000']);
    assert.equal(run.code, 0, run.stderr);
    const cmd = `${CTR} --address ${address} tasks exec -t --exec-id tty1 ${id} /bin/sh -c 'tty; echo exec-done; exit 3'`;
    const child = track(spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const r = await collect(child);
    assert.match(r.stdout, /\/dev\/pts\/\d+/, r.stdout + r.stderr);
    assert.match(r.stdout, /exec-done/);
  } finally {
    await removeAll(id);
  }
});
