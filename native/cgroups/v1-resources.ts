/**
 * Applies OCI `linux.resources` to a cgroup v1 group, controller by controller, in runc's order (cpuset,
 * devices, memory, cpu, pids, blkio, hugetlb, net_cls, net_prio). Only what the spec sets is written.
 *
 * A limit for a controller the host does not mount is refused (FailedPrecondition), as runc does; two things
 * are skipped with a debug line instead: swap without swap accounting (no memory.memsw.*), and blkio weights
 * when the I/O scheduler has no weight file. `memory.kernel` is ignored (deprecated by the kernel).
 */
import path from 'node:path';
import { FailedPrecondition, InvalidArgument } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import type { V1Controller } from './detect';
import type {
  LinuxBlockIO, LinuxCPU, LinuxDeviceCgroup, LinuxHugepageLimit, LinuxInterfacePriority, LinuxMemory, LinuxResources,
} from './types';
import { errnoOf, exists, readOptional, readUint, writeValue, writeValueSync } from './files';

/** The cgroup's directory in each mounted hierarchy. */
export interface V1Target {
  path: string;
  dirs: Map<V1Controller, string>;
  log: Logger;
}

function need(t: V1Target, controller: V1Controller, what: string): string {
  const dir = t.dirs.get(controller);
  if (!dir) throw new FailedPrecondition(`cgroup ${t.path}: cannot set ${what}: the ${controller} controller is not mounted`);
  return dir;
}

export async function applyV1Resources(t: V1Target, r: LinuxResources): Promise<void> {
  if (r.unified && Object.keys(r.unified).length > 0) {
    throw new InvalidArgument(`cgroup ${t.path}: linux.resources.unified needs cgroup v2, this host uses v1`);
  }
  // Controllers live in different hierarchies: their writes are independent and go out together.
  const cpu = r.cpu;
  const net = r.network;
  await settleAll([
    cpu?.cpus || cpu?.mems ? applyCpuset(t, cpu) : undefined,
    r.devices && r.devices.length > 0 ? applyDevices(t, r.devices) : undefined,
    r.memory ? applyMemory(t, r.memory) : undefined,
    cpu ? applyCpu(t, cpu) : undefined,
    r.pids && r.pids.limit ? applyPids(t, r.pids.limit) : undefined,
    r.blockIO ? applyBlockIO(t, r.blockIO) : undefined,
    r.hugepageLimits && r.hugepageLimits.length > 0 ? applyHugetlb(t, r.hugepageLimits) : undefined,
    net?.classID !== undefined ? applyNetCls(t, net.classID) : undefined,
    (net?.priorities?.length ?? 0) > 0 ? applyNetPrio(t, net!.priorities!) : undefined,
  ]);
  if (r.rdma && Object.keys(r.rdma).length > 0) t.log.debug('rdma limits ignored: not supported');
}

/** Waits for every write to finish, then throws the first error (in list order). */
async function settleAll(work: (Promise<void> | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(work.map((w) => w ?? Promise.resolve()));
  const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
}

async function applyPids(t: V1Target, limit: number): Promise<void> {
  await writeValue(t.path, need(t, 'pids', 'pids.limit'), 'pids.max', limit > 0 ? limit : 'max');
}

async function applyNetCls(t: V1Target, classID: number): Promise<void> {
  await writeValue(t.path, need(t, 'net_cls', 'network.classID'), 'net_cls.classid', classID);
}

async function applyHugetlb(t: V1Target, limits: LinuxHugepageLimit[]): Promise<void> {
  for (const h of limits) {
    const dir = need(t, 'hugetlb', `hugepage limit ${h.pageSize}`);
    const file = `hugetlb.${h.pageSize}.limit_in_bytes`;
    if (!(await exists(path.join(dir, file)))) throw new InvalidArgument(`cgroup ${t.path}: hugepage size ${h.pageSize} not supported by this host`);
    await writeValue(t.path, dir, file, h.limit);
  }
}

async function applyNetPrio(t: V1Target, priorities: LinuxInterfacePriority[]): Promise<void> {
  const dir = need(t, 'net_prio', 'network.priorities');
  for (const p of priorities) await writeValue(t.path, dir, 'net_prio.ifpriomap', `${p.name} ${p.priority}`, true);
}

async function applyCpuset(t: V1Target, cpu: LinuxCPU): Promise<void> {
  const dir = need(t, 'cpuset', 'cpu.cpus/cpu.mems');
  if (cpu.cpus) await writeValue(t.path, dir, 'cpuset.cpus', cpu.cpus);
  if (cpu.mems) await writeValue(t.path, dir, 'cpuset.mems', cpu.mems);
}

/** Device rules in order; each is one line "type major:minor access" to devices.allow or devices.deny. */
export function deviceRule(d: LinuxDeviceCgroup): string {
  const type = d.type && d.type !== '' ? d.type : 'a';
  if (!['a', 'b', 'c'].includes(type)) throw new InvalidArgument(`device rule: invalid type ${JSON.stringify(d.type)}`);
  const num = (n: number | null | undefined): string => (n === undefined || n === null || n < 0 ? '*' : String(n));
  const access = d.access && d.access !== '' ? d.access : 'rwm';
  if (!/^[rwm]{1,3}$/.test(access)) throw new InvalidArgument(`device rule: invalid access ${JSON.stringify(d.access)}`);
  return `${type} ${num(d.major)}:${num(d.minor)} ${access}`;
}

async function applyDevices(t: V1Target, rules: LinuxDeviceCgroup[]): Promise<void> {
  const dir = need(t, 'devices', 'devices');
  for (const d of rules) writeValueSync(t.path, dir, d.allow ? 'devices.allow' : 'devices.deny', deviceRule(d), true);
}

/**
 * The kernel keeps memsw.limit >= limit at every step: when the new memsw limit is at least the current memory
 * limit, it can go first (raising); otherwise the memory limit must be lowered first (runc's order).
 */
export function memoryWriteOrder(currentLimit: number, limit: number, swap: number): 'swap-first' | 'limit-first' {
  if (limit === 0 || swap === 0) return 'limit-first';
  return swap === -1 || currentLimit < swap ? 'swap-first' : 'limit-first';
}

async function applyMemory(t: V1Target, m: LinuxMemory): Promise<void> {
  const wanted = m.limit || m.swap || m.reservation || m.kernelTCP || m.disableOOMKiller ||
    (m.swappiness !== undefined && m.swappiness !== null && m.swappiness !== -1);
  if (m.kernel) t.log.debug('memory.kernel ignored: kernel memory limits are deprecated');
  if (!wanted) return;
  const dir = need(t, 'memory', 'memory limits');
  const limit = m.limit ?? 0;
  let swap = m.swap ?? 0;
  const swapAccounting = await exists(path.join(dir, 'memory.memsw.limit_in_bytes'));
  if (limit === -1 && swap === 0 && swapAccounting) swap = -1;
  if (swap !== 0 && !swapAccounting) {
    t.log.debug('memory.swap ignored: no swap accounting (memory.memsw.limit_in_bytes missing)', { swap });
    swap = 0;
  }
  if (limit > 0 && swap > 0 && swap < limit) {
    throw new InvalidArgument(`cgroup ${t.path}: memory+swap limit ${swap} is below the memory limit ${limit}`);
  }
  let swapFirst = false;
  if (limit !== 0 && swap !== 0) {
    swapFirst = memoryWriteOrder(await readUint(path.join(dir, 'memory.limit_in_bytes')), limit, swap) === 'swap-first';
  }
  const setLimit = (): Promise<void> => (limit !== 0 ? writeValue(t.path, dir, 'memory.limit_in_bytes', limit) : Promise.resolve());
  const setSwap = (): Promise<void> => (swap !== 0 ? writeValue(t.path, dir, 'memory.memsw.limit_in_bytes', swap) : Promise.resolve());
  if (swapFirst) {
    await setSwap();
    await setLimit();
  } else {
    await setLimit();
    await setSwap();
  }
  if (m.reservation) await writeValue(t.path, dir, 'memory.soft_limit_in_bytes', m.reservation);
  if (m.kernelTCP) {
    if (await exists(path.join(dir, 'memory.kmem.tcp.limit_in_bytes'))) await writeValue(t.path, dir, 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP);
    else t.log.debug('memory.kernelTCP ignored: memory.kmem.tcp.limit_in_bytes missing');
  }
  if (m.swappiness !== undefined && m.swappiness !== null && m.swappiness !== -1) {
    if (m.swappiness < 0 || m.swappiness > 100) throw new InvalidArgument(`cgroup ${t.path}: memory.swappiness ${m.swappiness} not in 0..100`);
    await writeValue(t.path, dir, 'memory.swappiness', m.swappiness);
  }
  if (m.disableOOMKiller) await writeValue(t.path, dir, 'memory.oom_control', 1);
}

async function applyCpu(t: V1Target, c: LinuxCPU): Promise<void> {
  const wanted = c.shares || c.quota || c.period || c.burst !== undefined || c.realtimePeriod || c.realtimeRuntime || c.idle !== undefined;
  if (!wanted) return;
  const dir = need(t, 'cpu', 'cpu limits');
  if (c.shares) {
    await writeValue(t.path, dir, 'cpu.shares', c.shares);
    const got = Number(await readOptional(path.join(dir, 'cpu.shares')));
    if (got !== c.shares) throw new InvalidArgument(`cgroup ${t.path}: cpu shares ${c.shares} out of range (the kernel set ${got})`);
  }
  // A smaller period may be refused (EINVAL) while the old quota is in place: retry it after the quota.
  let periodPending = false;
  if (c.period) {
    try {
      await writeValue(t.path, dir, 'cpu.cfs_period_us', c.period);
    } catch (err) {
      if (!(err instanceof InvalidArgument && errnoOf(err.cause) === 'EINVAL' && c.quota)) throw err;
      periodPending = true;
    }
  }
  if (c.quota) {
    await writeValue(t.path, dir, 'cpu.cfs_quota_us', c.quota);
    if (periodPending) await writeValue(t.path, dir, 'cpu.cfs_period_us', c.period!);
  }
  if (c.burst !== undefined && c.burst !== null) await writeValue(t.path, dir, 'cpu.cfs_burst_us', c.burst);
  if (c.realtimePeriod) await writeValue(t.path, dir, 'cpu.rt_period_us', c.realtimePeriod);
  if (c.realtimeRuntime) await writeValue(t.path, dir, 'cpu.rt_runtime_us', c.realtimeRuntime);
  if (c.idle !== undefined && c.idle !== null) await writeValue(t.path, dir, 'cpu.idle', c.idle);
}

async function applyBlockIO(t: V1Target, b: LinuxBlockIO): Promise<void> {
  const throttles: [string, LinuxBlockIO['throttleReadBpsDevice']][] = [
    ['blkio.throttle.read_bps_device', b.throttleReadBpsDevice],
    ['blkio.throttle.write_bps_device', b.throttleWriteBpsDevice],
    ['blkio.throttle.read_iops_device', b.throttleReadIOPSDevice],
    ['blkio.throttle.write_iops_device', b.throttleWriteIOPSDevice],
  ];
  const wanted = b.weight || b.leafWeight || (b.weightDevice?.length ?? 0) > 0 || throttles.some(([, l]) => (l?.length ?? 0) > 0);
  if (!wanted) return;
  const dir = need(t, 'blkio', 'blockIO');
  // BFQ (blkio.bfq.weight) on current kernels, CFQ (blkio.weight) on old ones.
  const bfq = await exists(path.join(dir, 'blkio.bfq.weight'));
  const cfq = !bfq && (await exists(path.join(dir, 'blkio.weight')));
  const weightFile = bfq ? 'blkio.bfq.weight' : cfq ? 'blkio.weight' : undefined;
  const weightDeviceFile = bfq ? 'blkio.bfq.weight_device' : cfq ? 'blkio.weight_device' : undefined;
  if (b.weight) {
    if (weightFile) await writeValue(t.path, dir, weightFile, b.weight);
    else t.log.debug('blockIO.weight ignored: no blkio weight file (I/O scheduler without weights)');
  }
  if (b.leafWeight) {
    if (await exists(path.join(dir, 'blkio.leaf_weight'))) await writeValue(t.path, dir, 'blkio.leaf_weight', b.leafWeight);
    else t.log.debug('blockIO.leafWeight ignored: blkio.leaf_weight missing');
  }
  for (const wd of b.weightDevice ?? []) {
    if (!wd.weight) continue;
    if (weightDeviceFile) await writeValue(t.path, dir, weightDeviceFile, `${wd.major}:${wd.minor} ${wd.weight}`, true);
    else t.log.debug('blockIO.weightDevice ignored: no blkio weight_device file', { major: wd.major, minor: wd.minor });
  }
  for (const [file, list] of throttles) {
    for (const d of list ?? []) await writeValue(t.path, dir, file, `${d.major}:${d.minor} ${d.rate}`, true);
  }
}
