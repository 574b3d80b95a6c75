/**
 * Security of a real berthd with real shims (docs/faults.md), beyond what tasks-lifecycle checks for one
 * task shim: no abstract unix socket in any process of ours (berthd, task and pre-started shims, container
 * processes, with berth's runtime and with runc); the daemon socket 0660 root:root; every shim socket 0600 in
 * a 0700 directory; no descriptor of berthd or a shim (fd 3 listener, daemon socket, SQLite database) in a
 * container's init or exec'd process, nor in a shim; and client-supplied paths (spec root path, mount
 * destinations, cwd, stdio paths) cannot reach outside where they belong through `..` or symlinks. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { status } from '@grpc/grpc-js';
import { OCI_PROCESS_TYPE_URL, OCI_SPEC_TYPE_URL, RUNC_OPTIONS_TYPE, packJsonAny } from '../../proto/any';
import { encodeMessage } from '../../proto/loader';
import { ROOT_SKIP, TasksEnv, makeFifo, randomId, waitFor } from './tasks-harness';

const RUNC = '/usr/sbin/runc';
const skip = ROOT_SKIP;
const runcSkip = skip || (!fs.existsSync(RUNC) && 'runc is not installed');
const env = new TasksEnv();
const config = path.join(env.work, 'berthd.toml');
const runcOptions = { type_url: RUNC_OPTIONS_TYPE, value: encodeMessage(RUNC_OPTIONS_TYPE, { binary_name: RUNC }) };
const BACKENDS = [
  { name: 'berth runtime', options: null, skip },
  { name: 'runc', options: runcOptions, skip: runcSkip },
] as const;

before(async () => {
  if (skip) return;
  fs.writeFileSync(config, 'version = 2\n[shim]\n  prestart = 2\n');
  await env.start({ extraArgs: ['--config', config] });
});

after(async () => {
  if (skip) return fs.rmSync(env.work, { recursive: true, force: true });
  await env.stop();
});

const rejectsWith = (code: status, re?: RegExp) => (err: any) => {
  assert.equal(err.code, code, `${status[err.code]} ${err.details}`);
  if (re) assert.match(err.details, re);
  assert.match(err.details, /^[a-z]/);
  return true;
};

/** Unix sockets held by `pid`: inode → bound path ('' unbound, '@…' abstract). */
function unixSocketsOf(pid: number): Map<string, string> {
  const inodes = new Set(fdTargets(pid).map((t) => /^socket:\[(\d+)\]$/.exec(t)?.[1]).filter((x): x is string => !!x));
  const out = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 7 && inodes.has(f[6]!)) out.set(f[6]!, f[7] ?? '');
  }
  return out;
}

function fdTargets(pid: number): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {}
  }
  return out;
}

/** pid → its fds (number → target). */
function fdsOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out[fd] = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {}
  }
  return out;
}

/** Every berth-shim process of this daemon (task and pre-started ones). */
function shimPids(): number[] {
  return env
    .leftovers()
    .shims.map((s) => Number(s.split(' ')[0]))
    .concat(poolShimPids());
}

function poolShimPids(): number[] {
  const pool = path.join(env.berthd.state, 'pool');
  const out: number[] = [];
  for (const name of fs.existsSync(pool) ? fs.readdirSync(pool) : []) {
    try {
      out.push(Number(fs.readFileSync(path.join(pool, name, 'shim.pid'), 'utf8')));
    } catch {}
  }
  return out;
}

/** The shim's stdio pipes: FIFOs made in the bundle and unlinked at once (docs/shim.md). */
const STDIO_PIPE = /\/pipe-\d+-\d+ \(deleted\)$/;

/**
 * Asserts the fds of a container process: only 0-2 (a stdio pipe or /dev/null), none a socket, none a file
 * of berthd's or a shim's.
 */
function assertContainerFds(pid: number, what: string, forbidden: Set<string>): void {
  const fds = fdsOf(pid);
  assert.deepEqual(Object.keys(fds).sort(), ['0', '1', '2'], `${what}: only stdio (${JSON.stringify(fds)})`);
  for (const [fd, target] of Object.entries(fds)) {
    assert.ok(!target.startsWith('socket:'), `${what}: fd ${fd} is a socket`);
    assert.ok(target === '/dev/null' || target.startsWith('pipe:') || (target.startsWith(env.berthd.state) && STDIO_PIPE.test(target)), `${what}: fd ${fd} is ${target}`);
    assert.ok(!forbidden.has(target), `${what}: fd ${fd} (${target}) is also open in berthd or a shim`);
  }
}

/** What berthd and the shims hold that a container must never share: sockets and files, stdio pipes excepted. */
function daemonAndShimObjects(): Set<string> {
  const out = new Set<string>();
  for (const pid of [env.berthd.pid, ...shimPids()]) {
    for (const t of fdTargets(pid)) if (!t.startsWith('pipe:') && !t.startsWith('/dev/') && !STDIO_PIPE.test(t)) out.add(t);
  }
  return out;
}

test('socket files: daemon socket 0660 root:root, shim sockets 0600 in a 0700 directory, pre-started shims too', { skip }, async () => {
  const st = fs.statSync(env.berthd.address);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.uid, 0);
  assert.equal(st.gid, 0);
  const id = randomId();
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    await waitFor(() => poolShimPids().length >= 2, 'two pre-started shims');
    const sockets = path.join(env.berthd.state, 's');
    assert.equal(fs.statSync(sockets).mode & 0o777, 0o700);
    const names = fs.readdirSync(sockets);
    assert.ok(names.length >= 3, `task and pool shim sockets: ${names}`);
    for (const n of names) {
      const s = fs.lstatSync(path.join(sockets, n));
      assert.ok(s.isSocket(), `${n} is a socket`);
      assert.equal(s.mode & 0o777, 0o600, n);
      assert.equal(s.uid, 0);
    }
    for (const dir of [path.join(env.berthd.state, 'tasks'), path.join(env.berthd.state, 'tasks', 'default'), path.join(env.berthd.state, 'pool')]) {
      assert.equal(fs.statSync(dir).mode & 0o077, 0, `${dir} is not open to group or others`);
    }
    assert.equal(fs.statSync(path.join(env.berthd.root, 'berth.db')).mode & 0o077, 0, 'the database is not open to group or others');
  } finally {
    await env.remove(id);
  }
});

for (const backend of BACKENDS) {
  test(`${backend.name}: no abstract socket anywhere, no berthd or shim descriptor in the container's init or exec, none in the shim`, { skip: backend.skip }, async () => {
    const id = randomId();
    const out = makeFifo(env.work, `${id}-out`);
    try {
      await env.createContainer(id, ['/bin/sleep', '1000']);
      await env.tasks.Create!(env.createTaskRequest(id, { stdout: out.path, stderr: out.path, options: backend.options }));
      const { pid: init } = await env.tasks.Start!({ container_id: id, exec_id: '' });
      const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/sleep', '1000'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] });
      await env.tasks.Exec!({ container_id: id, exec_id: 'x1', stdin: '', stdout: out.path, stderr: '', terminal: false, spec });
      const { pid: exec } = await env.tasks.Start!({ container_id: id, exec_id: 'x1' });
      await waitFor(() => fs.readlinkSync(`/proc/${exec}/exe`).endsWith('busybox') && fs.readlinkSync(`/proc/${init}/exe`).endsWith('busybox'), 'both exec busybox');

      const shims = shimPids();
      const ours = [env.berthd.pid, ...shims, init, exec];
      for (const pid of ours) {
        for (const [inode, bound] of unixSocketsOf(pid)) assert.ok(!bound.startsWith('@'), `abstract socket ${bound} (inode ${inode}) held by ${pid}`);
      }
      const forbidden = daemonAndShimObjects();
      assertContainerFds(init, 'init', forbidden);
      assertContainerFds(exec, 'exec', forbidden);

      // The shims hold neither the database nor berthd's listening socket nor any other berthd socket.
      const berthdSockets = new Set(unixSocketsOf(env.berthd.pid).keys());
      for (const shim of shims) {
        for (const t of fdTargets(shim)) {
          assert.ok(!t.includes('berth.db'), `shim ${shim} holds ${t}`);
          const inode = /^socket:\[(\d+)\]$/.exec(t)?.[1];
          if (inode) assert.ok(!berthdSockets.has(inode), `shim ${shim} shares socket ${t} with berthd`);
        }
      }
      assert.ok(!fdTargets(init).concat(fdTargets(exec)).some((t) => t.includes(env.berthd.address)));
    } finally {
      out.close();
      await env.remove(id);
    }
  });
}

test('spec root path: a symlink, or a path through one, is refused (as runc does); the real path works', { skip }, async () => {
  const link = path.join(env.work, 'rootfs-link');
  const dirLink = path.join(env.work, 'dir-link');
  fs.symlinkSync(env.rootfs, link);
  fs.symlinkSync(env.work, dirLink);
  for (const [name, rootfs] of [
    ['a symlink', link],
    ['through a symlinked directory', path.join(dirLink, 'rootfs')],
    ['with ..', path.join(env.work, 'rootfs', '..', 'rootfs-link')],
  ] as const) {
    const id = randomId();
    await env.createContainer(id, ['/bin/true'], { rootfs });
    await assert.rejects(env.tasks.Create!(env.createTaskRequest(id)), rejectsWith(status.INVALID_ARGUMENT, /symlink/), name);
    assert.ok(!fs.existsSync(path.join(env.berthd.state, 'tasks', 'default', id)));
    await env.containers.Delete!({ id });
  }
  const id = randomId();
  await env.createContainer(id, ['/bin/true']);
  await env.tasks.Create!(env.createTaskRequest(id));
  const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
  await env.tasks.Start!({ container_id: id, exec_id: '' });
  assert.equal((await waited).exit_status, 0);
  await env.tasks.Delete!({ container_id: id });
  await env.containers.Delete!({ id });
});

for (const backend of BACKENDS) {
  test(`${backend.name}: mount destinations with .. or through a symlink to a host path land inside the rootfs`, { skip: backend.skip }, async () => {
    const id = randomId();
    const rootfs = path.join(env.work, `rootfs-${id}`);
    const outside = path.join(env.work, `outside-${id}`);
    fs.mkdirSync(outside);
    execFileSync('cp', ['-a', env.rootfs, rootfs]);
    fs.symlinkSync(outside, path.join(rootfs, 'escape')); // absolute: resolved on the host it is `outside`
    fs.symlinkSync(`../../../../../../../..${outside}`, path.join(rootfs, 'escape2'));
    try {
      const spec: any = env.spec(id, {
        rootfs,
        args: ['/bin/sh', '-c', 'echo a > /escape/sub/f && echo b > /escape2/sub2/g && echo c > /dotdot/h && echo d > /etc/x/i && echo ok'],
      });
      spec.mounts.push(
        { destination: '/escape/sub', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        { destination: '/escape2/sub2', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        { destination: '/../../../../dotdot', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        { destination: '/../../etc/x', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      );
      const out = makeFifo(env.work, `${id}-out`);
      try {
        await env.containers.Create!({ container: { id, runtime: { name: 'io.containerd.runc.v2', options: null }, spec: packJsonAny(OCI_SPEC_TYPE_URL, spec) } });
        await env.tasks.Create!(env.createTaskRequest(id, { stdout: out.path, stderr: out.path, options: backend.options }));
        const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
        await env.tasks.Start!({ container_id: id, exec_id: '' });
        const w = await waited;
        await waitFor(() => out.read().length > 0 || w.exit_status !== 0, 'output');
        assert.equal(w.exit_status, 0, out.read());
        assert.equal(out.read(), 'ok\n');
      } finally {
        out.close();
      }
      await env.tasks.Delete!({ container_id: id });
      await env.containers.Delete!({ id });
      assert.deepEqual(fs.readdirSync(outside), [], 'nothing was created or mounted outside the rootfs');
      assert.ok(!fs.existsSync('/dotdot') && !fs.existsSync('/etc/x'), 'nothing at the host root');
      assert.ok(fs.existsSync(path.join(rootfs, 'dotdot')) && fs.existsSync(path.join(rootfs, 'etc', 'x')), 'the destinations were made inside the rootfs');
      assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(outside), 'no mount left on the host path');
    } finally {
      await env.remove(id);
      fs.rmSync(rootfs, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
}

for (const backend of BACKENDS) {
  test(`${backend.name}: cwd through /proc/self/fd refused for the init (Create) and an exec (Exec), whatever the backend; the task goes on`, { skip: backend.skip }, async () => {
    for (const cwd of ['/proc/self/fd/7', '/proc/thread-self/fd/3/..', '/proc/1/cwd']) {
      const id = randomId();
      await env.createContainer(id, ['/bin/true'], { cwd });
      await assert.rejects(env.tasks.Create!(env.createTaskRequest(id, { options: backend.options })), rejectsWith(status.INVALID_ARGUMENT, /cwd/), cwd);
      await env.containers.Delete!({ id });
    }
    const id = randomId();
    try {
      await env.createContainer(id, ['/bin/sleep', '1000']);
      await env.tasks.Create!(env.createTaskRequest(id, { options: backend.options }));
      await env.tasks.Start!({ container_id: id, exec_id: '' });
      for (const cwd of ['/proc/self/fd/7', '/proc/1/cwd']) {
        const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/pwd'], cwd, user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] });
        const req = { container_id: id, exec_id: 'cwd', stdin: '', stdout: '', stderr: '', terminal: false, spec };
        await assert.rejects(env.tasks.Exec!(req), rejectsWith(status.INVALID_ARGUMENT, /process\.cwd: .* goes through a process's descriptors$/), cwd);
        await assert.rejects(env.tasks.Get!({ container_id: id, exec_id: 'cwd' }), rejectsWith(status.NOT_FOUND));
      }
      assert.equal(await env.status(id), 'RUNNING');
      assert.equal((await env.tasks.ListPids!({ container_id: id })).processes.length, 1);
    } finally {
      await env.remove(id);
    }
  });
}

test('stdio paths: a symlink (to a fifo, to a file) or a /proc/self/fd path is refused, nothing is written through it', { skip }, async () => {
  const dir = path.join(env.work, 'io-links');
  fs.mkdirSync(dir);
  const fifo = path.join(dir, 'real-fifo');
  execFileSync('mkfifo', [fifo]);
  const file = path.join(dir, 'victim');
  fs.writeFileSync(file, 'untouched');
  fs.symlinkSync(fifo, path.join(dir, 'to-fifo'));
  fs.symlinkSync(file, path.join(dir, 'to-file'));
  const cases: [string, string][] = [
    ['symlink to a fifo', path.join(dir, 'to-fifo')],
    ['symlink to a file', path.join(dir, 'to-file')],
    ['a regular file', file],
    ['a /proc/self/fd path', '/proc/self/fd/0'],
    ['a fifo path through ..', path.join(dir, '..', 'io-links', 'to-file')],
  ];
  const id = randomId();
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/sh', '-c', 'echo pwned; echo pwned >&2'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] });
    for (const [name, p] of cases) {
      for (const stream of ['stdin', 'stdout', 'stderr'] as const) {
        const cid = randomId();
        await env.createContainer(cid, ['/bin/sh', '-c', 'echo pwned; echo pwned >&2']);
        await assert.rejects(env.tasks.Create!(env.createTaskRequest(cid, { [stream]: p })), rejectsWith(status.INVALID_ARGUMENT, /not a fifo/), `${stream} ${name}`);
        await env.containers.Delete!({ id: cid });
        const req = { container_id: id, exec_id: 'io', stdin: '', stdout: '', stderr: '', terminal: false, spec, [stream]: p };
        await assert.rejects(env.tasks.Exec!(req), rejectsWith(status.INVALID_ARGUMENT, /not a fifo/), `exec ${stream} ${name}`);
      }
    }
    await env.remove(id);
    assert.equal(fs.readFileSync(file, 'utf8'), 'untouched');
    await waitFor(() => {
      const left = env.leftovers();
      return left.bundles.length === 0 && left.shims.length === 0 && left.fifos.length === 0 && left.sockets.length === 0;
    }, 'no bundle, task shim, fifo or task socket left');
  } finally {
    await env.remove(id);
  }
});
