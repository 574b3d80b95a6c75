/**
 * The berth-shim integration scenarios, run once per backend (shim-runc.test.ts, shim-native.test.ts):
 * a real shim spawned with its socket as fd 3, busybox bundles, FIFOs, driven over gRPC.
 */
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { encodeMessage } from '../../proto/loader';
import { packJsonAny, OCI_PROCESS_TYPE_URL, OCI_RESOURCES_TYPE_URL } from '../../proto/any';
import {
  collectEvents, eventPayload, isRoot, killShim, makeBundle, mkfifo, processExists, randomId, readFifo, releaseFifo,
  removeCgroups, shimExit, spawnShim, tempDir, waitFor, ShimClient, busyboxRootfs, type Msg, type ShimHandle,
} from './shim-harness';

export type Backend = { name: 'native' } | { name: 'oci'; binary: string };

const GRPC = { FAILED_PRECONDITION: 9, NOT_FOUND: 5, ALREADY_EXISTS: 6, INVALID_ARGUMENT: 3, UNAVAILABLE: 14 };

export function defineShimSuite(backend: Backend): void {
  describe(`berth-shim (${backend.name === 'native' ? 'native runtime' : backend.binary})`, () => {
    let base = '';
    const cleanups: Array<() => Promise<void> | void> = [];

    before(() => {
      if (isRoot()) base = tempDir();
    });
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!()?.catch?.(() => {});
    });
    after(() => {
      if (base && !process.env.BERTH_TEST_KEEP) fs.rmSync(base, { recursive: true, force: true });
    });

    const options = (): Msg | null =>
      backend.name === 'oci' ? { type_url: 'containerd.runc.v1.Options', value: encodeMessage('containerd.runc.v1.Options', { binary_name: backend.binary }) } : null;

    interface Ctx {
      id: string;
      bundle: string;
      shim: ShimHandle;
      fifos: Record<string, string>;
      call: <T extends Msg = Msg>(method: string, req: Msg) => Promise<T>;
    }

    /** A bundle running `args`, a shim for it, FIFOs, and cleanup of all of it after the test. */
    async function setup(t: TestContext, args: string[], fifoNames: string[] = ['stdout'], extra: { terminal?: boolean; rootPath?: string } = {}): Promise<Ctx | undefined> {
      if (!isRoot()) {
        t.skip('needs root: runs containers');
        return undefined;
      }
      const id = randomId();
      const bundle = await makeBundle(base, id, args, extra);
      const fifos: Record<string, string> = {};
      for (const n of fifoNames) fifos[n] = mkfifo(path.join(bundle, `${n}.fifo`));
      const shim = await spawnShim({ dir: base, namespace: 'berth-test', id, bundle });
      cleanups.push(async () => {
        for (const f of Object.values(fifos)) releaseFifo(f);
        await shim.client.call('Shutdown', { id, now: true }, 5000).catch(() => {});
        await shimExit(shim, 3000);
        // Whatever is left in the container's cgroup (the shim should have removed it).
        try {
          for (const pid of fs.readFileSync(`/sys/fs/cgroup/pids/${id}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {}
          }
        } catch {}
        await killShim(shim);
        await new Promise((r) => setTimeout(r, 50));
        removeCgroups(id);
      });
      return { id, bundle, shim, fifos, call: (m, r) => shim.client.call(m, r) };
    }

    async function create(c: Ctx, io: { stdin?: string; stdout?: string; stderr?: string; terminal?: boolean; rootfs?: Msg[] } = { stdout: c.fifos.stdout }): Promise<number> {
      const res = await c.call('Create', { id: c.id, bundle: c.bundle, stdin: io.stdin ?? '', stdout: io.stdout ?? '', stderr: io.stderr ?? '', terminal: io.terminal ?? false, rootfs: io.rootfs ?? [], options: options() });
      return res.pid as number;
    }

    it('runs echo: output through the stdout FIFO, exit 0, events create/start/exit/delete in order', async (t) => {
      const c = await setup(t, ['echo', 'hello from berth']);
      if (!c) return;
      const output = readFifo(c.fifos.stdout!);
      const pid = await create(c);
      assert.ok(pid > 0);
      const st = await c.call('State', { id: c.id });
      assert.equal(st.status, 'CREATED');
      assert.equal(st.pid, pid);
      const started = await c.call('Start', { id: c.id });
      assert.equal(started.pid, pid);
      const waited = await c.call('Wait', { id: c.id });
      assert.equal(waited.exit_status, 0);
      assert.equal(await output, 'hello from berth\n');
      const st2 = await c.call('State', { id: c.id });
      assert.equal(st2.status, 'STOPPED');
      const del = await c.call('Delete', { id: c.id });
      assert.equal(del.exit_status, 0);
      assert.equal(del.pid, pid);
      const evs = await collectEvents(c.shim.client.events(0), (e) => e.length >= 4);
      assert.deepEqual(evs.map((e) => e.topic), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
      assert.deepEqual(evs.map((e) => Number(e.seq)), [1, 2, 3, 4]);
      const exit = eventPayload(evs[2]!);
      assert.equal(exit.container_id, c.id);
      assert.equal(exit.id, c.id);
      assert.equal(exit.pid, pid);
      assert.equal(exit.exit_status, 0);
      assert.ok(Number(exit.exited_at.seconds) > 0);
      assert.equal(evs[0]!.namespace, 'berth-test');
      await assert.rejects(c.call('State', { id: c.id }), { code: GRPC.NOT_FOUND });
    });

    it('propagates the exit code (sh -c "exit 3") and keeps it until Delete', async (t) => {
      const c = await setup(t, ['sh', '-c', 'echo out; echo err >&2; exit 3'], ['stdout', 'stderr']);
      if (!c) return;
      const out = readFifo(c.fifos.stdout!);
      const err = readFifo(c.fifos.stderr!);
      await create(c, { stdout: c.fifos.stdout, stderr: c.fifos.stderr });
      await c.call('Start', { id: c.id });
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 3);
      assert.equal(await out, 'out\n');
      assert.equal(await err, 'err\n');
      const st = await c.call('State', { id: c.id });
      assert.equal(st.status, 'STOPPED');
      assert.equal(st.exit_status, 3);
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 3, 'a second Wait answers at once');
      assert.equal((await c.call('Delete', { id: c.id })).exit_status, 3);
    });

    it('does not lose output written just before exit (64 KiB burst)', async (t) => {
      const c = await setup(t, ['sh', '-c', 'i=0; while [ $i -lt 1024 ]; do echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde; i=$((i+1)); done']);
      if (!c) return;
      const out = readFifo(c.fifos.stdout!);
      await create(c);
      await c.call('Start', { id: c.id });
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 0);
      assert.equal((await out).length, 64 * 1024);
    });

    it('kills: SIGKILL gives 137, illegal transitions are refused with containerd errors', async (t) => {
      const c = await setup(t, ['sleep', '1000']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c);
      await assert.rejects(c.call('Pause', { id: c.id }), { code: GRPC.FAILED_PRECONDITION, details: 'cannot pause task in created state' });
      await c.call('Start', { id: c.id });
      await assert.rejects(c.call('Start', { id: c.id }), { code: GRPC.FAILED_PRECONDITION, details: 'cannot start a running process' });
      await assert.rejects(c.call('Delete', { id: c.id }), { code: GRPC.FAILED_PRECONDITION, details: 'cannot delete a running process' });
      assert.equal((await c.call('State', { id: c.id })).status, 'RUNNING');
      await c.call('Kill', { id: c.id, signal: 9 });
      const w = await c.call('Wait', { id: c.id });
      assert.equal(w.exit_status, 137);
      await assert.rejects(c.call('Kill', { id: c.id, signal: 9 }), { code: GRPC.NOT_FOUND });
      await assert.rejects(c.call('Start', { id: c.id }), { code: GRPC.FAILED_PRECONDITION, details: 'cannot start a stopped process' });
      await assert.rejects(c.call('Wait', { id: c.id, exec_id: 'nope' }), { code: GRPC.NOT_FOUND });
      await assert.rejects(c.call('State', { id: 'other' }), { code: GRPC.NOT_FOUND });
      await c.call('Delete', { id: c.id });
    });

    it('execs a process: output, exit status, exec-added/exec-started/exit events, pids', async (t) => {
      const c = await setup(t, ['sleep', '1000'], ['stdout', 'execout']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      const initPid = await create(c);
      await c.call('Start', { id: c.id });
      const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['sh', '-c', 'echo exec says hi; exit 5'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin:/usr/bin'] });
      await c.call('Exec', { id: c.id, exec_id: 'x1', stdout: c.fifos.execout, spec });
      await assert.rejects(c.call('Exec', { id: c.id, exec_id: 'x1', spec }), { code: GRPC.ALREADY_EXISTS });
      assert.equal((await c.call('State', { id: c.id, exec_id: 'x1' })).status, 'CREATED');
      const out = readFifo(c.fifos.execout!);
      const { pid } = await c.call('Start', { id: c.id, exec_id: 'x1' });
      assert.ok(pid > 0 && pid !== initPid);
      assert.equal((await c.call('Wait', { id: c.id, exec_id: 'x1' })).exit_status, 5);
      assert.equal(await out, 'exec says hi\n');
      const pids = await c.call('Pids', { id: c.id });
      assert.ok(pids.processes.some((p: Msg) => p.pid === initPid), 'init pid listed');
      const del = await c.call('Delete', { id: c.id, exec_id: 'x1' });
      assert.equal(del.exit_status, 5);
      await assert.rejects(c.call('State', { id: c.id, exec_id: 'x1' }), { code: GRPC.NOT_FOUND });
      const evs = await collectEvents(c.shim.client.events(0), (e) => e.length >= 5);
      assert.deepEqual(evs.map((e) => e.topic), ['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit']);
      const exit = eventPayload(evs[4]!);
      assert.equal(exit.id, 'x1');
      assert.equal(exit.exit_status, 5);
      assert.equal(exit.pid, pid);
      await c.call('Kill', { id: c.id, signal: 9 });
      await c.call('Wait', { id: c.id });
    });

    it('pauses and resumes the container', async (t) => {
      const c = await setup(t, ['sleep', '1000']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c);
      await c.call('Start', { id: c.id });
      await c.call('Pause', { id: c.id });
      assert.equal((await c.call('State', { id: c.id })).status, 'PAUSED');
      await assert.rejects(c.call('Pause', { id: c.id }), { code: GRPC.FAILED_PRECONDITION });
      await c.call('Resume', { id: c.id });
      assert.equal((await c.call('State', { id: c.id })).status, 'RUNNING');
      const evs = await collectEvents(c.shim.client.events(2), (e) => e.length >= 2);
      assert.deepEqual(evs.map((e) => e.topic), ['/tasks/paused', '/tasks/resumed']);
      await c.call('Pause', { id: c.id });
      await c.call('Kill', { id: c.id, signal: 9 });
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 137, 'a paused container can be killed');
    });

    it('passes stdin to cat and ends it with CloseIO', async (t) => {
      const c = await setup(t, ['cat'], ['stdin', 'stdout']);
      if (!c) return;
      const out = readFifo(c.fifos.stdout!);
      await create(c, { stdin: c.fifos.stdin, stdout: c.fifos.stdout });
      await c.call('Start', { id: c.id });
      const w = fs.createWriteStream(c.fifos.stdin!);
      await new Promise<void>((resolve) => w.write('line one\nline two\n', () => resolve()));
      await new Promise<void>((resolve) => w.end(() => resolve()));
      await c.call('CloseIO', { id: c.id, stdin: true });
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 0);
      assert.equal(await out, 'line one\nline two\n');
    });

    it('replays unacknowledged events after a reconnect, drops acknowledged ones, streams live ones', async (t) => {
      const c = await setup(t, ['sh', '-c', 'read x; exit 7'], ['stdin', 'stdout']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c, { stdin: c.fifos.stdin, stdout: c.fifos.stdout });
      await c.call('Start', { id: c.id });
      const first = await collectEvents(c.shim.client.events(0), (e) => e.length >= 2);
      assert.deepEqual(first.map((e) => Number(e.seq)), [1, 2]);
      c.shim.client.close();
      // A "restarted daemon": new connection, resumes after seq 1 (it had published only the first).
      const client2 = new ShimClient(c.shim.address);
      t.after(() => client2.close());
      const stream = client2.events(1);
      const pending = collectEvents(stream, (e) => e.some((x) => x.topic === '/tasks/exit'));
      fs.writeFileSync(c.fifos.stdin!, 'go\n');
      const replay = await pending;
      assert.deepEqual(replay.map((e) => e.topic), ['/tasks/start', '/tasks/exit']);
      assert.equal(eventPayload(replay[1]!).exit_status, 7);
      stream.cancel();
      await client2.call('Ack', { seq: 2 });
      const again = await collectEvents(client2.events(0), (e) => e.length >= 1);
      assert.equal(Number(again[0]!.seq), 3, 'events up to the acknowledged seq are gone');
      assert.equal(again[0]!.topic, '/tasks/exit');
      const file = fs.readFileSync(path.join(c.bundle, 'shim-events'), 'utf8').trim().split('\n');
      assert.deepEqual(file.map((l) => JSON.parse(l).seq), [3], 'the events file holds exactly the unacknowledged events');
      await client2.call('Delete', { id: c.id });
      assert.equal((await client2.call('Connect', { id: c.id })).shim_pid, c.shim.pid);
    });

    it('reports exactly one exit per process and shuts down once the task is deleted', async (t) => {
      const c = await setup(t, ['true']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c);
      await assert.rejects(c.call('Shutdown', { id: c.id }), { code: GRPC.FAILED_PRECONDITION });
      await c.call('Start', { id: c.id });
      await c.call('Wait', { id: c.id });
      await c.call('Delete', { id: c.id });
      const evs = await collectEvents(c.shim.client.events(0), (e) => e.some((x) => x.topic === '/tasks/delete'));
      assert.equal(evs.filter((e) => e.topic === '/tasks/exit').length, 1);
      await c.call('Shutdown', { id: c.id });
      assert.equal(await shimExit(c.shim, 5000), 0);
      assert.equal(processExists(c.shim.pid), false);
    });

    it('deletes a created task: its init is killed and reported once', async (t) => {
      const c = await setup(t, ['sleep', '1000']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      const pid = await create(c);
      const del = await c.call('Delete', { id: c.id });
      assert.equal(del.pid, pid);
      assert.equal(del.exit_status, 137);
      await waitFor('init gone', () => !processExists(pid));
      const evs = await collectEvents(c.shim.client.events(0), (e) => e.some((x) => x.topic === '/tasks/delete'));
      assert.deepEqual(evs.map((e) => e.topic), ['/tasks/create', '/tasks/exit', '/tasks/delete']);
    });

    it('updates resources and reports cgroup metrics', async (t) => {
      const c = await setup(t, ['sleep', '1000']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c);
      await c.call('Start', { id: c.id });
      await c.call('Update', { id: c.id, resources: packJsonAny(OCI_RESOURCES_TYPE_URL, { memory: { limit: 64 * 1024 * 1024 } }) });
      assert.equal(fs.readFileSync(`/sys/fs/cgroup/memory/${c.id}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * 1024 * 1024));
      const { stats } = await c.call('Stats', { id: c.id });
      assert.equal(stats.type_url, 'io.containerd.cgroups.v1.Metrics');
      const m = eventPayload({ event: stats });
      assert.ok(Number(m.pids.current) >= 1);
      assert.ok(Number(m.memory.usage.usage) > 0);
      await c.call('Kill', { id: c.id, signal: 9, all: true });
      await c.call('Wait', { id: c.id });
    });

    it('refuses bad input with the right codes', async (t) => {
      const c = await setup(t, ['true']);
      if (!c) return;
      await assert.rejects(create(c, { stdout: path.join(c.bundle, 'missing.fifo') }), { code: GRPC.NOT_FOUND });
      fs.writeFileSync(path.join(c.bundle, 'plain'), '');
      await assert.rejects(create(c, { stdout: path.join(c.bundle, 'plain') }), { code: GRPC.INVALID_ARGUMENT });
      await assert.rejects(c.call('Create', { id: 'someone-else', bundle: c.bundle, options: options() }), { code: GRPC.NOT_FOUND });
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c);
      await assert.rejects(c.call('Exec', { id: c.id, exec_id: 'x', spec: packJsonAny(OCI_PROCESS_TYPE_URL, 'nope') }), { code: GRPC.INVALID_ARGUMENT });
      await assert.rejects(c.call('Exec', { id: c.id, exec_id: '../x', spec: packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['true'] }) }), { code: GRPC.INVALID_ARGUMENT });
      await c.call('Delete', { id: c.id });
    });

    it('runs with a terminal: pty output to stdout, ResizePty sets the window size', async (t) => {
      const c = await setup(t, ['sh', '-c', 'stty size; tty; read line; echo "got $line"'], ['stdin', 'stdout'], { terminal: true });
      if (!c) return;
      const out = readFifo(c.fifos.stdout!);
      await create(c, { stdin: c.fifos.stdin, stdout: c.fifos.stdout, terminal: true });
      await c.call('ResizePty', { id: c.id, width: 100, height: 40 });
      await c.call('Start', { id: c.id });
      const w = fs.createWriteStream(c.fifos.stdin!);
      w.write('hello\n');
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 0);
      w.destroy();
      const text = (await out).replace(/\r/g, '');
      assert.match(text, /^40 100\n\/dev\/(console|pts\/\d+)\n/);
      assert.match(text, /got hello/);
      await c.call('Delete', { id: c.id });
    });

    it('survives a client that goes away (and SIGHUP/SIGPIPE/SIGTERM while running): the container keeps running, its output is dropped, no SIGPIPE', async (t) => {
      const c = await setup(t, ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); sleep 0.01; done; exit 4']);
      if (!c) return;
      const reader = fs.createReadStream(c.fifos.stdout!);
      const firstData = new Promise<void>((resolve) => reader.once('data', () => resolve()));
      await create(c);
      await c.call('Start', { id: c.id });
      await firstData;
      reader.destroy(); // the client goes away mid-stream
      c.shim.client.close(); // and its connection too
      for (const sig of ['SIGHUP', 'SIGPIPE', 'SIGTERM'] as const) process.kill(c.shim.pid, sig); // a dying daemon's session
      const client2 = new ShimClient(c.shim.address);
      t.after(() => client2.close());
      assert.equal((await client2.call('Wait', { id: c.id })).exit_status, 4, 'exited normally, not killed by SIGPIPE');
      assert.ok(processExists(c.shim.pid));
      await client2.call('Delete', { id: c.id });
    });

    it('keeps no shim descriptor in the container (only stdio in /proc/1/fd)', async (t) => {
      const c = await setup(t, ['sh', '-c', 'ls /proc/1/fd; exit 0'], ['stdout']);
      if (!c) return;
      const out = readFifo(c.fifos.stdout!);
      await create(c);
      await c.call('Start', { id: c.id });
      await c.call('Wait', { id: c.id });
      const fds = (await out).split(/\s+/).filter(Boolean).map(Number);
      assert.deepEqual(fds.filter((fd) => fd > 2 && fd !== 255), [], `fds of the container init: ${fds.join(' ')}`);
      await c.call('Delete', { id: c.id });
    });

    it('reports /tasks/oom before the exit of an OOM-killed container', async (t) => {
      const c = await setup(t, ['sh', '-c', 'x=a; while true; do x="$x$x"; done']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      // memory limit through Update while created (both backends apply it before the program runs)
      await create(c);
      await c.call('Update', { id: c.id, resources: packJsonAny(OCI_RESOURCES_TYPE_URL, { memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 } }) });
      await c.call('Start', { id: c.id });
      const w = await c.call('Wait', { id: c.id });
      assert.equal(w.exit_status, 137);
      const evs = await collectEvents(c.shim.client.events(0), (e) => e.some((x) => x.topic === '/tasks/exit'));
      const topics = evs.map((e) => e.topic);
      assert.ok(topics.includes('/tasks/oom'), topics.join(' '));
      assert.ok(topics.indexOf('/tasks/oom') < topics.indexOf('/tasks/exit'));
      await c.call('Delete', { id: c.id });
    });

    /** A shim started without a task (as berthd's pool does), a bundle running `argv` with a stdout FIFO; cleaned up after the test. */
    const preStarted = async (argv: string[]) => {
      const id = randomId();
      const bundle = await makeBundle(base, id, argv);
      const fifo = mkfifo(path.join(bundle, 'stdout.fifo'));
      const shim = await spawnShim({ dir: base });
      cleanups.push(async () => {
        releaseFifo(fifo);
        await shim.client.call('Shutdown', { id, now: true }, 5000).catch(() => {});
        await killShim(shim);
        removeCgroups(id);
      });
      return { id, bundle, fifo, shim };
    };

    it('serves a pre-started shim after Bind, and refuses binding it to another task', async (t) => {
      if (!isRoot()) return t.skip('needs root: runs containers');
      const { id, bundle, fifo, shim } = await preStarted(['echo', 'bound']);
      await assert.rejects(shim.client.call('State', { id }), { code: GRPC.FAILED_PRECONDITION });
      const bound = await shim.client.call('Bind', { id, namespace: 'berth-test', bundle });
      assert.equal(bound.shim_pid, shim.pid);
      await shim.client.call('Bind', { id, namespace: 'berth-test', bundle }); // idempotent
      await assert.rejects(shim.client.call('Bind', { id: id + 'x', namespace: 'berth-test', bundle }), { code: GRPC.FAILED_PRECONDITION });
      const out = readFifo(fifo);
      await shim.client.call('Create', { id, bundle, stdout: fifo, options: options() });
      await shim.client.call('Start', { id });
      assert.equal((await shim.client.call('Wait', { id })).exit_status, 0);
      assert.equal(await out, 'bound\n');
      await shim.client.call('Delete', { id });
      const evs = await collectEvents(shim.client.events(0), (e) => e.length >= 4);
      assert.equal(evs[0]!.namespace, 'berth-test');
    });

    it('binds a pre-started shim in Create{namespace}, and answers UNAVAILABLE when it cannot take the task', async (t) => {
      if (!isRoot()) return t.skip('needs root: runs containers');
      const { id, bundle, fifo, shim } = await preStarted(['echo', 'bound-in-create']);
      const out = readFifo(fifo);
      const created = await shim.client.call('Create', { id, bundle, stdout: fifo, options: options(), namespace: 'berth-test' });
      assert.ok(created.pid > 0);
      const other = randomId();
      await assert.rejects(
        shim.client.call('Create', { id: other, bundle, options: options(), namespace: 'berth-test' }),
        (err: { code?: number; details?: string }) => err.code === GRPC.UNAVAILABLE && (err.details ?? '').includes(`task ${other}: this shim cannot take it`),
      );
      await shim.client.call('Start', { id });
      assert.equal((await shim.client.call('Wait', { id })).exit_status, 0);
      assert.equal(await out, 'bound-in-create\n');
      await shim.client.call('Delete', { id });
      const evs = await collectEvents(shim.client.events(0), (e) => e.length >= 4);
      assert.equal(evs[0]!.namespace, 'berth-test');
      assert.equal(evs[0]!.topic, '/tasks/create');
    });

    it('mounts the rootfs mounts of Create on <bundle>/rootfs, unmounts them on Delete; writes file:// output', async (t) => {
      const c = await setup(t, ['sh', '-c', 'echo to-file; echo err-to-file >&2'], [], { rootPath: 'rootfs' });
      if (!c) return;
      const source = await busyboxRootfs(base);
      const log = path.join(c.bundle, 'logs', 'out.log');
      await create(c, { stdout: `file://${log}`, stderr: `file://${log}`, rootfs: [{ type: 'bind', source, target: '', options: ['rbind', 'ro'] }] });
      const mountinfo = (): string => fs.readFileSync('/proc/self/mountinfo', 'utf8');
      assert.ok(mountinfo().includes(` ${path.join(c.bundle, 'rootfs')} `), 'rootfs mounted while the task exists');
      await c.call('Start', { id: c.id });
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 0);
      const text = fs.readFileSync(log, 'utf8');
      assert.match(text, /to-file\n/);
      assert.match(text, /err-to-file\n/);
      await c.call('Delete', { id: c.id });
      assert.ok(!mountinfo().includes(` ${path.join(c.bundle, 'rootfs')} `), 'rootfs unmounted after Delete');
    });

    it('reports the exits of exec processes the kernel kills when the init exits', async (t) => {
      const c = await setup(t, ['sleep', '1000']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c);
      await c.call('Start', { id: c.id });
      const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['sleep', '1000'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin:/usr/bin'] });
      await c.call('Exec', { id: c.id, exec_id: 'bg', spec });
      const { pid } = await c.call('Start', { id: c.id, exec_id: 'bg' });
      await c.call('Kill', { id: c.id, signal: 9 });
      assert.equal((await c.call('Wait', { id: c.id })).exit_status, 137);
      assert.equal((await c.call('Wait', { id: c.id, exec_id: 'bg' })).exit_status, 137);
      await waitFor('exec process gone', () => !processExists(pid));
      const evs = await collectEvents(c.shim.client.events(0), (e) => e.filter((x) => x.topic === '/tasks/exit').length >= 2);
      assert.deepEqual(evs.filter((e) => e.topic === '/tasks/exit').map((e) => eventPayload(e).id).sort(), ['bg', c.id].sort());
      await c.call('Delete', { id: c.id, exec_id: 'bg' });
      await c.call('Delete', { id: c.id });
    });

    it('execs with a terminal', async (t) => {
      const c = await setup(t, ['sleep', '1000'], ['stdout', 'execout']);
      if (!c) return;
      void readFifo(c.fifos.stdout!).catch(() => {});
      await create(c);
      await c.call('Start', { id: c.id });
      const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { terminal: true, args: ['sh', '-c', 'tty; stty size'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin:/usr/bin'], consoleSize: { height: 30, width: 90 } });
      await c.call('Exec', { id: c.id, exec_id: 't1', stdout: c.fifos.execout, terminal: true, spec });
      const out = readFifo(c.fifos.execout!);
      await c.call('Start', { id: c.id, exec_id: 't1' });
      assert.equal((await c.call('Wait', { id: c.id, exec_id: 't1' })).exit_status, 0);
      // (native: the exec's pty comes from the host's devpts, so `tty` cannot name it inside the container)
      assert.match((await out).replace(/\r/g, ''), /^(\/dev\/pts\/\d+|not a tty)\n30 90\n$/);
      await c.call('Kill', { id: c.id, signal: 9 });
      await c.call('Wait', { id: c.id });
    });
  });
}
