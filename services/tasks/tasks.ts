/**
 * The logic of containerd's Tasks service (containerd 1.6 services/tasks/local.go), over the shim manager.
 * Requests and responses are the plain proto objects of containerd.services.tasks.v1; every method takes
 * the (validated) namespace first. service.ts only adapts the wire to these methods.
 *
 * Semantics kept from containerd: Create needs the container record (NotFound) and refuses a second task
 * (AlreadyExists `task ID: already exists`); task options default to the container's runtime options;
 * Get/Kill/... of a missing task are NotFound (dockerd depends on it); Delete of a running task is
 * FailedPrecondition; Exec needs an exec id; Process.id is the container id for the init process and the
 * exec id otherwise; Metrics filters on `id` and `namespace`.
 */
import { InvalidArgument, Unimplemented, messageOf } from '../../pkg/errdefs';
import { validateIdentifier } from '../../pkg/identifiers';
import type { Logger } from '../../pkg/log';
import type { AnyMessage } from '../../proto/any';
import { toTimestamp } from '../../proto/timestamp';
import { parseAll } from '../filters';
import type { ContainerRecord } from '../metadata/types';
import { checkIoPaths } from '../shims/bundle';
import type { ShimManager } from '../shims/manager';
import type { TaskShim } from '../shims/task-shim';
import type { RecoveringTasks } from '../shims/recovering';
import type { CreateTaskRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/CreateTaskRequest';
import type { CreateTaskResponse } from '../../proto/gen/containerd/services/tasks/v1/CreateTaskResponse';
import type { ExecProcessRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/ExecProcessRequest';
import type { KillRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/KillRequest';
import type { ResizePtyRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/ResizePtyRequest';
import type { CloseIORequest__Output } from '../../proto/gen/containerd/services/tasks/v1/CloseIORequest';
import type { UpdateTaskRequest__Output } from '../../proto/gen/containerd/services/tasks/v1/UpdateTaskRequest';
import type { DeleteResponse } from '../../proto/gen/containerd/services/tasks/v1/DeleteResponse';
import type { WaitResponse } from '../../proto/gen/containerd/services/tasks/v1/WaitResponse';
import type { ListPidsResponse } from '../../proto/gen/containerd/services/tasks/v1/ListPidsResponse';
import type { Metric } from '../../proto/gen/containerd/types/Metric';
import type { Process } from '../../proto/gen/containerd/v1/types/Process';
import type { StateResponse } from '../shims/messages';

/** Runtime names that mean berth-shim (what ctr and dockerd send, plus the legacy ones). */
export const SUPPORTED_RUNTIMES = new Set(['', 'io.containerd.runc.v2', 'io.containerd.runc.v1', 'io.containerd.runtime.v1.linux']);

/** What the Tasks logic needs of the metadata store. */
export interface ContainerSource {
  get(namespace: string, id: string): ContainerRecord;
}

const STATUS_NAMES = ['UNKNOWN', 'CREATED', 'RUNNING', 'STOPPED', 'PAUSED', 'PAUSING'] as const;
type StatusName = (typeof STATUS_NAMES)[number];

/** containerd.v1.types.Status by name, whatever form the shim's answer took. */
export function statusName(s: unknown): StatusName {
  if (typeof s === 'number') return STATUS_NAMES[s] ?? 'UNKNOWN';
  return (STATUS_NAMES as readonly unknown[]).includes(s) ? (s as StatusName) : 'UNKNOWN';
}

/** A shim State answer as containerd.v1.types.Process. */
export function processOf(containerId: string, execId: string, st: StateResponse): Process {
  return {
    container_id: containerId,
    id: execId === '' ? containerId : execId,
    pid: st.pid,
    status: statusName(st.status),
    stdin: st.stdin,
    stdout: st.stdout,
    stderr: st.stderr,
    terminal: st.terminal,
    exit_status: st.exit_status,
    exited_at: st.exited_at ?? { seconds: 0, nanos: 0 },
  };
}

const STATE_TIMEOUT_MS = 2000;

export class TasksLogic {
  /**
   * Set while a restarted berthd still reconnects to the shims of the previous one: List and Get of an
   * init answer from a task's recorded state meanwhile, every other call on the task waits for its shim.
   */
  recovering: RecoveringTasks | undefined;

  constructor(
    private readonly containers: ContainerSource,
    private readonly shims: ShimManager,
    private readonly log: Logger,
  ) {}

  /**
   * The task, once berthd reached its shim (a restart reconnects in the background: a call on a task
   * still being reached waits for it, bounded by the reconnect timeout), with any replay hold of its
   * events released (the client acts on it).
   */
  private async task(ns: string, id: string): Promise<TaskShim> {
    await this.reached(ns, id);
    const t = this.shims.get(ns, id);
    t.pump?.releaseHold();
    return t;
  }

  /** Resolves once the task is no longer being reconnected (at once when it is not). */
  private async reached(ns: string, id: string): Promise<void> {
    const pending = this.recovering?.hurry(ns, id);
    if (pending) await pending;
  }

  async create(ns: string, req: CreateTaskRequest__Output, signal?: AbortSignal): Promise<CreateTaskResponse> {
    validateIdentifier(req.container_id);
    const container = this.containers.get(ns, req.container_id);
    const runtime = container.runtime?.name ?? '';
    if (!SUPPORTED_RUNTIMES.has(runtime)) {
      throw new InvalidArgument(`runtime "${runtime}": not supported (berthd runs io.containerd.runc.v2)`);
    }
    if (req.checkpoint && req.checkpoint.digest) throw new Unimplemented(`task ${req.container_id}: restore from a checkpoint is not supported`);
    const options: AnyMessage | null = req.options && req.options.type_url ? req.options : (container.runtime?.options ?? null);
    const task = await this.shims.createTask({
      namespace: ns,
      id: req.container_id,
      spec: container.spec,
      rootfs: req.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target, options: m.options })),
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
      terminal: req.terminal,
      options,
      labels: container.labels,
      signal,
    });
    return { container_id: req.container_id, pid: task.initPid };
  }

  async start(ns: string, id: string, execId: string, signal?: AbortSignal): Promise<{ pid: number }> {
    const t = await this.task(ns, id);
    const res = await t.use().start(id, execId, { signal });
    if (execId === '') t.snapshot?.setStatus('RUNNING');
    return { pid: res.pid };
  }

  async get(ns: string, id: string, execId: string, signal?: AbortSignal): Promise<Process> {
    const recorded = execId === '' ? this.recovering?.get(ns, id)?.recorded : undefined;
    if (recorded) return processOf(id, '', recorded);
    await this.reached(ns, id);
    const t = this.shims.get(ns, id);
    if (t.state === 'unreachable') return this.unknownProcess(t, execId);
    const st = await t.use().state(id, execId, { signal, timeoutMs: STATE_TIMEOUT_MS });
    if (execId === '') t.snapshot?.fromState(st);
    return processOf(id, execId, st);
  }

  private unknownProcess(t: TaskShim, execId: string): Process {
    return {
      container_id: t.id,
      id: execId === '' ? t.id : execId,
      pid: execId === '' ? t.initPid : 0,
      status: 'UNKNOWN',
      stdin: '',
      stdout: '',
      stderr: '',
      terminal: false,
      exit_status: 0,
      exited_at: { seconds: 0, nanos: 0 },
    };
  }

  /**
   * Every task of the namespace (a task whose shim does not answer shows as UNKNOWN; deleted ones drop out).
   * Answered from what berthd knows of each init (`TaskShim.snapshot`, kept current by the shim's events and
   * the answers to Start, Wait, Pause, Resume, Get); a shim is asked only when berthd knows nothing yet.
   */
  async list(ns: string, signal?: AbortSignal): Promise<Process[]> {
    // After a restart: a task whose records tell its state is listed from them; the others wait for their
    // shim; a task whose shim was found dead is not listed (it is being cleaned up).
    const recovering = this.recovering;
    if (recovering) {
      const unknown = recovering.pending(ns).filter((e) => !e.recorded && !e.dead);
      await Promise.all(unknown.map((e) => recovering.hurry(e.namespace, e.id)));
    }
    const recorded = new Map<string, Process>();
    for (const e of recovering?.pending(ns) ?? []) {
      if (e.recorded && e.task?.state === 'starting') recorded.set(e.id, processOf(e.id, '', e.recorded));
    }
    const tasks = this.shims.list(ns).filter((t) => !recorded.has(t.id));
    const listed = await Promise.all(
      tasks.map(async (t): Promise<Process | undefined> => {
        if (t.state === 'unreachable') return this.unknownProcess(t, '');
        if (t.snapshot) return processOf(t.id, '', t.snapshot.state);
        try {
          return processOf(t.id, '', await t.use().state(t.id, '', { signal, timeoutMs: STATE_TIMEOUT_MS }));
        } catch (err) {
          if (t.state !== 'ready') return undefined;
          this.log.warn('list: task state failed', { namespace: ns, id: t.id, error: messageOf(err) });
          return this.unknownProcess(t, '');
        }
      }),
    );
    const out = listed.filter((p): p is Process => p !== undefined).concat([...recorded.values()]);
    const idOf = (p: Process): string => p.container_id ?? '';
    return out.sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  }

  async wait(ns: string, id: string, execId: string, signal?: AbortSignal): Promise<WaitResponse> {
    const t = await this.task(ns, id);
    const res = await t.use().wait(id, execId, { signal });
    if (execId === '') t.snapshot?.exited(res.exit_status, res.exited_at ?? null);
    return { exit_status: res.exit_status, exited_at: res.exited_at ?? { seconds: 0, nanos: 0 } };
  }

  async kill(ns: string, req: KillRequest__Output, signal?: AbortSignal): Promise<void> {
    await (await this.task(ns, req.container_id)).use().kill({ id: req.container_id, exec_id: req.exec_id, signal: req.signal, all: req.all }, { signal });
  }

  async exec(ns: string, req: ExecProcessRequest__Output, signal?: AbortSignal): Promise<void> {
    if (req.exec_id === '') throw new InvalidArgument('exec id cannot be empty');
    validateIdentifier(req.exec_id);
    const t = await this.task(ns, req.container_id);
    if (!req.spec || !req.spec.value || req.spec.value.length === 0) {
      throw new InvalidArgument(`exec ${req.exec_id}: process spec is missing`);
    }
    let proc: unknown;
    try {
      proc = JSON.parse(Buffer.from(req.spec.value).toString('utf8'));
    } catch {
      throw new InvalidArgument(`exec ${req.exec_id}: process spec is not valid JSON`);
    }
    if (proc === null || typeof proc !== 'object' || Array.isArray(proc)) {
      throw new InvalidArgument(`exec ${req.exec_id}: process spec is not a JSON object`);
    }
    checkIoPaths({ stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
    await t.use().exec(
      {
        id: req.container_id,
        exec_id: req.exec_id,
        terminal: req.terminal,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        spec: req.spec,
      },
      { signal },
    );
  }

  async deleteProcess(ns: string, id: string, execId: string, signal?: AbortSignal): Promise<DeleteResponse> {
    if (execId === '') throw new InvalidArgument('exec id cannot be empty');
    const res = await (await this.task(ns, id)).use().delete(id, execId, { signal });
    return { id: execId, pid: res.pid, exit_status: res.exit_status, exited_at: res.exited_at ?? { seconds: 0, nanos: 0 } };
  }

  async delete(ns: string, id: string, signal?: AbortSignal): Promise<DeleteResponse> {
    const t = await this.task(ns, id);
    const res = await this.shims.deleteTask(t, signal);
    return { id: '', pid: res.pid, exit_status: res.exit_status, exited_at: res.exited_at ?? { seconds: 0, nanos: 0 } };
  }

  async listPids(ns: string, id: string, signal?: AbortSignal): Promise<ListPidsResponse> {
    const res = await (await this.task(ns, id)).use().pids(id, { signal });
    return { processes: res.processes.map((p) => ({ pid: p.pid, info: p.info && p.info.type_url ? p.info : null })) };
  }

  async pause(ns: string, id: string, signal?: AbortSignal): Promise<void> {
    const t = await this.task(ns, id);
    await t.use().pause(id, { signal });
    t.snapshot?.setStatus('PAUSED');
  }

  async resume(ns: string, id: string, signal?: AbortSignal): Promise<void> {
    const t = await this.task(ns, id);
    await t.use().resume(id, { signal });
    t.snapshot?.setStatus('RUNNING');
  }

  async resizePty(ns: string, req: ResizePtyRequest__Output, signal?: AbortSignal): Promise<void> {
    await (await this.task(ns, req.container_id)).use().resizePty(
      { id: req.container_id, exec_id: req.exec_id, width: req.width, height: req.height },
      { signal },
    );
  }

  async closeIO(ns: string, req: CloseIORequest__Output, signal?: AbortSignal): Promise<void> {
    const client = (await this.task(ns, req.container_id)).use();
    if (req.stdin) await client.closeIO({ id: req.container_id, exec_id: req.exec_id, stdin: true }, { signal });
  }

  async update(ns: string, req: UpdateTaskRequest__Output, signal?: AbortSignal): Promise<void> {
    await (await this.task(ns, req.container_id)).use().update(
      { id: req.container_id, resources: req.resources && req.resources.type_url ? req.resources : null, annotations: req.annotations },
      { signal },
    );
  }

  /** Cgroup statistics of the tasks matching the filters (fields `id`, `namespace`). */
  async metrics(ns: string, filters: string[], signal?: AbortSignal): Promise<Metric[]> {
    const filter = parseAll(filters);
    const tasks = this.shims.list(ns).filter((t) =>
      filter.match((fp) => (fp[0] === 'id' ? t.id : fp[0] === 'namespace' ? t.namespace : undefined)),
    );
    const out = await Promise.all(
      tasks.map(async (t): Promise<Metric | undefined> => {
        const collected = toTimestamp();
        try {
          const res = await t.use().stats(t.id, { signal, timeoutMs: 10_000 });
          return { timestamp: collected, id: t.id, data: res.stats };
        } catch (err) {
          this.log.warn('metrics: stats failed', { namespace: ns, id: t.id, error: messageOf(err) });
          return undefined;
        }
      }),
    );
    return out.filter((m): m is Metric => m !== undefined);
  }

  checkpoint(): never {
    throw new Unimplemented('checkpoint is not supported');
  }
}
