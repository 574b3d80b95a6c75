/**
 * bin/berth-runc as runc's callers use it: create (init left waiting at the barrier, berth-runc gone,
 * --pid-file), start from another process, state JSON, ps, pause/resume, update, events --stats, exec
 * (args and --process, exit codes), kill, delete (--force), list; run in the foreground and detached;
 * runc's error messages and exit codes, on stderr and in a --log file as JSON; the console socket getting
 * the pty master with SCM_RIGHTS; spec, features, --version; --systemd-cgroup refused.
 * Root only; skipped with a reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { makeBusyboxRootfs } from '../helpers/rootfs';
import { exampleSpec, type OciSpec } from '../../native';
import { receiveFd } from '../../native/sys/linux';

const BERTH_RUNC = path.resolve(__dirname, '../../../bin/berth-runc');
const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, cgroups' : false;

let work = '';
let root = '';
let bundle = '';
const tag = randomBytes(3).toString('hex');
let n = 0;
const ids: string[] = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function brunc(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Result> {
  const child = spawn(BERTH_RUNC, ['--root', root, ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: bundle });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`berth-runc ${args.join(' ')}: timed out: ${stdout} ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    // A created container keeps berth-runc's stdout/stderr (its stdio): 'close' may never come. Wait for
    // the exit, then briefly for the pipes to drain.
    child.once('exit', (code) => {
      clearTimeout(timer);
      const done = (): void => resolve({ code, stdout, stderr });
      const drain = setTimeout(done, 200);
      child.once('close', () => {
        clearTimeout(drain);
        done();
      });
    });
  });
}

function newId(): string {
  const id = `rc${tag}-${n++}`;
  ids.push(id);
  return id;
}

/** Writes config.json for `args` into the bundle (one bundle, one config at a time). */
function writeSpec(args: string[], tweak?: (s: OciSpec) => void): void {
  const spec = exampleSpec({ args, cgroupsPath: `/berth-test-${tag}-${n}` });
  tweak?.(spec);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
}

function statusOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
  } catch {
    return undefined;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-runc-cli-'));
  root = path.join(work, 'root');
  bundle = path.join(work, 'bundle');
  await makeBusyboxRootfs(path.join(bundle, 'rootfs'));
});

after(async () => {
  if (!work) return;
  for (const id of ids) await brunc(['delete', '--force', id]).catch(() => {});
  fs.rmSync(work, { recursive: true, force: true });
});

test('create leaves the init at the barrier and exits; start, state, ps, pause/resume, exec, kill, delete', { skip }, async () => {
  writeSpec(['/bin/sh', '-c', 'echo started > /tmp/started; exec sleep 1000']);
  const id = newId();
  const pidFile = path.join(work, `${id}.pid`);
  const created = await brunc(['create', '--bundle', bundle, '--pid-file', pidFile, id]);
  assert.equal(created.code, 0, created.stderr);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(pid > 0);
  assert.notEqual(statusOf(pid), undefined, 'the init outlives berth-runc create');
  assert.ok(fs.existsSync(path.join(root, id, 'exec.fifo')), 'the barrier is under --root/<id>/');

  const st = JSON.parse((await brunc(['state', id])).stdout);
  assert.deepEqual({ ...st, created: undefined }, {
    ociVersion: '1.0.2-dev', id, pid, status: 'created', bundle, rootfs: path.join(bundle, 'rootfs'), created: undefined, owner: '',
  });
  assert.ok(!Number.isNaN(Date.parse(st.created)));

  assert.equal((await brunc(['start', id])).code, 0);
  assert.equal(JSON.parse((await brunc(['state', id])).stdout).status, 'running');
  await waitFor(() => fs.existsSync(path.join(bundle, 'rootfs/tmp/started')), 'the process ran');

  const again = await brunc(['start', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /level=error msg="cannot start an already running container"/);

  const ps = await brunc(['ps', '--format', 'json', id]);
  assert.deepEqual(JSON.parse(ps.stdout), [pid]);
  const table = await brunc(['ps', id]);
  assert.match(table.stdout, /^UID\s+PID\s+PPID/);
  assert.match(table.stdout, new RegExp(`\\s${pid}\\s.*sleep 1000`));

  assert.equal((await brunc(['pause', id])).code, 0);
  assert.equal(JSON.parse((await brunc(['state', id])).stdout).status, 'paused');
  const del = await brunc(['delete', id]);
  assert.equal(del.code, 1);
  assert.match(del.stderr, new RegExp(`cannot delete container ${id} that is not stopped: paused`));
  assert.equal((await brunc(['resume', id])).code, 0);
  assert.match((await brunc(['resume', id])).stderr, /container not paused/);

  const ex = await brunc(['exec', id, '/bin/sh', '-c', 'echo from-exec; exit 5']);
  assert.equal(ex.stdout, 'from-exec\n');
  assert.equal(ex.code, 5);
  const procFile = path.join(work, 'process.json');
  fs.writeFileSync(procFile, JSON.stringify({ args: ['/bin/sh', '-c', 'echo $FOO $(pwd)'], env: ['FOO=bar'], cwd: '/tmp', user: { uid: 0, gid: 0 } }));
  const exP = await brunc(['exec', '--process', procFile, id]);
  assert.equal(exP.stdout, 'bar /tmp\n', exP.stderr);
  const exD = await brunc(['exec', '-d', '--pid-file', path.join(work, 'exec.pid'), id, '/bin/sleep', '1000']);
  assert.equal(exD.code, 0, exD.stderr);
  const execPid = Number(fs.readFileSync(path.join(work, 'exec.pid'), 'utf8'));
  assert.notEqual(statusOf(execPid), undefined, 'the detached exec outlives berth-runc');
  assert.deepEqual(JSON.parse((await brunc(['ps', '-f', 'json', id])).stdout), [pid, execPid].sort((a, b) => a - b));

  const stats = JSON.parse((await brunc(['events', '--stats', id])).stdout);
  assert.equal(stats.type, 'stats');
  assert.equal(stats.id, id);
  assert.ok(stats.data.pids.current >= 2, 'init and the detached exec (and a berth-init being reaped)');
  assert.ok(stats.data.memory.usage.usage > 0);

  const upd = await brunc(['update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 50 } }) });
  assert.equal(upd.code, 0, upd.stderr);
  assert.equal((await brunc(['events', '--stats', id])).stdout.includes('"limit":50'), true);
  assert.equal((await brunc(['update', '--pids-limit', '60', id])).code, 0);

  const list = JSON.parse((await brunc(['list', '--format', 'json'])).stdout) as { id: string; status: string }[];
  assert.equal(list.find((c) => c.id === id)?.status, 'running');

  assert.equal((await brunc(['kill', id, 'KILL'])).code, 0);
  await waitFor(async () => JSON.parse((await brunc(['state', id])).stdout).status === 'stopped', 'stopped');
  assert.equal(JSON.parse((await brunc(['state', id])).stdout).pid, 0);
  assert.match((await brunc(['kill', id])).stderr, /container not running/);
  assert.equal((await brunc(['kill', '--all', id, 'KILL'])).code, 0);
  const exStopped = await brunc(['exec', id, 'true']);
  assert.equal(exStopped.code, 255);
  assert.match(exStopped.stderr, /exec failed: cannot exec in a stopped container/);
  assert.equal((await brunc(['delete', id])).code, 0);
  assert.equal(fs.existsSync(path.join(root, id)), false);
  assert.match((await brunc(['state', id])).stderr, /container does not exist/);
});

test('run waits and leaves with the exit status; run -d; delete --force; delete of a created container', { skip }, async () => {
  writeSpec(['/bin/sh', '-c', 'echo out; echo err >&2; exit 7']);
  const id = newId();
  const r = await brunc(['run', id]);
  assert.equal(r.code, 7);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(fs.existsSync(path.join(root, id)), false, 'run deletes the container');

  writeSpec(['/bin/sleep', '1000']);
  const d = newId();
  assert.equal((await brunc(['run', '-d', '--pid-file', path.join(work, 'd.pid'), d])).code, 0);
  assert.equal(JSON.parse((await brunc(['state', d])).stdout).status, 'running');
  assert.equal((await brunc(['delete', '--force', d])).code, 0);
  assert.match((await brunc(['state', d])).stderr, /container does not exist/);
  assert.equal((await brunc(['delete', '--force', d])).code, 0, 'delete --force of a missing container succeeds');

  const c = newId();
  assert.equal((await brunc(['create', c])).code, 0);
  const pid = JSON.parse((await brunc(['state', c])).stdout).pid as number;
  const refused = await brunc(['delete', c]);
  assert.match(refused.stderr, new RegExp(`cannot delete container ${c} that is not stopped: created`), 'as the spec says (runc deletes it)');
  assert.equal(JSON.parse((await brunc(['state', c])).stdout).status, 'created', 'no effect');
  assert.equal((await brunc(['delete', '--force', c])).code, 0);
  await waitFor(() => statusOf(pid) === undefined || statusOf(pid) === 'Z', 'init gone');
});

test('errors: runc\'s messages and exit codes, on stderr or in the --log file as JSON', { skip }, async () => {
  const missing = await brunc(['state', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^time="[^"]+" level=error msg="container does not exist"\n$/);
  const jsonStderr = await brunc(['--log-format', 'json', 'kill', 'nope']);
  assert.deepEqual({ ...JSON.parse(jsonStderr.stderr), time: 0 }, { level: 'error', msg: 'container does not exist', time: 0 });
  const log = path.join(work, 'log.json');
  const withLog = await brunc(['--log', log, '--log-format', 'json', 'delete', 'nope']);
  assert.equal(withLog.stderr, 'container does not exist\n');
  const last = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!);
  assert.equal(last.level, 'error');
  assert.equal(last.msg, 'container does not exist');

  writeSpec(['/bin/no-such-binary']);
  const bad = await brunc(['--log', log, '--log-format', 'json', 'create', newId()]);
  assert.equal(bad.code, 1);
  const err = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!);
  assert.match(err.msg, /create failed: .*\/bin\/no-such-binary/);

  const sys = await brunc(['--systemd-cgroup', 'state', 'x']);
  assert.equal(sys.code, 1);
  assert.match(sys.stderr, /systemd cgroup driver is not supported/);

  writeSpec(['/bin/true'], (s) => (s.process!.terminal = true));
  const noSock = await brunc(['create', newId()]);
  assert.match(noSock.stderr, /cannot allocate tty if runc will detach without setting console socket/);
});

test('--console-socket receives the pty master over SCM_RIGHTS', { skip }, async () => {
  writeSpec(['/bin/sh', '-c', 'tty; stty size; echo done'], (s) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 30, width: 100 };
  });
  const sockPath = path.join(work, 'console.sock');
  const received = new Promise<number>((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true }, (conn) => {
      const fd = (conn as unknown as { _handle: { fd: number } })._handle.fd;
      const timer = setInterval(() => {
        try {
          const got = receiveFd(fd);
          if (!got) return;
          clearInterval(timer);
          conn.destroy();
          server.close();
          resolve(got.fd);
        } catch (e) {
          clearInterval(timer);
          reject(e);
        }
      }, 5);
    });
    server.listen(sockPath);
  });
  const id = newId();
  const created = await brunc(['create', '--console-socket', sockPath, id]);
  assert.equal(created.code, 0, created.stderr);
  const master = await received;
  const con = new tty.ReadStream(master);
  let out = '';
  con.on('data', (d: Buffer) => (out += d.toString()));
  const ended = new Promise((r) => {
    con.on('error', r);
    con.on('close', r);
  });
  assert.equal((await brunc(['start', id])).code, 0);
  await waitFor(() => out.includes('done'), 'terminal output');
  con.destroy();
  await ended;
  assert.match(out, /\/dev\/(pts\/\d+|console)/);
  assert.match(out, /30 100/);
  assert.equal((await brunc(['delete', '--force', id])).code, 0);
});

test('spec, features and --version', { skip }, async () => {
  const dir = path.join(work, 'specdir');
  fs.mkdirSync(dir);
  assert.equal((await brunc(['spec', '--bundle', dir])).code, 0);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(spec.process.args, ['sh']);
  assert.equal(spec.process.terminal, true);
  assert.equal(spec.root.readonly, true);
  assert.match((await brunc(['spec', '--bundle', dir])).stderr, /File config.json exists. Remove it first/);
  assert.match((await brunc(['spec', '--rootless', '--bundle', dir])).stderr, /rootless/);
  const features = JSON.parse((await brunc(['features'])).stdout);
  assert.deepEqual(features.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
  assert.equal(features.linux.seccomp.enabled, true);
  assert.ok(features.linux.seccomp.actions.includes('SCMP_ACT_ERRNO'));
  assert.match((await brunc(['--version'])).stdout, /^berth-runc version \S+\nspec: 1\.0\.2/);
});
