/**
 * OOM-kill counting for /tasks/oom, the same for every backend: the memory cgroup of the init process is read
 * from /proc/<pid>/cgroup while it runs, then its kill counter is read when asked (cgroup v1:
 * memory.oom_control `oom_kill`, cgroup v2: memory.events `oom_kill`).
 *
 * Synchronous reads: tiny kernel files, read on the Create and exit paths, where fs.promises.readFile's four
 * thread-pool round trips cost more than the read itself.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface MemoryCgroup {
  file: string;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

async function cgroup2Mount(): Promise<string | undefined> {
  for (const p of [CGROUP_ROOT, path.join(CGROUP_ROOT, 'unified')]) {
    try {
      fs.accessSync(path.join(p, 'cgroup.controllers'));
      return p;
    } catch {}
  }
  return undefined;
}

/** The file holding the OOM-kill counter of pid's memory cgroup, or undefined when there is none. */
export async function memoryCgroupOf(pid: number): Promise<MemoryCgroup | undefined> {
  const text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  let v2Path: string | undefined;
  for (const line of text.split('\n')) {
    const [, controllers, p] = line.split(':', 3) as [string, string?, string?];
    if (controllers === undefined || p === undefined) continue;
    if (controllers.split(',').includes('memory')) return { file: path.join(CGROUP_ROOT, 'memory', p, 'memory.oom_control') };
    if (controllers === '') v2Path = p;
  }
  if (v2Path === undefined) return undefined;
  const mount = await cgroup2Mount();
  if (!mount) return undefined;
  const file = path.join(mount, v2Path, 'memory.events');
  try {
    fs.accessSync(file);
    return { file };
  } catch {
    return undefined;
  }
}

export async function readOomKillCount(cg: MemoryCgroup): Promise<number> {
  try {
    const text = fs.readFileSync(cg.file, 'utf8');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // the cgroup is gone
  }
}
