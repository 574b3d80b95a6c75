/**
 * The configuration berth-init executes: an ordered list of operations (see native/init/berth-init.c and
 * docs/init-protocol.md), planned here from the OCI spec, and its netstring encoding.
 */
import path from 'node:path';
import type { NamespaceType, OciProcess, OciSpec } from './spec-types';
import { capabilityMask, maskHex } from './capabilities';
import { rlimitNumber, rlimitValue } from './rlimits';
import { DEV_LINKS, MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE, planDevices, planMounts, propagationFlags } from './mounts';
import { expandCgroupMount, type HostCgroupMount } from './cgroup-mounts';
import { containerHookOps, hooksOf } from './hooks';
import { seccompOps } from './seccomp';

/** One operation: its name then its fields. */
export type InitOp = string[];

/** berth-init's names of namespaces, and clone(2) flags. */
export const NAMESPACES: Record<NamespaceType, { name: string; flag: number }> = {
  mount: { name: 'mnt', flag: 0x00020000 },
  uts: { name: 'uts', flag: 0x04000000 },
  ipc: { name: 'ipc', flag: 0x08000000 },
  user: { name: 'user', flag: 0x10000000 },
  pid: { name: 'pid', flag: 0x20000000 },
  network: { name: 'net', flag: 0x40000000 },
  cgroup: { name: 'cgroup', flag: 0x02000000 },
  time: { name: 'time', flag: 0x00000080 },
};

/** Join order: the mount namespace last (berth-init opens every path before joining any). */
const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'time', 'cgroup', 'mount'];

/** The operations describing a process (shared by the init and exec'd processes), ending with `exec`. */
export function processOps(proc: OciProcess): InitOp[] {
  const ops: InitOp[] = [];
  for (const r of proc.rlimits ?? []) ops.push(['rlimit', String(rlimitNumber(r.type, 'rlimit')), rlimitValue(r.soft), rlimitValue(r.hard)]);
  ops.push(['umask', String(proc.user.umask ?? 0o022)]); // runc's default when the spec has none
  ops.push(['user', String(proc.user.uid), String(proc.user.gid), ...(proc.user.additionalGids ?? []).map(String)]);
  const caps = proc.capabilities;
  if (caps) {
    const m = (l: string[] | undefined, f: string): string => maskHex(capabilityMask(l ?? [], `process.capabilities.${f}`));
    ops.push(['caps', m(caps.bounding, 'bounding'), m(caps.effective, 'effective'), m(caps.permitted, 'permitted'),
      m(caps.inheritable, 'inheritable'), m(caps.ambient, 'ambient')]);
  }
  if (proc.noNewPrivileges) ops.push(['nnp']);
  ops.push(['cwd', proc.cwd]);
  ops.push(['env', ...(proc.env ?? [])]);
  ops.push(['args', ...(proc.args ?? [])]);
  ops.push(['exec']);
  return ops;
}

export interface InitPlanInput {
  spec: OciSpec;
  bundle: string;
  rootfs: string;
  /** the exec FIFO (start barrier) */
  execFifo: string;
  /** pty slave path when process.terminal and the pty is the runtime's (no devpts mount in the spec) */
  consoleSlave?: string;
  cgroupRoot: string;
  hostCgroupMounts: readonly HostCgroupMount[];
  /** the files berth-init writes "0" into to join the container's cgroups before it clones (selfJoinFiles) */
  cgroupJoinFiles?: readonly string[];
  /** the child waits for "go" after creating its namespaces (the runtime applies the cgroup limits meanwhile) */
  waitGo?: boolean;
  /** the container's id and annotations, for the state createContainer/startContainer hooks get */
  id?: string;
  annotations?: Record<string, string>;
}

/** Everything the container's init does, in order. */
export function initOps(input: InitPlanInput): InitOp[] {
  const { spec, rootfs } = input;
  const proc = spec.process!;
  const linux = spec.linux ?? {};
  const namespaces = linux.namespaces ?? [];
  const ops: InitOp[] = [];
  if (input.cgroupJoinFiles?.length) ops.push(['cgroup-join', ...input.cgroupJoinFiles]);
  for (const type of JOIN_ORDER) {
    const ns = namespaces.find((n) => n.type === type && n.path);
    if (ns) ops.push(['join', NAMESPACES[type].name, ns.path!]);
  }
  // The cgroup namespace is unshared by the child, inside its cgroups (so they are its namespace's root);
  // so is the network namespace, off the path between berth-init's start and its "pid" report; and the time
  // namespace, whose flag clone(2) cannot take (it overlaps the exit-signal byte; it applies from execve on).
  const UNSHARED_LATER: NamespaceType[] = ['cgroup', 'network', 'time'];
  const cloneFlags = namespaces
    .filter((n) => !n.path && !UNSHARED_LATER.includes(n.type))
    .reduce((f, n) => f | NAMESPACES[n.type].flag, 0);
  ops.push(['clone', String(cloneFlags >>> 0)]);
  const privateCgroupNs = namespaces.some((n) => n.type === 'cgroup' && !n.path);
  if (privateCgroupNs) ops.push(['unshare', 'cgroup']);
  if (namespaces.some((n) => n.type === 'network' && !n.path)) ops.push(['unshare', 'net']);
  if (namespaces.some((n) => n.type === 'time' && !n.path)) ops.push(['unshare', 'time']);
  // A new user namespace: the runtime writes its id maps while the child waits, then the child becomes
  // the namespace's root (files it creates belong to the mapped root; its capabilities stay).
  const userns = namespaces.find((n) => n.type === 'user');
  if (input.waitGo || (userns && !userns.path)) ops.push(['wait-go']);
  if (userns) ops.push(['become-root']);
  ops.push(['setsid']);
  const containerPty = proc.terminal && !input.consoleSlave;
  if (proc.terminal && !containerPty) ops.push(['ctty']);
  // Lowering oom_score_adj needs CAP_SYS_RESOURCE of the host: in a user namespace the runtime writes it.
  if (proc.oomScoreAdj !== undefined && !userns) ops.push(['oom-score-adj', String(proc.oomScoreAdj)]);

  // A shared root cannot be pivoted into and an unbindable one cannot be bound onto itself: those start as
  // slave like the default, and get their propagation after pivot_root ("rootprop" below).
  const requested = linux.rootfsPropagation ? propagationFlags(linux.rootfsPropagation) : 0;
  const rootProp = requested && !(requested & (MS_SHARED | MS_UNBINDABLE)) ? requested : MS_SLAVE | MS_REC;
  ops.push(['propagation', String(rootProp | MS_REC)]);
  ops.push(['rootfs', rootfs]);
  for (const m of planMounts(spec.mounts ?? [], input.bundle)) {
    if (m.kind === 'cgroup') {
      // cgroup v1 cannot be mounted from a user namespace: binds then
      ops.push(...expandCgroupMount(m.destination, m.flags, input.hostCgroupMounts, input.cgroupRoot, privateCgroupNs && !userns));
    } else {
      ops.push(['mount', m.source, m.destination, m.type, String(m.flags), m.data, ...m.propagation.map(String)]);
    }
  }
  ops.push(['mkdir', path.posix.normalize(proc.cwd), '493']);
  for (const d of planDevices(linux.devices)) {
    ops.push(['mknod', d.path, d.type, String(d.major), String(d.minor), String(d.mode), String(d.uid), String(d.gid)]);
  }
  for (const [target, link] of DEV_LINKS) ops.push(['symlink', target, link]);
  if (input.consoleSlave) ops.push(['console', input.consoleSlave]);
  ops.push(['fifo', input.execFifo]);
  ops.push(...containerHookOps(hooksOf(spec), {
    ociVersion: spec.ociVersion ?? '1.0.2', id: input.id ?? '', bundle: input.bundle, annotations: input.annotations ?? spec.annotations ?? {},
  }));
  ops.push(['pivot']);

  for (const [key, value] of Object.entries(linux.sysctl ?? {})) ops.push(['sysctl', key, value]);
  for (const p of linux.readonlyPaths ?? []) ops.push(['readonly', p]);
  for (const p of linux.maskedPaths ?? []) ops.push(['mask', p]);
  if (spec.root?.readonly) ops.push(['remount-root-ro']);
  if (linux.rootfsPropagation) ops.push(['rootprop', String(propagationFlags(linux.rootfsPropagation))]);
  if (containerPty) ops.push(ptyOp(proc, true), ['ctty']);
  if (spec.hostname) ops.push(['hostname', spec.hostname]);
  if (spec.domainname) ops.push(['domainname', spec.domainname]);
  ops.push(...seccompOps(linux.seccomp));
  ops.push(...processOps(proc));
  return ops;
}

/** True when the spec mounts a devpts: terminals are then made from the container's own /dev/ptmx. */
export function hasDevpts(spec: OciSpec): boolean {
  return (spec.mounts ?? []).some((m) => m.type === 'devpts');
}

function ptyOp(proc: OciProcess, console: boolean): InitOp {
  const size = proc.consoleSize;
  return ['pty', String(size?.height ?? 0), String(size?.width ?? 0), ...(console ? ['console'] : [])];
}

/**
 * What an exec'd process does: join every namespace of the container's init, then the process. With a
 * terminal and `containerPty`, the pty comes from the container's /dev/ptmx (else the runtime passes one).
 */
export function execOps(spec: OciSpec, initPid: number, proc: OciProcess, cgroupJoinFiles: readonly string[] = [], containerPty = false): InitOp[] {
  const types = new Set((spec.linux?.namespaces ?? []).map((n) => n.type));
  const ops: InitOp[] = [];
  if (cgroupJoinFiles.length) ops.push(['cgroup-join', ...cgroupJoinFiles]);
  for (const type of JOIN_ORDER) {
    if (!types.has(type)) continue;
    ops.push(['join', NAMESPACES[type].name, `/proc/${initPid}/ns/${NAMESPACES[type].name}`]);
  }
  ops.push(['clone', '0']);
  ops.push(['setsid']);
  if (proc.terminal && containerPty) ops.push(ptyOp(proc, false));
  if (proc.terminal) ops.push(['ctty']);
  if (proc.oomScoreAdj !== undefined && !types.has('user')) ops.push(['oom-score-adj', String(proc.oomScoreAdj)]);
  ops.push(...seccompOps(spec.linux?.seccomp));
  ops.push(...processOps(proc));
  return ops;
}

/** Adds "preserve-fds <n>" (the caller's extra fds reach the process as 3, 4, ...) before the final exec. */
export function withPreservedFds(ops: InitOp[], n: number): InitOp[] {
  if (n <= 0) return ops;
  return [...ops.slice(0, -1), ['preserve-fds', String(n)], ops[ops.length - 1]!];
}

function netstring(s: string): string {
  return `${Buffer.byteLength(s)}:${s},`;
}

/** The wire form: one netstring of operations, each a netstring of field netstrings. */
export function encodeConfig(ops: readonly InitOp[]): Buffer {
  return Buffer.from(netstring(ops.map((op) => netstring(op.map(netstring).join(''))).join('')));
}
