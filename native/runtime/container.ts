/**
 * A container: its persisted state, its cgroup and its processes, with an explicit lifecycle:
 *
 *   creating --start--> created --run--> running <--pause/resume--> paused
 *        any state with a process --(init exits)--> stopped;   destroy: from any state, idempotent
 *
 * Illegal transitions are FailedPrecondition naming the container and its status.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Cleanup } from '../../pkg/cleanup';
import { FailedPrecondition, Internal, InvalidArgument, NotFound, messageOf } from '../../pkg/errdefs';
import { getLogger, type Logger } from '../../pkg/log';
import { openCgroup, type CgroupManager, type CgroupMetrics } from '../cgroups';
import { copyFdOf, kill as sysKill, mkfifo } from '../sys/linux';
import { readHostCgroupMounts } from './cgroup-mounts';
import { encodeConfig, execOps, hasDevpts, initOps, withPreservedFds } from './init-config';
import { InitChannel } from './init-channel';
import { sealedInitBinary } from './init-binary';
import { Reaper, type ExitStatus } from './reaper';
import { validateProcess } from './spec';
import type { LinuxResources, OciProcess } from './spec-types';
import { EXEC_FIFO, processAlive, pidStartTime, writeState, type ContainerStatus, type PersistedState } from './state';
import { openPty, type PtyPair } from './terminal';
import { cgroupResources } from './resources';
import { hostRootIds, newUserNamespace, writeIdMaps } from './userns';
import { signalNumber } from './signals';
import { exeOf, hooksOf, runHooks, waitForExec, type HookState } from './hooks';

/** fds owned by the caller; the runtime dups them into the process (missing: /dev/null). */
export interface ProcessIO {
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /** more fds for the process, as its fds 3, 4, ... (runc's --preserve-fds; LISTEN_FDS socket activation) */
  extraFds?: number[];
}

export interface Process {
  readonly pid: number;
  /** the pty master when process.terminal; owned by the caller */
  readonly terminalMaster?: number;
  wait(): Promise<ExitStatus>;
}

export interface ContainerState {
  id: string;
  status: ContainerStatus;
  pid: number;
  bundle: string;
  rootfs: string;
  created: Date;
  annotations: Record<string, string>;
  cgroupsPath: string;
}

/** What a container needs from its factory. */
export interface RuntimeContext {
  stateRoot: string;
  initBinary: string;
  /** false: never wait for container processes (berth-runc exits; the caller's subreaper collects them) */
  reap?: boolean;
  /**
   * When prestart hooks run: 'create' (default; runc, runtime-spec 1.1: during start(), once the namespaces
   * exist, status 'creating') or 'start' (runtime-spec 1.0's lifecycle, what runtime-tools checks: in run(),
   * before the barrier is released, status 'created'; berth-runc).
   */
  prestartAt?: 'create' | 'start';
}

const SIGKILL = 9;

function makeProcess(pid: number, terminalMaster?: number): Process {
  return { pid, terminalMaster, wait: () => Reaper.get().watch(pid) };
}

export class Container {
  readonly id: string;
  private readonly log: Logger;
  private cgroupManager: CgroupManager | undefined;
  /** the init's protocol socket while it waits at the start barrier (only in the process that started it) */
  private initChannel: InitChannel | undefined;

  constructor(private readonly ctx: RuntimeContext, private st: PersistedState) {
    this.id = st.id;
    this.log = getLogger('runtime').child({ id: st.id });
  }

  private get dir(): string {
    return path.join(this.ctx.stateRoot, this.id);
  }

  private get execFifo(): string {
    return path.join(this.dir, EXEC_FIFO);
  }

  private async cgroup(): Promise<CgroupManager> {
    return (this.cgroupManager ??= await openCgroup({ root: this.st.cgroupRoot, path: this.st.cgroupsPath }));
  }

  private async save(): Promise<void> {
    await writeState(this.dir, this.st);
  }

  /** The status, noticing an init that exited since it was recorded. */
  private async refresh(): Promise<ContainerStatus> {
    // 'created' lasts while the exec FIFO exists (whoever runs the container removes it, as runc's start
    // does): run() needs no state write of its own.
    if (this.st.status === 'created' && !fs.existsSync(this.execFifo)) this.st.status = 'running';
    const s = this.st.status;
    if ((s === 'created' || s === 'running' || s === 'paused') && !processAlive(this.st.pid, this.st.pidStartTime)) {
      this.st.status = 'stopped';
      this.initChannel?.close();
      this.initChannel = undefined;
      await this.save().catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // destroyed meanwhile
      });
    }
    return this.st.status;
  }

  private async require(action: string, ...allowed: ContainerStatus[]): Promise<void> {
    const status = await this.refresh();
    if (!allowed.includes(status)) throw new FailedPrecondition(`container ${this.id}: cannot ${action} a ${status} container`);
  }

  async state(): Promise<ContainerState> {
    await this.refresh();
    const s = this.st;
    return {
      id: s.id, status: s.status, pid: s.status === 'stopped' || s.status === 'creating' ? 0 : s.pid, bundle: s.bundle,
      rootfs: s.rootfs, created: new Date(s.created), annotations: { ...s.annotations }, cgroupsPath: s.cgroupsPath,
    };
  }

  /** Builds the init process; returns once it waits at the start barrier (status 'created'). */
  async start(io: ProcessIO = {}): Promise<Process> {
    await this.require('start', 'creating');
    const spec = this.st.spec;
    const proc = spec.process!;
    const reaper = this.ctx.reap !== false ? Reaper.get() : undefined; // subreaper and SIGCHLD before any child exists
    const undo = new Cleanup();
    let pty: PtyPair | undefined;
    let master: number | undefined;
    try {
      fs.rmSync(this.execFifo, { force: true });
      mkfifo(this.execFifo, 0o622);
      undo.push(() => fs.rmSync(this.execFifo, { force: true }));
      const root = hostRootIds(spec);
      if (root.uid !== 0 || root.gid !== 0) fs.chownSync(this.execFifo, root.uid, root.gid); // the init opens it as that root
      const cg = await this.cgroup();
      await cg.create();
      undo.push(() => cg.destroy());
      // A terminal comes from the container's own devpts when it has one (berth-init's "pty"), else from ours.
      if (proc.terminal && !hasDevpts(spec)) {
        pty = openPty(proc.consoleSize);
        master = pty.master;
        undo.push(() => fs.closeSync(pty!.master));
      }
      const hasCgroupMount = (spec.mounts ?? []).some((m) => m.type === 'cgroup' || m.type === 'cgroup2');
      const ops = initOps({
        spec, bundle: this.st.bundle, rootfs: this.st.rootfs, execFifo: this.execFifo, consoleSlave: pty?.slavePath,
        cgroupRoot: this.st.cgroupRoot, hostCgroupMounts: hasCgroupMount ? readHostCgroupMounts(this.st.cgroupRoot) : [],
        cgroupJoinFiles: cg.selfJoinFiles(), waitGo: true, id: this.id, annotations: this.st.annotations,
      });
      const stdio = this.stdio(io, pty);
      const extra = io.extraFds ?? [];
      const channel = InitChannel.start(sealedInitBinary(this.ctx.initBinary), 'init', encodeConfig(withPreservedFds(ops, extra.length)), stdio, `container ${this.id}`, extra);
      undo.push(() => channel.close());
      if (pty) fs.closeSync(pty.slave);
      // The limits are written while berth-init starts; its child waits for "go" before it does anything
      // in the container (mounts, device nodes), once its namespaces exist.
      const [gotPid, applied] = await Promise.allSettled([channel.pid(), cg.update(cgroupResources(spec))]);
      if (gotPid.status === 'fulfilled') {
        const pid = gotPid.value;
        undo.push(() => {
          killQuietly(pid, SIGKILL);
          void reaper?.watch(pid);
        });
      }
      if (gotPid.status === 'rejected') throw gotPid.reason;
      if (applied.status === 'rejected') throw applied.reason;
      const pid = gotPid.value;
      const hooks = hooksOf(spec);
      const prestart = this.ctx.prestartAt === 'start' ? undefined : hooks.prestart;
      const userns = newUserNamespace(spec);
      if (userns || prestart?.length || hooks.createRuntime?.length) await channel.waiting();
      if (userns) {
        writeIdMaps(pid, spec);
        if (proc.oomScoreAdj !== undefined) fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(proc.oomScoreAdj));
      }
      if (prestart?.length || hooks.createRuntime?.length) {
        const state = this.hookState('creating', pid);
        await runHooks('prestart', prestart, state);
        await runHooks('createRuntime', hooks.createRuntime, state);
      }
      channel.go();
      if (proc.terminal && !pty) {
        master = copyFdOf(pid, await channel.pty());
        undo.push(() => fs.closeSync(master!));
        channel.go();
      }
      await channel.ready();
      this.initChannel = channel;
      this.st.pid = pid;
      this.st.pidStartTime = pidStartTime(pid) ?? 0;
      this.st.status = 'created';
      await this.save();
      undo.release();
      this.log.debug('container created', { pid });
      return makeProcess(pid, master);
    } catch (err) {
      await undo.run();
      throw err;
    }
  }

  private stdio(io: ProcessIO, pty?: PtyPair): [number | 'ignore', number | 'ignore', number | 'ignore'] {
    if (pty) return [pty.slave, pty.slave, pty.slave];
    return [io.stdin ?? 'ignore', io.stdout ?? 'ignore', io.stderr ?? 'ignore'];
  }

  /** Releases the start barrier: the init execs the user's program (status 'running'). */
  async run(): Promise<void> {
    await this.require('run', 'created');
    const prestart = this.ctx.prestartAt === 'start' ? hooksOf(this.st.spec).prestart : undefined;
    if (prestart?.length) {
      try {
        await runHooks('prestart', prestart, this.hookState('created', this.st.pid));
      } catch (err) {
        // the spec: generate an error, stop the container and go on at "delete" (destroy, poststop hooks)
        await this.destroy().catch((e) => this.log.warn('destroy after a failed prestart hook', { error: messageOf(e) }));
        throw err;
      }
    }
    const poststart = hooksOf(this.st.spec).poststart;
    const exeBefore = poststart?.length && !this.initChannel ? exeOf(this.st.pid) : undefined;
    let fd: number;
    try {
      fd = fs.openSync(this.execFifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO' || code === 'ENOENT') throw new FailedPrecondition(`container ${this.id}: init is not waiting to start`);
      throw new Internal(`container ${this.id}: open exec fifo: ${messageOf(err)}`, { cause: err });
    }
    try {
      fs.writeSync(fd, '0');
    } finally {
      fs.closeSync(fd);
    }
    fs.rmSync(this.execFifo, { force: true });
    this.st.status = 'running'; // persisted by the FIFO's absence (see refresh)
    const channel = this.initChannel;
    this.initChannel = undefined;
    if (channel) {
      try {
        await channel.execed();
      } finally {
        channel.close();
      }
    } else if (exeBefore !== undefined) {
      await waitForExec(this.st.pid, exeBefore); // another process started it: poststart comes after the exec
    }
    if (poststart?.length) {
      await runHooks('poststart', poststart, this.hookState('running', this.st.pid)).catch((err) => {
        this.log.warn('poststart hook failed', { error: messageOf(err) });
      });
    }
  }

  private hookState(status: string, pid: number): HookState {
    return {
      ociVersion: this.st.spec.ociVersion ?? '1.0.2', id: this.id, status, pid, bundle: this.st.bundle,
      annotations: { ...this.st.annotations },
    };
  }

  /** Runs a process inside the running container's namespaces and cgroup. */
  async exec(proc: OciProcess, io: ProcessIO = {}): Promise<Process> {
    await this.require('exec in', 'created', 'running');
    validateProcess(proc, 'process');
    const reaper = this.ctx.reap !== false ? Reaper.get() : undefined;
    const undo = new Cleanup();
    let pty: PtyPair | undefined;
    let master: number | undefined;
    try {
      const containerPty = !!proc.terminal && hasDevpts(this.st.spec);
      if (proc.terminal && !containerPty) {
        pty = openPty(proc.consoleSize);
        master = pty.master;
        undo.push(() => fs.closeSync(pty!.master));
      }
      const cg = await this.cgroup();
      const ops = execOps(this.st.spec, this.st.pid, proc, cg.selfJoinFiles(), containerPty);
      const extra = io.extraFds ?? [];
      const channel = InitChannel.start(sealedInitBinary(this.ctx.initBinary), 'exec', encodeConfig(withPreservedFds(ops, extra.length)), this.stdio(io, pty), `container ${this.id}: exec`, extra);
      undo.push(() => channel.close());
      if (pty) fs.closeSync(pty.slave);
      const pid = await channel.pid();
      void reaper?.watch(pid);
      undo.push(() => killQuietly(pid, SIGKILL));
      if (containerPty) {
        master = copyFdOf(pid, await channel.pty());
        undo.push(() => fs.closeSync(master!));
        channel.go();
      }
      await channel.execed();
      channel.close();
      undo.release();
      return makeProcess(pid, master);
    } catch (err) {
      await undo.run();
      throw err;
    }
  }

  /** Signals the init, one pid (`pid`), or every process of the container (`all`). */
  async kill(signal: number | string, opts: { all?: boolean; pid?: number } = {}): Promise<void> {
    const sig = signalNumber(signal);
    const status = await this.refresh();
    if (opts.all) {
      if (status === 'creating') throw new FailedPrecondition(`container ${this.id}: cannot kill a creating container`);
      await (await this.cgroup()).killAll(sig);
      return;
    }
    // containerd's answer for a process that has exited is NotFound "process already finished".
    if (status === 'stopped') throw new NotFound(`container ${this.id}: process already finished`);
    if (status !== 'created' && status !== 'running' && status !== 'paused') {
      throw new FailedPrecondition(`container ${this.id}: cannot kill a ${status} container`);
    }
    const pid = opts.pid ?? this.st.pid;
    try {
      sysKill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new NotFound(`container ${this.id}: process ${pid} already finished`);
      throw new Internal(`container ${this.id}: kill ${pid}: ${messageOf(err)}`, { cause: err });
    }
  }

  async pause(): Promise<void> {
    await this.require('pause', 'running');
    await (await this.cgroup()).freeze();
    this.st.status = 'paused';
    await this.save();
  }

  async resume(): Promise<void> {
    await this.require('resume', 'paused');
    await (await this.cgroup()).thaw();
    this.st.status = 'running';
    await this.save();
  }

  async stats(): Promise<CgroupMetrics> {
    await this.require('get stats of', 'created', 'running', 'paused', 'stopped');
    return (await this.cgroup()).stats();
  }

  /** Host pids of the processes in the container's cgroup. */
  async processes(): Promise<number[]> {
    await this.require('list processes of', 'created', 'running', 'paused', 'stopped');
    return (await this.cgroup()).pids();
  }

  async update(resources: LinuxResources): Promise<void> {
    if (typeof resources !== 'object' || resources === null) throw new InvalidArgument('resources: must be an object');
    await this.require('update', 'created', 'running', 'paused');
    await (await this.cgroup()).update(resources);
    this.st.spec.linux = { ...this.st.spec.linux, resources: { ...this.st.spec.linux?.resources, ...resources } };
    await this.save();
  }

  /** Kills what is left, removes the cgroup and the state. Idempotent. */
  async destroy(): Promise<void> {
    if (!fs.existsSync(this.dir)) return;
    const status = await this.refresh();
    this.initChannel?.close();
    this.initChannel = undefined;
    const cg = await this.cgroup();
    if (status !== 'creating' || this.st.pid > 0) {
      const initAlive = processAlive(this.st.pid, this.st.pidStartTime);
      if (initAlive) killQuietly(this.st.pid, SIGKILL);
      // The common case needs no freezer: with a private pid namespace, the init's death made the kernel kill
      // every other process (cg.destroy waits for them to be gone); otherwise look for what is left.
      const privatePidNs = (this.st.spec.linux?.namespaces ?? []).some((n) => n.type === 'pid' && !n.path);
      const left = privatePidNs && !initAlive ? [] : await cg.pids().catch(() => [] as number[]);
      if (left.length > 0) {
        try {
          await cg.killAll(SIGKILL);
        } catch (err) {
          this.log.debug('destroy: killAll', { error: messageOf(err) });
        }
      }
    }
    await cg.destroy();
    const poststop = hooksOf(this.st.spec).poststop;
    if (poststop?.length && status !== 'creating') {
      await runHooks('poststop', poststop, this.hookState('stopped', 0)).catch((err) => {
        this.log.warn('poststop hook failed', { error: messageOf(err) });
      });
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.st.status = 'stopped';
  }
}

function killQuietly(pid: number, sig: number): void {
  try {
    sysKill(pid, sig);
  } catch {}
}
