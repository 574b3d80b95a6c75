/**
 * The real `ctr` (Debian's containerd 1.6) against berthd's metadata services: version, namespaces,
 * containers create --rootfs / ls / info / label / rm, plugins, leases, and `ctr events` seeing
 * /containers/create and /containers/delete.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { startBerthd, type TestDaemon } from '../helpers/daemon';
import { runCommand, type CommandResult } from '../helpers/dockerd';
import { makeBusyboxRootfs } from '../helpers/rootfs';

const CTR = '/usr/bin/ctr';
const haveCtr = fs.existsSync(CTR);

describe('real ctr against berthd (metadata)', { skip: !haveCtr && `${CTR} not installed` }, () => {
  let d: TestDaemon;
  let rootfs: string;
  const id = `berth-test-${process.pid}`;
  const ctr = async (args: string[], ns = 'default'): Promise<CommandResult> =>
    runCommand(CTR, ['--address', d.address, '--namespace', ns, ...args], { timeoutMs: 30_000 });
  const ok = async (args: string[], ns?: string): Promise<string> => {
    const r = await ctr(args, ns);
    assert.equal(r.code, 0, `ctr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  let events: ChildProcess | undefined;
  let eventsOut = '';

  before(async () => {
    d = await startBerthd();
    rootfs = path.join(d.dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
  });
  after(async () => {
    if (events && events.exitCode === null) events.kill('SIGTERM');
    await d?.stop();
  });

  it('ctr version shows the server version, revision and UUID', async () => {
    const out = await ok(['version']);
    assert.match(out, /Server:\n\s+Version:\s+v1\.6\.20\+berth\.\S+\n\s+Revision:\s+\S+\n\s+UUID: [0-9a-f-]{36}/);
    const uuid = (await d.client('introspection').Server({})).uuid;
    assert.ok(out.includes(uuid));
  });

  it('ctr namespaces ls starts empty', async () => {
    assert.deepEqual((await ok(['namespaces', 'ls'])).trim().split('\n'), ['NAME LABELS']);
  });

  it('ctr events is subscribed before anything happens', async () => {
    events = spawn(CTR, ['--address', d.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    events.stdout!.on('data', (b: Buffer) => (eventsOut += b.toString()));
    events.stderr!.on('data', (b: Buffer) => (eventsOut += b.toString()));
    const deadline = Date.now() + 15_000;
    // Publish probes until ctr events prints one: then the subscription is live.
    const probe = d.client('events');
    const any = { type_url: 'containerd.events.NamespaceCreate', value: Buffer.alloc(0) };
    while (!eventsOut.includes('/berth/probe') && Date.now() < deadline) {
      await probe.Publish({ topic: '/berth/probe', event: any });
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(eventsOut.includes('/berth/probe'), `ctr events printed: ${eventsOut}`);
  });

  it('ctr containers create --rootfs DIR ID /bin/true, then ls and ns ls', async () => {
    // urfave/cli: flags before positionals; --rootfs is a boolean that makes the first positional a directory.
    await ok(['containers', 'create', '--label', 'app=web', '--rootfs', rootfs, id, '/bin/true']);
    const ls = await ok(['containers', 'ls']);
    assert.match(ls, /^CONTAINER\s+IMAGE\s+RUNTIME\s*$/m);
    assert.match(ls, new RegExp(`^${id}\\s+-\\s+io\\.containerd\\.runc\\.v2\\s*$`, 'm'));
    assert.match(await ok(['namespaces', 'ls']), /^default\s*$/m);
    const quiet = await ok(['containers', 'ls', '-q', 'labels.app==web']);
    assert.equal(quiet.trim(), id);
    assert.equal((await ok(['containers', 'ls', '-q', 'labels.app==db'])).trim(), '');
  });

  it('ctr containers info ID shows the record and the OCI spec', async () => {
    const info = JSON.parse(await ok(['containers', 'info', id])) as {
      ID: string;
      Labels: Record<string, string>;
      Runtime: { Name: string };
      Spec: { process: { args: string[] }; root: { path: string } };
      CreatedAt: string;
    };
    assert.equal(info.ID, id);
    assert.deepEqual(info.Labels, { app: 'web' });
    assert.equal(info.Runtime.Name, 'io.containerd.runc.v2');
    assert.deepEqual(info.Spec.process.args, ['/bin/true']);
    assert.equal(info.Spec.root.path, rootfs);
    assert.ok(Date.parse(info.CreatedAt) > Date.now() - 600_000);
  });

  it('ctr containers label updates labels through a field mask', async () => {
    // ctr sends only `labels.tier` in the mask and prints the resulting labels.
    const out = await ok(['containers', 'label', id, 'tier=front']);
    assert.deepEqual(out.trim().split(',').sort(), ['app=web', 'tier=front']);
    const info = JSON.parse(await ok(['containers', 'info', id])) as { Labels: Record<string, string> };
    assert.deepEqual(info.Labels, { app: 'web', tier: 'front' });
    // `ctr containers label ID` without labels sends no mask and no runtime: containerd refuses that too.
    const bare = await ctr(['containers', 'label', id]);
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /Runtime\.Name field is immutable/);
  });

  it('ctr namespaces create / label / rm', async () => {
    await ok(['namespaces', 'create', 'team', 'owner=me']);
    await ok(['namespaces', 'label', 'team', 'cost=low']);
    const ls = await ok(['namespaces', 'ls']);
    assert.match(ls, /^team\s+cost=low,owner=me\s*$/m);
    const busy = await ctr(['namespaces', 'rm', 'default']);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /must be empty, but it still has containers/);
    await ok(['namespaces', 'rm', 'team']);
    assert.doesNotMatch(await ok(['namespaces', 'ls']), /^team/m);
  });

  it('ctr plugins ls lists berthd plugins under containerd type names', async () => {
    const out = await ok(['plugins', 'ls']);
    for (const [type, pid] of [['io.containerd.grpc.v1', 'containers'], ['io.containerd.grpc.v1', 'events'], ['io.containerd.metadata.v1', 'sqlite']]) {
      assert.match(out, new RegExp(`^${type.replace(/\./g, '\\.')}\\s+${pid}\\s+.*ok\\s*$`, 'm'));
    }
  });

  it('ctr leases create / ls / rm', async () => {
    await ok(['leases', 'create', '--id', 'l1', 'purpose=test']);
    assert.match(await ok(['leases', 'ls']), /^l1\s+\S+.*purpose=test/m);
    await ok(['leases', 'rm', 'l1']);
    assert.doesNotMatch(await ok(['leases', 'ls']), /^l1/m);
  });

  it('ctr containers rm ID, and a second rm fails with not found', async () => {
    await ok(['containers', 'rm', id]);
    assert.doesNotMatch(await ok(['containers', 'ls']), new RegExp(id));
    const again = await ctr(['containers', 'rm', id]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /not found/);
  });

  it('ctr events showed /containers/create and /containers/delete', async () => {
    const deadline = Date.now() + 10_000;
    while (!eventsOut.includes('/containers/delete') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(eventsOut, new RegExp(`default /containers/create \\{"id":"${id}","runtime":\\{"name":"io.containerd.runc.v2"`));
    assert.match(eventsOut, /default \/containers\/update /);
    assert.match(eventsOut, new RegExp(`default /containers/delete \\{"id":"${id}"\\}`));
    // containerd publishes namespace events in the caller's namespace (ctr's default), deletes in the deleted one.
    assert.match(eventsOut, /default \/namespaces\/create \{"name":"team","labels":\{"owner":"me"\}\}/);
    assert.match(eventsOut, /team \/namespaces\/delete \{"name":"team"\}/);
  });
});
