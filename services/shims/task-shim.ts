/**
 * One task's shim as berthd sees it, with its lifecycle as an explicit state machine:
 *
 *   starting ──▶ ready ──▶ deleting ──▶ gone
 *      │           │ ▲         │
 *      │           ▼ │         └─▶ ready   (the shim refused the delete)
 *      │       unreachable ──▶ deleting    (reconnect found it alive but mute; then it died)
 *      └──────────────────────▶ gone       (create failed, or the shim died)
 *
 * `starting` reserves the id (concurrent Creates get AlreadyExists) and is invisible to every other
 * call (NotFound); `unreachable` answers Unavailable; `gone` means removed from the registry.
 */
import type { ChildProcess } from 'node:child_process';
import { FailedPrecondition, NotFound, Unavailable } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import type { ShimClient } from './client';
import type { EventPump } from './event-pump';
import type { EventLedger } from './event-ledger';
import type { TaskFacts } from './dead-task';
import type { StateResponse } from './messages';
import { unpackAny, type AnyMessage } from '../../proto/any';
import type { Timestamp } from '../../proto/timestamp';

export type ShimState = 'starting' | 'ready' | 'unreachable' | 'deleting' | 'gone';

const transitions: Record<ShimState, ShimState[]> = {
  starting: ['ready', 'gone'],
  ready: ['deleting', 'unreachable', 'gone'],
  unreachable: ['ready', 'deleting', 'gone'],
  deleting: ['ready', 'gone'],
  gone: [],
};

export interface ShimProcess {
  pid: number;
  startTime: string;
  address: string;
  child?: ChildProcess;
}

/**
 * The init process's state as berthd last learnt it (Create, State answers, the shim's events, Start /
 * Wait / Pause / Resume answers): Tasks.List answers from it instead of asking every shim. Only ever
 * moves forward: once stopped, stopped.
 */
export class InitSnapshot {
  constructor(private st: StateResponse) {}

  get state(): StateResponse {
    return this.st;
  }

  private get stopped(): boolean {
    return this.st.status === 'STOPPED';
  }

  /** A State answer for the init process (the shim's own view: taken as is). */
  fromState(st: StateResponse): void {
    this.st = { ...st };
  }

  setStatus(status: 'RUNNING' | 'PAUSED'): void {
    if (!this.stopped) this.st = { ...this.st, status };
  }

  exited(exitStatus: number, exitedAt: Timestamp | null): void {
    this.st = { ...this.st, status: 'STOPPED', exit_status: exitStatus, exited_at: exitedAt };
  }

  /** An event of the task's shim (init only: exec events leave the init's state alone). */
  onEvent(topic: string, event: AnyMessage | null | undefined, containerId: string): void {
    if (topic === '/tasks/start') this.setStatus('RUNNING');
    else if (topic === '/tasks/paused') this.setStatus('PAUSED');
    else if (topic === '/tasks/resumed') this.setStatus('RUNNING');
    else if (topic === '/tasks/exit' && event) {
      try {
        const e = unpackAny(event) as { id?: string; exit_status?: number; exited_at?: Timestamp | null };
        if (e.id === containerId || e.id === '') this.exited(Number(e.exit_status ?? 0), e.exited_at ?? null);
      } catch {
        // undecodable: State answers will tell
      }
    }
  }
}

export class TaskShim {
  private current: ShimState = 'starting';
  shim: ShimProcess | undefined;
  client: ShimClient | undefined;
  pump: EventPump | undefined;
  /** What was published for this task (events.json); set once the bundle exists. */
  ledger: EventLedger | undefined;
  /** The init's last known state (Tasks.List answers from it). */
  snapshot: InitSnapshot | undefined;
  /** Host pid of the init process once created, with its start time. */
  initPid = 0;
  initStartTime = '';
  /** What cleanup needs if the shim dies (task.json). */
  facts: TaskFacts | undefined;
  /** The listener for the shim process's exit (removed when the shim is recycled for another task). */
  onShimExit: (() => void) | undefined;
  /** Set while something (delete, dead-shim cleanup) finishes this task; awaited by concurrent callers. */
  finishing: Promise<void> | undefined;
  private groupName: string | undefined;

  constructor(
    readonly namespace: string,
    readonly id: string,
    readonly bundle: string,
    readonly log: Logger,
  ) {}

  /** The shim group (groups.ts; '' for none): set at create, read back from task.json after a restart. */
  get group(): string {
    return this.groupName ?? this.facts?.group ?? '';
  }

  set group(name: string) {
    this.groupName = name;
  }

  get key(): string {
    return taskKey(this.namespace, this.id);
  }

  get state(): ShimState {
    return this.current;
  }

  transition(to: ShimState): void {
    if (this.current === to) return;
    if (!transitions[this.current].includes(to)) {
      throw new FailedPrecondition(`task ${this.id}: cannot go from ${this.current} to ${to}`);
    }
    this.log.debug('task shim state', { from: this.current, to });
    this.current = to;
  }

  /** The client for a task call; NotFound / Unavailable when the task cannot take calls. */
  use(): ShimClient {
    switch (this.current) {
      case 'ready':
      case 'deleting':
        return this.client!;
      case 'unreachable':
        throw new Unavailable(`task ${this.id}: shim not reachable`);
      default:
        throw new NotFound(`task ${this.id}: not found`);
    }
  }
}

export function taskKey(namespace: string, id: string): string {
  return `${namespace}/${id}`;
}
