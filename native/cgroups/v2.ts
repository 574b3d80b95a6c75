/**
 * The cgroup v2 manager: one directory `<root><path>` in the unified tree.
 *
 * create: mkdir level by level; every level above the leaf (the root included) gets the root's available
 * controllers enabled in its cgroup.subtree_control ("+cpu +memory ..." in one write, else one by one, failures
 * ignored as runc does: a limit for a controller that could not be enabled fails later, naming it).
 *
 * freezer: write 1/0 to cgroup.freeze, then poll cgroup.events until "frozen 1"/"frozen 0".
 * killAll(SIGKILL) uses cgroup.kill when the kernel has it (5.14+): one atomic write, no freezer dance.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Cleanup } from '../../pkg/cleanup';
import { Internal } from '../../pkg/errdefs';
import { BaseCgroup, DESTROY_TIMEOUT_MS, FREEZE_TIMEOUT_MS, SIGKILL } from './base';
import type { CgroupMetrics, LinuxResources } from './types';
import { collectPids, errnoOf, exists, readKeyValues, readOptional, removeCgroupTree, waitUntil, writeValue } from './files';
import { applyV2Resources } from './v2-resources';
import { v2Stats } from './v2-stats';

export class V2Cgroup extends BaseCgroup {
  readonly layout = 'v2' as const;
  /** this cgroup's directory */
  readonly dir: string;

  constructor(root: string, cgPath: string) {
    super(root, cgPath);
    this.dir = path.join(root, cgPath);
  }

  async create(resources?: LinuxResources): Promise<void> {
    const undo = new Cleanup();
    try {
      const controllers = ((await readOptional(path.join(this.root, 'cgroup.controllers'))) ?? '').split(/\s+/).filter((s) => s);
      const parts = this.path.split('/').filter((s) => s !== '');
      let current = this.root;
      for (const part of parts) {
        await this.enableControllers(current, controllers);
        current = path.join(current, part);
        try {
          fs.mkdirSync(current); // synchronous: cgroupfs answers at once (files.ts)
          const created = current;
          undo.push(() => fs.rmdirSync(created));
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST') throw new Internal(`cgroup ${this.path}: mkdir ${current}: ${(err as Error).message}`, { cause: err });
        }
      }
      if (resources) await this.update(resources);
      undo.release();
    } finally {
      await undo.run();
    }
  }

  /** Enables `controllers` for the children of `dir` (those already enabled are left alone). */
  private async enableControllers(dir: string, controllers: string[]): Promise<void> {
    const enabled = new Set(((await readOptional(path.join(dir, 'cgroup.subtree_control'))) ?? '').split(/\s+/));
    const missing = controllers.filter((c) => !enabled.has(c));
    if (missing.length === 0) return;
    try {
      await writeValue(this.path, dir, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
    } catch {
      for (const c of missing) {
        await writeValue(this.path, dir, 'cgroup.subtree_control', `+${c}`).catch((err: Error) =>
          this.log.debug('could not enable controller', { dir, controller: c, error: err.message }),
        );
      }
    }
  }

  async addProcess(pid: number): Promise<void> {
    await writeValue(this.path, this.dir, 'cgroup.procs', pid);
  }

  selfJoinFiles(): string[] {
    return [path.join(this.dir, 'cgroup.procs')];
  }

  async update(resources: LinuxResources): Promise<void> {
    await applyV2Resources({ path: this.path, dir: this.dir, log: this.log }, resources);
  }

  protected async freezerStatus(): Promise<'unsupported' | 'frozen' | 'thawed'> {
    // cgroup.events has a "frozen" line when the kernel has the v2 freezer (5.2+) and the cgroup exists.
    const frozen = (await readKeyValues(path.join(this.dir, 'cgroup.events'))).get('frozen');
    return frozen === undefined ? 'unsupported' : frozen === 1 ? 'frozen' : 'thawed';
  }

  async freeze(): Promise<void> {
    await this.freezeWithin(FREEZE_TIMEOUT_MS);
  }

  protected async freezeWithin(timeoutMs: number): Promise<void> {
    await writeValue(this.path, this.dir, 'cgroup.freeze', 1);
    try {
      await waitUntil(`cgroup ${this.path}: freeze`, () => this.frozen(), timeoutMs);
    } catch (err) {
      await writeValue(this.path, this.dir, 'cgroup.freeze', 0).catch(() => undefined);
      throw err;
    }
  }

  async thaw(): Promise<void> {
    await writeValue(this.path, this.dir, 'cgroup.freeze', 0);
    await waitUntil(`cgroup ${this.path}: thaw`, async () => !(await this.frozen()), FREEZE_TIMEOUT_MS);
  }

  async frozen(): Promise<boolean> {
    return (await readKeyValues(path.join(this.dir, 'cgroup.events'))).get('frozen') === 1;
  }

  async pids(): Promise<number[]> {
    return collectPids(this.dir);
  }

  async stats(): Promise<CgroupMetrics> {
    return { version: 2, metrics: await v2Stats(this.dir) };
  }

  async oomKillCount(): Promise<number> {
    return (await readKeyValues(path.join(this.dir, 'memory.events'))).get('oom_kill') ?? 0;
  }

  override async killAll(signal: number = SIGKILL): Promise<void> {
    if (signal === SIGKILL && (await exists(path.join(this.dir, 'cgroup.kill')))) {
      await writeValue(this.path, this.dir, 'cgroup.kill', 1);
      return;
    }
    await super.killAll(signal);
  }

  async destroy(): Promise<void> {
    await removeCgroupTree(this.path, this.dir, Date.now() + DESTROY_TIMEOUT_MS);
  }
}
