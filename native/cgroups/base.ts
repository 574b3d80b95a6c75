/**
 * What v1 and v2 managers share: signalling every process of the cgroup under the freezer, and the timings.
 *
 * killAll freezes the cgroup first (when it can), so no process forks a child the signal would miss, sends
 * the signal to every pid, then thaws — unless the cgroup was already frozen (a paused container keeps its
 * pending signals until resumed), except for SIGKILL, which always thaws so the processes can die.
 */
import { getLogger, type Logger } from '../../pkg/log';
import type { CgroupLayout, CgroupManager, CgroupMetrics, LinuxResources } from './types';
import { signalPids } from './files';

export const SIGKILL = 9;
/** How long freeze()/thaw() wait for the kernel to report the new state. */
export const FREEZE_TIMEOUT_MS = 10_000;
/** killAll's freeze is best effort: after this it signals without the freezer. */
export const KILL_FREEZE_TIMEOUT_MS = 2_000;
/** How long destroy() retries rmdir while processes exit. */
export const DESTROY_TIMEOUT_MS = 5_000;

export abstract class BaseCgroup implements CgroupManager {
  abstract readonly layout: CgroupLayout;
  protected readonly log: Logger;

  constructor(readonly root: string, readonly path: string) {
    this.log = getLogger('cgroups').child({ cgroup: path, root });
  }

  abstract create(resources?: LinuxResources): Promise<void>;
  abstract addProcess(pid: number): Promise<void>;
  abstract selfJoinFiles(): string[];
  abstract update(resources: LinuxResources): Promise<void>;
  abstract freeze(): Promise<void>;
  abstract thaw(): Promise<void>;
  abstract frozen(): Promise<boolean>;
  abstract pids(): Promise<number[]>;
  abstract stats(): Promise<CgroupMetrics>;
  abstract oomKillCount(): Promise<number>;
  abstract destroy(): Promise<void>;

  /** The freezer's state, or 'unsupported' when the cgroup is missing or has no freezer. */
  protected abstract freezerStatus(): Promise<'unsupported' | 'frozen' | 'thawed'>;
  /** freeze() with a shorter deadline (thaws again on timeout). */
  protected abstract freezeWithin(timeoutMs: number): Promise<void>;

  async killAll(signal: number = SIGKILL): Promise<void> {
    const status = await this.freezerStatus();
    if (status === 'unsupported') {
      signalPids(await this.pids(), signal);
      return;
    }
    const wasFrozen = status === 'frozen';
    let froze = false;
    if (!wasFrozen) {
      try {
        await this.freezeWithin(KILL_FREEZE_TIMEOUT_MS);
        froze = true;
      } catch (err) {
        this.log.debug('killAll: freeze failed, signalling without the freezer', { error: (err as Error).message });
      }
    }
    try {
      signalPids(await this.pids(), signal);
    } finally {
      if (froze || (wasFrozen && signal === SIGKILL)) await this.thaw();
    }
  }
}
