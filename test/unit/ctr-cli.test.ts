/**
 * bctr's command line against a fake daemon (no root): argument parsing, global options and their
 * environment variables, what each command sends (namespace metadata, filters passed through, labels,
 * spec, runtime options), what it prints, errors and exit codes, and `--help` on every command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { FakeDaemon, FakeStatus, runBctr } from './ctr-fake-daemon';
import { buildProgram } from '../../ctr/main';
import { packAny, OCI_SPEC_TYPE_URL } from '../../proto/any';
import { SPEC_CREATE } from './ctr-spec-fixtures';

let fake: FakeDaemon;
const ts = { seconds: 1795455438, nanos: 418248472 };

function container(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    labels: {},
    image: '',
    runtime: { name: 'io.containerd.runc.v2', options: { type_url: 'containerd.runc.v1.Options', value: Buffer.alloc(0) } },
    spec: { type_url: OCI_SPEC_TYPE_URL, value: Buffer.from(SPEC_CREATE) },
    snapshotter: '',
    snapshot_key: '',
    created_at: ts,
    updated_at: ts,
    extensions: {},
    ...extra,
  };
}

before(async () => {
  fake = await FakeDaemon.start();
  fake
    .on('Version.Version', () => ({ version: '1.6.20~ds1', revision: 'rev' }))
    .on('Introspection.Server', () => ({ uuid: 'uuid-1' }))
    .on('Namespaces.List', () => ({ namespaces: [{ name: 'default', labels: {} }, { name: 'foo', labels: { x: 'y', a: 'b' } }] }))
    .on('Namespaces.Update', (req) => req)
    .on('Containers.ListStream', () => [{ container: container('c1') }, { container: container('c2', { image: 'img' }) }])
    .on('Containers.Get', (req) => {
      if (req.id === 'nope') throw new FakeStatus(GrpcStatus.NOT_FOUND, 'container "nope" in namespace "default": not found');
      return { container: container(String(req.id), req.id === 'stopsig' ? { labels: { 'io.containerd.image.config.stop-signal': 'SIGINT' } } : {}) };
    })
    .on('Containers.Create', (req) => req)
    .on('Containers.Delete', () => ({}))
    .on('Tasks.Get', (req) => ({ process: { container_id: '', id: req.container_id, pid: 42, status: 'RUNNING', stdin: '', stdout: '', stderr: '' } }))
    .on('Tasks.List', () => ({ tasks: [{ id: 't1', pid: 4242, status: 'RUNNING' }, { id: 't2', pid: 0, status: 'CREATED' }] }))
    .on('Tasks.Kill', () => ({}))
    .on('Events.Subscribe', () => [
      { timestamp: ts, namespace: 'default', topic: '/containers/delete', event: packAny('containerd.events.ContainerDelete', { id: 'r1' }) },
    ])
    .on('Leases.Create', (req) => ({ lease: { id: req.id || 'generated', labels: req.labels } }));
});

after(async () => {
  await fake?.stop();
});

const A = (): string[] => ['-a', fake.socket];

test('--help works on every command without a daemon', async () => {
  const paths: string[][] = [];
  const walk = (cmd: Command, prefix: string[]): void => {
    for (const sub of cmd.commands) {
      const p = [...prefix, sub.name()];
      paths.push(p);
      walk(sub, p);
    }
  };
  walk(buildProgram(), []);
  assert.ok(paths.length >= 30, `found ${paths.length} commands`);
  for (const p of [[], ...paths]) {
    const r = await runBctr(['-a', '/nonexistent/berth.sock', ...p, '--help']);
    assert.equal(r.code, 0, p.join(' '));
    assert.match(r.stdout, /^Usage: bctr/, p.join(' '));
  }
});

test('version prints client and server like ctr', async () => {
  const r = await runBctr([...A(), 'version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Client:\n {2}Version: {2}\S+\n {2}Revision: berth\n/);
  assert.match(r.stdout, /\nServer:\n {2}Version: {2}1\.6\.20~ds1\n {2}Revision: rev\n {2}UUID: uuid-1\n$/);
});

test('namespace: default, -n, and BERTH_NAMESPACE; address from BERTH_ADDRESS', async () => {
  await runBctr([...A(), 'c', 'ls', '-q'], { BERTH_NAMESPACE: undefined });
  assert.equal(fake.calls.at(-1)!.namespace, 'default');
  await runBctr([...A(), '-n', 'ns1', 'c', 'ls', '-q']);
  assert.equal(fake.calls.at(-1)!.namespace, 'ns1');
  const r = await runBctr(['c', 'ls', '-q'], { BERTH_NAMESPACE: 'ns2', BERTH_ADDRESS: fake.socket });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fake.calls.at(-1)!.namespace, 'ns2');
});

test('containers ls: table, -q, filters passed through, List when ListStream is unimplemented', async () => {
  let r = await runBctr([...A(), 'containers', 'list', 'labels.a==b', 'id~=^c']);
  assert.equal(r.stdout, 'CONTAINER    IMAGE    RUNTIME                  \nc1           -        io.containerd.runc.v2    \nc2           img      io.containerd.runc.v2    \n');
  assert.deepEqual(fake.callsTo('Containers.ListStream').at(-1)!.request.filters, ['labels.a==b', 'id~=^c']);
  r = await runBctr([...A(), 'c', 'ls', '-q']);
  assert.equal(r.stdout, 'c1\nc2\n');

  const saved = fake.handlers.get('Containers.ListStream')!;
  fake.handlers.delete('Containers.ListStream');
  fake.on('Containers.List', () => ({ containers: [container('old')] }));
  try {
    r = await runBctr([...A(), 'c', 'ls', '-q', 'id==old']);
    assert.equal(r.stdout, 'old\n');
    assert.deepEqual(fake.callsTo('Containers.List').at(-1)!.request.filters, ['id==old']);
  } finally {
    fake.on('Containers.ListStream', saved);
  }
});

test('containers create: spec, labels, runtime; options stop at the rootfs argument', async () => {
  const r = await runBctr([...A(), 'c', 'create', '--label', 'k=v', '--rootfs', '/tmp/ctrref/rootfs', 'c1', '/bin/true']);
  assert.equal(r.code, 0, r.stderr);
  const sent = fake.callsTo('Containers.Create').at(-1)!.request.container as Record<string, any>;
  assert.equal(sent.id, 'c1');
  assert.deepEqual(sent.labels, { k: 'v' });
  assert.equal(sent.runtime.name, 'io.containerd.runc.v2');
  assert.equal(sent.runtime.options.type_url, 'containerd.runc.v1.Options');
  assert.equal(sent.spec.type_url, OCI_SPEC_TYPE_URL);
  const expected = JSON.parse(SPEC_CREATE);
  expected.annotations = { k: 'v' };
  assert.deepEqual(JSON.parse(Buffer.from(sent.spec.value).toString()), expected);

  await runBctr([...A(), 'c', 'create', '--rootfs', 'rel/dir', 'c2', '/bin/sh', '-c', 'echo -t']);
  const spec = JSON.parse(Buffer.from((fake.callsTo('Containers.Create').at(-1)!.request.container as any).spec.value).toString());
  assert.deepEqual(spec.process.args, ['/bin/sh', '-c', 'echo -t']);
  assert.equal(spec.process.terminal, undefined, '-t after the rootfs belongs to the command');
  assert.equal(spec.root.path, path.resolve('rel/dir'));
});

test('usage errors print like ctr and exit 1', async () => {
  let r = await runBctr([...A(), 'run', '--rm', '-d', '--rootfs', '/r', 'x', '/bin/true']);
  assert.deepEqual([r.code, r.stderr], [1, 'ctr: flags --detach and --rm cannot be specified together\n']);
  r = await runBctr([...A(), 'run', '--rootfs', '/r']);
  assert.deepEqual([r.code, r.stderr], [1, 'ctr: container id must be provided\n']);
  r = await runBctr([...A(), 'c', 'create']);
  assert.deepEqual([r.code, r.stderr], [1, 'ctr: image ref must be provided: invalid argument\n']);
  r = await runBctr([...A(), 't', 'kill', '-a', '--exec-id', 'e', 'x']);
  assert.deepEqual([r.code, r.stderr], [1, 'ctr: specify an exec-id or all; not both\n']);
  r = await runBctr([...A(), 'c', 'ls', '--bogus']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown option '--bogus'/);
  r = await runBctr([...A(), 't', 'exec', 'x', '/bin/true']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--exec-id/);
});

test('daemon errors: ctr wording, exit 1', async () => {
  const r = await runBctr([...A(), 'c', 'info', 'nope']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', 'ctr: container "nope" in namespace "default": not found\n']);
  const u = await runBctr([...A(), 'leases', 'ls']);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /^ctr: failed to list leases: unknown method Leases\.List: not implemented\n$/);
});

test('containers info prints the Go struct with the spec', async () => {
  const r = await runBctr([...A(), 'c', 'info', 'c1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^\{\n {4}"ID": "c1",\n {4}"Labels": null,\n {4}"Image": "",\n {4}"Runtime": \{\n {8}"Name": "io.containerd.runc.v2",\n {8}"Options": \{\n {12}"type_url": "containerd.runc.v1.Options"\n {8}\}\n {4}\},\n {4}"SnapshotKey": "",\n {4}"Snapshotter": "",\n {4}"CreatedAt": "2026-11-23T17:37:18.418248472Z",\n {4}"UpdatedAt": "2026-11-23T17:37:18.418248472Z",\n {4}"Extensions": null,\n {4}"Spec": \{\n {8}"ociVersion": "1.0.2-dev",/,
  );
  const spec = await runBctr([...A(), 'c', 'info', '--spec', 'c1']);
  assert.deepEqual(JSON.parse(spec.stdout), JSON.parse(SPEC_CREATE));
});

test('namespaces ls and label', async () => {
  const r = await runBctr([...A(), 'ns', 'ls']);
  assert.equal(r.stdout, 'NAME    LABELS  \ndefault         \nfoo     a=b,x=y \n');
  await runBctr([...A(), 'namespaces', 'label', 'foo', 'k=v']);
  assert.deepEqual(fake.callsTo('Namespaces.Update').at(-1)!.request, {
    namespace: { name: 'foo', labels: { k: 'v' } },
    update_mask: { paths: ['labels.k'] },
  });
});

test('events: filters passed through, one ctr line per envelope', async () => {
  const r = await runBctr([...A(), 'events', 'topic~="/containers/"', 'namespace==default']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '2026-11-23 17:37:18.418248472 +0000 UTC default /containers/delete {"id":"r1"}\n');
  assert.deepEqual(fake.callsTo('Events.Subscribe').at(-1)!.request.filters, ['topic~="/containers/"', 'namespace==default']);
});

test('tasks ls and kill: signals by name or number, stop-signal label, --all and --exec-id', async () => {
  const r = await runBctr([...A(), 't', 'ls']);
  assert.equal(r.stdout, 'TASK    PID     STATUS    \nt1      4242    RUNNING\nt2      0       CREATED\n');
  const kill = async (...args: string[]) => {
    const k = await runBctr([...A(), 't', 'kill', ...args]);
    assert.equal(k.code, 0, k.stderr);
    return fake.callsTo('Tasks.Kill').at(-1)!.request;
  };
  assert.deepEqual(await kill('c1'), { container_id: 'c1', exec_id: '', signal: 15, all: false });
  assert.equal((await kill('-s', 'KILL', 'c1')).signal, 9);
  assert.equal((await kill('--signal', 'sighup', 'c1')).signal, 1);
  assert.equal((await kill('-s', '10', 'c1')).signal, 10);
  assert.equal((await kill('stopsig')).signal, 2);
  assert.equal((await kill('-a', 'c1')).all, true);
  assert.equal((await kill('--exec-id', 'e1', 'c1')).exec_id, 'e1');
  const bad = await runBctr([...A(), 't', 'kill', '-s', 'NOPE', 'c1']);
  assert.deepEqual([bad.code, bad.stderr], [1, 'ctr: Invalid signal: NOPE\n']);
});

test('leases create: id, labels and the expiry label', async () => {
  let r = await runBctr([...A(), 'leases', 'create', '--id', 'l1', 'a=b', 'flag']);
  assert.equal(r.stdout, 'l1\n');
  const labels = fake.callsTo('Leases.Create').at(-1)!.request.labels as Record<string, string>;
  assert.equal(labels.a, 'b');
  assert.equal(labels.flag, '');
  assert.match(labels['containerd.io/gc.expire'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  r = await runBctr([...A(), 'leases', 'create', '-x', '0s']);
  assert.equal(r.stdout, 'generated\n');
  assert.deepEqual(fake.callsTo('Leases.Create').at(-1)!.request.labels, {});
});

test('run --null-io: Create, Wait before Start, exit status propagated, --rm deletes task and container', async () => {
  let started = false;
  let deleted = false;
  fake
    .on('Tasks.Create', () => ({ container_id: 'r1', pid: 100 }))
    .on('Tasks.Start', () => {
      started = true;
      return { pid: 100 };
    })
    .on('Tasks.Wait', async () => {
      while (!started) await new Promise((r) => setTimeout(r, 5));
      return { exit_status: 3, exited_at: ts };
    })
    .on('Tasks.Get', () => {
      if (deleted) throw new FakeStatus(GrpcStatus.NOT_FOUND, 'task r1 not found');
      return { process: { id: 'r1', pid: 100, status: 'STOPPED', exit_status: 3 } };
    })
    .on('Tasks.Delete', () => {
      deleted = true;
      return { id: 'r1', pid: 100, exit_status: 3 };
    });
  const first = fake.calls.length;
  const r = await runBctr([...A(), 'run', '--rm', '--null-io', '--runc-binary', '/usr/sbin/runc', '--rootfs', '/r', 'r1', '/bin/false']);
  assert.equal(r.code, 3, r.stderr);
  const seq = fake.calls.slice(first).map((c) => c.method);
  assert.deepEqual(seq.slice(0, 4), ['Containers.Create', 'Tasks.Create', 'Tasks.Wait', 'Tasks.Start']);
  assert.ok(seq.includes('Tasks.Delete'), seq.join());
  assert.equal(seq.at(-1), 'Containers.Delete');
  const create = fake.callsTo('Tasks.Create').at(-1)!.request as Record<string, any>;
  assert.deepEqual([create.stdin, create.stdout, create.stderr, create.terminal], ['', '', '', false]);
  assert.equal(create.options.type_url, 'containerd.runc.v1.Options', 'runc options go with the task too');
  assert.ok(Buffer.from(create.options.value).toString().includes('/usr/sbin/runc'));
  const cont = fake.callsTo('Containers.Create').at(-1)!.request.container as Record<string, any>;
  assert.ok(Buffer.from(cont.runtime.options.value).toString().includes('/usr/sbin/runc'), 'and with the container, as ctr does');
});

test('connect failure and --timeout read as ctr', async () => {
  let r = await runBctr(['-a', path.join(fake.dir, 'missing.sock'), '--connect-timeout', '300ms', 'version']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ctr: failed to dial ".*missing\.sock": context deadline exceeded\n$/);
  fake.on('Namespaces.List', () => new Promise(() => undefined));
  r = await runBctr([...A(), '--timeout', '200ms', 'ns', 'ls']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /context deadline exceeded\n$/);
});

test('run -t without a terminal: ctr\'s error, the prepared FIFOs removed, --rm still removes the container', async (t) => {
  if (process.stdin.isTTY) return t.skip('stdin is a terminal here');
  const fifoDir = path.join(fake.dir, 'fifo');
  const before = fake.callsTo('Containers.Delete').length;
  const r = await runBctr([...A(), 'run', '--rm', '-t', '--fifo-dir', fifoDir, '--rootfs', '/r', 'tty1', '/bin/sh']);
  assert.deepEqual([r.code, r.stderr], [1, 'ctr: provided file is not a console\n']);
  assert.deepEqual(fs.readdirSync(fifoDir), []);
  assert.equal(fake.callsTo('Containers.Delete').length, before + 1);
});
