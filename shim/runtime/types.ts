/**
 * The runtime seam of the shim: one interface, two backends.
 *   - native (default): the in-process runtime of native/ (Factory / Container / Process).
 *   - oci-binary: an OCI runtime command line (runc, crun) chosen by `containerd.runc.v1.Options.binary_name`.
 * The shim's task logic (state machines, IO, events) never knows which one it drives.
 */
import type { ProcessFds } from '../io/stdio';

export interface ExitInfo {
  /** exit code, or 128 + signal number when killed by a signal */
  exitStatus: number;
  exitedAt: Date;
}

/** A process the runtime started; `wait()` resolves when the shim (subreaper) reaped it. */
export interface RuntimeProcess {
  readonly pid: number;
  /** pty master when the process has a terminal; owned by the shim from now on */
  readonly terminalMaster?: number;
  wait(): Promise<ExitInfo>;
}

/** The OCI process spec (runtime-spec `process`), as JSON. */
export type OciProcessSpec = Record<string, unknown> & { terminal?: boolean; args?: string[] };

export interface KillOptions {
  all: boolean;
}

export interface ContainerRuntime {
  /** 'native' or the binary's name, for logs */
  readonly name: string;
  /** Builds the init process; it waits for start(). */
  create(io: ProcessFds): Promise<RuntimeProcess>;
  /** Lets the init process run the user's program. */
  start(): Promise<void>;
  /** Starts an exec process in the container (running at once). */
  exec(execId: string, spec: OciProcessSpec, io: ProcessFds): Promise<RuntimeProcess>;
  /** Signals the init process, or (all) every process of the container. */
  kill(signal: number, opts: KillOptions): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Host pids of every process of the container. */
  pids(): Promise<number[]>;
  /** Cgroup metrics as the Any `io.containerd.cgroups.v1.Metrics` / `.v2.Metrics`. */
  stats(): Promise<{ type_url: string; value: Buffer }>;
  /** OCI LinuxResources. */
  update(resources: Record<string, unknown>): Promise<void>;
  /** Sets a terminal's window size. */
  resizePty(master: number, width: number, height: number): Promise<void>;
  /** The number of OOM kills in the container's memory cgroup so far (0 when unknown). */
  oomKillCount(): Promise<number>;
  /** Removes the container: kills what is left, removes cgroups and state. Idempotent. */
  delete(): Promise<void>;
}

export interface RuntimeContext {
  id: string;
  namespace: string;
  bundle: string;
  /** OCI spec, from <bundle>/config.json */
  spec: Record<string, unknown>;
}
