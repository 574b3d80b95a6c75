/**
 * Applies OCI `linux.resources` to a cgroup v2 group, converting v1-style values as runc does:
 * memory.swap (memory+swap in OCI) → memory.swap.max = swap − limit; cpu.shares → cpu.weight (runc ≥ 1.3's
 * curve: 2 → 1, 1024 → 100, 262144 → 10000); quota/period → cpu.max "quota period"; blkio weight → io.bfq.weight,
 * else io.weight (10..1000 → 1..10000); throttles → io.max; hugepage limits → hugetlb.<size>.max;
 * `unified` key/values are written last, as given.
 *
 * A limit for a controller not enabled for the group (not in its cgroup.controllers) is refused
 * (FailedPrecondition). Ignored with a debug line: devices (v2 filters devices with eBPF, not files),
 * memory.swappiness, memory.disableOOMKiller, memory.kernel/kernelTCP, cpu realtime, network.
 */
import path from 'node:path';
import { FailedPrecondition, InvalidArgument } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import type { LinuxBlockIO, LinuxCPU, LinuxMemory, LinuxResources } from './types';
import { exists, readOptional, writeValue } from './files';

export interface V2Target {
  path: string;
  dir: string;
  log: Logger;
}

/** 0 = unset (""), -1 = "max", else the number. */
function numToStr(n: number | undefined | null): string {
  if (!n) return '';
  return n === -1 ? 'max' : String(n);
}

/** OCI memory.swap (memory+swap) → cgroup v2 memory.swap.max (swap only); 0 = unset, -1 = max. */
export function swapToV2(swap: number, limit: number): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === 0 || limit === -1) throw new InvalidArgument('memory.swap: a swap limit needs a memory limit');
  if (swap < limit) throw new InvalidArgument(`memory.swap: memory+swap limit ${swap} is below the memory limit ${limit}`);
  return swap - limit;
}

/** cpu.shares (2..262144) → cpu.weight (1..10000), with 1024 → 100. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  return Math.ceil(Math.pow(10, (l * l + 125 * l) / 612 - 7 / 34));
}

/** blkio weight (10..1000) → io.weight (1..10000). */
export function blkioWeightToIoWeight(w: number): number {
  return w === 0 ? 0 : 1 + Math.floor(((w - 10) * 9999) / 990);
}

export async function applyV2Resources(t: V2Target, r: LinuxResources): Promise<void> {
  const available = new Set(((await readOptional(path.join(t.dir, 'cgroup.controllers'))) ?? '').split(/\s+/).filter((s) => s));
  const need = (controller: string, what: string): void => {
    if (!available.has(controller)) {
      throw new FailedPrecondition(`cgroup ${t.path}: cannot set ${what}: the ${controller} controller is not enabled (available: ${[...available].join(' ') || 'none'})`);
    }
  };
  if (r.devices && r.devices.length > 0) t.log.debug('devices ignored: cgroup v2 device rules need eBPF', { rules: r.devices.length });
  if (r.cpu?.cpus || r.cpu?.mems) {
    need('cpuset', 'cpu.cpus/cpu.mems');
    if (r.cpu.cpus) await writeValue(t.path, t.dir, 'cpuset.cpus', r.cpu.cpus);
    if (r.cpu.mems) await writeValue(t.path, t.dir, 'cpuset.mems', r.cpu.mems);
  }
  if (r.memory) await applyMemory(t, r.memory, need);
  if (r.cpu) await applyCpu(t, r.cpu, need);
  if (r.pids && r.pids.limit) {
    need('pids', 'pids.limit');
    await writeValue(t.path, t.dir, 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
  }
  if (r.blockIO) await applyIo(t, r.blockIO, need);
  for (const h of r.hugepageLimits ?? []) {
    need('hugetlb', `hugepage limit ${h.pageSize}`);
    const file = `hugetlb.${h.pageSize}.max`;
    if (!(await exists(path.join(t.dir, file)))) throw new InvalidArgument(`cgroup ${t.path}: hugepage size ${h.pageSize} not supported by this host`);
    await writeValue(t.path, t.dir, file, h.limit);
  }
  if (r.network && (r.network.classID !== undefined || (r.network.priorities?.length ?? 0) > 0)) {
    t.log.debug('network classID/priorities ignored: no net_cls/net_prio in cgroup v2');
  }
  for (const [device, l] of Object.entries(r.rdma ?? {})) {
    need('rdma', 'rdma limits');
    const parts = [device];
    if (l.hcaHandles !== undefined) parts.push(`hca_handle=${l.hcaHandles}`);
    if (l.hcaObjects !== undefined) parts.push(`hca_object=${l.hcaObjects}`);
    await writeValue(t.path, t.dir, 'rdma.max', parts.join(' '));
  }
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    if (!/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/.test(key)) throw new InvalidArgument(`cgroup ${t.path}: unified key ${JSON.stringify(key)} is not a cgroup interface file name`);
    await writeValue(t.path, t.dir, key, value);
  }
}

async function applyMemory(t: V2Target, m: LinuxMemory, need: (c: string, what: string) => void): Promise<void> {
  if (m.swappiness !== undefined && m.swappiness !== null && m.swappiness !== -1) t.log.debug('memory.swappiness ignored on cgroup v2');
  if (m.disableOOMKiller) t.log.debug('memory.disableOOMKiller ignored on cgroup v2');
  if (m.kernel || m.kernelTCP) t.log.debug('memory.kernel/kernelTCP ignored on cgroup v2');
  const limit = m.limit ?? 0;
  const swap = m.swap ?? 0;
  if (!limit && !swap && !m.reservation) return;
  need('memory', 'memory limits');
  const swapMax = swapToV2(swap, limit);
  let swapStr = numToStr(swapMax);
  if (swapStr === '' && swapMax === 0 && swap > 0) swapStr = '0'; // swap == limit: no swap at all
  if (swapStr !== '') {
    if (await exists(path.join(t.dir, 'memory.swap.max'))) await writeValue(t.path, t.dir, 'memory.swap.max', swapStr);
    else t.log.debug('memory.swap ignored: no swap accounting (memory.swap.max missing)', { swap });
  }
  if (limit) await writeValue(t.path, t.dir, 'memory.max', numToStr(limit));
  if (m.reservation) await writeValue(t.path, t.dir, 'memory.low', numToStr(m.reservation));
}

async function applyCpu(t: V2Target, c: LinuxCPU, need: (c: string, what: string) => void): Promise<void> {
  if (c.realtimePeriod || c.realtimeRuntime) t.log.debug('cpu realtime limits ignored: not supported by cgroup v2');
  const wanted = c.shares || c.quota || c.period || (c.burst !== undefined && c.burst !== null) || (c.idle !== undefined && c.idle !== null);
  if (!wanted) return;
  need('cpu', 'cpu limits');
  if (c.shares) await writeValue(t.path, t.dir, 'cpu.weight', sharesToWeight(c.shares));
  if (c.quota || c.period) {
    // "quota period"; quota alone keeps the period; a period alone keeps the quota in place.
    let quota = c.quota ? (c.quota > 0 ? String(c.quota) : 'max') : undefined;
    if (quota === undefined) quota = ((await readOptional(path.join(t.dir, 'cpu.max'))) ?? 'max').split(/\s+/)[0] || 'max';
    await writeValue(t.path, t.dir, 'cpu.max', c.period ? `${quota} ${c.period}` : quota);
  }
  if (c.burst !== undefined && c.burst !== null) await writeValue(t.path, t.dir, 'cpu.max.burst', c.burst);
  if (c.idle !== undefined && c.idle !== null) await writeValue(t.path, t.dir, 'cpu.idle', c.idle);
}

async function applyIo(t: V2Target, b: LinuxBlockIO, need: (c: string, what: string) => void): Promise<void> {
  const throttles: [string, LinuxBlockIO['throttleReadBpsDevice']][] = [
    ['rbps', b.throttleReadBpsDevice], ['wbps', b.throttleWriteBpsDevice],
    ['riops', b.throttleReadIOPSDevice], ['wiops', b.throttleWriteIOPSDevice],
  ];
  const wanted = b.weight || (b.weightDevice?.length ?? 0) > 0 || throttles.some(([, l]) => (l?.length ?? 0) > 0);
  if (!wanted) return;
  need('io', 'blockIO');
  if (b.leafWeight) t.log.debug('blockIO.leafWeight ignored on cgroup v2');
  const bfq = await exists(path.join(t.dir, 'io.bfq.weight'));
  if (b.weight) {
    if (bfq) await writeValue(t.path, t.dir, 'io.bfq.weight', b.weight);
    else await writeIoWeight(t, String(blkioWeightToIoWeight(b.weight)));
  }
  for (const wd of b.weightDevice ?? []) {
    if (!wd.weight) continue;
    if (bfq) await writeValue(t.path, t.dir, 'io.bfq.weight', `${wd.major}:${wd.minor} ${wd.weight}`);
    else await writeIoWeight(t, `${wd.major}:${wd.minor} ${blkioWeightToIoWeight(wd.weight)}`);
  }
  for (const [key, list] of throttles) {
    for (const d of list ?? []) await writeValue(t.path, t.dir, 'io.max', `${d.major}:${d.minor} ${key}=${d.rate}`);
  }
}

async function writeIoWeight(t: V2Target, value: string): Promise<void> {
  // io.weight exists only with an I/O scheduler that has weights: "where the host has it".
  if (await exists(path.join(t.dir, 'io.weight'))) await writeValue(t.path, t.dir, 'io.weight', value);
  else t.log.debug('blockIO weight ignored: no io.weight', { value });
}
