/**
 * The gRPC handlers of the metadata services, in-process (no root): the status code and message each kind
 * of bad input gets, and the events the services publish.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { startDaemon, type Daemon } from '../../services/daemon';
import { defaultConfig } from '../../services/config';
import { serviceClient, type ServiceClient } from '../helpers/daemon';
import { OCI_SPEC_TYPE_URL, packJsonAny, unpackAny } from '../../proto/any';
import { toTimestamp } from '../../proto/timestamp';

const spec = packJsonAny(OCI_SPEC_TYPE_URL, { ociVersion: '1.0.2', process: { args: ['/bin/true'] } });
const container = (id: string, extra: object = {}) => ({ id, runtime: { name: 'io.containerd.runc.v2' }, spec, ...extra });

async function rejectsWith(p: Promise<unknown>, code: status, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: { code: number; details: string }) => {
    assert.equal(err.code, code, `code ${err.code} (${err.details}), want ${code}`);
    if (message) assert.match(err.details, message);
    return true;
  });
}

describe('metadata service handlers', () => {
  let dir: string;
  let daemon: Daemon;
  const clients: ServiceClient[] = [];
  const client = (svc: Parameters<typeof serviceClient>[1], ns: string | null = 'default'): ServiceClient => {
    const c = serviceClient(daemon.address, svc, ns);
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
    daemon = await startDaemon({
      ...defaultConfig(),
      address: path.join(dir, 'run', 'berthd.sock'),
      root: path.join(dir, 'root'),
      state: path.join(dir, 'state'),
      logLevel: 'error',
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await daemon?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the socket with mode 0660 in a 0711 directory', () => {
    assert.equal(fs.statSync(daemon.address).mode & 0o777, 0o660);
    assert.equal(fs.statSync(path.dirname(daemon.address)).mode & 0o777, 0o711);
  });

  it('a second daemon on the same socket is refused', async () => {
    await assert.rejects(
      startDaemon({ ...daemon.ctx.config, root: path.join(dir, 'root2') }),
      /another server is listening/,
    );
  });

  it('namespace: missing → FAILED_PRECONDITION, invalid → INVALID_ARGUMENT, not needed for Version', async () => {
    await rejectsWith(client('containers', null).List({}), status.FAILED_PRECONDITION, /^namespace is required$/);
    await rejectsWith(client('containers', 'bad/ns').List({}), status.INVALID_ARGUMENT, /bad\/ns/);
    const v = await client('version', null).Version({});
    assert.match(v.version, /^v1\.6\.\d+\+berth\./);
    assert.ok(v.revision.length > 0);
  });

  it('containers: create validation, duplicates, unknown ids, bad filters, bad masks', async () => {
    const c = client('containers');
    await rejectsWith(c.Create({ container: container('bad id') }), status.INVALID_ARGUMENT, /container\.ID: identifier "bad id"/);
    await rejectsWith(c.Create({ container: container('c1', { runtime: { name: '' } }) }), status.INVALID_ARGUMENT, /Runtime\.Name must be set/);
    await rejectsWith(c.Create({ container: container('c1', { spec: null }) }), status.INVALID_ARGUMENT, /Spec must be set/);
    await rejectsWith(c.Create({}), status.INVALID_ARGUMENT);
    const created = await c.Create({ container: container('c1', { labels: { a: 'b' } }) });
    assert.equal(created.container.id, 'c1');
    assert.ok(created.container.created_at.seconds > 0);
    await rejectsWith(c.Create({ container: container('c1') }), status.ALREADY_EXISTS, /container "c1": already exists/);
    await rejectsWith(c.Get({ id: 'nope' }), status.NOT_FOUND, /container "nope" in namespace "default": not found/);
    await rejectsWith(c.Delete({ id: 'nope' }), status.NOT_FOUND);
    await rejectsWith(c.List({ filters: ['labels.a=='] }), status.INVALID_ARGUMENT, /parse error/);
    await rejectsWith(c.Update({ container: container('c1'), update_mask: { paths: ['runtime'] } }), status.INVALID_ARGUMENT, /cannot update "runtime"/);
    await rejectsWith(c.Update({ container: container('') }), status.INVALID_ARGUMENT, /Container\.ID required/);
    await rejectsWith(c.Update({ container: container('nope'), update_mask: { paths: ['labels'] } }), status.NOT_FOUND);
    // A malformed spec is stored as sent (only Tasks.Create parses it).
    await c.Create({ container: container('odd', { spec: { type_url: OCI_SPEC_TYPE_URL, value: Buffer.from('{not json') } }) });
    const listed = await c.List({ filters: ['labels.a==b'] });
    assert.deepEqual(listed.containers.map((x: { id: string }) => x.id), ['c1']);
    const streamed: string[] = [];
    for await (const m of c.ListStream({})) streamed.push(m.container.id);
    assert.deepEqual(streamed, ['c1', 'odd']);
    await c.Delete({ id: 'odd' });
    const updated = await c.Update({ container: container('c1', { labels: { x: 'y' } }), update_mask: { paths: ['labels.x'] } });
    assert.deepEqual(updated.container.labels, { a: 'b', x: 'y' });
  });

  it('namespaces: Get of an unknown one is empty, delete rules, masks', async () => {
    const n = client('namespaces');
    assert.deepEqual((await n.Get({ name: 'ghost' })).namespace, { name: 'ghost', labels: {} });
    await rejectsWith(n.Create({ namespace: { name: 'bad ns' } }), status.INVALID_ARGUMENT);
    await n.Create({ namespace: { name: 'ns1', labels: { a: '1' } } });
    await rejectsWith(n.Create({ namespace: { name: 'ns1' } }), status.ALREADY_EXISTS, /namespace "ns1": already exists/);
    await rejectsWith(n.Update({ namespace: { name: 'ns1' }, update_mask: { paths: ['name'] } }), status.INVALID_ARGUMENT, /cannot update "name" field/);
    const u = await n.Update({ namespace: { name: 'ns1', labels: { b: '2' } }, update_mask: { paths: ['labels.b'] } });
    assert.deepEqual(u.namespace.labels, { a: '1', b: '2' });
    await rejectsWith(n.Delete({ name: 'default' }), status.FAILED_PRECONDITION, /namespace "default" must be empty, but it still has containers/);
    await rejectsWith(n.Delete({ name: 'ghost' }), status.NOT_FOUND);
    await n.Delete({ name: 'ns1' });
    const names = (await n.List({})).namespaces.map((x: { name: string }) => x.name);
    assert.deepEqual(names, ['default']);
  });

  it('leases: generated ids, unknown leases, unsupported resources', async () => {
    const l = client('leases');
    const created = await l.Create({ labels: { 'containerd.io/gc.expire': '2030-01-01T00:00:00Z' } });
    assert.match(created.lease.id, /^\d+-[A-Za-z0-9_-]{4}$/);
    await l.Create({ id: 'mine' });
    await rejectsWith(l.Create({ id: 'mine' }), status.ALREADY_EXISTS);
    await rejectsWith(l.Delete({ id: 'nope' }), status.NOT_FOUND);
    await rejectsWith(l.AddResource({ id: 'mine', resource: { id: 'x', type: 'images' } }), status.UNIMPLEMENTED);
    await l.AddResource({ id: 'mine', resource: { id: 'k', type: 'snapshots/overlayfs' } });
    assert.deepEqual((await l.ListResources({ id: 'mine' })).resources, [{ id: 'k', type: 'snapshots/overlayfs' }]);
    assert.deepEqual((await l.List({ filters: ['id==mine'] })).leases.map((x: { id: string }) => x.id), ['mine']);
    await l.Delete({ id: 'mine' });
    await l.Delete({ id: created.lease.id });
  });

  it('introspection: uuid, plugins with type names, filters', async () => {
    const i = client('introspection');
    assert.equal((await i.Server({})).uuid, daemon.ctx.store.uuid);
    const grpcIds = (await i.Plugins({ filters: ['type==io.containerd.grpc.v1'] })).plugins.map((p: { id: string }) => p.id);
    for (const id of ['version', 'introspection', 'namespaces', 'containers', 'events', 'leases']) assert.ok(grpcIds.includes(id), id);
    const meta = (await i.Plugins({ filters: ['type==io.containerd.metadata.v1,id==sqlite'] })).plugins;
    assert.equal(meta.length, 1);
    await rejectsWith(i.Plugins({ filters: ['type=='] }), status.INVALID_ARGUMENT);
  });

  it('events: publish / forward validation, subscribe filters, service events', async () => {
    const e = client('events');
    await rejectsWith(e.Publish({ topic: 'no-slash', event: spec }), status.INVALID_ARGUMENT, /must start with '\/'/);
    await rejectsWith(e.Publish({ topic: '/bad topic', event: spec }), status.INVALID_ARGUMENT);
    await rejectsWith(client('events', null).Publish({ topic: '/x', event: spec }), status.FAILED_PRECONDITION);
    await rejectsWith(e.Forward({ envelope: { namespace: 'default', topic: '/x', event: spec } }), status.INVALID_ARGUMENT, /timestamp must be set/);
    await rejectsWith(e.Forward({ envelope: { namespace: 'bad ns', topic: '/x', event: spec, timestamp: toTimestamp() } }), status.INVALID_ARGUMENT);
    const bad = e.Subscribe({ filters: ['topic=='] });
    await assert.rejects(
      (async () => {
        for await (const _ of bad) break;
      })(),
      (err: { code: number }) => err.code === status.INVALID_ARGUMENT,
    );

    const sub = e.Subscribe({ filters: ['topic~=|^/containers/|,namespace==default', 'topic=="/custom/thing"'] });
    const got: { topic: string; namespace: string; type: string; id?: string }[] = [];
    const done = (async () => {
      for await (const env of sub) {
        const ev = env.event.type_url.startsWith('containerd.events.') ? unpackAny<{ id: string }>(env.event) : undefined;
        got.push({ topic: env.topic, namespace: env.namespace, type: env.event.type_url, id: ev?.id });
        if (got.length === 4) break;
      }
    })();
    // The subscription is registered once its first response headers arrive; wait for it.
    const deadline = Date.now() + 10_000;
    while (daemon.ctx.events.subscriberCount < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const c = client('containers');
    const other = client('containers', 'other');
    await other.Create({ container: container('elsewhere') }); // filtered out: namespace other
    await c.Create({ container: container('ev1') });
    await c.Update({ container: container('ev1', { labels: { k: 'v' } }), update_mask: { paths: ['labels'] } });
    await e.Publish({ topic: '/custom/thing', event: spec });
    await e.Publish({ topic: '/custom/other', event: spec }); // filtered out
    await c.Delete({ id: 'ev1' });
    await done;
    sub.cancel();
    assert.deepEqual(got, [
      { topic: '/containers/create', namespace: 'default', type: 'containerd.events.ContainerCreate', id: 'ev1' },
      { topic: '/containers/update', namespace: 'default', type: 'containerd.events.ContainerUpdate', id: 'ev1' },
      { topic: '/custom/thing', namespace: 'default', type: OCI_SPEC_TYPE_URL, id: undefined },
      { topic: '/containers/delete', namespace: 'default', type: 'containerd.events.ContainerDelete', id: 'ev1' },
    ]);
  });
});
