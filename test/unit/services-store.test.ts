/**
 * MetadataStore (SQLite): namespaces, containers and leases CRUD with containerd's semantics, transactions
 * (all or nothing), persistence across reopen (records, server UUID), exclusive use of a root.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MetadataStore } from '../../services/metadata/store';
import type { ContainerRecord } from '../../services/metadata/types';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unimplemented } from '../../pkg/errdefs';
import { OCI_SPEC_TYPE_URL, packJsonAny } from '../../proto/any';

function container(id: string, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    labels: {},
    image: '',
    runtime: { name: 'io.containerd.runc.v2', options: null },
    spec: packJsonAny(OCI_SPEC_TYPE_URL, { ociVersion: '1.0.2', process: { args: ['/bin/true'] } }),
    snapshotter: '',
    snapshot_key: '',
    created_at: { seconds: 0, nanos: 0 },
    updated_at: { seconds: 0, nanos: 0 },
    extensions: {},
    ...extra,
  };
}

describe('metadata store', () => {
  let dir: string;
  let store: MetadataStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
    store = MetadataStore.open(dir);
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates, gets, lists and deletes containers', () => {
    const created = store.containers.create('default', container('c1', { labels: { app: 'web', empty: '' }, image: 'busybox' }));
    assert.deepEqual(created.labels, { app: 'web' });
    assert.ok(created.created_at.seconds > 0);
    assert.deepEqual(created.created_at, created.updated_at);
    const got = store.containers.get('default', 'c1');
    assert.deepEqual(got, created);
    assert.equal(Buffer.from(got.spec!.value).toString(), JSON.stringify({ ociVersion: '1.0.2', process: { args: ['/bin/true'] } }));
    store.containers.create('default', container('c2', { labels: { app: 'db' } }));
    store.containers.create('other', container('c3'));
    assert.deepEqual(store.containers.list('default').map((c) => c.id), ['c1', 'c2']);
    assert.deepEqual(store.containers.list('default', ['labels.app==db']).map((c) => c.id), ['c2']);
    assert.deepEqual(store.containers.list('default', ['image==busybox', 'id==c2']).map((c) => c.id), ['c1', 'c2']);
    assert.deepEqual(store.containers.list('default', ['runtime.name==io.containerd.runc.v2,labels.app~=^w']).map((c) => c.id), ['c1']);
    assert.throws(() => store.containers.list('default', ['id==']), InvalidArgument);
    store.containers.delete('default', 'c1');
    assert.throws(() => store.containers.get('default', 'c1'), (e: unknown) => e instanceof NotFound && /container "c1" in namespace "default": not found/.test((e as Error).message));
    assert.throws(() => store.containers.delete('default', 'c1'), NotFound);
    assert.throws(() => store.containers.delete('nowhere', 'c1'), NotFound);
  });

  it('validates containers as containerd does', () => {
    assert.throws(() => store.containers.create('default', container('bad/id')), /container\.ID: identifier "bad\/id" must match/);
    assert.throws(() => store.containers.create('default', container('x'.repeat(77))), InvalidArgument);
    assert.throws(() => store.containers.create('default', container('c', { runtime: { name: '', options: null } })), /container\.Runtime\.Name must be set/);
    assert.throws(() => store.containers.create('default', container('c', { spec: null })), /container\.Spec must be set/);
    assert.throws(() => store.containers.create('default', container('c', { snapshot_key: 'k' })), /container\.Snapshotter must be set/);
    assert.throws(() => store.containers.create('default', container('c', { labels: { k: 'v'.repeat(4096) } })), /greater than maximum size/);
    assert.throws(() => store.containers.create('default', container('c', { extensions: { '': { type_url: 'x', value: Buffer.alloc(0) } } })), /zero-length/);
    store.containers.create('default', container('c'));
    assert.throws(() => store.containers.create('default', container('c')), AlreadyExists);
    // A malformed spec is stored as sent: only task creation parses it.
    const odd = store.containers.create('default', container('odd', { spec: { type_url: 'x/y', value: Buffer.from('not json') } }));
    assert.equal(odd.spec!.type_url, 'x/y');
  });

  it('updates with field masks and refuses immutable fields', () => {
    store.containers.create('default', container('c', {
      labels: { a: '1', b: '2' },
      extensions: { e1: { type_url: 't1', value: Buffer.from('1') } },
      runtime: { name: 'io.containerd.runc.v2', options: { type_url: 'containerd.runc.v1.Options', value: Buffer.from([8, 1]) } },
    }));
    const before = store.containers.get('default', 'c');
    let u = store.containers.update('default', container('c', { labels: { a: 'x', c: '3' } }), ['labels.a', 'labels.b', 'labels.c']);
    assert.deepEqual(u.labels, { a: 'x', c: '3' });
    assert.deepEqual(u.created_at, before.created_at);
    assert.ok(u.updated_at.seconds * 1e9 + u.updated_at.nanos >= before.updated_at.seconds * 1e9 + before.updated_at.nanos);
    assert.deepEqual(u.runtime.options, before.runtime.options);
    u = store.containers.update('default', container('c', { image: 'img', labels: { z: '1' } }), ['image']);
    assert.equal(u.image, 'img');
    assert.deepEqual(u.labels, { a: 'x', c: '3' });
    u = store.containers.update('default', container('c', { extensions: { e2: { type_url: 't2', value: Buffer.from('2') } } }), ['extensions.e2']);
    assert.deepEqual(Object.keys(u.extensions).sort(), ['e1', 'e2']);
    u = store.containers.update('default', container('c', { spec: packJsonAny(OCI_SPEC_TYPE_URL, { v: 2 }) }), ['spec']);
    assert.equal(Buffer.from(u.spec!.value).toString(), '{"v":2}');
    assert.throws(() => store.containers.update('default', container('c'), ['runtime']), /cannot update "runtime" field/);
    assert.throws(() => store.containers.update('default', container('c'), ['snapshotter']), InvalidArgument);
    assert.throws(() => store.containers.update('default', container('c', { runtime: { name: 'other', options: null } })), /Runtime\.Name field is immutable/);
    assert.throws(() => store.containers.update('default', container('c', { snapshotter: 'overlayfs' })), /Snapshotter field is immutable/);
    assert.throws(() => store.containers.update('default', container('nope'), ['labels']), NotFound);
    assert.throws(() => store.containers.update('default', container('c', { spec: null }), ['spec']), /Spec must be set/);
    // Full replace (no mask): labels, spec, extensions, image, snapshot key.
    u = store.containers.update('default', container('c', { labels: { only: '1' } }));
    assert.deepEqual(u.labels, { only: '1' });
    assert.equal(u.image, '');
    assert.deepEqual(u.extensions, {});
    assert.deepEqual(store.containers.get('default', 'c'), u);
  });

  it('namespaces: implicit creation, labels, delete rules', () => {
    assert.deepEqual(store.namespaces.list(), []);
    assert.deepEqual(store.namespaces.labels('ghost'), {});
    store.containers.create('default', container('c'));
    assert.deepEqual(store.namespaces.list(), [{ name: 'default', labels: {} }]);
    store.namespaces.create('ns1', { a: '1', gone: '' });
    assert.deepEqual(store.namespaces.get('ns1'), { name: 'ns1', labels: { a: '1' } });
    assert.throws(() => store.namespaces.create('ns1'), AlreadyExists);
    assert.throws(() => store.namespaces.create('bad ns'), InvalidArgument);
    assert.deepEqual(store.namespaces.updateLabels('ns1', { b: '2', a: '' }, ['a', 'b']).labels, { b: '2' });
    assert.deepEqual(store.namespaces.updateLabels('ns1', { c: '3' }).labels, { c: '3' });
    assert.deepEqual(store.namespaces.updateLabels('ns2', { x: 'y' }, ['x']), { name: 'ns2', labels: { x: 'y' } });
    assert.deepEqual(store.namespaces.list().map((n) => n.name), ['default', 'ns1', 'ns2']);
    assert.throws(() => store.namespaces.delete('default'), (e: unknown) =>
      e instanceof FailedPrecondition && /namespace "default" must be empty, but it still has containers/.test((e as Error).message));
    store.leases.create('ns1', 'l1');
    store.namespaces.delete('ns1');
    assert.throws(() => store.namespaces.delete('ns1'), NotFound);
    assert.equal(store.namespaces.exists('ns1'), false);
    store.namespaces.create('ns1');
    assert.deepEqual(store.leases.list('ns1'), [], 'leases went with their namespace');
    store.containers.delete('default', 'c');
    store.namespaces.delete('default');
  });

  it('leases: create, list with filters, resources, delete', () => {
    const l = store.leases.create('default', 'l1', { 'containerd.io/gc.expire': '2030-01-01T00:00:00Z', app: 'x' });
    assert.ok(l.created_at.seconds > 0);
    assert.throws(() => store.leases.create('default', 'l1'), AlreadyExists);
    store.leases.create('default', 'l2');
    assert.deepEqual(store.leases.list('default').map((x) => x.id), ['l1', 'l2']);
    assert.deepEqual(store.leases.list('default', ['labels.app==x']).map((x) => x.id), ['l1']);
    assert.deepEqual(store.leases.list('default', ['id==l2']).map((x) => x.id), ['l2']);
    const digest = 'sha256:' + 'a'.repeat(64);
    store.leases.addResource('default', 'l1', { id: digest, type: 'content' });
    store.leases.addResource('default', 'l1', { id: 'snap1', type: 'snapshots/overlayfs' });
    store.leases.addResource('default', 'l1', { id: 'ref1', type: 'ingests' });
    assert.deepEqual(store.leases.listResources('default', 'l1'), [
      { id: digest, type: 'content' },
      { id: 'ref1', type: 'ingests' },
      { id: 'snap1', type: 'snapshots/overlayfs' },
    ]);
    assert.throws(() => store.leases.addResource('default', 'l1', { id: 'nope', type: 'content' }), InvalidArgument);
    assert.throws(() => store.leases.addResource('default', 'l1', { id: 'x', type: 'snapshots' }), InvalidArgument);
    assert.throws(() => store.leases.addResource('default', 'l1', { id: 'x', type: 'images' }), Unimplemented);
    assert.throws(() => store.leases.addResource('default', 'nope', { id: 'x', type: 'ingests' }), NotFound);
    store.leases.deleteResource('default', 'l1', { id: 'ref1', type: 'ingests' });
    assert.equal(store.leases.listResources('default', 'l1').length, 2);
    store.leases.delete('default', 'l1');
    assert.throws(() => store.leases.delete('default', 'l1'), NotFound);
    assert.throws(() => store.leases.listResources('default', 'l1'), NotFound);
  });

  it('transactions are all or nothing', () => {
    assert.throws(() =>
      store.transaction(() => {
        store.containers.create('default', container('t1'));
        store.containers.create('default', container('t2'));
        throw new Error('boom');
      }),
    );
    assert.deepEqual(store.containers.list('default'), []);
    assert.equal(store.namespaces.exists('default'), false);
    store.transaction(() => {
      store.containers.create('default', container('t1'));
      store.containers.create('default', container('t2'));
    });
    assert.equal(store.containers.list('default').length, 2);
  });

  it('the read cache follows writes and never keeps rolled-back rows', () => {
    store.containers.create('default', container('k1', { labels: { v: '1' } }));
    assert.equal(store.containers.list('default').length, 1); // fills the cache
    store.containers.update('default', container('k1', { labels: { v: '2' } }), ['labels.v']);
    assert.deepEqual(store.containers.get('default', 'k1').labels, { v: '2' });
    assert.deepEqual(store.containers.list('default')[0]!.labels, { v: '2' });
    assert.throws(() =>
      store.transaction(() => {
        store.containers.create('default', container('k2'));
        assert.equal(store.containers.list('default').length, 2, 'own writes visible inside the transaction');
        throw new Error('rollback');
      }),
    );
    assert.deepEqual(store.containers.list('default').map((c) => c.id), ['k1']);
    assert.throws(() => store.containers.get('default', 'k2'), NotFound);
    store.containers.delete('default', 'k1');
    assert.deepEqual(store.containers.list('default'), []);
    const rec = store.containers.create('default', container('k3'));
    assert.ok(Object.isFrozen(rec) && Object.isFrozen(rec.labels), 'shared records are frozen');
  });

  it('persists records and the server UUID across reopen; one process per root', () => {
    const uuid = store.uuid;
    assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    store.containers.create('default', container('p1', { labels: { k: 'v' } }));
    store.namespaces.create('ns', { l: '1' });
    assert.throws(() => MetadataStore.open(dir), FailedPrecondition);
    store.close();
    store = MetadataStore.open(dir);
    assert.equal(store.uuid, uuid);
    assert.deepEqual(store.containers.get('default', 'p1').labels, { k: 'v' });
    assert.deepEqual(store.namespaces.get('ns'), { name: 'ns', labels: { l: '1' } });
    assert.equal(store.integrityCheck(), 'ok');
  });
});
