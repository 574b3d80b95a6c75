/**
 * Pre-started shims (config `[shim] prestart = N`): a node process plus grpc-js takes hundreds of
 * milliseconds to start, so berthd keeps N shims started, serving and waiting for work. Tasks.Create takes
 * one, ties it to the task with `Bind{id, namespace, bundle}` (shim.proto step 2) and moves its records
 * into the bundle; the pool refills in the background. With an empty pool, Create spawns a shim itself.
 *
 * An idle shim lives in `<state>/pool/<name>/` (address, shim.pid, shim.starttime, shim.log), its socket
 * in `<state>/s/` like every shim. Idle shims serve no task: berthd kills them when it stops, and kills
 * the ones a previous berthd left (recorded under pool/) when it starts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { messageOf } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import { ShimClient } from './client';
import { BUNDLE_FILES, type StateLayout } from './layout';
import { isProcessAlive, readOptional, readPositiveInt, removeFile, signalVerified } from './files';
import { spawnShim, waitUntilServing, recordShim, type SpawnedShim } from './spawn';

export interface PooledShim {
  dir: string;
  shim: SpawnedShim;
  client: ShimClient;
  logFile: string;
  onExit: () => void;
}

export interface ShimPoolOptions {
  layout: StateLayout;
  size: number;
  binary: string;
  argsPrefix: string[];
  env?: NodeJS.ProcessEnv;
  log: Logger;
}

export class ShimPool {
  readonly dir: string;
  private idle: PooledShim[] = [];
  private starting = 0;
  private failures = 0;
  private closed = false;

  constructor(private readonly opts: ShimPoolOptions) {
    this.dir = path.join(opts.layout.stateDir, 'pool');
  }

  get size(): number {
    return this.opts.size;
  }

  /** Idle shims serving and waiting for a task. */
  get ready(): number {
    return this.idle.length;
  }

  /** Kills idle shims a previous berthd left, then fills the pool in the background. */
  start(): void {
    this.removeLeftovers();
    this.fill();
  }

  /** A live idle shim (detached from the pool), or undefined when none is ready. */
  take(): PooledShim | undefined {
    let found: PooledShim | undefined;
    while (!found && this.idle.length > 0) {
      const p = this.idle.shift()!;
      p.shim.child.off('exit', p.onExit);
      if (isProcessAlive(p.shim.pid, p.shim.startTime)) found = p;
      else this.discard(p);
    }
    this.fill();
    return found;
  }

  /** Moves a taken shim's records into its task bundle and forgets its pool directory. */
  adopt(p: PooledShim, bundle: string): void {
    try {
      fs.renameSync(p.logFile, path.join(bundle, BUNDLE_FILES.log));
    } catch {}
    recordShim(bundle, p.shim);
    fs.rmSync(p.dir, { recursive: true, force: true });
  }

  /** Kills a pooled shim (ours, verified by start time) and removes its records and socket. */
  discard(p: PooledShim): void {
    p.client.close();
    signalVerified(p.shim.pid, p.shim.startTime, 'SIGKILL');
    if (this.opts.layout.ownsSocket(p.shim.address)) removeFile(p.shim.address);
    fs.rmSync(p.dir, { recursive: true, force: true });
  }

  private fill(): void {
    // Back off after repeated failures (a broken shim binary must not spin).
    while (!this.closed && this.idle.length + this.starting < this.opts.size) {
      this.starting++;
      const delay = this.failures === 0 ? 0 : Math.min(100 * 2 ** this.failures, 30_000);
      const t = setTimeout(() => {
        void this.spawnOne().finally(() => {
          this.starting--;
          if (this.failures > 0 && this.failures < 8) this.fill();
        });
      }, delay);
      t.unref();
    }
  }

  private async spawnOne(): Promise<void> {
    if (this.closed) return;
    const dir = path.join(this.dir, randomBytes(6).toString('hex'));
    const logFile = path.join(dir, BUNDLE_FILES.log);
    let shim: SpawnedShim | undefined;
    let client: ShimClient | undefined;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      shim = await spawnShim({
        binary: this.opts.binary,
        args: this.opts.argsPrefix,
        address: this.opts.layout.newSocketPath(),
        cwd: this.opts.layout.stateDir,
        logFile,
        env: this.opts.env,
        bundle: dir,
      });
      client = new ShimClient(shim.address);
      await waitUntilServing(client, shim, logFile);
      const p: PooledShim = { dir, shim, client, logFile, onExit: () => {} };
      if (this.closed) {
        this.discard(p);
        return;
      }
      p.onExit = () => {
        this.idle = this.idle.filter((x) => x !== p);
        this.discard(p);
        this.fill();
      };
      shim.child.once('exit', p.onExit);
      this.idle.push(p);
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.opts.log.warn('pre-started shim failed', { error: messageOf(err) });
      client?.close();
      if (shim) signalVerified(shim.pid, shim.startTime, 'SIGKILL');
      if (shim) removeFile(shim.address);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Idle shims recorded by a previous berthd: killed (verified by start time), records removed. */
  private removeLeftovers(): void {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const dir = path.join(this.dir, name);
      const pid = readPositiveInt(path.join(dir, BUNDLE_FILES.shimPid));
      const startTime = readOptional(path.join(dir, BUNDLE_FILES.shimStartTime)) ?? '';
      const address = readOptional(path.join(dir, BUNDLE_FILES.address)) ?? '';
      if (pid !== undefined && startTime !== '') signalVerified(pid, startTime, 'SIGKILL');
      if (this.opts.layout.ownsSocket(address)) removeFile(address);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Kills every idle shim (they serve no task); shims of tasks are not the pool's. */
  close(): void {
    this.closed = true;
    for (const p of this.idle.splice(0)) {
      p.shim.child.off('exit', p.onExit);
      this.discard(p);
    }
  }
}
