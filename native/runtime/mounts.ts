/**
 * Mount planning: turns spec.mounts (and the defaults every container gets: device nodes, /dev links) into
 * the exact operations berth-init executes before pivot_root. Pure functions, unit-tested without root.
 *
 * Destinations are cleaned lexically here (`/a/../../etc` → `/etc`, relative → under `/`); berth-init then
 * resolves them inside the rootfs with openat2(RESOLVE_IN_ROOT), so symlinks cannot lead outside either.
 */
import path from 'node:path';
import { InvalidArgument } from '../../pkg/errdefs';
import type { OciDevice, OciMount } from './spec-types';

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;

/** Options that set (or, with `clear`, reset) mount flags. */
const FLAG_OPTIONS: Record<string, { clear?: boolean; flag: number }> = {
  ro: { flag: MS_RDONLY }, rw: { clear: true, flag: MS_RDONLY },
  nosuid: { flag: MS_NOSUID }, suid: { clear: true, flag: MS_NOSUID },
  nodev: { flag: MS_NODEV }, dev: { clear: true, flag: MS_NODEV },
  noexec: { flag: MS_NOEXEC }, exec: { clear: true, flag: MS_NOEXEC },
  sync: { flag: MS_SYNCHRONOUS }, async: { clear: true, flag: MS_SYNCHRONOUS },
  dirsync: { flag: MS_DIRSYNC }, remount: { flag: MS_REMOUNT },
  mand: { flag: MS_MANDLOCK }, nomand: { clear: true, flag: MS_MANDLOCK },
  atime: { clear: true, flag: MS_NOATIME }, noatime: { flag: MS_NOATIME },
  diratime: { clear: true, flag: MS_NODIRATIME }, nodiratime: { flag: MS_NODIRATIME },
  relatime: { flag: MS_RELATIME }, norelatime: { clear: true, flag: MS_RELATIME },
  strictatime: { flag: MS_STRICTATIME }, nostrictatime: { clear: true, flag: MS_STRICTATIME },
  bind: { flag: MS_BIND }, rbind: { flag: MS_BIND | MS_REC },
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS_PRIVATE, rprivate: MS_PRIVATE | MS_REC,
  shared: MS_SHARED, rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE, rslave: MS_SLAVE | MS_REC,
  unbindable: MS_UNBINDABLE, runbindable: MS_UNBINDABLE | MS_REC,
};

export function propagationFlags(name: string): number {
  const f = PROPAGATION_OPTIONS[name];
  if (f === undefined) throw new InvalidArgument(`unknown propagation "${name}"`);
  return f;
}

export interface ParsedOptions {
  flags: number;
  propagation: number[];
  /** the fs-specific options, comma-joined (mount(2)'s data) */
  data: string;
}

export function parseMountOptions(options: readonly string[] = []): ParsedOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const opt of options) {
    const f = FLAG_OPTIONS[opt];
    if (f) flags = f.clear ? flags & ~f.flag : flags | f.flag;
    else if (PROPAGATION_OPTIONS[opt] !== undefined) propagation.push(PROPAGATION_OPTIONS[opt]);
    else if (opt === 'tmpcopyup' || opt === 'idmap' || opt === 'ridmap') {
      // containerd/runc extensions we do not implement; harmless to ignore
    } else data.push(opt);
  }
  return { flags, propagation, data: data.join(',') };
}

/** Cleans a destination lexically; it always stays under "/". */
export function cleanDestination(dest: string): string {
  return path.posix.normalize('/' + dest).replace(/\/+$/, '') || '/';
}

/** One planned mount: `cgroup` mounts are expanded later against the host's hierarchies (cgroup-mounts.ts). */
export type MountPlan =
  | { kind: 'mount'; source: string; destination: string; type: string; flags: number; data: string; propagation: number[] }
  | { kind: 'cgroup'; destination: string; flags: number };

export function planMounts(mounts: readonly OciMount[], bundle: string): MountPlan[] {
  return mounts.map((m, i) => {
    const destination = cleanDestination(m.destination);
    if (destination === '/') throw new InvalidArgument(`mounts[${i}].destination: cannot mount over the rootfs`);
    const opts = parseMountOptions(m.options);
    const type = m.type ?? '';
    if (type === 'cgroup' || type === 'cgroup2') {
      return { kind: 'cgroup', destination, flags: opts.flags & ~MS_BIND & ~MS_REC };
    }
    let flags = opts.flags;
    if (type === 'bind') flags |= MS_BIND;
    if (flags & MS_BIND) {
      if (!m.source) throw new InvalidArgument(`mounts[${i}].source: a bind mount needs a source`);
      const source = path.resolve(bundle, m.source);
      return { kind: 'mount', source, destination, type: 'bind', flags, data: '', propagation: opts.propagation };
    }
    if (!type || type === 'none') throw new InvalidArgument(`mounts[${i}].type: required for a non-bind mount`);
    return { kind: 'mount', source: m.source ?? type, destination, type, flags, data: opts.data, propagation: opts.propagation };
  });
}

/** The device nodes every container gets (runc's list), before spec.linux.devices. */
export const DEFAULT_DEVICES: readonly OciDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

export interface DevicePlan {
  path: string;
  type: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

export function planDevices(devices: readonly OciDevice[] = []): DevicePlan[] {
  const byPath = new Map<string, DevicePlan>();
  const all = [...DEFAULT_DEVICES, ...devices];
  all.forEach((d, i) => {
    const field = `linux.devices[${i - DEFAULT_DEVICES.length}]`;
    const p = cleanDestination(d.path ?? '');
    if (!p.startsWith('/dev/')) throw new InvalidArgument(`${field}.path: ${d.path} is not under /dev`);
    const type = d.type === 'u' ? 'c' : d.type;
    if (type !== 'c' && type !== 'b' && type !== 'p') throw new InvalidArgument(`${field}.type: unknown device type "${d.type}"`);
    byPath.set(p, {
      path: p, type, major: d.major ?? 0, minor: d.minor ?? 0,
      mode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0,
    });
  });
  return [...byPath.values()];
}

/** The /dev links of every container: [target, link]. */
export const DEV_LINKS: ReadonlyArray<readonly [string, string]> = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];
