/**
 * `events --stats`: cgroup metrics in runc's JSON shape (runc's types.Stats inside
 * `{"type":"stats","id":...,"data":{...}}`), converted from the runtime's CgroupMetrics (v1 or v2).
 * Zero-valued fields that runc omits (Go's omitempty) are left out.
 */
import type { CgroupMetrics, V1BlkIOEntry, V1MemoryEntry, V1Metrics, V2Metrics } from '../cgroups/types';

type Json = Record<string, unknown>;

function omitZero(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0 && v !== undefined && !(Array.isArray(v) && v.length === 0)));
}

function memEntry(e: V1MemoryEntry | null | undefined): Json {
  if (!e) return { limit: 0, failcnt: 0 };
  return { limit: e.limit, ...omitZero({ usage: e.usage, max: e.max }), failcnt: e.failcnt };
}

function blkio(list: V1BlkIOEntry[]): Json[] {
  return list.map((e) => omitZero({ major: e.major, minor: e.minor, op: e.op, value: e.value }));
}

/** v1 memory.stat key names, from the protobuf field names. */
const V1_RAW_NAMES: Record<string, string> = {
  pg_pg_in: 'pgpgin', pg_pg_out: 'pgpgout', pg_fault: 'pgfault', pg_maj_fault: 'pgmajfault',
  total_pg_pg_in: 'total_pgpgin', total_pg_pg_out: 'total_pgpgout', total_pg_fault: 'total_pgfault',
  total_pg_maj_fault: 'total_pgmajfault', hierarchical_swap_limit: 'hierarchical_memsw_limit',
};

function v1Stats(m: V1Metrics): Json {
  const cpu = m.cpu;
  const mem = m.memory;
  const raw: Record<string, number> = {};
  if (mem) {
    for (const [k, v] of Object.entries(mem)) if (typeof v === 'number') raw[V1_RAW_NAMES[k] ?? k] = v;
  }
  const b = m.blkio;
  return {
    cpu: {
      usage: { ...omitZero({ total: cpu?.usage?.total ?? 0, percpu: cpu?.usage?.per_cpu ?? [] }), kernel: cpu?.usage?.kernel ?? 0, user: cpu?.usage?.user ?? 0 },
      throttling: omitZero({
        periods: cpu?.throttling?.periods ?? 0, throttledPeriods: cpu?.throttling?.throttled_periods ?? 0,
        throttledTime: cpu?.throttling?.throttled_time ?? 0,
      }),
    },
    memory: {
      ...omitZero({ cache: mem?.cache ?? 0 }),
      usage: memEntry(mem?.usage), swap: memEntry(mem?.swap), kernel: memEntry(mem?.kernel), kernelTCP: memEntry(mem?.kernel_tcp),
      ...(mem ? { raw } : {}),
    },
    pids: omitZero({ current: m.pids?.current ?? 0, limit: m.pids?.limit ?? 0 }),
    blkio: b
      ? omitZero({
          ioServiceBytesRecursive: blkio(b.io_service_bytes_recursive), ioServicedRecursive: blkio(b.io_serviced_recursive),
          ioQueueRecursive: blkio(b.io_queued_recursive), ioServiceTimeRecursive: blkio(b.io_service_time_recursive),
          ioWaitTimeRecursive: blkio(b.io_wait_time_recursive), ioMergedRecursive: blkio(b.io_merged_recursive),
          ioTimeRecursive: blkio(b.io_time_recursive), sectorsRecursive: blkio(b.sectors_recursive),
        })
      : {},
    hugetlb: Object.fromEntries(m.hugetlb.map((h) => [h.pagesize, { ...omitZero({ usage: h.usage, max: h.max }), failcnt: h.failcnt }])),
    intel_rdt: {},
    network_interfaces: null,
  };
}

function v2Stats(m: V2Metrics): Json {
  const cpu = m.cpu;
  const mem = m.memory;
  const raw: Record<string, number> = {};
  if (mem) {
    for (const [k, v] of Object.entries(mem)) if (typeof v === 'number' && !['usage', 'usage_limit', 'swap_usage', 'swap_limit'].includes(k)) raw[k] = v;
  }
  const io = m.io?.usage ?? [];
  const ioEntries = (op: string, pick: (e: (typeof io)[number]) => number): Json[] =>
    io.map((e) => omitZero({ major: e.major, minor: e.minor, op, value: pick(e) }));
  return {
    cpu: {
      usage: { ...omitZero({ total: (cpu?.usage_usec ?? 0) * 1000 }), kernel: (cpu?.system_usec ?? 0) * 1000, user: (cpu?.user_usec ?? 0) * 1000 },
      throttling: omitZero({
        periods: cpu?.nr_periods ?? 0, throttledPeriods: cpu?.nr_throttled ?? 0, throttledTime: (cpu?.throttled_usec ?? 0) * 1000,
      }),
    },
    memory: {
      ...omitZero({ cache: mem?.file ?? 0 }),
      usage: { limit: mem?.usage_limit ?? 0, ...omitZero({ usage: mem?.usage ?? 0 }), failcnt: m.memory_events?.max ?? 0 },
      swap: { limit: mem?.swap_limit ?? 0, ...omitZero({ usage: mem?.swap_usage ?? 0 }), failcnt: 0 },
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      ...(mem ? { raw } : {}),
    },
    pids: omitZero({ current: m.pids?.current ?? 0, limit: m.pids?.limit ?? 0 }),
    blkio: omitZero({
      ioServiceBytesRecursive: [...ioEntries('Read', (e) => e.rbytes), ...ioEntries('Write', (e) => e.wbytes)],
      ioServicedRecursive: [...ioEntries('Read', (e) => e.rios), ...ioEntries('Write', (e) => e.wios)],
    }),
    hugetlb: Object.fromEntries(m.hugetlb.map((h) => [h.pagesize, { ...omitZero({ usage: h.current, max: h.max }), failcnt: 0 }])),
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** runc's types.Stats for a CgroupMetrics. */
export function runcStats(metrics: CgroupMetrics): Json {
  return metrics.version === 1 ? v1Stats(metrics.metrics) : v2Stats(metrics.metrics);
}

/** The OOM kill count in a CgroupMetrics (for `events`' "oom" events). */
export function oomKills(metrics: CgroupMetrics): number {
  return metrics.version === 1 ? (metrics.metrics.memory_oom_control?.oom_kill ?? 0) : (metrics.metrics.memory_events?.oom_kill ?? 0);
}
