/**
 * The native backend: native/'s in-process runtime (Factory / Container / Process). Its state lives in
 * `<bundle>/native` (one container per shim). The processes it starts are children of the shim and are reaped
 * by native's Reaper.
 */
import path from 'node:path';
import { Factory, resizePty, type Container } from '../../native';
import { metricsTypeName } from '../../native/cgroups/types';
import type { LinuxResources, OciProcess, OciSpec } from '../../native';
import { encodeMessage } from '../../proto/loader';
import { NotFound } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import type { ProcessFds } from '../io/stdio';
import { memoryCgroupOf, readOomKillCount, type MemoryCgroup } from './cgroup-oom';
import type { ContainerRuntime, ExitInfo, KillOptions, OciProcessSpec, RuntimeContext, RuntimeProcess } from './types';

export const NATIVE_STATE_DIR = 'native';

export class NativeRuntime implements ContainerRuntime {
  readonly name = 'native';
  private readonly factory: Factory;
  private container: Container | undefined;
  private memcg: MemoryCgroup | undefined;

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly log: Logger,
  ) {
    this.factory = new Factory({ stateRoot: path.join(ctx.bundle, NATIVE_STATE_DIR), initBinary: process.env.BERTH_INIT_BINARY || undefined });
  }

  private get c(): Container {
    if (!this.container) throw new NotFound('container not created');
    return this.container;
  }

  async create(io: ProcessFds): Promise<RuntimeProcess> {
    const container = await this.factory.create(this.ctx.id, { bundle: this.ctx.bundle, spec: this.ctx.spec as OciSpec });
    this.container = container;
    const p = await container.start(io);
    this.memcg = await memoryCgroupOf(p.pid).catch(() => undefined);
    return { pid: p.pid, terminalMaster: p.terminalMaster, wait: () => p.wait().then(toExitInfo) };
  }

  async start(): Promise<void> {
    await this.c.run();
  }

  async exec(_execId: string, spec: OciProcessSpec, io: ProcessFds): Promise<RuntimeProcess> {
    const p = await this.c.exec(spec as unknown as OciProcess, io);
    return { pid: p.pid, terminalMaster: p.terminalMaster, wait: () => p.wait().then(toExitInfo) };
  }

  async kill(signal: number, opts: KillOptions): Promise<void> {
    await this.c.kill(signal, { all: opts.all });
  }

  async pause(): Promise<void> {
    await this.c.pause();
  }

  async resume(): Promise<void> {
    await this.c.resume();
  }

  async pids(): Promise<number[]> {
    return this.c.processes();
  }

  async stats(): Promise<{ type_url: string; value: Buffer }> {
    const m = await this.c.stats();
    const typeName = metricsTypeName(m);
    return { type_url: typeName, value: encodeMessage(typeName, m.metrics) };
  }

  async update(resources: Record<string, unknown>): Promise<void> {
    await this.c.update(resources as LinuxResources);
  }

  async resizePty(master: number, width: number, height: number): Promise<void> {
    resizePty(master, width, height);
  }

  async oomKillCount(): Promise<number> {
    return this.memcg ? readOomKillCount(this.memcg) : 0;
  }

  async delete(): Promise<void> {
    const c = this.container;
    if (!c) return;
    await c.destroy();
    this.log.debug('native container destroyed');
  }
}

function toExitInfo(s: { exitStatus: number; exitedAt: Date }): ExitInfo {
  return { exitStatus: s.exitStatus, exitedAt: s.exitedAt };
}
