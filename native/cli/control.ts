/**
 * Changing a running container: `pause` / `resume` (the freezer) and `update` (cgroup resources, from an
 * OCI linux.resources JSON file, '-' for stdin, or runc's individual flags).
 */
import fs from 'node:fs';
import { messageOf } from '../../pkg/errdefs';
import type { LinuxResources } from '../runtime/spec-types';
import { CliError, loadContainer, type GlobalOptions } from './context';

export async function pause(g: GlobalOptions, id: string): Promise<void> {
  const c = await loadContainer(g, id);
  const { status } = await c.state();
  if (status !== 'running') throw new CliError('container not running');
  await c.pause();
}

export async function resume(g: GlobalOptions, id: string): Promise<void> {
  const c = await loadContainer(g, id);
  const { status } = await c.state();
  if (status !== 'paused') throw new CliError('container not paused');
  await c.resume();
}

export interface UpdateFlags {
  resources?: string;
  blkioWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: string;
}

export async function update(g: GlobalOptions, id: string, flags: UpdateFlags): Promise<void> {
  const c = await loadContainer(g, id);
  const resources = flags.resources !== undefined ? readResources(flags.resources) : resourcesFromFlags(flags);
  const { status } = await c.state();
  if (status === 'stopped' || status === 'creating') throw new CliError(`cannot update a ${status} container`);
  try {
    await c.update(resources);
  } catch (err) {
    throw new CliError(messageOf(err));
  }
}

function readResources(file: string): LinuxResources {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`open ${file}: ${messageOf(err)}`);
  }
  try {
    const r = JSON.parse(text) as unknown;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error('not a JSON object');
    return r as LinuxResources;
  } catch (err) {
    throw new CliError(`decoding resources: ${messageOf(err)}`);
  }
}

/** "512m", "1g", "1024", "-1" (unlimited) as docker/go-units' RAMInBytes. */
export function ramInBytes(v: string, flag: string): number {
  const m = /^(-?\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(v.trim());
  if (!m) throw new CliError(`invalid value for ${flag}: ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase() as ''];
  return Math.trunc(Number(m[1]) * mult);
}

function int(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new CliError(`invalid value for ${flag}: ${v}`);
  return n;
}

function resourcesFromFlags(f: UpdateFlags): LinuxResources {
  const r: LinuxResources = {};
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (f.cpuShare !== undefined) cpu.shares = int(f.cpuShare, '--cpu-share');
  if (f.cpuQuota !== undefined) cpu.quota = int(f.cpuQuota, '--cpu-quota');
  if (f.cpuPeriod !== undefined) cpu.period = int(f.cpuPeriod, '--cpu-period');
  if (f.cpuRtPeriod !== undefined) cpu.realtimePeriod = int(f.cpuRtPeriod, '--cpu-rt-period');
  if (f.cpuRtRuntime !== undefined) cpu.realtimeRuntime = int(f.cpuRtRuntime, '--cpu-rt-runtime');
  if (f.cpusetCpus !== undefined) cpu.cpus = f.cpusetCpus;
  if (f.cpusetMems !== undefined) cpu.mems = f.cpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (f.memory !== undefined) memory.limit = ramInBytes(f.memory, '--memory');
  if (f.memoryReservation !== undefined) memory.reservation = ramInBytes(f.memoryReservation, '--memory-reservation');
  if (f.memorySwap !== undefined) memory.swap = ramInBytes(f.memorySwap, '--memory-swap');
  if (Object.keys(memory).length) r.memory = memory;
  if (f.pidsLimit !== undefined) r.pids = { limit: int(f.pidsLimit, '--pids-limit') };
  if (f.blkioWeight !== undefined) r.blockIO = { weight: int(f.blkioWeight, '--blkio-weight') };
  return r;
}
