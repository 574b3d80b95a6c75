/**
 * One task a shim serves (a group's shim serves several, each a Task of its own: members.ts): its init
 * process, its exec processes, and the runtime backend driving them.
 * Lookups and errors follow containerd's runc shim (runtime/v2/runc): no task → NotFound "container not
 * created", unknown exec id → NotFound "process does not exist <id>", duplicate exec id → AlreadyExists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from '../pkg/errdefs';
import { validateIdentifier } from '../pkg/identifiers';
import type { Logger } from '../pkg/log';
import { typeNameOf, unpackAny, RUNC_OPTIONS_TYPE, type AnyMessage } from '../proto/any';
import type { TaskEvents } from './events/publisher';
import type { StdioPaths } from './io/stdio';
import { ExecProcess } from './process/exec';
import { InitProcess } from './process/init';
import type { ExitResult, ProcessDeps, ShimProcess } from './process/process';
import type { ContainerRuntime, OciProcessSpec, RuntimeContext } from './runtime/types';
import type { RuncOptions } from './runtime/oci-binary';
import { mountRootfs, unmountRootfs, type RootfsMount } from './rootfs';

export const DEFAULT_IO_DRAIN_MS = Number(process.env.BERTH_SHIM_IO_DRAIN_MS ?? 2000);

export interface TaskIdentity {
  id: string;
  namespace: string;
  bundle: string;
}

export interface CreateRequest extends StdioPaths {
  id: string;
  bundle: string;
  rootfs: RootfsMount[];
  options: AnyMessage | null;
  checkpoint: string;
}

export class Task {
  private init: InitProcess | undefined;
  private readonly execs = new Map<string, ExecProcess>();
  private runtime: ContainerRuntime | undefined;
  private creating = false;
  /** <bundle>/rootfs when Create brought rootfs mounts (unmounted on delete) */
  private rootfs: string | undefined;
  private deleted = false;

  constructor(
    readonly identity: TaskIdentity,
    private readonly events: TaskEvents,
    private readonly log: Logger,
    /** picks the backend for Create (tests pass a fake) */
    private readonly select: (ctx: RuntimeContext, options: AnyMessage | null, log: Logger) => ContainerRuntime = selectRuntime,
  ) {}

  get initProcess(): InitProcess | undefined {
    return this.init;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  /** Every process still tracked (not deleted). */
  processes(): ShimProcess[] {
    return [...(this.init ? [this.init] : []), ...this.execs.values()];
  }

  private deps(log: Logger): ProcessDeps {
    return {
      containerId: this.identity.id,
      bundle: this.identity.bundle,
      events: this.events,
      runtime: () => {
        if (!this.runtime) throw new NotFound('container not created');
        return this.runtime;
      },
      log,
      ioDrainMs: DEFAULT_IO_DRAIN_MS,
    };
  }

  async create(req: CreateRequest): Promise<number> {
    if (req.id !== this.identity.id) throw new FailedPrecondition(`shim serves task ${this.identity.id}, not ${req.id}`);
    if (req.bundle && path.resolve(req.bundle) !== path.resolve(this.identity.bundle)) {
      throw new InvalidArgument(`task ${req.id}: bundle ${req.bundle} is not the shim's bundle ${this.identity.bundle}`);
    }
    if (this.deleted) throw new FailedPrecondition(`task ${req.id}: deleted, the shim serves no other task`);
    if (this.init || this.creating) throw new AlreadyExists(`task ${req.id}: already exists`);
    if (req.checkpoint) throw new InvalidArgument(`task ${req.id}: checkpoint restore is not supported`);
    this.creating = true;
    const t0 = performance.now();
    try {
      const spec = await readSpec(this.identity.bundle);
      checkCwd((spec.process as { cwd?: unknown }).cwd, 'process.cwd');
      // The runtime makes a pty when the spec says so; the request's flag only has to agree.
      const terminal = Boolean((spec.process as { terminal?: boolean } | undefined)?.terminal);
      if (req.terminal !== terminal) this.log.warn('terminal flag differs from the spec; following the spec', { request: req.terminal, spec: terminal });
      const ctx: RuntimeContext = { ...this.identity, spec };
      this.runtime = this.select(ctx, req.options, this.log);
      this.log.info('creating task', { runtime: this.runtime.name, rootfsMounts: req.rootfs.length });
      this.rootfs = await mountRootfs(this.identity.bundle, req.rootfs);
      const init = new InitProcess(this.deps(this.log.child({ exec: '' })), { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal }, {
        rootfs: req.rootfs,
        hasPidNamespace: hasOwnPidNamespace(spec),
      });
      const pid = await init.create();
      this.init = init;
      this.log.debug('task created', { pid, ms: Math.round((performance.now() - t0) * 10) / 10, ...init.timings });
      return pid;
    } catch (err) {
      this.runtime = undefined;
      this.releaseRootfs();
      throw err;
    } finally {
      this.creating = false;
    }
  }

  private releaseRootfs(): void {
    try {
      unmountRootfs(this.rootfs);
    } catch (err) {
      this.log.warn('unmounting the rootfs failed', { rootfs: this.rootfs, err: String(err) });
    }
    this.rootfs = undefined;
  }

  /** The init process (`execId` empty) or an exec process. */
  process(execId: string): ShimProcess {
    if (!this.init) throw new NotFound('container not created');
    if (!execId) return this.init;
    const p = this.execs.get(execId);
    if (!p) throw new NotFound(`process does not exist ${execId}`);
    return p;
  }

  requireInit(): InitProcess {
    if (!this.init) throw new NotFound('container not created');
    return this.init;
  }

  async exec(execId: string, spec: AnyMessage | null, io: StdioPaths): Promise<void> {
    const init = this.requireInit();
    validateIdentifier(execId);
    if (this.execs.has(execId)) throw new AlreadyExists(`id ${execId}`);
    init.state.check('exec');
    const processSpec = parseProcessSpec(execId, spec);
    const terminal = Boolean(processSpec.terminal);
    if (io.terminal !== terminal) this.log.warn('exec terminal flag differs from its spec; following the spec', { exec: execId, request: io.terminal });
    const p = new ExecProcess(this.deps(this.log.child({ exec: execId })), execId, processSpec, { ...io, terminal });
    this.execs.set(execId, p);
    await this.events.execAdded(this.identity.id, execId);
  }

  async delete(execId: string): Promise<ExitResult> {
    const p = this.process(execId);
    if (p instanceof ExecProcess) {
      const r = await p.delete();
      this.execs.delete(execId);
      return r;
    }
    const r = await (p as InitProcess).delete();
    this.releaseRootfs();
    this.deleted = true;
    this.init = undefined;
    for (const e of this.execs.values()) e.io?.close();
    this.execs.clear();
    return r;
  }

  runtimeOrThrow(): ContainerRuntime {
    if (!this.runtime || !this.init) throw new NotFound('container not created');
    return this.runtime;
  }

  /** Shutdown now: kills and removes whatever is left. */
  async destroy(): Promise<void> {
    const runtime = this.runtime;
    if (!runtime || this.deleted) return;
    await runtime.kill(9, { all: true }).catch(() => {});
    await runtime.delete().catch((err) => this.log.warn('delete on shutdown failed', { err: String(err) }));
    for (const p of this.processes()) p.io?.close();
    this.releaseRootfs();
  }
}

async function readSpec(bundle: string): Promise<Record<string, unknown>> {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8'); // a few KiB: cheaper than fs.promises' thread-pool round trips
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(`bundle ${bundle}: config.json not found`, { cause: err });
    throw err;
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgument(`bundle ${bundle}: config.json is not JSON`, { cause: err });
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new InvalidArgument(`bundle ${bundle}: config.json is not an object`);
  if (typeof (spec as { process?: unknown }).process !== 'object') throw new InvalidArgument(`bundle ${bundle}: config.json has no process`);
  return spec as Record<string, unknown>;
}

function hasOwnPidNamespace(spec: Record<string, unknown>): boolean {
  const ns = (spec.linux as { namespaces?: Array<{ type?: string; path?: string }> } | undefined)?.namespaces ?? [];
  return ns.some((n) => n.type === 'pid' && !n.path);
}

function parseProcessSpec(execId: string, spec: AnyMessage | null): OciProcessSpec {
  if (!spec || !spec.value || spec.value.length === 0) throw new InvalidArgument(`exec ${execId}: process spec is required`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(spec.value).toString('utf8'));
  } catch (err) {
    throw new InvalidArgument(`exec ${execId}: process spec is not JSON`, { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidArgument(`exec ${execId}: process spec is not an object`);
  const args = (doc as { args?: unknown }).args;
  if (!Array.isArray(args) || args.length === 0) throw new InvalidArgument(`exec ${execId}: process args must not be empty`);
  checkCwd((doc as { cwd?: unknown }).cwd, `exec ${execId}: process.cwd`);
  return doc as OciProcessSpec;
}

/**
 * A cwd through a process's descriptors (`/proc/self/fd/N`, CVE-2024-21626) is refused whatever the backend,
 * so an OCI runtime binary that lacks the fix is never handed one.
 */
function checkCwd(cwd: unknown, field: string): void {
  if (typeof cwd !== 'string') return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { isDescriptorPath } = require('../native/runtime/spec') as typeof import('../native/runtime/spec');
  if (isDescriptorPath(cwd)) throw new InvalidArgument(`${field}: ${cwd} goes through a process's descriptors`);
}

/** The native runtime unless the options name an OCI runtime binary. Backends load on first use. */
function selectRuntime(ctx: RuntimeContext, options: AnyMessage | null, log: Logger): ContainerRuntime {
  if (options && options.type_url && typeNameOf(options.type_url) === RUNC_OPTIONS_TYPE) {
    const o = unpackAny<RuncOptions>(options);
    if (o.binary_name) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { OciBinaryRuntime } = require('./runtime/oci-binary') as typeof import('./runtime/oci-binary');
      return new OciBinaryRuntime(ctx, o, log);
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NativeRuntime } = require('./runtime/native') as typeof import('./runtime/native');
  return new NativeRuntime(ctx, log);
}
