/** Spec reading and validation (native/runtime/spec.ts), capabilities, rlimits, signals. No root needed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exampleSpec, readBundleSpec, signalNumber, validateProcess, validateSpec, type OciSpec } from '../../native';
import { capabilityMask } from '../../native/runtime/capabilities';
import { rlimitNumber, rlimitValue } from '../../native/runtime/rlimits';
import { isDescriptorPath } from '../../native/runtime/spec';

describe('native spec validation', () => {
  let bundle: string;
  before(() => {
    bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-spec-'));
    fs.mkdirSync(path.join(bundle, 'rootfs/proc'), { recursive: true });
  });
  after(() => fs.rmSync(bundle, { recursive: true, force: true }));

  const spec = (mutate: (s: OciSpec) => void = () => {}): OciSpec => {
    const s = exampleSpec({ args: ['sh'] });
    mutate(s);
    return s;
  };

  async function rejectsWith(s: OciSpec, field: string | RegExp, name = 'InvalidArgument'): Promise<void> {
    await assert.rejects(validateSpec(s, bundle), (err: Error) => {
      assert.equal(err.name, name, err.message);
      if (typeof field === 'string') assert.ok(err.message.startsWith(field), `"${err.message}" should name ${field}`);
      else assert.match(err.message, field);
      return true;
    });
  }

  it('accepts the example spec and resolves the rootfs against the bundle', async () => {
    assert.equal(await validateSpec(spec(), bundle), path.join(bundle, 'rootfs'));
  });

  it('reads config.json, NotFound when missing, InvalidArgument when malformed', async () => {
    await assert.rejects(readBundleSpec(bundle), { name: 'NotFound' });
    fs.writeFileSync(path.join(bundle, 'config.json'), '{not json');
    await assert.rejects(readBundleSpec(bundle), { name: 'InvalidArgument' });
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec()));
    assert.deepEqual((await readBundleSpec(bundle)).process?.args, ['sh']);
    fs.rmSync(path.join(bundle, 'config.json'));
  });

  it('names the field of each refusal', async () => {
    await rejectsWith(spec((s) => delete s.process), 'process: is required');
    await rejectsWith(spec((s) => (s.process!.args = [])), 'process.args');
    await rejectsWith(spec((s) => (s.process!.cwd = 'relative')), 'process.cwd');
    await rejectsWith(spec((s) => (s.process!.env = ['NOEQUALS'])), 'process.env[0]');
    await rejectsWith(spec((s) => (s.process!.user = { uid: -1, gid: 0 })), 'process.user.uid');
    await rejectsWith(spec((s) => (s.process!.capabilities!.bounding = ['CAP_NOPE'])), 'process.capabilities.bounding[0]');
    await rejectsWith(spec((s) => (s.process!.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }])), 'process.rlimits[0].type');
    await rejectsWith(spec((s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 9, hard: 1 }])), 'process.rlimits[0]');
    await rejectsWith(spec((s) => (s.process!.oomScoreAdj = 5000)), 'process.oomScoreAdj');
    await rejectsWith(spec((s) => delete s.root), 'root.path');
    await rejectsWith(spec((s) => s.linux!.namespaces!.push({ type: 'pid' })), 'linux.namespaces[5]');
    await rejectsWith(spec((s) => s.linux!.namespaces!.push({ type: 'bogus' as 'pid' })), 'linux.namespaces[5].type');
    await rejectsWith(spec((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount'))), 'linux.namespaces');
    await rejectsWith(spec((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts'))), 'hostname');
    await rejectsWith(spec((s) => s.mounts!.push({ destination: '', type: 'tmpfs' })), 'mounts[7].destination');
    await rejectsWith(spec((s) => (s.linux!.sysctl = { 'net/../../x': '1' })), 'linux.sysctl');
    await rejectsWith(spec((s) => (s.linux!.rootfsPropagation = 'sideways')), 'linux.rootfsPropagation');
  });

  it('checks user namespace mappings', async () => {
    const withUserns = (u: unknown, g: unknown) => spec((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = u as never;
      s.linux!.gidMappings = g as never;
    });
    const ok = [{ containerID: 0, hostID: 100000, size: 65536 }];
    await validateSpec(withUserns(ok, ok), bundle);
    await rejectsWith(withUserns(undefined, ok), 'linux.uidMappings: a new user namespace needs mappings');
    await rejectsWith(withUserns(ok, [{ containerID: 0, hostID: -1, size: 1 }]), 'linux.gidMappings[0].hostID');
    await rejectsWith(withUserns(ok, [{ containerID: 5, hostID: 1, size: 1 }]), 'linux.gidMappings: container id 0 must be mapped');
    await rejectsWith(spec((s) => (s.linux!.uidMappings = ok as never)), 'linux.uidMappings: need a user namespace');
  });

  it('refuses a cwd through process descriptors (CVE-2024-21626)', async () => {
    for (const cwd of ['/proc/self/fd/3', '/proc/self/fd', '/proc/thread-self/cwd', '/proc/1/root/etc', '/proc/self/./fd/4']) {
      assert.ok(isDescriptorPath(cwd), cwd);
      await rejectsWith(spec((s) => (s.process!.cwd = cwd)), 'process.cwd');
    }
    assert.ok(!isDescriptorPath('/proc'));
    assert.ok(!isDescriptorPath('/home/fd'));
  });

  it('a missing rootfs is NotFound with its path; a /proc symlink is refused', async () => {
    await rejectsWith(spec((s) => (s.root!.path = 'nope')), new RegExp(path.join(bundle, 'nope')), 'NotFound');
    const other = path.join(bundle, 'other');
    fs.mkdirSync(other);
    fs.symlinkSync('/proc', path.join(other, 'proc'));
    await rejectsWith(spec((s) => (s.root!.path = 'other')), /\/proc is a symlink/);
  });

  it('validates exec processes on their own', () => {
    assert.throws(() => validateProcess({ args: ['x'], cwd: '/', user: { uid: 0, gid: 0 }, capabilities: { effective: ['CAP_X'] } }), /process\.capabilities\.effective\[0\]/);
    validateProcess({ args: ['x'], cwd: '/', user: { uid: 0, gid: 0 } });
  });
});

describe('native capabilities, rlimits, signals', () => {
  it('builds capability masks', () => {
    assert.equal(capabilityMask(['CAP_CHOWN', 'CAP_SYS_ADMIN'], 'f'), (1n << 0n) | (1n << 21n));
    assert.equal(capabilityMask(['CAP_CHECKPOINT_RESTORE'], 'f'), 1n << 40n);
    assert.equal(capabilityMask(exampleSpec().process!.capabilities!.bounding!, 'f'), 0xa80425fbn);
  });

  it('maps rlimits and infinity', () => {
    assert.equal(rlimitNumber('RLIMIT_NOFILE', 'f'), 7);
    assert.equal(rlimitValue(18446744073709551615), '0xffffffffffffffff');
    assert.equal(rlimitValue(1024), '1024');
  });

  it('parses signals by number and name', () => {
    assert.equal(signalNumber(9), 9);
    assert.equal(signalNumber('SIGTERM'), 15);
    assert.equal(signalNumber('term'), 15);
    assert.equal(signalNumber('10'), 10);
    assert.throws(() => signalNumber('SIGNOPE'), { name: 'InvalidArgument' });
    assert.throws(() => signalNumber(0), { name: 'InvalidArgument' });
  });
});
