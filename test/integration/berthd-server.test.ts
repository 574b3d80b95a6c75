/**
 * A real berthd process (bin/berthd) on a temp socket: socket and directory modes, refusing a second daemon
 * on a live socket, replacing a stale one, the 16 MiB message cap (RESOURCE_EXHAUSTED, daemon keeps
 * serving), graceful shutdown on SIGTERM / SIGINT (exit 0, socket removed, subscriptions ended), and that
 * records and the server UUID survive a restart.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { status } from '@grpc/grpc-js';
import { startBerthd, BERTHD_BIN, type TestDaemon } from '../helpers/daemon';
import { OCI_SPEC_TYPE_URL, packJsonAny } from '../../proto/any';

const spec = packJsonAny(OCI_SPEC_TYPE_URL, { ociVersion: '1.0.2', process: { args: ['/bin/true'] } });
const container = (id: string, extra: object = {}) => ({ id, runtime: { name: 'io.containerd.runc.v2' }, spec, ...extra });

describe('berthd process', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startBerthd();
  });
  after(async () => {
    await d?.stop();
  });

  it('listens on a 0660 socket; creates root and state', () => {
    const st = fs.statSync(d.address);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.ok(fs.statSync(d.root).isDirectory());
    assert.ok(fs.statSync(d.state).isDirectory());
    assert.equal(fs.statSync(d.root).mode & 0o077 & ~0o011, 0, 'root is not group/world readable');
  });

  it('a second berthd on the same socket refuses to start and leaves the first serving', () => {
    const r = spawnSync(process.execPath, [BERTHD_BIN, '--address', d.address, '--root', d.root + '2', '--state', d.state + '2'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /another server is listening on this socket/);
    assert.ok(fs.existsSync(d.address));
  });

  it('a message over 16 MiB gets RESOURCE_EXHAUSTED and the daemon keeps serving', async () => {
    const c = d.client('containers');
    const big = { type_url: OCI_SPEC_TYPE_URL, value: Buffer.alloc(17 * 1024 * 1024, 0x20) };
    await assert.rejects(c.Create({ container: container('big', { spec: big }) }), (err: { code: number }) => {
      assert.equal(err.code, status.RESOURCE_EXHAUSTED);
      return true;
    });
    // Just under the cap is accepted.
    const fits = { type_url: OCI_SPEC_TYPE_URL, value: Buffer.alloc(15 * 1024 * 1024, 0x20) };
    await c.Create({ container: container('fits', { spec: fits }) });
    await c.Delete({ id: 'fits' });
    assert.match((await d.client('version').Version({})).version, /berth/);
  });

  it('keeps records and the server UUID across a restart', async () => {
    const uuid = (await d.client('introspection').Server({})).uuid;
    await d.client('containers').Create({ container: container('kept', { labels: { k: 'v' } }) });
    await d.client('namespaces').Create({ namespace: { name: 'team', labels: { owner: 'me' } } });
    await d.restart();
    assert.equal((await d.client('introspection').Server({})).uuid, uuid);
    const got = await d.client('containers').Get({ id: 'kept' });
    assert.deepEqual(got.container.labels, { k: 'v' });
    assert.deepEqual(Buffer.from(got.container.spec.value), Buffer.from(spec.value));
    assert.deepEqual((await d.client('namespaces').Get({ name: 'team' })).namespace.labels, { owner: 'me' });
  });

  it('removes a stale socket left by a killed daemon', async () => {
    await d.kill();
    assert.ok(fs.existsSync(d.address), 'SIGKILL leaves the socket file');
    await d.restart();
    assert.ok((await d.client('version').Version({})).version);
    assert.match(d.logs(), /removing stale socket/);
  });

  it('SIGTERM: ends subscriptions, exits 0, removes the socket', async () => {
    const sub = d.client('events').Subscribe({});
    const ended = new Promise<string>((resolve) => {
      sub.on('data', () => {});
      sub.on('error', (e: Error) => resolve(`error ${e.message}`));
      sub.on('end', () => resolve('end'));
    });
    sub.on('metadata', () => {});
    await new Promise((r) => setTimeout(r, 200)); // let the subscription reach the daemon
    const exit = await d.terminate('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(await ended, 'end');
    assert.equal(fs.existsSync(d.address), false);
    await d.restart();
  });

  it('SIGINT is a graceful stop too', async () => {
    const exit = await d.terminate('SIGINT');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(fs.existsSync(d.address), false);
    await d.restart();
    assert.ok((await d.client('containers').Get({ id: 'kept' })).container);
  });
});
