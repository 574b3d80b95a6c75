/**
 * The `cgroup` mount of a spec (usually /sys/fs/cgroup), expanded against the host's hierarchies:
 *
 * - cgroup v2 only (the root is the unified mount): one cgroup2 mount (private cgroup namespace) or a bind
 *   of the container's own cgroup directory;
 * - v1 (and hybrid, like this host): a tmpfs at the destination, then one directory per host hierarchy under
 *   the cgroup root, each a fresh cgroup mount (private cgroup namespace: its root is the container's cgroup)
 *   or a bind of the container's own cgroup of that hierarchy (berth-init reads it from /proc/self/cgroup);
 *   co-mounted controllers get symlinks (`cpu` → `cpu,cpuacct`); the tmpfs is made read-only last.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_RELATIME } from './mounts';
import type { InitOp } from './init-config';

export interface HostCgroupMount {
  /** where the host mounts it, e.g. /sys/fs/cgroup/cpu,cpuacct */
  mountpoint: string;
  fstype: 'cgroup' | 'cgroup2';
  /** the controllers field of /proc/self/cgroup for it: "cpu,cpuacct", "name=systemd", "" for v2 */
  key: string;
  /** mount(2) data to mount it afresh: "cpu,cpuacct", "name=systemd", "" */
  data: string;
}

const NON_CONTROLLER_OPTIONS = /^(rw|ro|relatime|noatime|nosuid|nodev|noexec|xattr|noprefix|clone_children|cpuset_v2_mode|nsdelegate|favordynmods|memory_recursiveprot|memory_localevents|memory_hugetlb_accounting|release_agent=.*)$/;

/** Parses /proc/self/mountinfo text for cgroup mounts at or directly under `root`. */
export function parseCgroupMounts(mountinfo: string, root: string): HostCgroupMount[] {
  const result: HostCgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const before = line.slice(0, dash).split(' ');
    const after = line.slice(dash + 3).split(' ');
    const mountpoint = unescapeMountinfo(before[4] ?? '');
    const fstype = after[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (mountpoint !== root && path.dirname(mountpoint) !== root) continue;
    if (fstype === 'cgroup2') {
      result.push({ mountpoint, fstype, key: '', data: '' });
      continue;
    }
    const controllers = (after[2] ?? '').split(',').filter((o) => o && !NON_CONTROLLER_OPTIONS.test(o));
    const named = controllers.filter((c) => c.startsWith('name='));
    const plain = controllers.filter((c) => !c.startsWith('name='));
    const key = [...plain, ...named].join(',');
    result.push({ mountpoint, fstype, key, data: key });
  }
  return result;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function readHostCgroupMounts(root: string): HostCgroupMount[] {
  return parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'), root);
}

/** The operations for one `cgroup` mount at `dest` with mount flags `flags`. */
export function expandCgroupMount(dest: string, flags: number, hostMounts: readonly HostCgroupMount[], root: string, privateCgroupNs: boolean): InitOp[] {
  const ops: InitOp[] = [];
  const fsFlags = flags | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  const unified = hostMounts.find((m) => m.mountpoint === root && m.fstype === 'cgroup2');
  if (unified) {
    if (privateCgroupNs) ops.push(['mount', 'cgroup2', dest, 'cgroup2', String(fsFlags), '']);
    else ops.push(['cgroup-bind', root, '', dest, String(fsFlags & ~MS_BIND)]);
    return ops;
  }
  const tmpfsFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
  ops.push(['mount', 'tmpfs', dest, 'tmpfs', String(tmpfsFlags), 'mode=755']);
  for (const m of hostMounts) {
    if (m.mountpoint === root) continue;
    const name = path.basename(m.mountpoint);
    const target = path.posix.join(dest, name);
    if (privateCgroupNs) ops.push(['mount', m.fstype, target, m.fstype, String(fsFlags), m.data]);
    else ops.push(['cgroup-bind', m.mountpoint, m.key, target, String(fsFlags)]);
    if (name.includes(',')) {
      for (const c of name.split(',')) ops.push(['symlink', name, path.posix.join(dest, c)]);
    }
  }
  if (flags & MS_RDONLY) ops.push(['remount', dest, String(tmpfsFlags | MS_RDONLY)]);
  return ops;
}
