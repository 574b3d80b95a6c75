/**
 * `runc events --stats` output (runc's types.Stats JSON) → `io.containerd.cgroups.v1.Metrics` as a plain
 * object for proto/loader's encodeMessage (snake_case field names of proto/cgroups/v1/metrics.proto).
 */

interface Entry { major?: number; minor?: number; op?: string; value?: number }
interface MemEntry { limit?: number; usage?: number; max?: number; failcnt?: number }

export interface RuncStats {
  cpu?: { usage?: { total?: number; percpu?: number[]; kernel?: number; user?: number }; throttling?: { periods?: number; throttledPeriods?: number; throttledTime?: number } };
  memory?: { cache?: number; usage?: MemEntry; swap?: MemEntry; kernel?: MemEntry; kernelTCP?: MemEntry; raw?: Record<string, number> };
  pids?: { current?: number; limit?: number };
  blkio?: Record<string, Entry[] | undefined>;
  hugetlb?: Record<string, { usage?: number; max?: number; failcnt?: number }>;
  network_interfaces?: Array<Record<string, number | string>> | null;
}

const n = (v: number | undefined): number => v ?? 0;
const memEntry = (e: MemEntry | undefined) => ({ limit: n(e?.limit), usage: n(e?.usage), max: n(e?.max), failcnt: n(e?.failcnt) });
const blk = (list: Entry[] | undefined) => (list ?? []).map((e) => ({ op: e.op ?? '', device: '', major: n(e.major), minor: n(e.minor), value: n(e.value) }));

export function runcStatsToV1Metrics(s: RuncStats): Record<string, unknown> {
  const raw = s.memory?.raw ?? {};
  const r = (k: string): number => raw[k] ?? 0;
  const b = s.blkio ?? {};
  return {
    hugetlb: Object.entries(s.hugetlb ?? {}).map(([pagesize, h]) => ({ usage: n(h.usage), max: n(h.max), failcnt: n(h.failcnt), pagesize })),
    pids: { current: n(s.pids?.current), limit: n(s.pids?.limit) },
    cpu: {
      usage: { total: n(s.cpu?.usage?.total), kernel: n(s.cpu?.usage?.kernel), user: n(s.cpu?.usage?.user), per_cpu: s.cpu?.usage?.percpu ?? [] },
      throttling: { periods: n(s.cpu?.throttling?.periods), throttled_periods: n(s.cpu?.throttling?.throttledPeriods), throttled_time: n(s.cpu?.throttling?.throttledTime) },
    },
    memory: {
      cache: n(s.memory?.cache) || r('cache'),
      rss: r('rss'),
      rss_huge: r('rss_huge'),
      mapped_file: r('mapped_file'),
      dirty: r('dirty'),
      writeback: r('writeback'),
      pg_pg_in: r('pgpgin'),
      pg_pg_out: r('pgpgout'),
      pg_fault: r('pgfault'),
      pg_maj_fault: r('pgmajfault'),
      inactive_anon: r('inactive_anon'),
      active_anon: r('active_anon'),
      inactive_file: r('inactive_file'),
      active_file: r('active_file'),
      unevictable: r('unevictable'),
      hierarchical_memory_limit: r('hierarchical_memory_limit'),
      hierarchical_swap_limit: r('hierarchical_memsw_limit'),
      total_cache: r('total_cache'),
      total_rss: r('total_rss'),
      total_rss_huge: r('total_rss_huge'),
      total_mapped_file: r('total_mapped_file'),
      total_dirty: r('total_dirty'),
      total_writeback: r('total_writeback'),
      total_pg_pg_in: r('total_pgpgin'),
      total_pg_pg_out: r('total_pgpgout'),
      total_pg_fault: r('total_pgfault'),
      total_pg_maj_fault: r('total_pgmajfault'),
      total_inactive_anon: r('total_inactive_anon'),
      total_active_anon: r('total_active_anon'),
      total_inactive_file: r('total_inactive_file'),
      total_active_file: r('total_active_file'),
      total_unevictable: r('total_unevictable'),
      usage: memEntry(s.memory?.usage),
      swap: memEntry(s.memory?.swap),
      kernel: memEntry(s.memory?.kernel),
      kernel_tcp: memEntry(s.memory?.kernelTCP),
    },
    blkio: {
      io_service_bytes_recursive: blk(b.ioServiceBytesRecursive),
      io_serviced_recursive: blk(b.ioServicedRecursive),
      io_queued_recursive: blk(b.ioQueueRecursive),
      io_service_time_recursive: blk(b.ioServiceTimeRecursive),
      io_wait_time_recursive: blk(b.ioWaitTimeRecursive),
      io_merged_recursive: blk(b.ioMergedRecursive),
      io_time_recursive: blk(b.ioTimeRecursive),
      sectors_recursive: blk(b.sectorsRecursive),
    },
    rdma: null,
    network: (s.network_interfaces ?? []).map((i) => ({
      name: String(i.Name ?? i.name ?? ''),
      rx_bytes: Number(i.RxBytes ?? 0),
      rx_packets: Number(i.RxPackets ?? 0),
      rx_errors: Number(i.RxErrors ?? 0),
      rx_dropped: Number(i.RxDropped ?? 0),
      tx_bytes: Number(i.TxBytes ?? 0),
      tx_packets: Number(i.TxPackets ?? 0),
      tx_errors: Number(i.TxErrors ?? 0),
      tx_dropped: Number(i.TxDropped ?? 0),
    })),
    cgroup_stats: null,
    memory_oom_control: null,
  };
}
