/**
 * The real `ctr` (containerd 1.6, /usr/bin/ctr --address <berthd socket>) running containers on berthd:
 * run --rm output and exit codes, stdin and its end, run -d + tasks ls/exec/ps/pause/resume/metrics/kill,
 * events, a terminal (-t under a pty), --memory-limit, --runc-binary. Root only; skipped with a reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { startBerthd, type TestDaemon, type ServiceClient } from '../helpers/daemon';
import { makeBusyboxRootfs } from '../helpers/rootfs';

const CTR = '/usr/bin/ctr';
const skip = process.getuid?.() !== 0 ? 'needs root: containers' : !fs.existsSync(CTR) ? 'ctr (Debian containerd) is not installed' : false;

let berthd: TestDaemon | undefined;
let tasks: ServiceClient | undefined;
let work = '';
let rootfs = '';
const started = new Set<ChildProcess>();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs ctr against berthd; `input` is written to its stdin (then closed) once `beforeInput` resolves. */
function ctrProc(args: string[]): ChildProcess {
  const child = spawn(CTR, ['--address', berthd!.address, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

function collect(child: ChildProcess, timeoutMs = 30_000): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ctr timed out after ${timeoutMs} ms: ${stdout} ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ctr(args: string[], timeoutMs?: number): Promise<Result> {
  const child = ctrProc(args);
  child.stdin!.end();
  return collect(child, timeoutMs);
}

const newId = (): string => `berth-test-${randomBytes(4).toString('hex')}`;

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function taskStatus(id: string): Promise<string | undefined> {
  try {
    const res = await tasks!.Get!({ container_id: id, exec_id: '' }, { timeoutMs: 5000 });
    return res.process.status as string;
  } catch {
    return undefined;
  }
}

/** Removes whatever a test left (task, container), never failing. */
async function removeAll(id: string): Promise<void> {
  await ctr(['tasks', 'kill', '-s', 'SIGKILL', id]).catch(() => {});
  await waitFor(async () => ((await taskStatus(id)) !== 'RUNNING' ? true : undefined), `${id} stopped`, 10_000).catch(() => {});
  await ctr(['tasks', 'rm', '-f', id]).catch(() => {});
  await ctr(['containers', 'rm', id]).catch(() => {});
}

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-ctr-'));
  rootfs = path.join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  berthd = await startBerthd();
  tasks = berthd.client('tasks');
});

after(async () => {
  for (const c of started) c.kill('SIGKILL');
  if (berthd) {
    const left = await tasks!.List!({}).catch(() => ({ tasks: [] }));
    for (const t of left.tasks as { id: string }[]) await removeAll(t.id);
    // A graceful stop waits for deleted tasks' shims to exit and their bundles to go.
    await berthd.terminate('SIGTERM');
    const tasksDir = path.join(berthd.state, 'tasks');
    const bundles = fs.existsSync(tasksDir) ? fs.readdirSync(tasksDir) : [];
    await berthd.stop();
    assert.deepEqual(bundles, [], 'no bundle left behind');
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('ctr run --rm prints the output', { skip }, async () => {
  const r = await ctr(['run', '--rm', '--rootfs', rootfs, newId(), '/bin/echo', 'hi']);
  assert.equal(r.stdout, 'hi\n');
  assert.equal(r.code, 0, r.stderr);
});

test('ctr run propagates exit codes', { skip }, async () => {
  for (const status of [0, 3, 42]) {
    const r = await ctr(['run', '--rm', '--rootfs', rootfs, newId(), '/bin/sh', '-c', `exit ${status}`]);
    assert.equal(r.code, status, r.stderr);
  }
});

test('stdin piped into ctr run reaches the process and its end closes stdin', { skip }, async () => {
  const id = newId();
  const child = ctrProc(['run', '--rm', '--rootfs', rootfs, id, '/bin/cat']);
  const result = collect(child);
  try {
    // ctr 1.6 drops an end of input that arrives before the task exists: hold the input back until it runs.
    await waitFor(async () => ((await taskStatus(id)) === 'RUNNING' ? true : undefined), 'task running');
    child.stdin!.end('line one\nline two\n');
    const r = await result;
    assert.equal(r.stdout, 'line one\nline two\n');
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await removeAll(id);
  }
});

test('run -d, tasks ls, exec, ps, pause/resume, metrics, kill and events', { skip }, async () => {
  const id = newId();
  const events = ctrProc(['events']);
  const eventsOut = collect(events, 120_000).catch(() => ({ code: null, stdout: '', stderr: '' }));
  let eventsText = '';
  events.stdout!.on('data', (d: Buffer) => (eventsText += d.toString()));
  try {
    const run = await ctr(['run', '-d', '--rootfs', rootfs, id, '/bin/sh', '-c', 'exec sleep 1000']);
    assert.equal(run.code, 0, run.stderr);

    const ls = await ctr(['tasks', 'ls']);
    const line = ls.stdout.split('\n').find((l) => l.startsWith(id));
    assert.ok(line, ls.stdout);
    assert.match(line!, /RUNNING/);
    const pid = Number(line!.split(/\s+/)[1]);
    assert.ok(pid > 0);

    const ex = await ctr(['tasks', 'exec', '--exec-id', 'x1', id, '/bin/echo', 'from exec']);
    assert.equal(ex.stdout, 'from exec\n');
    assert.equal(ex.code, 0, ex.stderr);
    const exFail = await ctr(['tasks', 'exec', '--exec-id', 'x2', id, '/bin/sh', '-c', 'exit 7']);
    assert.equal(exFail.code, 7, exFail.stderr);

    const ps = await ctr(['tasks', 'ps', id]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, new RegExp(`^${pid}\\b`, 'm'));

    assert.equal((await ctr(['tasks', 'pause', id])).code, 0);
    assert.match((await ctr(['tasks', 'ls'])).stdout, new RegExp(`${id}\\s+${pid}\\s+PAUSED`));
    assert.equal((await ctr(['tasks', 'resume', id])).code, 0);
    assert.match((await ctr(['tasks', 'ls'])).stdout, new RegExp(`${id}\\s+${pid}\\s+RUNNING`));

    const metrics = await ctr(['tasks', 'metrics', id]);
    assert.equal(metrics.code, 0, metrics.stderr);
    assert.match(metrics.stdout, /ID\s+TIMESTAMP/);
    assert.match(metrics.stdout, new RegExp(id));

    // (SIGTERM would be ignored: sleep is pid 1 of its pid namespace and has no handler.)
    const kill = await ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
    assert.equal(kill.code, 0, kill.stderr);
    // The init's exit (exec exits came before it, with their exec ids).
    const initExit = new RegExp(`/tasks/exit .*"id":"${id}"`);
    await waitFor(() => (initExit.test(eventsText) ? true : undefined), 'init /tasks/exit in ctr events');
    assert.match(eventsText, /\/tasks\/exit .*"id":"x1"/);
    assert.match(eventsText, new RegExp(`/tasks/exit .*"id":"${id}".*"exit_status":137`));
    assert.match((await ctr(['tasks', 'ls'])).stdout, new RegExp(`${id}\\s+${pid}\\s+STOPPED`));
    const rm = await ctr(['tasks', 'rm', id]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.doesNotMatch((await ctr(['tasks', 'ls'])).stdout, new RegExp(id));
    await waitFor(() => (/\/tasks\/delete/.test(eventsText) ? true : undefined), '/tasks/delete in ctr events');
  } finally {
    events.kill('SIGTERM');
    await eventsOut;
    await removeAll(id);
  }
});

test('ctr run -t works under a pty', { skip }, async () => {
  const id = newId();
  // script(1) gives ctr a terminal; the container sees a tty on its stdio.
  const cmd = `${CTR} --address ${berthd!.address} run -t --rm --rootfs ${rootfs} ${id} /bin/sh -c 'tty; stty size; echo done'`;
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  const r = await collect(child);
  try {
    assert.match(r.stdout, /\/dev\/pts\/\d+|\/dev\/console/, r.stdout + r.stderr);
    assert.match(r.stdout, /done/);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    await removeAll(id);
  }
});

test('ctr run --memory-limit is applied to the container cgroup', { skip }, async () => {
  const id = newId();
  const limit = 64 * 1024 * 1024;
  try {
    const run = await ctr(['run', '-d', '--memory-limit', String(limit), '--rootfs', rootfs, id, '/bin/sleep', '1000']);
    assert.equal(run.code, 0, run.stderr);
    const ls = await ctr(['tasks', 'ls']);
    const pid = Number(ls.stdout.split('\n').find((l) => l.startsWith(id))!.split(/\s+/)[1]);
    // The memory cgroup of the container's init process, v1 or v2.
    const cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const v1 = cg.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
    let value: string;
    if (v1) {
      value = fs.readFileSync(path.join('/sys/fs/cgroup/memory', v1.split(':')[2]!, 'memory.limit_in_bytes'), 'utf8').trim();
    } else {
      const v2 = cg.find((l) => l.startsWith('0::'))!;
      value = fs.readFileSync(path.join('/sys/fs/cgroup', v2.slice(3), 'memory.max'), 'utf8').trim();
    }
    assert.equal(Number(value), limit);
  } finally {
    await removeAll(id);
  }
});

test('ctr run --runc-binary /usr/sbin/runc runs the same container through runc', { skip: skip || (!fs.existsSync('/usr/sbin/runc') && 'runc is not installed') }, async () => {
  const r = await ctr(['run', '--rm', '--runc-binary', '/usr/sbin/runc', '--rootfs', rootfs, newId(), '/bin/sh', '-c', 'echo via-runc; exit 4']);
  assert.equal(r.stdout, 'via-runc\n');
  assert.equal(r.code, 4, r.stderr);
});

test('ctr run --label io.containerd.runc.v2.group=g: the group shares one shim, each task lives and goes on its own', { skip }, async () => {
  const group = `g-${randomBytes(3).toString('hex')}`;
  const [a, b] = [newId(), newId()];
  const shimPid = (id: string): number => Number(fs.readFileSync(path.join(berthd!.state, 'tasks', 'default', id, 'shim.pid'), 'utf8'));
  const alive = (pid: number): boolean => {
    try {
      return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  try {
    for (const id of [a, b]) {
      const run = await ctr(['run', '-d', '--label', `io.containerd.runc.v2.group=${group}`, '--rootfs', rootfs, id, '/bin/sleep', '1000']);
      assert.equal(run.code, 0, run.stderr);
    }
    const shim = shimPid(a);
    assert.equal(shimPid(b), shim, 'one shim for the group');
    const ex = await ctr(['tasks', 'exec', '--exec-id', 'x1', b, '/bin/echo', 'in b']);
    assert.equal(ex.stdout, 'in b\n');
    assert.equal((await ctr(['tasks', 'kill', '-s', 'SIGKILL', a])).code, 0);
    await waitFor(async () => ((await taskStatus(a)) === 'STOPPED' ? true : undefined), `${a} stopped`);
    assert.equal((await ctr(['tasks', 'rm', a])).code, 0);
    assert.equal(await taskStatus(b), 'RUNNING', 'the other task of the group keeps running');
    assert.ok(alive(shim));
    assert.equal((await ctr(['tasks', 'rm', '-f', b])).code, 0);
    await waitFor(() => (!alive(shim) ? true : undefined), 'the group shim exits after its last task', 5000);
  } finally {
    for (const id of [a, b]) await removeAll(id);
  }
});
