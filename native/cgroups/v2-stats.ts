/**
 * cgroup v2 statistics as `io.containerd.cgroups.v2.Metrics`, read the way containerd's cgroups library (v2)
 * reads them: pids.current/max ("max" → 0), cpu.stat, memory.stat plus memory.current/max and
 * memory.swap.current/max ("max" → UNLIMITED), memory.events, io.stat, hugetlb.<size>.current/max.
 * pids, cpu, memory and io are always present (zero when the controller is not enabled), as containerd
 * sends them; memory_events only when memory.events exists.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { V2CPUStat, V2HugeTlbStat, V2IOEntry, V2MemoryEvents, V2MemoryStat, V2Metrics } from './types';
import { parseKeyValues, parseUint, readKeyValues, readOptional, readUint } from './files';

const MEMORY_STAT_FIELDS = [
  'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback', 'anon_thp',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable', 'slab_unreclaimable',
  'pgfault', 'pgmajfault', 'workingset_refault', 'workingset_activate', 'workingset_nodereclaim', 'pgrefill', 'pgscan',
  'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree', 'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc',
] as const;

export async function v2Stats(dir: string): Promise<V2Metrics> {
  const [pidsCurrent, pidsMax, cpu, memory, events, io, hugetlb] = await Promise.all([
    readUint(path.join(dir, 'pids.current')),
    readUint(path.join(dir, 'pids.max'), 0),
    cpuStats(dir),
    memoryStats(dir),
    memoryEvents(dir),
    ioStats(dir),
    hugetlbStats(dir),
  ]);
  return { pids: { current: pidsCurrent, limit: pidsMax }, cpu, memory, rdma: null, io: { usage: io }, hugetlb, memory_events: events };
}

async function cpuStats(dir: string): Promise<V2CPUStat> {
  const kv = await readKeyValues(path.join(dir, 'cpu.stat'));
  const g = (k: string): number => kv.get(k) ?? 0;
  return {
    usage_usec: g('usage_usec'), user_usec: g('user_usec'), system_usec: g('system_usec'),
    nr_periods: g('nr_periods'), nr_throttled: g('nr_throttled'), throttled_usec: g('throttled_usec'),
  };
}

async function memoryStats(dir: string): Promise<V2MemoryStat> {
  const [kv, usage, usageLimit, swapUsage, swapLimit] = await Promise.all([
    readKeyValues(path.join(dir, 'memory.stat')),
    readUint(path.join(dir, 'memory.current')),
    readUint(path.join(dir, 'memory.max')),
    readUint(path.join(dir, 'memory.swap.current')),
    readUint(path.join(dir, 'memory.swap.max')),
  ]);
  const fields: Record<string, number> = {};
  for (const name of MEMORY_STAT_FIELDS) fields[name] = kv.get(name) ?? 0;
  // Kernels ≥ 5.9 split workingset_* into _anon and _file.
  for (const w of ['workingset_refault', 'workingset_activate'] as const) {
    if (!kv.has(w)) fields[w] = (kv.get(`${w}_anon`) ?? 0) + (kv.get(`${w}_file`) ?? 0);
  }
  return {
    ...(fields as Record<(typeof MEMORY_STAT_FIELDS)[number], number>),
    usage,
    usage_limit: usageLimit,
    swap_usage: swapUsage,
    swap_limit: swapLimit,
  };
}

async function memoryEvents(dir: string): Promise<V2MemoryEvents | null> {
  const text = await readOptional(path.join(dir, 'memory.events'));
  if (text === undefined) return null;
  const kv = parseKeyValues(text);
  return { low: kv.get('low') ?? 0, high: kv.get('high') ?? 0, max: kv.get('max') ?? 0, oom: kv.get('oom') ?? 0, oom_kill: kv.get('oom_kill') ?? 0 };
}

/** io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device. */
export function parseIoStat(text: string | undefined): V2IOEntry[] {
  const out: V2IOEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const e: V2IOEntry = { major: Number(dev[1]), minor: Number(dev[2]), rbytes: 0, wbytes: 0, rios: 0, wios: 0 };
    for (const kv of f.slice(1)) {
      const [k, v] = kv.split('=');
      if (k === 'rbytes' || k === 'wbytes' || k === 'rios' || k === 'wios') e[k] = parseUint(v);
    }
    out.push(e);
  }
  return out;
}

async function ioStats(dir: string): Promise<V2IOEntry[]> {
  return parseIoStat(await readOptional(path.join(dir, 'io.stat')));
}

async function hugetlbStats(dir: string): Promise<V2HugeTlbStat[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const sizes = names.map((n) => /^hugetlb\.([^.]+)\.current$/.exec(n)?.[1]).filter((s): s is string => !!s).sort();
  return Promise.all(
    sizes.map(async (pagesize) => ({
      current: await readUint(path.join(dir, `hugetlb.${pagesize}.current`)),
      max: await readUint(path.join(dir, `hugetlb.${pagesize}.max`)),
      pagesize,
    })),
  );
}
