/**
 * The types of the cgroups module: the OCI `linux.resources` input (camelCase, exactly as in config.json),
 * the manager interface the runtime codes against, and the metrics it returns.
 *
 * V1Metrics / V2Metrics have exactly the field names and shapes of the protobuf messages
 * `io.containerd.cgroups.v1.Metrics` and `io.containerd.cgroups.v2.Metrics` (proto/cgroups/v1|v2/metrics.proto)
 * as protobufjs decodes them with our loader's conversion (snake_case, uint64 as number, every scalar and
 * repeated field present, absent sub-messages as null): the shim encodes them with `encodeMessage` and sends
 * them in `Tasks.Metrics` as an Any, as containerd does. A unit test checks both directions of the encoding.
 */

export type CgroupLayout = 'v1' | 'v2';

// ---------------------------------------------------------------------------------------------------------
// OCI runtime-spec linux.resources (github.com/opencontainers/runtime-spec specs-go/config.go)

export interface LinuxDeviceCgroup {
  allow: boolean;
  /** 'a' (all), 'c' (char), 'b' (block); missing = 'a' */
  type?: string;
  /** missing or null = any ('*') */
  major?: number | null;
  minor?: number | null;
  /** some of 'rwm'; missing = 'rwm' */
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  /** memory+swap total, as in cgroup v1 memsw (OCI semantics); converted for v2 */
  swap?: number;
  /** deprecated in the kernel: ignored */
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids {
  limit: number;
}

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** e.g. "2MB", "1GB" */
  pageSize: string;
  limit: number;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 interface files, written last (v2 only) */
  unified?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------
// io.containerd.cgroups.v1.Metrics

export interface V1HugetlbStat { usage: number; max: number; failcnt: number; pagesize: string }
export interface V1PidsStat { current: number; limit: number }
export interface V1CPUUsage { total: number; kernel: number; user: number; per_cpu: number[] }
export interface V1Throttle { periods: number; throttled_periods: number; throttled_time: number }
export interface V1CPUStat { usage: V1CPUUsage | null; throttling: V1Throttle | null }
export interface V1MemoryEntry { limit: number; usage: number; max: number; failcnt: number }
export interface V1MemoryStat {
  cache: number; rss: number; rss_huge: number; mapped_file: number; dirty: number; writeback: number;
  pg_pg_in: number; pg_pg_out: number; pg_fault: number; pg_maj_fault: number;
  inactive_anon: number; active_anon: number; inactive_file: number; active_file: number; unevictable: number;
  hierarchical_memory_limit: number; hierarchical_swap_limit: number;
  total_cache: number; total_rss: number; total_rss_huge: number; total_mapped_file: number; total_dirty: number;
  total_writeback: number; total_pg_pg_in: number; total_pg_pg_out: number; total_pg_fault: number;
  total_pg_maj_fault: number; total_inactive_anon: number; total_active_anon: number; total_inactive_file: number;
  total_active_file: number; total_unevictable: number;
  usage: V1MemoryEntry | null; swap: V1MemoryEntry | null; kernel: V1MemoryEntry | null; kernel_tcp: V1MemoryEntry | null;
}
export interface V1MemoryOomControl { oom_kill_disable: number; under_oom: number; oom_kill: number }
export interface V1BlkIOEntry { op: string; device: string; major: number; minor: number; value: number }
export interface V1BlkIOStat {
  io_service_bytes_recursive: V1BlkIOEntry[];
  io_serviced_recursive: V1BlkIOEntry[];
  io_queued_recursive: V1BlkIOEntry[];
  io_service_time_recursive: V1BlkIOEntry[];
  io_wait_time_recursive: V1BlkIOEntry[];
  io_merged_recursive: V1BlkIOEntry[];
  io_time_recursive: V1BlkIOEntry[];
  sectors_recursive: V1BlkIOEntry[];
}
export interface V1RdmaEntry { device: string; hca_handles: number; hca_objects: number }
export interface V1RdmaStat { current: V1RdmaEntry[]; limit: V1RdmaEntry[] }
export interface V1NetworkStat {
  name: string; rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}
export interface V1CgroupStats {
  nr_sleeping: number; nr_running: number; nr_stopped: number; nr_uninterruptible: number; nr_io_wait: number;
}
export interface V1Metrics {
  hugetlb: V1HugetlbStat[];
  pids: V1PidsStat | null;
  cpu: V1CPUStat | null;
  memory: V1MemoryStat | null;
  blkio: V1BlkIOStat | null;
  rdma: V1RdmaStat | null;
  network: V1NetworkStat[];
  cgroup_stats: V1CgroupStats | null;
  memory_oom_control: V1MemoryOomControl | null;
}

// ---------------------------------------------------------------------------------------------------------
// io.containerd.cgroups.v2.Metrics

export interface V2PidsStat { current: number; limit: number }
export interface V2CPUStat {
  usage_usec: number; user_usec: number; system_usec: number; nr_periods: number; nr_throttled: number; throttled_usec: number;
}
export interface V2MemoryStat {
  anon: number; file: number; kernel_stack: number; slab: number; sock: number; shmem: number; file_mapped: number;
  file_dirty: number; file_writeback: number; anon_thp: number; inactive_anon: number; active_anon: number;
  inactive_file: number; active_file: number; unevictable: number; slab_reclaimable: number; slab_unreclaimable: number;
  pgfault: number; pgmajfault: number; workingset_refault: number; workingset_activate: number;
  workingset_nodereclaim: number; pgrefill: number; pgscan: number; pgsteal: number; pgactivate: number;
  pgdeactivate: number; pglazyfree: number; pglazyfreed: number; thp_fault_alloc: number; thp_collapse_alloc: number;
  usage: number; usage_limit: number; swap_usage: number; swap_limit: number;
}
export interface V2MemoryEvents { low: number; high: number; max: number; oom: number; oom_kill: number }
export interface V2RdmaEntry { device: string; hca_handles: number; hca_objects: number }
export interface V2RdmaStat { current: V2RdmaEntry[]; limit: V2RdmaEntry[] }
export interface V2IOEntry { major: number; minor: number; rbytes: number; wbytes: number; rios: number; wios: number }
export interface V2IOStat { usage: V2IOEntry[] }
export interface V2HugeTlbStat { current: number; max: number; pagesize: string }
export interface V2Metrics {
  pids: V2PidsStat | null;
  cpu: V2CPUStat | null;
  memory: V2MemoryStat | null;
  rdma: V2RdmaStat | null;
  io: V2IOStat | null;
  hugetlb: V2HugeTlbStat[];
  memory_events: V2MemoryEvents | null;
}

/** What `stats()` returns: the shim packs `metrics` as an Any of type `io.containerd.cgroups.v<version>.Metrics`. */
export type CgroupMetrics = { version: 1; metrics: V1Metrics } | { version: 2; metrics: V2Metrics };

/** The protobuf full name of the metrics message of a CgroupMetrics (the Any's type URL). */
export function metricsTypeName(m: CgroupMetrics): string {
  return m.version === 1 ? 'io.containerd.cgroups.v1.Metrics' : 'io.containerd.cgroups.v2.Metrics';
}

// ---------------------------------------------------------------------------------------------------------

/** One container's cgroup, in every hierarchy (v1) or in the unified tree (v2). */
export interface CgroupManager {
  readonly layout: CgroupLayout;
  /** the absolute cgroup path inside each hierarchy, e.g. "/berth/default/web1" */
  readonly path: string;
  /** mkdir in every available hierarchy (idempotent), then apply `resources` */
  create(resources?: LinuxResources): Promise<void>;
  /** move a process (all its threads) into the cgroup in every hierarchy */
  addProcess(pid: number): Promise<void>;
  /**
   * The files a single-threaded process (berth-init) writes "0" into to join the cgroup by itself, after
   * `create`: v1 `<dir>/tasks` in every hierarchy, v2 `<dir>/cgroup.procs`. On v1 this moves one thread
   * without the kernel's global threadgroup lock, whose first writer after a quiet spell waits for an RCU
   * grace period (6–30 ms measured here, versus ~0.1 ms); see docs/cgroups.md.
   */
  selfJoinFiles(): string[];
  update(resources: LinuxResources): Promise<void>;
  /** resolves when every process is frozen */
  freeze(): Promise<void>;
  /** resolves when the cgroup is thawed */
  thaw(): Promise<void>;
  frozen(): Promise<boolean>;
  /** every process of the cgroup and of its descendants, sorted */
  pids(): Promise<number[]>;
  stats(): Promise<CgroupMetrics>;
  oomKillCount(): Promise<number>;
  /** signal every process of the cgroup (default SIGKILL); missing processes are fine */
  killAll(signal?: number): Promise<void>;
  /** rmdir in every hierarchy, retrying while processes exit; idempotent */
  destroy(): Promise<void>;
}
