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

/** How long after a shim was taken the pool refills (a deleted task's shim coming back makes it moot). */
const REFILL_DELAY_MS = 300;
/**
 * Shims given back beyond the pool's size (after a burst of tasks was deleted) are kept this long, up to
 * MAX_IDLE of them, so the next burst finds warm shims; then the pool shrinks back to its size.
 */
const SURPLUS_IDLE_MS = 30_000;
const MAX_IDLE = 32;

export interface PooledShim {
  dir: string;
  shim: SpawnedShim;
  client: ShimClient;
  logFile: string;
  onExit: () => void;
  /** It served a task before (warm). */
  used?: boolean;
  /** When it went idle (given back). */
  idleSince?: number;
}

export interface ShimPoolOptions {
  layout: StateLayout;
  size: number;
  binary: string;
  argsPrefix: string[];
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** Idle shims kept at most (shims given back beyond `size` go after SURPLUS_IDLE_MS); default 32. */
  maxIdle?: number;
}

export class ShimPool {
  readonly dir: string;
  private idle: PooledShim[] = [];
  private starting = 0;
  private failures = 0;
  private closed = false;
  private refill: NodeJS.Timeout | undefined;
  private lastGiveBack = 0;
  private trim: NodeJS.Timeout | undefined;
  /** Shims started and not yet serving (killed by close: berthd may exit before they answer). */
  private readonly spawning = new Set<SpawnedShim>();

  constructor(private readonly opts: ShimPoolOptions) {
    this.dir = path.join(opts.layout.stateDir, 'pool');
  }

  get size(): number {
    return this.opts.size;
  }

  /** Whether a shim given back now would be kept. */
  hasRoom(): boolean {
    return !this.closed && this.idle.length < this.keep;
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

  /**
   * A live idle shim (detached from the pool), or undefined when none is ready. The most recently used one
   * first (recycled shims are warm). The refill waits a moment: a shim given back after its task was
   * deleted usually makes it unnecessary, and a spawn must not compete with the task being started.
   */
  take(): PooledShim | undefined {
    let found: PooledShim | undefined;
    while (!found && this.idle.length > 0) {
      const p = this.idle.pop()!;
      p.shim.child.off('exit', p.onExit);
      if (isProcessAlive(p.shim.pid, p.shim.startTime)) found = p;
      else this.discard(p);
    }
    this.scheduleFill();
    return found;
  }

  /**
   * Takes back the shim of a deleted task (it accepts a new Bind once the task is deleted and its events
   * acknowledged): its records move from the bundle into a pool directory, its log with them. False when
   * the pool is full or closed (the caller shuts the shim down).
   */
  giveBack(shim: SpawnedShim, client: ShimClient, bundle: string): boolean {
    if (this.closed || !isProcessAlive(shim.pid, shim.startTime)) return false;
    if (this.idle.length >= this.keep) {
      // Full: a warm shim is worth more than one that never served a task.
      const fresh = this.idle.findIndex((p) => !p.used);
      if (fresh < 0) return false;
      const [cold] = this.idle.splice(fresh, 1);
      cold!.shim.child.off('exit', cold!.onExit);
      this.discard(cold!);
    }
    this.lastGiveBack = Date.now();
    const dir = path.join(this.dir, randomBytes(6).toString('hex'));
    const logFile = path.join(dir, BUNDLE_FILES.log);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      moveRecords(bundle, dir, shim);
    } catch (err) {
      this.opts.log.warn('cannot take back a shim', { pid: shim.pid, error: messageOf(err) });
      fs.rmSync(dir, { recursive: true, force: true });
      return false;
    }
    this.track({ dir, shim, client, logFile, onExit: () => {}, used: true, idleSince: Date.now() });
    this.scheduleTrim();
    return true;
  }

  private track(p: PooledShim): void {
    p.onExit = () => {
      this.idle = this.idle.filter((x) => x !== p);
      this.discard(p);
      this.scheduleFill();
    };
    p.shim.child.once('exit', p.onExit);
    this.idle.push(p);
  }

  /** How many idle shims the pool keeps: `size`, plus shims given back after a burst (for SURPLUS_IDLE_MS). */
  private get keep(): number {
    return Math.max(this.opts.size, this.opts.maxIdle ?? MAX_IDLE);
  }

  /** Shims beyond `size` that stayed idle for SURPLUS_IDLE_MS are shut down (oldest first). */
  private scheduleTrim(): void {
    if (this.trim || this.closed || this.idle.length <= this.opts.size) return;
    this.trim = setTimeout(() => {
      this.trim = undefined;
      const now = Date.now();
      while (this.idle.length > this.opts.size && now - (this.idle[0]!.idleSince ?? 0) >= SURPLUS_IDLE_MS) {
        const p = this.idle.shift()!;
        p.shim.child.off('exit', p.onExit);
        this.retire(p);
      }
      this.scheduleTrim();
    }, SURPLUS_IDLE_MS / 4);
    this.trim.unref();
  }

  /** Asks an idle shim to exit (Shutdown; SIGKILL if it does not answer), removes its records. */
  private retire(p: PooledShim): void {
    void p.client
      .shutdown('', false, { timeoutMs: 2000 })
      .catch(() => {})
      .finally(() => this.discard(p));
  }

  private scheduleFill(): void {
    if (this.refill || this.closed) return;
    this.refill = setTimeout(() => {
      this.refill = undefined;
      // Shims coming back from deleted tasks (a create/delete loop) keep the pool filled: no spawn then.
      if (Date.now() - this.lastGiveBack < REFILL_DELAY_MS) this.scheduleFill();
      else this.fill();
    }, REFILL_DELAY_MS);
    this.refill.unref();
  }

  /** Moves a taken shim's records into its task bundle and forgets its pool directory. */
  adopt(p: PooledShim, bundle: string): void {
    moveRecords(p.dir, bundle, p.shim);
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
    // One spawn at a time (a node start is a few hundred ms of CPU on few cores: never a stampede), and
    // back off after repeated failures (a broken shim binary must not spin).
    if (!this.closed && this.starting === 0 && this.idle.length < this.opts.size) {
      this.starting++;
      const delay = this.failures === 0 ? 0 : Math.min(100 * 2 ** this.failures, 30_000);
      const t = setTimeout(() => {
        void this.spawnOne().finally(() => {
          this.starting--;
          if (this.failures < 8) this.fill();
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
      this.spawning.add(shim);
      try {
        await waitUntilServing(client, shim, logFile);
      } finally {
        this.spawning.delete(shim);
      }
      const p: PooledShim = { dir, shim, client, logFile, onExit: () => {} };
      if (this.closed) {
        this.discard(p);
        return;
      }
      this.failures = 0;
      if (this.idle.length >= this.opts.size) {
        this.discard(p); // shims given back filled the pool meanwhile
        return;
      }
      this.track(p);
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
    clearTimeout(this.refill);
    clearTimeout(this.trim);
    for (const shim of this.spawning) {
      signalVerified(shim.pid, shim.startTime, 'SIGKILL');
      if (this.opts.layout.ownsSocket(shim.address)) removeFile(shim.address);
    }
    for (const p of this.idle.splice(0)) {
      p.shim.child.off('exit', p.onExit);
      this.discard(p);
    }
  }
}

/**
 * Moves a shim's records (address, shim.starttime, shim.pid, in that order) and its log from one directory to
 * another by rename: each file stays whole, and a rename costs less than writing it again. Falls back to
 * writing the records when one is missing.
 */
function moveRecords(from: string, to: string, shim: SpawnedShim): void {
  try {
    fs.renameSync(path.join(from, BUNDLE_FILES.log), path.join(to, BUNDLE_FILES.log));
  } catch {}
  try {
    for (const f of [BUNDLE_FILES.address, BUNDLE_FILES.shimStartTime, BUNDLE_FILES.shimPid]) fs.renameSync(path.join(from, f), path.join(to, f));
  } catch {
    recordShim(to, shim);
  }
}
