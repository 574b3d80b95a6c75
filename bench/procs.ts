/**
 * Finding the benchmark's own processes precisely, by walking /proc, never by a broad process-name match:
 * - shims: processes whose command line names the side's unique temp dir (containerd's shims carry
 *   `-address <dir>/containerd.sock`, berth's shims their bundle under `<dir>/state`), pids recorded in
 *   `shim.pid` files under the state dir, and direct children of the daemon, plus their descendants outside the
 *   run's cgroups (helpers a shim keeps); minus the daemon and container processes;
 * - container processes: members of the run's cgroup parent `/<cgroupParent>/...` (every spec names it).
 * Memory comes from /proc/<pid>/smaps_rollup (Pss, Rss in kB).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

function readOr(file: string, fallback = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const status = readOr(`/proc/${pid}/status`);
    const m = /^PPid:\s+(\d+)/m.exec(status);
    if (!m) continue;
    out.push({ pid, ppid: Number(m[1]), cmdline: readOr(`/proc/${pid}/cmdline`).split('\0').join(' ').trim() });
  }
  return out;
}

/** True when the process belongs to a cgroup under `/<cgroupParent>/` in any hierarchy. */
export function inCgroup(pid: number, cgroupParent: string): boolean {
  return readOr(`/proc/${pid}/cgroup`).includes(`/${cgroupParent}/`);
}

/** Start time (clock ticks since boot, field 22 of /proc/<pid>/stat) of a process, '' when it is gone. */
function startTimeOf(pid: number): string {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/**
 * Live pids from `shim.pid` files up to four levels below the state dir (berth:
 * `<state>/tasks/<ns>/<id>/shim.pid`); a pid counts only when the `shim.starttime` beside it matches the
 * process (pids are recycled) or, without that file, when the process names `dir` on its command line.
 */
function recordedShimPids(stateDir: string, dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string, depth: number): void => {
    for (const e of safeReaddir(d)) {
      const p = path.join(d, e);
      if (e === 'shim.pid') {
        const pid = Number(readOr(p).trim());
        if (!Number.isInteger(pid) || pid <= 0) continue;
        const recorded = readOr(path.join(d, 'shim.starttime')).trim();
        const same = recorded !== '' ? startTimeOf(pid) === recorded : readOr(`/proc/${pid}/cmdline`).includes(dir);
        if (same) pids.push(pid);
      } else if (depth > 0 && isDir(p)) walk(p, depth - 1);
    }
  };
  walk(stateDir, 4);
  return pids;
}

function isDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The shim processes of one side (see the header for how they are recognised). */
export function findShims(opts: { dir: string; stateDir: string; daemonPid?: number; cgroupParent: string }): number[] {
  const procs = listProcs();
  const candidates = new Set<number>();
  for (const p of procs) {
    if (p.cmdline.includes(opts.dir)) candidates.add(p.pid);
    else if (opts.daemonPid !== undefined && p.ppid === opts.daemonPid && !inCgroup(p.pid, opts.cgroupParent)) candidates.add(p.pid);
  }
  for (const pid of recordedShimPids(opts.stateDir, opts.dir)) candidates.add(pid);
  if (opts.daemonPid !== undefined) candidates.delete(opts.daemonPid);
  candidates.delete(process.pid);
  // Helpers a shim keeps outside the container's cgroup are per-container cost too; the container's own
  // processes (inside the cgroup) are not.
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const queue = [...candidates];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (candidates.has(child) || child === opts.daemonPid || inCgroup(child, opts.cgroupParent)) continue;
      candidates.add(child);
      queue.push(child);
    }
  }
  return [...candidates].sort((a, b) => a - b);
}

export interface Memory {
  pssKiB: number;
  rssKiB: number;
}

/** Pss and Rss of one process from smaps_rollup (zero when it is gone). */
export function memoryOf(pid: number): Memory {
  const text = readOr(`/proc/${pid}/smaps_rollup`);
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { pssKiB: kb('Pss'), rssKiB: kb('Rss') };
}

export function sumMemory(pids: number[]): Memory {
  return pids.map(memoryOf).reduce((a, b) => ({ pssKiB: a.pssKiB + b.pssKiB, rssKiB: a.rssKiB + b.rssKiB }), { pssKiB: 0, rssKiB: 0 });
}

/** Pids of the processes in the run's cgroups (every hierarchy, v1 and v2). */
export function cgroupMembers(cgroupParent: string): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupDirs(cgroupParent)) {
    for (const line of readOr(path.join(dir, 'cgroup.procs')).split('\n')) {
      const n = Number(line.trim());
      if (line.trim() !== '' && n > 0) pids.add(n);
    }
  }
  return [...pids];
}

/** Every cgroup directory under `/<cgroupParent>` in every mounted hierarchy, deepest first. */
export function cgroupDirs(cgroupParent: string): string[] {
  const roots = new Set<string>();
  for (const line of readOr('/proc/self/mountinfo').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash > 0 && (f[dash + 1] === 'cgroup' || f[dash + 1] === 'cgroup2')) roots.add(f[4]);
  }
  const dirs: string[] = [];
  const walk = (d: string): void => {
    for (const e of safeReaddir(d)) {
      const p = path.join(d, e);
      try {
        if (fs.statSync(p).isDirectory()) walk(p);
      } catch {
        /* raced with removal */
      }
    }
    dirs.push(d);
  };
  for (const root of roots) {
    const top = path.join(root, cgroupParent);
    if (fs.existsSync(top)) walk(top);
  }
  return dirs;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readOr('/proc/self/mountinfo').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && (mp === dir || mp.startsWith(dir + '/'))) out.push(mp.replace(/\\040/g, ' '));
  }
  return out.sort((a, b) => b.length - a.length);
}
