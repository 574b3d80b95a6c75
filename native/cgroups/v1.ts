/**
 * The cgroup v1 manager: one directory per mounted hierarchy (`<root>/<controller><path>`), co-mounted
 * controllers sharing one. The `name=systemd` hierarchy is joined like the others (as runc does) but never
 * limited. Controllers the host does not mount are skipped when creating; limits for them are refused.
 *
 * cpuset: a new cpuset cgroup starts with empty cpuset.cpus/mems, and a process cannot join it until they are
 * set, so every level created below the mount copies them from its parent when empty (runc's ensureParent).
 *
 * freezer: write FROZEN to freezer.state and poll until it reads FROZEN (it reads FREEZING meanwhile; the
 * write is repeated now and then, as tasks that join mid-freeze may need it); THAWED likewise.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Cleanup } from '../../pkg/cleanup';
import { FailedPrecondition, Internal } from '../../pkg/errdefs';
import { BaseCgroup, DESTROY_TIMEOUT_MS, FREEZE_TIMEOUT_MS } from './base';
import type { V1Controller, V1Hierarchy } from './detect';
import type { CgroupMetrics, LinuxResources } from './types';
import { collectPids, errnoOf, readKeyValues, readOptional, removeCgroupTree, waitUntil, writeValue } from './files';
import { applyV1Resources } from './v1-resources';
import { v1Stats } from './v1-stats';

/** Where pids() reads cgroup.procs, first mounted wins (every hierarchy holds every process of the group). */
const PIDS_SOURCE: V1Controller[] = ['pids', 'freezer', 'memory', 'cpu', 'cpuacct', 'devices', 'blkio', 'cpuset', 'systemd'];

export class V1Cgroup extends BaseCgroup {
  readonly layout = 'v1' as const;
  /** controller → this cgroup's directory in its hierarchy */
  private readonly dirs = new Map<V1Controller, string>();
  /** each hierarchy's directory once (co-mounted controllers share one) */
  private readonly uniqueDirs: string[];

  constructor(root: string, cgPath: string, hierarchies: Map<V1Controller, V1Hierarchy>) {
    super(root, cgPath);
    const seen = new Set<string>();
    const unique: string[] = [];
    for (const [c, h] of hierarchies) {
      const dir = path.join(h.mount, cgPath);
      this.dirs.set(c, dir);
      if (!seen.has(dir)) {
        seen.add(dir);
        unique.push(dir);
      }
    }
    this.uniqueDirs = unique;
  }

  /** The cgroup's directory for one controller (undefined when the host does not mount it). */
  dirOf(controller: V1Controller): string | undefined {
    return this.dirs.get(controller);
  }

  async create(resources?: LinuxResources): Promise<void> {
    const undo = new Cleanup();
    try {
      // One hierarchy after the other, synchronously (cgroupfs answers at once: see files.ts); undo what was
      // made if any fails.
      const cpusetDir = this.dirs.get('cpuset');
      for (const dir of this.uniqueDirs) {
        if (await (dir === cpusetDir ? this.makeCpusetDir(dir) : this.makeDir(dir))) undo.push(() => fs.rmdirSync(dir));
      }
      if (resources) await this.update(resources);
      undo.release();
    } finally {
      await undo.run();
    }
  }

  /** mkdir, making missing parents; true when `dir` itself was made. */
  private async makeDir(dir: string): Promise<boolean> {
    try {
      fs.mkdirSync(dir);
      return true;
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') return false;
      if (errnoOf(err) !== 'ENOENT') throw new Internal(`cgroup ${this.path}: mkdir ${dir}: ${(err as Error).message}`, { cause: err });
    }
    await this.makeDir(path.dirname(dir));
    return this.makeDir(dir);
  }

  /**
   * The cpuset directory: each level below the mount gets cpuset.cpus/mems from its parent when empty (a new
   * cpuset cgroup starts empty, and no process can join it then). True when the leaf itself was made.
   */
  private async makeCpusetDir(leaf: string): Promise<boolean> {
    let made = false;
    try {
      fs.mkdirSync(leaf); // the common case: the parent exists and has its cpus/mems
      made = true;
      if (await this.inheritCpuset(path.dirname(leaf), leaf)) return true;
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') return false;
      if (errnoOf(err) !== 'ENOENT') throw new Internal(`cgroup ${this.path}: mkdir ${leaf}: ${(err as Error).message}`, { cause: err });
    }
    // Level by level from the mount, filling every empty level on the way (runc's ensureParent).
    let parent = leaf.slice(0, leaf.length - this.path.length);
    for (const part of this.path.split('/').filter((s) => s !== '')) {
      const dir = path.join(parent, part);
      if ((await this.makeDir(dir)) && dir === leaf) made = true;
      await this.inheritCpuset(parent, dir);
      parent = dir;
    }
    return made;
  }

  /** Copies cpuset.cpus/mems from `parent` into `dir` where empty; false when `parent` had none to give. */
  private async inheritCpuset(parent: string, dir: string): Promise<boolean> {
    const copied = await Promise.all(
      ['cpuset.cpus', 'cpuset.mems'].map(async (file) => {
        const current = (await readOptional(path.join(dir, file))) ?? '';
        if (current !== '') return true;
        const inherited = (await readOptional(path.join(parent, file))) ?? '';
        if (inherited === '') return false;
        await writeValue(this.path, dir, file, inherited);
        return true;
      }),
    );
    return copied.every((c) => c);
  }

  async addProcess(pid: number): Promise<void> {
    await Promise.all(this.uniqueDirs.map((dir) => writeValue(this.path, dir, 'cgroup.procs', pid)));
  }

  selfJoinFiles(): string[] {
    return this.uniqueDirs.map((dir) => path.join(dir, 'tasks'));
  }

  async update(resources: LinuxResources): Promise<void> {
    await applyV1Resources({ path: this.path, dirs: this.dirs, log: this.log }, resources);
  }

  private freezerDir(): string {
    const dir = this.dirs.get('freezer');
    if (!dir) throw new FailedPrecondition(`cgroup ${this.path}: the freezer controller is not mounted`);
    return dir;
  }

  private async freezerState(): Promise<string | undefined> {
    const dir = this.dirs.get('freezer');
    return dir ? readOptional(path.join(dir, 'freezer.state')) : undefined;
  }

  protected async freezerStatus(): Promise<'unsupported' | 'frozen' | 'thawed'> {
    const state = await this.freezerState();
    return state === undefined ? 'unsupported' : state === 'FROZEN' ? 'frozen' : 'thawed';
  }

  async freeze(): Promise<void> {
    await this.freezeWithin(FREEZE_TIMEOUT_MS);
  }

  protected async freezeWithin(timeoutMs: number): Promise<void> {
    const dir = this.freezerDir();
    await writeValue(this.path, dir, 'freezer.state', 'FROZEN');
    try {
      await waitUntil(`cgroup ${this.path}: freeze`, async () => (await this.freezerState()) === 'FROZEN', timeoutMs, async (attempt) => {
        if (attempt % 25 === 0) await writeValue(this.path, dir, 'freezer.state', 'FROZEN');
      });
    } catch (err) {
      await writeValue(this.path, dir, 'freezer.state', 'THAWED').catch(() => undefined);
      throw err;
    }
  }

  async thaw(): Promise<void> {
    const dir = this.freezerDir();
    await writeValue(this.path, dir, 'freezer.state', 'THAWED');
    await waitUntil(`cgroup ${this.path}: thaw`, async () => (await this.freezerState()) === 'THAWED', FREEZE_TIMEOUT_MS, async (attempt) => {
      if (attempt % 25 === 0) await writeValue(this.path, dir, 'freezer.state', 'THAWED');
    });
  }

  async frozen(): Promise<boolean> {
    return (await this.freezerState()) === 'FROZEN';
  }

  async pids(): Promise<number[]> {
    for (const c of PIDS_SOURCE) {
      const dir = this.dirs.get(c);
      if (dir) return collectPids(dir);
    }
    return this.uniqueDirs.length > 0 ? collectPids(this.uniqueDirs[0]!) : [];
  }

  async stats(): Promise<CgroupMetrics> {
    return { version: 1, metrics: await v1Stats(this.dirs) };
  }

  async oomKillCount(): Promise<number> {
    const dir = this.dirs.get('memory');
    if (!dir) return 0;
    return (await readKeyValues(path.join(dir, 'memory.oom_control'))).get('oom_kill') ?? 0;
  }

  async destroy(): Promise<void> {
    const deadline = Date.now() + DESTROY_TIMEOUT_MS;
    const results = await Promise.allSettled(this.uniqueDirs.map((dir) => removeCgroupTree(this.path, dir, deadline)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
