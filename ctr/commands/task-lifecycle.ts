/**
 * The containerd client library's container/task/process behaviour that ctr's commands rely on, over
 * bctr's Client: loading a container and its spec, loading a task ("no running task found"), creating a
 * task or exec with FIFO IO, waiting, and deleting with the same client-side checks (a running task is
 * refused before any RPC: "task must be stopped before deletion: running: failed precondition").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '../client';
import type * as T from '../types';
import { errorOfKind, isKind, isNotFound } from '../../pkg/errdefs';
import { packAny, packJsonAny, unpackAny, unpackJsonAny, OCI_PROCESS_TYPE_URL, RUNC_OPTIONS_TYPE } from '../../proto/any';
import type { OciSpec, Process as OciProcess } from '../spec/builder';
import { goStruct } from '../spec/schema';
import { goMarshal } from '../format/gojson';
import { newFifoSet, removeFifoSet, removeFifoPaths, type FifoSet } from '../io/fifo';
import { ProcessStreams } from '../io/streams';
import type { Console } from '../io/console';
import { forwardAllSignals } from '../io/signals';
import { ExitStatus } from '../errors';

export const RUNC_V2 = 'io.containerd.runc.v2';
export const STOP_SIGNAL_LABEL = 'io.containerd.image.config.stop-signal';
const SIGKILL = 9;

export async function loadContainer(client: Client, id: string): Promise<T.Container> {
  const { container } = await client.containers.Get({ id });
  if (!container) throw errorOfKind('not-found', `container "${id}" in namespace "${client.namespace}": not found`);
  return container;
}

export function specOf(container: T.Container): OciSpec {
  if (!container.spec) throw errorOfKind('not-found', `container "${container.id}" has no spec: not found`);
  return unpackJsonAny<OciSpec>(container.spec);
}

/** container.Task(ctx, ...): Tasks.Get, with ctr's wording when there is none. */
export async function loadTask(client: Client, id: string): Promise<T.Process> {
  try {
    const { process } = await client.tasks.Get({ container_id: id });
    if (!process) throw errorOfKind('not-found', `task ${id} not found: not found`);
    return process;
  } catch (err) {
    if (isNotFound(err)) throw errorOfKind('not-found', `no running task found: ${(err as Error).message}`, err);
    throw err;
  }
}

/** containerd.ProcessStatus: the enum name in lower case (`running`). */
export function statusWord(status: string | number): string {
  return String(status).toLowerCase();
}

/** The runc options of a container record (containerd.runc.v1.Options), or undefined. */
export function runcOptionsOf(container: T.Container): Record<string, unknown> | undefined {
  const any = container.runtime?.options;
  if (!any || !any.type_url.endsWith(RUNC_OPTIONS_TYPE)) return undefined;
  if (!any.value || any.value.length === 0) return {}; // empty: no need to load the payload protos
  return unpackAny(any);
}

/** One process (a task's init or an exec) with the IO bctr opened for it. */
export class ProcessHandle {
  /** FIFO paths of a task loaded from the daemon, removed when it is deleted (containerd's loadFifos). */
  loadedPaths?: string[];

  constructor(
    readonly client: Client,
    readonly containerId: string,
    readonly execId: string,
    readonly streams: ProcessStreams | undefined,
    /** The FIFO set bctr created (removed on delete), or undefined for loaded paths. */
    private readonly ownFifos: FifoSet | undefined,
    public pid: number,
  ) {}

  wait(): Promise<T.WaitResponse> {
    return this.client.tasks.Wait({ container_id: this.containerId, exec_id: this.execId }, { deadline: Infinity });
  }

  async start(): Promise<number> {
    const { pid } = await this.client.tasks.Start({ container_id: this.containerId, exec_id: this.execId });
    this.pid = pid;
    return pid;
  }

  kill(signal: number, all = false): Promise<unknown> {
    return this.client.tasks.Kill({ container_id: this.containerId, exec_id: this.execId, signal, all });
  }

  resize(width: number, height: number): Promise<unknown> {
    return this.client.tasks.ResizePty({ container_id: this.containerId, exec_id: this.execId, width, height });
  }

  closeStdin(): Promise<unknown> {
    return this.client.tasks.CloseIO({ container_id: this.containerId, exec_id: this.execId, stdin: true });
  }

  /** Starts copying bctr's stdin (after Start, see ctr/io/streams.ts). */
  startStdin(): void {
    this.streams?.startStdin(() => this.closeStdin());
  }

  /** Closes bctr's FIFO ends and removes the FIFOs it created. */
  async releaseIO(): Promise<void> {
    this.streams?.close();
    if (this.ownFifos) await removeFifoSet(this.ownFifos);
    if (this.loadedPaths) await removeFifoPaths(this.loadedPaths);
  }
}

export interface IOChoice {
  tty: boolean;
  nullIO?: boolean;
  fifoDir?: string;
}

/** bctr's ends of a process's IO, made before the process exists. */
export interface OpenedIO {
  fifos?: FifoSet;
  streams?: ProcessStreams;
}

/** cio.NewCreator's work: makes the FIFO set for process `id` and opens bctr's ends (none with null IO). */
export async function openIO(id: string, io: IOChoice): Promise<OpenedIO> {
  if (io.nullIO) {
    if (io.tty) throw new Error('tty and null-io cannot be used together');
    return {};
  }
  const fifos = await newFifoSet({ id, terminal: io.tty, stdin: true, stdout: true, stderr: !io.tty, root: io.fifoDir });
  try {
    const streams = ProcessStreams.open(fifos, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    return { fifos, streams };
  } catch (err) {
    await removeFifoSet(fifos);
    throw err;
  }
}

/**
 * container.NewTask with ctr's IO: FIFOs created and opened, output copied, then Tasks.Create. The
 * container's runc options (binary_name...) are also sent as the task's options, plus no_pivot_root.
 */
/** Closes and removes IO from openIO that no process got. */
export async function releaseIO(opened: OpenedIO): Promise<void> {
  opened.streams?.close();
  if (opened.fifos) await removeFifoSet(opened.fifos);
}

export async function newTask(
  client: Client,
  container: T.Container,
  io: IOChoice,
  noPivot = false,
  /** IO already being opened (run overlaps it with creating the container). */
  prepared?: Promise<OpenedIO>,
): Promise<ProcessHandle> {
  const { fifos, streams } = await (prepared ?? openIO(container.id, io));
  try {
    let options: ReturnType<typeof packAny> | null = null;
    const runc = runcOptionsOf(container);
    if (container.runtime?.name.startsWith('io.containerd.runc') && (noPivot || runc?.binary_name)) {
      options = packAny(RUNC_OPTIONS_TYPE, { ...(runc ?? {}), ...(noPivot ? { no_pivot_root: true } : {}) });
    }
    const res = await client.tasks.Create({
      container_id: container.id,
      rootfs: [],
      stdin: fifos?.stdin ?? '',
      stdout: fifos?.stdout ?? '',
      stderr: fifos?.stderr ?? '',
      terminal: io.tty,
      options,
    });
    return new ProcessHandle(client, container.id, '', streams, fifos, res.pid);
  } catch (err) {
    await releaseIO({ fifos, streams });
    throw err;
  }
}

/** task.Exec: a process from the container's spec with the given args, terminal and cwd. */
export async function newExec(
  client: Client,
  containerId: string,
  execId: string,
  pspec: OciProcess,
  io: IOChoice,
): Promise<ProcessHandle> {
  const { fifos, streams } = await openIO(execId, io);
  try {
    await client.tasks.Exec({
      container_id: containerId,
      exec_id: execId,
      stdin: fifos?.stdin ?? '',
      stdout: fifos?.stdout ?? '',
      stderr: fifos?.stderr ?? '',
      terminal: io.tty,
      spec: packJsonAny(OCI_PROCESS_TYPE_URL, JSON.parse(goMarshal(goStruct('Process', pspec as Record<string, unknown>)))),
    });
    return new ProcessHandle(client, containerId, execId, streams, fifos, 0);
  } catch (err) {
    await releaseIO({ fifos, streams });
    throw err;
  }
}

/** A task loaded from the daemon with its FIFO paths (cio.Load / cio.NewAttach). */
export function attachExisting(client: Client, containerId: string, p: T.Process, open: boolean): ProcessHandle {
  const fifos: FifoSet = { dir: '', stdin: p.stdin, stdout: p.stdout, stderr: p.stderr, terminal: p.terminal };
  const streams = open
    ? ProcessStreams.open(fifos, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
    : undefined;
  const h = new ProcessHandle(client, containerId, '', streams, undefined, p.pid);
  h.loadedPaths = [p.stdin, p.stdout, p.stderr];
  return h;
}

/** containerd's WithProcessKill: SIGKILL to all, then wait for the exit. */
async function killAndWait(h: ProcessHandle): Promise<void> {
  const exited = h.wait();
  try {
    await h.kill(SIGKILL, true);
  } catch (err) {
    if (isKind(err, 'failed-precondition')) return;
    if (!isNotFound(err)) throw err;
  }
  await exited;
}

/** task.Delete(ctx, [WithProcessKill]): refuses a live task, waits for output, deletes, removes FIFOs. */
export async function deleteTask(h: ProcessHandle, force = false): Promise<T.DeleteResponse> {
  if (force) await killAndWait(h);
  const { process } = await h.client.tasks.Get({ container_id: h.containerId });
  const status = statusWord(process?.status ?? 'UNKNOWN');
  const pid = process?.pid ?? 0;
  if (!(status === 'stopped' || status === 'unknown' || (status === 'created' && pid === 0))) {
    throw errorOfKind('failed-precondition', `task must be stopped before deletion: ${status}: failed precondition`);
  }
  await h.streams?.waitOutput();
  const res = await h.client.tasks.Delete({ container_id: h.containerId });
  await h.releaseIO();
  return res;
}

/** process.Delete for an exec: refuses a live process, DeleteProcess, then waits for and closes its IO. */
export async function deleteExec(h: ProcessHandle, force = false): Promise<T.DeleteResponse> {
  if (force) await killAndWait(h);
  const { process } = await h.client.tasks.Get({ container_id: h.containerId, exec_id: h.execId });
  const status = statusWord(process?.status ?? 'UNKNOWN');
  if (status === 'running' || status === 'paused' || status === 'pausing') {
    throw errorOfKind(
      'failed-precondition',
      `current process state: ${status}, process must be stopped before deletion: failed precondition`,
    );
  }
  const res = await h.client.tasks.DeleteProcess({ container_id: h.containerId, exec_id: h.execId });
  await h.streams?.waitOutput();
  await h.releaseIO();
  return res;
}

/**
 * container.Delete as the client library does it: refused while the container has a task (any error
 * loading the task counts as "no task", so this works on daemons without a Tasks service).
 */
export async function deleteContainerRecord(client: Client, id: string): Promise<void> {
  let hasTask = true;
  try {
    await client.tasks.Get({ container_id: id });
  } catch {
    hasTask = false;
  }
  if (hasTask) throw errorOfKind('failed-precondition', `cannot delete running task ${id}: failed precondition`);
  await client.containers.Delete({ id });
}

/**
 * The attached part of ctr's run/start/exec/attach: without a console, bctr's signals are forwarded to the
 * process (ForwardAllSignals); with one, the pty follows the local window size. Create it before Start:
 * a signal that arrives while Start is in flight (the process may already be printing) is kept and
 * forwarded once Start returns, instead of killing bctr.
 */
export class Attachment {
  private running = false;
  private readonly queued: number[] = [];
  private stopSignals?: () => void;
  private stopResize?: () => void;

  constructor(
    private readonly h: ProcessHandle,
    private readonly console: Console | undefined,
  ) {
    if (!console) {
      this.stopSignals = forwardAllSignals(async (signal) => {
        if (this.running) await h.kill(signal);
        else this.queued.push(signal);
      });
    }
  }

  /** The process runs: forward what was queued, size the pty, start copying stdin. */
  started(): void {
    this.running = true;
    for (const signal of this.queued.splice(0)) this.h.kill(signal).catch(() => undefined);
    if (this.console) this.stopResize = this.console.handleResize((size) => this.h.resize(size.width, size.height));
    this.h.startStdin();
  }

  /** Waits for the exit status, then stops forwarding. */
  async wait(exited: Promise<T.WaitResponse>): Promise<T.WaitResponse> {
    try {
      return await exited;
    } finally {
      this.stop();
    }
  }

  stop(): void {
    this.stopSignals?.();
    this.stopResize?.();
    this.stopSignals = this.stopResize = undefined;
  }
}

/** commands.WritePidFile: written to `.name` beside it, then renamed. */
export function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}`);
  const fd = fs.openSync(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_SYNC, 0o666);
  try {
    fs.writeSync(fd, String(pid));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, abs);
}

/**
 * Starts a created task; unless detached, attaches its IO, waits for its exit (Wait subscribed before Start),
 * deletes it and releases its IO, and throws ExitStatus for a non-zero status — `run` and `tasks start`.
 * Detached, the FIFOs stay for `tasks attach`, as ctr leaves them.
 */
export async function startAndWait(task: ProcessHandle, con: Console | undefined, opts: { detach?: boolean; pidFile?: string }): Promise<void> {
  const attachment = opts.detach ? undefined : new Attachment(task, con);
  let deleted = false;
  try {
    const exited = opts.detach ? undefined : task.wait();
    exited?.catch(() => undefined);
    if (opts.pidFile) writePidFile(opts.pidFile, task.pid);
    await task.start();
    if (!attachment) return;
    attachment.started();
    const status = await attachment.wait(exited!);
    await deleteTask(task);
    deleted = true;
    if (status.exit_status !== 0) throw new ExitStatus(status.exit_status);
  } finally {
    attachment?.stop();
    if (!opts.detach) {
      if (!deleted) await deleteTask(task).catch(() => undefined);
      await task.releaseIO();
    }
  }
}
