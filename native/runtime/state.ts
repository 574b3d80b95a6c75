/**
 * A container's persisted state: `<stateRoot>/<id>/state.json`, written atomically (temp file + rename), so
 * another process can load the container by id. The directory also holds the exec FIFO (start barrier).
 *
 * The init's pid is stored with its start time (field 22 of /proc/<pid>/stat): a pid whose start time no
 * longer matches belongs to another process, and the container is stopped.
 */
import fs from 'node:fs/promises';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Internal, NotFound, messageOf } from '../../pkg/errdefs';
import type { OciSpec } from './spec-types';

export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface PersistedState {
  version: 1;
  id: string;
  bundle: string;
  rootfs: string;
  status: ContainerStatus;
  pid: number;
  /** start time of pid in clock ticks since boot (0 when no process) */
  pidStartTime: number;
  created: string;
  annotations: Record<string, string>;
  cgroupsPath: string;
  cgroupRoot: string;
  spec: OciSpec;
}

export const STATE_FILE = 'state.json';
export const EXEC_FIFO = 'exec.fifo';

export function containerDir(stateRoot: string, id: string): string {
  return path.join(stateRoot, id);
}

/** Synchronous on purpose: a small file on the state root (a tmpfs such as /run in production) costs less
 * than the thread-pool round trips of the asynchronous calls. */
export async function writeState(dir: string, state: PersistedState): Promise<void> {
  const tmp = path.join(dir, `.${STATE_FILE}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  renameSync(tmp, path.join(dir, STATE_FILE));
}

export async function readState(dir: string, id: string): Promise<PersistedState> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(`container ${id}: not found`);
    throw new Internal(`container ${id}: read state: ${messageOf(err)}`, { cause: err });
  }
  try {
    return JSON.parse(text) as PersistedState;
  } catch (err) {
    throw new Internal(`container ${id}: corrupt state file: ${messageOf(err)}`, { cause: err });
  }
}

/** Start time of pid (clock ticks since boot), or undefined when it does not exist or is a zombie. */
export function pidStartTime(pid: number): number | undefined {
  if (pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** True when the recorded process still runs (same pid, same start time, not a zombie). */
export function processAlive(pid: number, startTime: number): boolean {
  const st = pidStartTime(pid);
  return st !== undefined && (startTime === 0 || st === startTime);
}
