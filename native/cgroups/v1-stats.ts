/**
 * cgroup v1 statistics as `io.containerd.cgroups.v1.Metrics`, read the way containerd's cgroups library
 * (stats/v1) reads them: cpuacct usage in ns (cpuacct.stat ticks × 10^9 / USER_HZ), cpu.stat throttling,
 * memory.stat plus the usage/max/failcnt/limit counters of memory, memsw, kmem and kmem.tcp, oom_control,
 * pids (limit "max" → 0), blkio (CFQ `*_recursive` files, else the throttle counters) and hugetlb.
 * A controller the host does not mount leaves its field null (hugetlb: empty).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { V1Controller } from './detect';
import type {
  V1BlkIOEntry, V1BlkIOStat, V1CPUStat, V1HugetlbStat, V1MemoryEntry, V1MemoryOomControl, V1MemoryStat, V1Metrics, V1PidsStat,
} from './types';
import { readKeyValues, readOptional, readUint } from './files';

/** USER_HZ: the unit of cpuacct.stat (sysconf(_SC_CLK_TCK) is 100 on every Linux architecture we run on). */
const CLOCK_TICKS = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS;

export async function v1Stats(dirs: Map<V1Controller, string>, partitionsFile = '/proc/partitions'): Promise<V1Metrics> {
  const memDir = dirs.get('memory');
  const [hugetlb, pids, cpu, memory, oom, blkio] = await Promise.all([
    hugetlbStats(dirs.get('hugetlb')),
    pidsStats(dirs.get('pids')),
    cpuStats(dirs.get('cpuacct'), dirs.get('cpu')),
    memDir ? memoryStats(memDir) : null,
    memDir ? oomControl(memDir) : null,
    blkioStats(dirs.get('blkio'), partitionsFile),
  ]);
  return { hugetlb, pids, cpu, memory, blkio, rdma: null, network: [], cgroup_stats: null, memory_oom_control: oom };
}

async function hugetlbStats(dir: string | undefined): Promise<V1HugetlbStat[]> {
  if (!dir) return [];
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const sizes = names.map((n) => /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(n)?.[1]).filter((s): s is string => !!s).sort();
  return Promise.all(
    sizes.map(async (pagesize) => ({
      usage: await readUint(path.join(dir, `hugetlb.${pagesize}.usage_in_bytes`)),
      max: await readUint(path.join(dir, `hugetlb.${pagesize}.max_usage_in_bytes`)),
      failcnt: await readUint(path.join(dir, `hugetlb.${pagesize}.failcnt`)),
      pagesize,
    })),
  );
}

async function pidsStats(dir: string | undefined): Promise<V1PidsStat | null> {
  if (!dir) return null;
  const [current, limit] = await Promise.all([readUint(path.join(dir, 'pids.current')), readUint(path.join(dir, 'pids.max'), 0)]);
  return { current, limit };
}

async function cpuStats(acctDir: string | undefined, cpuDir: string | undefined): Promise<V1CPUStat | null> {
  if (!acctDir && !cpuDir) return null;
  const out: V1CPUStat = { usage: null, throttling: null };
  if (acctDir) {
    const [stat, perCpuText, total] = await Promise.all([
      readKeyValues(path.join(acctDir, 'cpuacct.stat')),
      readOptional(path.join(acctDir, 'cpuacct.usage_percpu')),
      readUint(path.join(acctDir, 'cpuacct.usage')),
    ]);
    const perCpu = perCpuText ?? '';
    out.usage = {
      total,
      kernel: (stat.get('system') ?? 0) * NS_PER_TICK,
      user: (stat.get('user') ?? 0) * NS_PER_TICK,
      per_cpu: perCpu.split(/\s+/).filter((s) => s !== '').map(Number),
    };
  }
  if (cpuDir) {
    const stat = await readKeyValues(path.join(cpuDir, 'cpu.stat'));
    out.throttling = {
      periods: stat.get('nr_periods') ?? 0,
      throttled_periods: stat.get('nr_throttled') ?? 0,
      throttled_time: stat.get('throttled_time') ?? 0,
    };
  }
  return out;
}

/** memory.stat key → MemoryStat field, where the names differ. */
const MEMORY_STAT_RENAMES: Record<string, string> = {
  pgpgin: 'pg_pg_in', pgpgout: 'pg_pg_out', pgfault: 'pg_fault', pgmajfault: 'pg_maj_fault',
  hierarchical_memsw_limit: 'hierarchical_swap_limit',
  total_pgpgin: 'total_pg_pg_in', total_pgpgout: 'total_pg_pg_out', total_pgfault: 'total_pg_fault', total_pgmajfault: 'total_pg_maj_fault',
};
const MEMORY_STAT_FIELDS = [
  'cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pg_pg_in', 'pg_pg_out', 'pg_fault', 'pg_maj_fault',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'hierarchical_memory_limit',
  'hierarchical_swap_limit', 'total_cache', 'total_rss', 'total_rss_huge', 'total_mapped_file', 'total_dirty',
  'total_writeback', 'total_pg_pg_in', 'total_pg_pg_out', 'total_pg_fault', 'total_pg_maj_fault', 'total_inactive_anon',
  'total_active_anon', 'total_inactive_file', 'total_active_file', 'total_unevictable',
] as const;

async function memoryEntry(dir: string, prefix: string): Promise<V1MemoryEntry> {
  const f = (name: string): Promise<number> => readUint(path.join(dir, `${prefix}.${name}`));
  const [limit, usage, max, failcnt] = await Promise.all([f('limit_in_bytes'), f('usage_in_bytes'), f('max_usage_in_bytes'), f('failcnt')]);
  return { limit, usage, max, failcnt };
}

async function memoryStats(dir: string): Promise<V1MemoryStat> {
  const [raw, usage, swap, kernel, kernelTcp] = await Promise.all([
    readKeyValues(path.join(dir, 'memory.stat')),
    memoryEntry(dir, 'memory'),
    memoryEntry(dir, 'memory.memsw'),
    memoryEntry(dir, 'memory.kmem'),
    memoryEntry(dir, 'memory.kmem.tcp'),
  ]);
  const fields: Record<string, number> = {};
  for (const name of MEMORY_STAT_FIELDS) fields[name] = 0;
  for (const [k, v] of raw) {
    const name = MEMORY_STAT_RENAMES[k] ?? k;
    if (name in fields) fields[name] = v;
  }
  return {
    ...(fields as Record<(typeof MEMORY_STAT_FIELDS)[number], number>),
    usage,
    swap,
    kernel,
    kernel_tcp: kernelTcp,
  };
}

async function oomControl(dir: string): Promise<V1MemoryOomControl> {
  const kv = await readKeyValues(path.join(dir, 'memory.oom_control'));
  return { oom_kill_disable: kv.get('oom_kill_disable') ?? 0, under_oom: kv.get('under_oom') ?? 0, oom_kill: kv.get('oom_kill') ?? 0 };
}

/** "major:minor" → "/dev/<name>" from /proc/partitions (containerd fills BlkIOEntry.device the same way). */
async function deviceNames(partitionsFile: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of ((await readOptional(partitionsFile)) ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4 && /^\d+$/.test(f[0]!) && /^\d+$/.test(f[1]!)) out.set(`${f[0]}:${f[1]}`, `/dev/${f[3]}`);
  }
  return out;
}

/** Lines "8:0 Read 4096" (or "8:0 4096" for time/sectors); "Total N" lines are skipped. */
export function parseBlkioEntries(text: string | undefined, names: Map<string, string>): V1BlkIOEntry[] {
  const out: V1BlkIOEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev || f.length < 2) continue;
    const op = f.length >= 3 ? f[1]! : '';
    const value = Number(f[f.length - 1]);
    out.push({ op, device: names.get(`${dev[1]}:${dev[2]}`) ?? '', major: Number(dev[1]), minor: Number(dev[2]), value: Number.isFinite(value) ? value : 0 });
  }
  return out;
}

async function blkioStats(dir: string | undefined, partitionsFile: string): Promise<V1BlkIOStat | null> {
  if (!dir) return null;
  const names = await deviceNames(partitionsFile);
  const read = async (file: string): Promise<V1BlkIOEntry[]> => parseBlkioEntries(await readOptional(path.join(dir, file)), names);
  const s: V1BlkIOStat = {
    io_service_bytes_recursive: [], io_serviced_recursive: [], io_queued_recursive: [], io_service_time_recursive: [],
    io_wait_time_recursive: [], io_merged_recursive: [], io_time_recursive: [], sectors_recursive: [],
  };
  // CFQ statistics first (old kernels); the throttle counters count every request on current ones.
  if ((await readOptional(path.join(dir, 'blkio.io_serviced_recursive'))) !== undefined) {
    s.sectors_recursive = await read('blkio.sectors_recursive');
    s.io_service_bytes_recursive = await read('blkio.io_service_bytes_recursive');
    s.io_serviced_recursive = await read('blkio.io_serviced_recursive');
    s.io_queued_recursive = await read('blkio.io_queued_recursive');
    s.io_service_time_recursive = await read('blkio.io_service_time_recursive');
    s.io_wait_time_recursive = await read('blkio.io_wait_time_recursive');
    s.io_merged_recursive = await read('blkio.io_merged_recursive');
    s.io_time_recursive = await read('blkio.time_recursive');
    if (Object.values(s).some((l) => l.length > 0)) return s;
  }
  const recursiveOr = async (name: string): Promise<V1BlkIOEntry[]> => {
    const rec = await readOptional(path.join(dir, `${name}_recursive`));
    return parseBlkioEntries(rec ?? (await readOptional(path.join(dir, name))), names);
  };
  s.io_serviced_recursive = await recursiveOr('blkio.throttle.io_serviced');
  s.io_service_bytes_recursive = await recursiveOr('blkio.throttle.io_service_bytes');
  return s;
}
