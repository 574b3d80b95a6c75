/**
 * linux.seccomp → berth-init operations, without root: libseccomp action values and errno defaults, rules
 * equal to the default action dropped, argument conditions grouped as runc does (distinct indexes: one rule,
 * repeated indexes: one rule each), architectures and flags by name, refusals naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seccompOps, actionValue } from '../../native/runtime/seccomp';
import { dockerDefaultProfile } from './seccomp-profile-docker';

test('actions are libseccomp values; ERRNO and TRACE carry errnoRet, EPERM by default', () => {
  assert.equal(actionValue('SCMP_ACT_ALLOW', undefined, 'f'), 0x7fff0000);
  assert.equal(actionValue('SCMP_ACT_ERRNO', undefined, 'f'), 0x00050001);
  assert.equal(actionValue('SCMP_ACT_ERRNO', 38, 'f'), 0x00050026);
  assert.equal(actionValue('SCMP_ACT_TRACE', undefined, 'f'), 0x7ff00001);
  assert.equal(actionValue('SCMP_ACT_KILL', undefined, 'f'), 0);
  assert.equal(actionValue('SCMP_ACT_KILL_PROCESS', undefined, 'f'), 0x80000000);
  assert.equal(actionValue('SCMP_ACT_LOG', undefined, 'f'), 0x7ffc0000);
  assert.throws(() => actionValue('SCMP_ACT_NOTIFY', undefined, 'f'), /SCMP_ACT_NOTIFY .*not supported/);
});

test('rules: default-action rules dropped, conditions grouped as runc', () => {
  const ops = seccompOps({
    defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }, // same as the default: dropped
      { names: ['kill'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_GT' }, { index: 1, value: 9, op: 'SCMP_CMP_NE' }] },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  });
  const allow = String(0x7fff0000);
  assert.deepEqual(ops, [
    ['seccomp-init', String(0x00050001), 'SECCOMP_FILTER_FLAG_LOG'],
    ['seccomp-arch', 'x86_64'],
    ['seccomp-arch', 'x86'],
    ['seccomp-rule', allow, 'read'],
    ['seccomp-rule', allow, 'write'],
    ['seccomp-rule', allow, 'kill', '0', '6', '1', '0', '1', '1', '9', '0'],
    ['seccomp-rule', allow, 'personality', '0', '4', '0', '0'],
    ['seccomp-rule', allow, 'personality', '0', '4', '8', '0'],
    ['seccomp-rule', allow, 'clone', '0', '7', String(0x7e020000), '0'],
  ]);
});

test('the Docker default profile translates; no profile means no operations', () => {
  const ops = seccompOps(dockerDefaultProfile());
  assert.equal(ops[0]![0], 'seccomp-init');
  assert.ok(ops.length > 300);
  assert.ok(!ops.some((op) => op[2] === 'unshare' || op[2] === 'keyctl' || op[2] === 'mount'));
  assert.ok(ops.some((op) => op[2] === 'clone3' && op[1] === String(0x00050000 | 38)));
  assert.deepEqual(seccompOps(undefined), []);
});

test('refusals name the field', () => {
  assert.throws(() => seccompOps({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }), /linux\.seccomp\.syscalls\[0\]\.names: must not be empty/);
  assert.throws(() => seccompOps({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['Bad Name'], action: 'SCMP_ACT_ERRNO' }] }), /bad syscall name/);
  assert.throws(() => seccompOps({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }), /errnoRet: must be an errno number/);
  assert.throws(() => seccompOps('nope'), /linux\.seccomp: must be an object/);
});
