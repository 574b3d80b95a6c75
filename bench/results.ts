/**
 * The benchmark's results document (bench/results/latest.json) and the machine it ran on. The table, the
 * docs page and the chart are all derived from this one object.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { SideName } from './daemons';
import type { FloorResult } from './floor';
import type { ScaleResult } from './scale';
import type { BurstResult, EventResult, LifecycleResult, ListResult, MemoryResult, Outcome, PerSide, RestartResult } from './metrics';

export interface BenchOptions {
  iterations: number;
  warmups: number;
  burst: number;
  burstRounds: number;
  idle: number;
  /** Containers per shim group in the grouped memory figure. */
  groupSize: number;
  listMs: number;
  settleMs: number;
  restartTasks: number;
  /** Idle containers of the scale phase (bench/scale.ts); 0: skipped. Optional: older results lack it. */
  scale?: number;
  eventSamples: number;
  skipRestart: boolean;
  quick: boolean;
  only: SideName | undefined;
}

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  containerd: string;
  runc: string;
  /** /proc/loadavg 1, 5, 15 minutes when the run started (other work on the machine skews every figure). */
  loadAverage: number[];
}

export interface BenchResults {
  schema: 1;
  command: string;
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  machine: Machine;
  sides: SideName[];
  /** Why a side could not run at all (daemon did not start); its measurements then carry the same error. */
  sideErrors: Partial<Record<SideName, string>>;
  lifecycle: PerSide<LifecycleResult>;
  burst: PerSide<BurstResult>;
  exitEvent: PerSide<EventResult>;
  memory: PerSide<MemoryResult>;
  /** The same idle sleepers in shim groups of `options.groupSize` (label io.containerd.runc.v2.group). */
  memoryGrouped: PerSide<MemoryResult>;
  /** berth only, not per side: idle node processes with the shim's flags, bare and with a grpc-js server (bench/floor.ts). */
  memoryFloor?: Outcome<FloorResult>;
  list: PerSide<ListResult>;
  restart: PerSide<RestartResult>;
  /** `options.scale` idle containers per side, one side at a time (bench/scale.ts); absent when skipped. */
  scale?: PerSide<ScaleResult>;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return 'not installed';
  }
}

export function describeMachine(): Machine {
  let osName = 'unknown';
  try {
    osName = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {
    /* keep unknown */
  }
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    os: osName,
    node: process.version,
    containerd: firstLine('containerd', ['--version']),
    runc: firstLine('runc', ['--version']),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function writeResults(file: string, results: BenchResults): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
}
