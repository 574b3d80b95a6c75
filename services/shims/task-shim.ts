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

export class TaskShim {
  private current: ShimState = 'starting';
  shim: ShimProcess | undefined;
  client: ShimClient | undefined;
  pump: EventPump | undefined;
  /** What was published for this task (events.json); set once the bundle exists. */
  ledger: EventLedger | undefined;
  /** Host pid of the init process once created, with its start time. */
  initPid = 0;
  initStartTime = '';
  /** What cleanup needs if the shim dies (task.json). */
  facts: TaskFacts | undefined;
  /** Set while something (delete, dead-shim cleanup) finishes this task; awaited by concurrent callers. */
  finishing: Promise<void> | undefined;

  constructor(
    readonly namespace: string,
    readonly id: string,
    readonly bundle: string,
    readonly log: Logger,
  ) {}

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
