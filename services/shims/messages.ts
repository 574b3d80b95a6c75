/**
 * The berth.shim.v1 messages berthd sends and receives (proto/berth/shim/v1/shim.proto), as the plain
 * objects proto/loader.ts produces: snake_case fields, 64-bit integers as numbers, enums as names, every
 * field present in what we receive. (Written out here rather than imported from proto/gen/berth/shim/,
 * whose path the import-table lint reads as the shim/ folder.)
 */
import type { AnyMessage } from '../../proto/any';
import type { Timestamp } from '../../proto/timestamp';

export interface Mount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

export interface CreateTaskRequest {
  id: string;
  bundle: string;
  rootfs: Mount[];
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  checkpoint: string;
  parent_checkpoint: string;
  options: AnyMessage | null;
  /** Set: the shim is bound to {id, namespace, bundle, group} first, as by Bind (a pre-started shim). */
  namespace?: string;
  group?: string;
}

export interface CreateTaskResponse {
  pid: number;
}

export interface StartResponse {
  pid: number;
}

export interface DeleteResponse {
  pid: number;
  exit_status: number;
  exited_at: Timestamp | null;
}

export interface ExecProcessRequest {
  id: string;
  exec_id: string;
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  spec: AnyMessage | null;
}

export interface UpdateTaskRequest {
  id: string;
  resources: AnyMessage | null;
  annotations: Record<string, string>;
}

/** containerd.v1.types.Status by name (numbers only if a peer sent an unknown value). */
export type StatusValue = 'UNKNOWN' | 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED' | 'PAUSING';

export interface StateResponse {
  id: string;
  bundle: string;
  pid: number;
  status: StatusValue;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exit_status: number;
  exited_at: Timestamp | null;
  exec_id: string;
}

export interface ProcessInfo {
  pid: number;
  info: AnyMessage | null;
}

export interface PidsResponse {
  processes: ProcessInfo[];
}

export interface WaitResponse {
  exit_status: number;
  exited_at: Timestamp | null;
}

export interface StatsResponse {
  stats: AnyMessage | null;
}

export interface ConnectResponse {
  shim_pid: number;
  task_pid: number;
  version: string;
}

export interface BindResponse {
  shim_pid: number;
}

export interface ShimEvent {
  seq: number;
  timestamp: Timestamp | null;
  topic: string;
  event: AnyMessage | null;
  namespace: string;
}
