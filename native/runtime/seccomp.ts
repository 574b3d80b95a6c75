/**
 * linux.seccomp: validation and translation into berth-init operations (native/init/seccomp.c builds the
 * filter with libseccomp and loads it just before execve; docs/init-protocol.md):
 *
 *   seccomp-init <default action> [<flag>...]        action as libseccomp's 32-bit value, flags by name
 *   seccomp-arch <libseccomp arch name>               "x86_64", "x86", "x32", "aarch64"...
 *   seccomp-rule <action> <syscall> [<index> <op> <value> <valueTwo>]...   op: SCMP_CMP_* number (1-7)
 *
 * The translation follows runc: errnoRet defaults to EPERM for SCMP_ACT_ERRNO and SCMP_ACT_TRACE; a rule
 * whose action equals the default action is dropped; a syscall's argument conditions make one rule (all
 * must hold) when their indexes differ, else one rule per condition (any may hold); syscall names the
 * running libseccomp does not know are skipped by berth-init. SCMP_ACT_NOTIFY (and listenerPath) is refused.
 */
import { InvalidArgument } from '../../pkg/errdefs';

export type InitOp = string[];

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: OciSyscall[];
}

const EPERM = 1;

/** libseccomp's action values (seccomp.h); ERRNO and TRACE carry a 16-bit return code. */
const ACTIONS: Record<string, number> = {
  SCMP_ACT_KILL: 0x00000000,
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_ALLOW: 0x7fff0000,
};

/** The comparison operators, as libseccomp numbers them (enum scmp_compare). */
const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

const ARCHES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X32: 'x32', SCMP_ARCH_ARM: 'arm', SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips', SCMP_ARCH_MIPS64: 'mips64', SCMP_ARCH_MIPS64N32: 'mips64n32', SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64', SCMP_ARCH_MIPSEL64N32: 'mipsel64n32', SCMP_ARCH_PPC: 'ppc', SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le', SCMP_ARCH_S390: 's390', SCMP_ARCH_S390X: 's390x', SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64', SCMP_ARCH_RISCV64: 'riscv64',
};

const FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'];

/** What `features` reports. */
export const SECCOMP_FEATURES = {
  actions: [...Object.keys(ACTIONS)].sort(),
  operators: Object.keys(OPERATORS).sort(),
  archs: Object.keys(ARCHES).sort(),
  flags: [...FLAGS],
};

function fail(field: string, msg: string): never {
  throw new InvalidArgument(`${field}: ${msg}`);
}

function errnoOf(v: unknown, field: string): number {
  if (v === undefined || v === null) return EPERM;
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) fail(field, 'must be an errno number');
  return v as number;
}

/** The libseccomp value of an OCI action name; refuses what berth-init cannot do. */
export function actionValue(name: unknown, errnoRet: unknown, field: string): number {
  if (name === 'SCMP_ACT_NOTIFY') fail(field, 'SCMP_ACT_NOTIFY (seccomp user notification) is not supported');
  if (typeof name !== 'string' || !(name in ACTIONS)) fail(field, `unknown action "${String(name)}"`);
  const base = ACTIONS[name]!;
  if (name === 'SCMP_ACT_ERRNO' || name === 'SCMP_ACT_TRACE') return (base | errnoOf(errnoRet, `${field} errnoRet`)) >>> 0;
  return base;
}

function u64(v: unknown, field: string): string {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(field, 'must be a non-negative integer');
  return BigInt(v).toString();
}

/** berth-init's operations for linux.seccomp (none when absent). Throws InvalidArgument naming the field. */
export function seccompOps(seccomp: unknown, field = 'linux.seccomp'): InitOp[] {
  if (seccomp === undefined || seccomp === null) return [];
  if (typeof seccomp !== 'object' || Array.isArray(seccomp)) fail(field, 'must be an object');
  const s = seccomp as OciSeccomp;
  if (s.listenerPath) fail(`${field}.listenerPath`, 'seccomp user notification is not supported');
  const defaultAction = actionValue(s.defaultAction, s.defaultErrnoRet, `${field}.defaultAction`);
  const flags = s.flags ?? [];
  if (!Array.isArray(flags)) fail(`${field}.flags`, 'must be a list');
  flags.forEach((f, i) => FLAGS.includes(f) || fail(`${field}.flags[${i}]`, `unknown flag "${String(f)}"`));
  const ops: InitOp[] = [['seccomp-init', String(defaultAction), ...flags]];
  (s.architectures ?? []).forEach((a, i) => {
    const arch = ARCHES[a];
    if (!arch) fail(`${field}.architectures[${i}]`, `unknown architecture "${String(a)}"`);
    ops.push(['seccomp-arch', arch]);
  });
  const syscalls = s.syscalls ?? [];
  if (!Array.isArray(syscalls)) fail(`${field}.syscalls`, 'must be a list');
  syscalls.forEach((sc, i) => {
    const f = `${field}.syscalls[${i}]`;
    if (!sc || typeof sc !== 'object') fail(f, 'must be an object');
    if (!Array.isArray(sc.names) || sc.names.length === 0) fail(`${f}.names`, 'must not be empty');
    const action = actionValue(sc.action, sc.errnoRet, `${f}.action`);
    const conds = (sc.args ?? []).map((a, j) => {
      const af = `${f}.args[${j}]`;
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) fail(`${af}.index`, 'must be between 0 and 5');
      const op = OPERATORS[a.op];
      if (op === undefined) fail(`${af}.op`, `unknown operator "${String(a.op)}"`);
      return [String(a.index), String(op), u64(a.value, `${af}.value`), u64(a.valueTwo ?? 0, `${af}.valueTwo`)];
    });
    if (action === defaultAction) return; // libseccomp refuses such rules; they change nothing
    const distinct = new Set(conds.map((c) => c[0])).size === conds.length;
    for (const name of sc.names) {
      if (typeof name !== 'string' || !/^[a-z0-9_]+$/.test(name)) fail(`${f}.names`, `bad syscall name "${String(name)}"`);
      if (distinct) ops.push(['seccomp-rule', String(action), name, ...conds.flat()]);
      else for (const c of conds) ops.push(['seccomp-rule', String(action), name, ...c]);
    }
  });
  return ops;
}
