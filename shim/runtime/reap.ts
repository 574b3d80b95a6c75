/**
 * Exit statuses of the processes the shim's runtimes start, from native's Reaper (the shim is their child
 * subreaper; the Reaper waits only for watched pids, so execa's own children are left to libuv).
 */
import { Reaper } from '../../native/runtime/reaper';
import type { ExitInfo } from './types';

/** Makes the shim a child subreaper now (before any container process exists). */
export function becomeSubreaper(): void {
  Reaper.get();
}

export async function watchPid(pid: number): Promise<ExitInfo> {
  const s = await Reaper.get().watch(pid);
  return { exitStatus: s.exitStatus, exitedAt: s.exitedAt };
}

/** Drops a collected status once nobody will ask for it again (Delete). */
export function forgetPid(pid: number): void {
  if (pid > 0) Reaper.get().forget(pid);
}
