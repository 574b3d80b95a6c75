/**
 * Bad input against a real berthd with real shims (docs/faults.md): tables of identifiers (container ids,
 * exec ids, namespaces), malformed specs, rootfs paths, stdio paths and an oversized message. Each gets
 * containerd's gRPC code and a lowercase message naming the id or path, leaves nothing behind (bundle,
 * socket, shim, FIFO, cgroup), and a container that was running all along is unaffected; afterwards the
 * daemon still runs a new container. The codes of the malformed-spec cases are also in tasks-lifecycle; here
 * they are checked with their messages and next to a running container. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { OCI_PROCESS_TYPE_URL, OCI_SPEC_TYPE_URL, packJsonAny } from '../../proto/any';
import { encodeMessage } from '../../proto/loader';
import { ROOT_SKIP, TasksEnv, makeFifo, randomId, waitFor } from './tasks-harness';

const skip = ROOT_SKIP;
const env = new TasksEnv();
/** A container running through every case: it must never notice them. */
const bystander = { id: randomId('berth-test-bystander'), pid: 0 };
let baseline: ReturnType<TasksEnv['leftovers']>;

const BAD_IDS: [string, string][] = [
  ['double dot', 'a..b'],
  ['leading dash', '-a'],
  ['trailing dash', 'a-'],
  ['path', '../x'],
  ['non-ascii', 'é'],
  ['77 characters', 'x'.repeat(77)],
  ['empty', ''],
];
const ID_76 = `b${'7'.repeat(74)}z`;
const procSpec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] });

before(async () => {
  if (skip) return;
  await env.start();
  bystander.pid = await env.run(bystander.id, ['/bin/sleep', '1000']);
  baseline = env.leftovers();
});

after(async () => {
  if (skip) return fs.rmSync(env.work, { recursive: true, force: true });
  await env.stop();
});

/** Asserts a gRPC failure: code, a lowercase message without a trailing period, naming `names`. */
async function refused(p: Promise<unknown>, code: status, names: string[], what: string): Promise<string> {
  let details = '';
  await assert.rejects(p, (err: any) => {
    details = err.details ?? '';
    assert.equal(err.code, code, `${what}: got ${status[err.code]} (${details}), want ${status[code]}`);
    return true;
  }, `${what}: not refused`);
  assert.match(details, /^[a-z]/, `${what}: message starts lowercase: ${details}`);
  assert.doesNotMatch(details, /\.$/, `${what}: no trailing period: ${details}`);
  for (const n of names) assert.ok(details.includes(n), `${what}: message names ${JSON.stringify(n)}: ${details}`);
  return details;
}

/** Nothing beyond what the bystander owns: no bundle, socket, shim, mount, FIFO or cgroup of a refused call. */
async function nothingLeft(what: string): Promise<void> {
  try {
    await waitFor(() => JSON.stringify(env.leftovers()) === JSON.stringify(baseline), `${what}: no leftovers`, 5000);
  } catch {
    assert.deepEqual(env.leftovers(), baseline, what);
  }
}

async function bystanderRuns(): Promise<void> {
  assert.equal(await env.status(bystander.id), 'RUNNING');
  assert.ok(fs.existsSync(`/proc/${bystander.pid}`));
  const got = await env.tasks.Get!({ container_id: bystander.id, exec_id: '' });
  assert.equal(got.process.pid, bystander.pid);
}

const container = (id: string, spec = packJsonAny(OCI_SPEC_TYPE_URL, env.spec(id, { args: ['/bin/true'] }))) => ({
  container: { id, runtime: { name: 'io.containerd.runc.v2', options: null }, spec },
});

test('bad container ids: Containers.Create and Tasks.Create are InvalidArgument naming the id', { skip }, async () => {
  for (const [name, id] of BAD_IDS) {
    const names = id === '' ? ['identifier must not be empty'] : [id];
    await refused(env.containers.Create!(container(id)), status.INVALID_ARGUMENT, names, `Containers.Create ${name}`);
    await refused(env.tasks.Create!(env.createTaskRequest(id)), status.INVALID_ARGUMENT, names, `Tasks.Create ${name}`);
    // Calls on an existing task by id never resolve a path: the id is simply not a task.
    for (const call of ['Get', 'Kill', 'Delete', 'Start', 'Wait'] as const) {
      await assert.rejects(
        env.tasks[call]!({ container_id: id, exec_id: '', signal: 9, all: false }, { timeoutMs: 10_000 }),
        (err: any) => err.code === status.NOT_FOUND || assert.fail(`${call} ${name}: ${err.code} ${err.details}`),
      );
    }
    await nothingLeft(`container id ${name}`);
  }
  assert.deepEqual((await env.containers.List!({})).containers.map((c: any) => c.id), [bystander.id]);
  await bystanderRuns();
});

test('bad exec ids: Tasks.Exec is InvalidArgument naming the id; 76 characters work', { skip }, async () => {
  for (const [name, id] of BAD_IDS) {
    const names = id === '' ? ['exec id'] : [id];
    const req = { container_id: bystander.id, exec_id: id, stdin: '', stdout: '', stderr: '', terminal: false, spec: procSpec };
    await refused(env.tasks.Exec!(req), status.INVALID_ARGUMENT, names, `Tasks.Exec ${name}`);
  }
  assert.equal((await env.tasks.ListPids!({ container_id: bystander.id })).processes.length, 1);
  const req = { container_id: bystander.id, exec_id: ID_76, stdin: '', stdout: '', stderr: '', terminal: false, spec: procSpec };
  await env.tasks.Exec!(req);
  const waited = env.tasks.Wait!({ container_id: bystander.id, exec_id: ID_76 });
  await env.tasks.Start!({ container_id: bystander.id, exec_id: ID_76 });
  assert.equal((await waited).exit_status, 0);
  assert.equal((await env.tasks.DeleteProcess!({ container_id: bystander.id, exec_id: ID_76 })).id, ID_76);
  await nothingLeft('exec ids');
  await bystanderRuns();
});

/** A raw gRPC unary call over HTTP/2 (grpc-js refuses non-ASCII metadata on the client side). */
async function rawUnary(address: string, method: string, reqType: string, req: object, headers: Record<string, string>): Promise<{ code: number; message: string }> {
  const session = http2.connect('http://berthd', { createConnection: () => net.connect(address) });
  try {
    const body = encodeMessage(reqType, req);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    const stream = session.request({ ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    stream.end(frame);
    return await new Promise((resolve, reject) => {
      let code: number | undefined;
      let message = '';
      const take = (h: http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) {
          code = Number(h['grpc-status']);
          message = decodeURIComponent(String(h['grpc-message'] ?? ''));
        }
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('data', () => {});
      stream.on('end', () => (code === undefined ? reject(new Error('no grpc-status')) : resolve({ code, message })));
      stream.on('error', reject);
    });
  } finally {
    session.close();
  }
}

test('bad namespaces: InvalidArgument naming the namespace, empty = missing = FailedPrecondition; 76 characters work', { skip }, async () => {
  const before = (await env.berthd.client('namespaces').List!({})).namespaces.map((n: any) => n.name).sort();
  for (const [name, ns] of BAD_IDS) {
    if (ns === 'é') continue; // below, over raw HTTP/2
    const md = (): Metadata => {
      const m = new Metadata();
      m.set('containerd-namespace', ns);
      return m;
    };
    const id = randomId();
    if (ns === '') {
      await refused(env.containers.Create!(container(id), { metadata: md() }), status.FAILED_PRECONDITION, ['namespace is required'], 'empty namespace');
      await refused(env.tasks.Create!(env.createTaskRequest(id), { metadata: md() }), status.FAILED_PRECONDITION, ['namespace is required'], 'empty namespace');
      continue;
    }
    await refused(env.containers.Create!(container(id), { metadata: md() }), status.INVALID_ARGUMENT, [ns], `Containers.Create namespace ${name}`);
    await refused(env.tasks.Create!(env.createTaskRequest(id), { metadata: md() }), status.INVALID_ARGUMENT, [ns], `Tasks.Create namespace ${name}`);
    await refused(env.tasks.List!({}, { metadata: md() }), status.INVALID_ARGUMENT, [ns], `Tasks.List namespace ${name}`);
    await refused(env.events.Publish!({ topic: '/x', event: procSpec }, { metadata: md() }), status.INVALID_ARGUMENT, [ns], `Events.Publish namespace ${name}`);
  }
  const noNamespace = env.berthd.client('tasks', { namespace: null });
  await refused(noNamespace.List!({}), status.FAILED_PRECONDITION, ['namespace is required'], 'no namespace');
  // Non-ASCII metadata (UTF-8 bytes on the wire; grpc-js and grpc-go clients refuse to send it): grpc-js
  // drops a header value that is not printable ASCII, so berthd sees no namespace at all.
  const utf8AsLatin1 = Buffer.from('é', 'utf8').toString('latin1');
  for (const [method, type, req] of [
    ['/containerd.services.tasks.v1.Tasks/List', 'containerd.services.tasks.v1.ListTasksRequest', {}],
    ['/containerd.services.containers.v1.Containers/Create', 'containerd.services.containers.v1.CreateContainerRequest', container(randomId())],
  ] as const) {
    const r = await rawUnary(env.berthd.address, method, type, req, { 'containerd-namespace': utf8AsLatin1 });
    assert.equal(r.code, status.FAILED_PRECONDITION, `${method} with namespace é: ${r.code} ${r.message}`);
    assert.equal(r.message, 'namespace is required');
  }
  const after = (await env.berthd.client('namespaces').List!({})).namespaces.map((n: any) => n.name).sort();
  assert.deepEqual(after, before, 'no namespace was created');

  // The longest valid namespace and id together: bundle paths and socket names still fit.
  const ns76 = `n${'6'.repeat(74)}s`;
  const containers = env.berthd.client('containers', { namespace: ns76 });
  const tasks = env.berthd.client('tasks', { namespace: ns76 });
  await containers.Create!(container(ID_76));
  await tasks.Create!(env.createTaskRequest(ID_76));
  const waited = tasks.Wait!({ container_id: ID_76, exec_id: '' });
  await tasks.Start!({ container_id: ID_76, exec_id: '' });
  assert.equal((await waited).exit_status, 0);
  assert.equal((await tasks.Delete!({ container_id: ID_76 })).exit_status, 0);
  await containers.Delete!({ id: ID_76 });
  await env.berthd.client('namespaces').Delete!({ name: ns76 });
  await nothingLeft('namespaces');
  await bystanderRuns();
});

test('malformed specs: InvalidArgument naming the container, before anything is spawned', { skip }, async () => {
  const cases: [string, Buffer][] = [
    ['not json', Buffer.from('{"process": ')],
    ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x01])],
    ['a string', Buffer.from('"a string"')],
    ['an array', Buffer.from('[{"process": {}}]')],
    ['null', Buffer.from('null')],
    ['a number', Buffer.from('42')],
    ['no process', Buffer.from(JSON.stringify({ ociVersion: '1.0.2', root: { path: env.rootfs } }))],
    ['process null', Buffer.from(JSON.stringify({ process: null, root: { path: env.rootfs } }))],
    ['process a string', Buffer.from(JSON.stringify({ process: 'sh', root: { path: env.rootfs } }))],
  ];
  for (const [name, raw] of cases) {
    const id = randomId();
    await env.containers.Create!(container(id, { type_url: OCI_SPEC_TYPE_URL, value: raw } as any));
    await refused(env.tasks.Create!(env.createTaskRequest(id)), status.INVALID_ARGUMENT, [id], `spec ${name}`);
    await refused(env.tasks.Get!({ container_id: id, exec_id: '' }), status.NOT_FOUND, [id], `Get after spec ${name}`);
    await env.containers.Delete!({ id });
    await nothingLeft(`spec ${name}`);
  }
  await bystanderRuns();
});

test('rootfs: missing NotFound; not a directory, escaping the bundle or an unmountable source InvalidArgument; naming the path', { skip }, async () => {
  const file = path.join(env.work, 'a-file');
  fs.writeFileSync(file, 'x');
  const missing = path.join(env.work, 'no-such-rootfs');
  const cases: [string, string, status, string][] = [
    ['missing', missing, status.NOT_FOUND, missing],
    ['a file', file, status.INVALID_ARGUMENT, file],
    ['relative escape', '../../../../../etc', status.INVALID_ARGUMENT, '../../../../../etc'],
    ['relative missing', 'rootfs', status.NOT_FOUND, 'rootfs'],
  ];
  for (const [name, rootfs, code, named] of cases) {
    const id = randomId();
    await env.createContainer(id, ['/bin/true'], { rootfs });
    await refused(env.tasks.Create!(env.createTaskRequest(id)), code, [named], `rootfs ${name}`);
    await env.containers.Delete!({ id });
    await nothingLeft(`rootfs ${name}`);
  }
  // Rootfs mounts whose source does not exist: the shim's mount fails and everything is undone.
  const id = randomId();
  await env.createContainer(id, ['/bin/true'], { rootfs: 'rootfs' });
  const source = path.join(env.work, 'no-such-source');
  await refused(
    env.tasks.Create!(env.createTaskRequest(id, { rootfs: [{ type: 'bind', source, target: '', options: ['rbind'] }] })),
    status.INVALID_ARGUMENT,
    [source],
    'rootfs mount source missing',
  );
  await env.containers.Delete!({ id });
  await nothingLeft('rootfs mount source');
  await bystanderRuns();
});

test('stdio paths: missing NotFound, relative or not a fifo InvalidArgument, naming the path; never hangs', { skip }, async () => {
  const dir = path.join(env.work, 'io');
  fs.mkdirSync(dir, { recursive: true });
  const missing = path.join(dir, 'missing-fifo');
  const cases: [string, string, status][] = [
    ['missing', missing, status.NOT_FOUND],
    ['relative', 'relative/fifo', status.INVALID_ARGUMENT],
    ['a directory', dir, status.INVALID_ARGUMENT],
  ];
  for (const stream of ['stdin', 'stdout', 'stderr'] as const) {
    for (const [name, p, code] of cases) {
      const id = randomId();
      await env.createContainer(id, ['/bin/true']);
      await refused(env.tasks.Create!(env.createTaskRequest(id, { [stream]: p }), { timeoutMs: 10_000 }), code, [p], `Tasks.Create ${stream} ${name}`);
      await env.containers.Delete!({ id });
      const req = { container_id: bystander.id, exec_id: 'e1', stdin: '', stdout: '', stderr: '', terminal: false, spec: procSpec, [stream]: p };
      await refused(env.tasks.Exec!(req, { timeoutMs: 10_000 }), code, [p], `Tasks.Exec ${stream} ${name}`);
      await assert.rejects(env.tasks.Get!({ container_id: bystander.id, exec_id: 'e1' }), (err: any) => err.code === status.NOT_FOUND);
      await nothingLeft(`${stream} ${name}`);
    }
  }
  assert.ok(!fs.existsSync(missing), 'a missing fifo is not created');
  // FIFOs nobody reads or writes yet do not block Create or Start.
  const id = randomId();
  const fifos = ['stdin', 'stdout', 'stderr'].map((n) => {
    const p = path.join(dir, `${id}-${n}`);
    execFileSync('mkfifo', [p]);
    return p;
  });
  await env.createContainer(id, ['/bin/sh', '-c', 'echo out; exit 3']);
  await env.tasks.Create!(env.createTaskRequest(id, { stdin: fifos[0], stdout: fifos[1], stderr: fifos[2] }), { timeoutMs: 10_000 });
  const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
  await env.tasks.Start!({ container_id: id, exec_id: '' }, { timeoutMs: 10_000 });
  await env.tasks.CloseIO!({ container_id: id, exec_id: '', stdin: true });
  assert.equal((await waited).exit_status, 3);
  await env.tasks.Delete!({ container_id: id });
  await env.containers.Delete!({ id });
  await nothingLeft('unopened fifos');
  await bystanderRuns();
});

test('a message over the size cap is RESOURCE_EXHAUSTED and the task and daemon go on', { skip }, async () => {
  const big = { type_url: OCI_PROCESS_TYPE_URL, value: Buffer.alloc(17 * 1024 * 1024, 0x20) };
  const req = { container_id: bystander.id, exec_id: 'big', stdin: '', stdout: '', stderr: '', terminal: false, spec: big };
  await assert.rejects(env.tasks.Exec!(req), (err: any) => {
    assert.equal(err.code, status.RESOURCE_EXHAUSTED, `${err.code} ${err.details}`);
    return true;
  });
  await assert.rejects(env.tasks.Get!({ container_id: bystander.id, exec_id: 'big' }), (err: any) => err.code === status.NOT_FOUND);
  await bystanderRuns();
});

test('afterwards the daemon runs a new container with its output, and the bystander still runs', { skip }, async () => {
  const id = randomId();
  const out = makeFifo(env.work, `${id}-out`);
  try {
    await env.createContainer(id, ['/bin/sh', '-c', 'echo still-fine']);
    await env.tasks.Create!(env.createTaskRequest(id, { stdout: out.path }));
    const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
    await env.tasks.Start!({ container_id: id, exec_id: '' });
    assert.equal((await waited).exit_status, 0);
    await waitFor(() => out.read().includes('still-fine'), 'output');
    await env.tasks.Delete!({ container_id: id });
    await env.containers.Delete!({ id });
  } finally {
    out.close();
  }
  await nothingLeft('new container');
  await bystanderRuns();
  assert.doesNotMatch(env.berthd.logs(), /"level":"error"/, 'no internal error logged');
});
