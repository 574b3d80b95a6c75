/**
 * linux.seccomp through the runtime (berth-init builds the filter with libseccomp): a profile denying mkdir
 * gives EPERM (with and without no_new_privs, for the init and for exec'd processes); errnoRet; argument
 * conditions; KILL_PROCESS and TRAP; the Docker default profile lets a shell work but denies unshare even
 * with CAP_SYS_ADMIN; refused profiles (SCMP_ACT_NOTIFY, unknown action/arch/operator) fail at create.
 * Root only; skipped with a reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeFixture, type RuntimeFixture } from '../helpers/runtime-fixture';
import type { OciSpec } from '../../native';
import type { OciSeccomp } from '../../native/runtime/seccomp';
import { dockerDefaultProfile } from './seccomp-profile-docker';

const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, cgroups, seccomp' : false;
let fx: RuntimeFixture;

before(async () => {
  if (!skip) fx = await runtimeFixture();
});
after(async () => {
  if (fx) await fx.cleanup();
});

const X86 = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];

function specWith(script: string, seccomp?: OciSeccomp, tweak?: (s: OciSpec) => void): OciSpec {
  const { spec } = fx.spec({ args: ['/bin/sh', '-c', script] });
  if (seccomp) spec.linux!.seccomp = seccomp;
  tweak?.(spec);
  return spec;
}

const denyMkdir = (action = 'SCMP_ACT_ERRNO', errnoRet?: number): OciSeccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW', architectures: X86,
  syscalls: [{ names: ['mkdir', 'mkdirat'], action, ...(errnoRet !== undefined ? { errnoRet } : {}) }],
});

test('a profile denying mkdir makes mkdir fail with EPERM (no_new_privs on and off)', { skip }, async () => {
  const control = await fx.runToEnd(specWith('mkdir /tmp/control && echo made'));
  assert.equal(control.stdout, 'made\n', control.stderr);
  for (const nnp of [true, false]) {
    const r = await fx.runToEnd(specWith('mkdir /tmp/x; echo rc=$?', denyMkdir(), (s) => (s.process!.noNewPrivileges = nnp)));
    assert.match(r.stderr, /mkdir: can't create directory '\/tmp\/x': Operation not permitted/, `nnp=${nnp}`);
    assert.equal(r.stdout, 'rc=1\n');
    assert.equal(r.status.exitStatus, 0);
  }
});

test('errnoRet is the errno the denied call returns', { skip }, async () => {
  const r = await fx.runToEnd(specWith('mkdir /tmp/x', denyMkdir('SCMP_ACT_ERRNO', 38)));
  assert.match(r.stderr, /Function not implemented/);
});

test('argument conditions: kill is denied only for SIGUSR1', { skip }, async () => {
  const profile: OciSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW', architectures: X86,
    syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 10, op: 'SCMP_CMP_EQ' }] }],
  };
  const r = await fx.runToEnd(specWith('kill -0 $$ && echo zero-ok; kill -USR1 $$; echo usr1=$?', profile));
  assert.match(r.stdout, /zero-ok/);
  assert.match(r.stdout, /usr1=1/);
  assert.match(r.stderr, /Operation not permitted/);
});

test('SCMP_ACT_KILL_PROCESS and SCMP_ACT_TRAP end the caller with SIGSYS', { skip }, async () => {
  for (const action of ['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_KILL']) {
    const r = await fx.runToEnd(specWith('exec mkdir /tmp/x', denyMkdir(action)));
    assert.equal(r.status.exitStatus, 128 + 31, `${action}: ${r.stderr}`);
    assert.equal(r.status.signal, 'SIGSYS');
  }
  const logged = await fx.runToEnd(specWith('mkdir /tmp/logged && echo made', { ...denyMkdir('SCMP_ACT_LOG'), flags: ['SECCOMP_FILTER_FLAG_LOG'] }));
  assert.equal(logged.stdout, 'made\n', logged.stderr);
});

test('exec\'d processes get the container\'s filter', { skip }, async () => {
  const c = await fx.create(specWith('exec sleep 1000', denyMkdir()));
  await c.start();
  await c.run();
  const files = fx.outputFiles();
  const p = await c.exec({ args: ['/bin/mkdir', '/tmp/y'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] }, { stdout: files.out, stderr: files.err });
  const st = await p.wait();
  assert.equal(st.exitStatus, 1);
  assert.match(files.read().stderr, /Operation not permitted/);
  await c.destroy();
});

test('the Docker default profile runs a shell but denies unshare, even with CAP_SYS_ADMIN', { skip }, async () => {
  const withAdmin = (s: OciSpec): void => {
    const caps = s.process!.capabilities!;
    for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_SYS_ADMIN'];
  };
  const script = 'echo hi | cat; ls / > /dev/null && echo ls-ok; unshare -m true; echo unshare=$?';
  const control = await fx.runToEnd(specWith(script, undefined, withAdmin));
  assert.match(control.stdout, /unshare=0/, control.stderr);
  const r = await fx.runToEnd(specWith(script, dockerDefaultProfile(), withAdmin));
  assert.match(r.stdout, /^hi\nls-ok\n/, r.stderr);
  assert.match(r.stdout, /unshare=1/);
  assert.match(r.stderr, /unshare.*Operation not permitted/);
  assert.equal(r.status.exitStatus, 0);
});

test('profiles berth-init cannot apply are refused at create, naming the field', { skip }, async () => {
  const cases: [OciSeccomp, RegExp][] = [
    [{ defaultAction: 'SCMP_ACT_NOTIFY' }, /linux\.seccomp\.defaultAction: SCMP_ACT_NOTIFY .*not supported/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/x.sock' }, /listenerPath: seccomp user notification is not supported/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }, /syscalls\[0\]\.action: SCMP_ACT_NOTIFY/],
    [{ defaultAction: 'SCMP_ACT_BOGUS' }, /unknown action "SCMP_ACT_BOGUS"/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, /architectures\[0\]: unknown architecture/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 7, value: 1, op: 'SCMP_CMP_EQ' }] }] }, /args\[0\]\.index/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_SOON' }] }] }, /unknown operator/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }, /unknown flag/],
  ];
  for (const [profile, message] of cases) {
    await assert.rejects(fx.create(specWith('true', profile)), (err: Error) => {
      assert.equal(err.name, 'InvalidArgument');
      assert.match(err.message, message);
      return true;
    });
  }
});

test('unknown syscall names are skipped, as runc does', { skip }, async () => {
  const profile = denyMkdir();
  profile.syscalls!.push({ names: ['no_such_syscall_berth'], action: 'SCMP_ACT_ERRNO' });
  const r = await fx.runToEnd(specWith('mkdir /tmp/x; echo rc=$?', profile));
  assert.equal(r.stdout, 'rc=1\n', r.stderr);
});
