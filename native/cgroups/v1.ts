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
import fs from 'node:fs/promises';
import path from 'node:path';
import { Cleanup } from '../../pkg/cleanup';
import { FailedPrecondition, Internal } from '../../pkg/errdefs';
import { BaseCgroup, DESTROY_TIMEOUT_MS, FREEZE_TIMEOUT_MS } from './base';
import type { V1Controller, V1Hierarchy } from './detect';
import type { CgroupMetrics, LinuxResources } from './types';
import { collectPids, exists, readKeyValues, readOptional, removeCgroupTree, waitUntil, writeValue } from './files';
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
      const cpusetDir = this.dirs.get('cpuset');
      for (const dir of this.uniqueDirs) {
        const existed = await exists(dir);
        if (dir === cpusetDir) await this.makeCpusetDirs(dir);
        else await this.mkdir(dir);
        if (!existed) undo.push(() => fs.rmdir(dir));
      }
      if (resources) await this.update(resources);
      undo.release();
    } finally {
      await undo.run();
    }
  }

  private async mkdir(dir: string): Promise<void> {
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new Internal(`cgroup ${this.path}: mkdir ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** mkdir each level below the cpuset mount, copying cpuset.cpus/mems from the parent when empty. */
  private async makeCpusetDirs(leaf: string): Promise<void> {
    const mount = leaf.slice(0, leaf.length - this.path.length);
    let parent = mount;
    for (const part of this.path.split('/').filter((s) => s !== '')) {
      const dir = path.join(parent, part);
      await this.mkdir(dir);
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        const current = (await readOptional(path.join(dir, file))) ?? '';
        if (current !== '') continue;
        const inherited = (await readOptional(path.join(parent, file))) ?? '';
        if (inherited !== '') await writeValue(this.path, dir, file, inherited);
      }
      parent = dir;
    }
  }

  async addProcess(pid: number): Promise<void> {
    for (const dir of this.uniqueDirs) await writeValue(this.path, dir, 'cgroup.procs', pid);
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

  protected async canFreeze(): Promise<boolean> {
    return (await this.freezerState()) !== undefined;
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
    const errors: unknown[] = [];
    for (const dir of this.uniqueDirs) {
      try {
        await removeCgroupTree(this.path, dir, deadline);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}
