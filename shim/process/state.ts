/**
 * Lifecycle of the processes a shim manages, as explicit state machines with containerd's wording
 * (pkg/process/init_state.go, exec_state.go, deleted_state.go). An operation not allowed in the current state
 * throws FailedPrecondition (NotFound for kill/delete of what is already gone), with containerd's message.
 *
 *   init:  created ─start→ running ─pause→ pausing → paused ─resume→ running
 *          created|running|paused ─exit→ stopped ─delete→ deleted;  created ─delete→ deleted
 *   exec:  created ─start→ running ─exit→ stopped ─delete→ deleted;  created ─delete→ deleted
 */
import { FailedPrecondition, NotFound, type BerthError } from '../../pkg/errdefs';

export type ProcessStatus = 'created' | 'running' | 'pausing' | 'paused' | 'stopped' | 'deleted';
export type ProcessKind = 'init' | 'exec';
export type Operation = 'start' | 'delete' | 'pause' | 'resume' | 'update' | 'exec' | 'kill' | 'resize' | 'exit';

type Verdict = true | string | { notFound: string };

/** What each operation may do in each state: true, or the error message (FailedPrecondition unless notFound). */
const initRules: Record<ProcessStatus, Partial<Record<Operation, Verdict>>> = {
  created: {
    start: true, delete: true, update: true, exec: true, kill: true, resize: true, exit: true,
    pause: 'cannot pause task in created state', resume: 'cannot resume task in created state',
  },
  running: {
    pause: true, update: true, exec: true, kill: true, resize: true, exit: true,
    start: 'cannot start a running process', delete: 'cannot delete a running process', resume: 'cannot resume a running process',
  },
  pausing: {
    update: true, kill: true, resize: true, exit: true,
    start: 'cannot start a running process', delete: 'cannot delete a running process',
    pause: 'cannot pause a paused container', resume: 'cannot resume a running process', exec: 'cannot exec in a paused state',
  },
  paused: {
    resume: true, update: true, kill: true, resize: true, exit: true,
    start: 'cannot start a paused process', delete: 'cannot delete a paused process',
    pause: 'cannot pause a paused container', exec: 'cannot exec in a paused state',
  },
  stopped: {
    delete: true,
    start: 'cannot start a stopped process', pause: 'cannot pause a stopped container', resume: 'cannot resume a stopped container',
    update: 'cannot update a stopped container', exec: 'cannot exec in a stopped state', resize: 'cannot resize a stopped container',
    kill: { notFound: 'process already finished' }, exit: 'process already finished',
  },
  deleted: {
    start: 'cannot start a deleted process', pause: 'cannot pause a deleted process', resume: 'cannot resume a deleted process',
    update: 'cannot update a deleted process', exec: 'cannot exec in a deleted state', resize: 'cannot resize a deleted process',
    delete: { notFound: 'cannot delete a deleted process' }, kill: { notFound: 'cannot kill a deleted process' }, exit: 'process already finished',
  },
};

const execRules: Record<ProcessStatus, Partial<Record<Operation, Verdict>>> = {
  created: { start: true, delete: true, resize: true, exit: true, kill: 'process not created' },
  running: { kill: true, resize: true, exit: true, start: 'cannot start a running process', delete: 'cannot delete a running process' },
  pausing: { kill: true, exit: true, start: 'cannot start a running process', delete: 'cannot delete a running process' },
  paused: { kill: true, exit: true, start: 'cannot start a paused process', delete: 'cannot delete a paused process' },
  stopped: {
    delete: true, start: 'cannot start a stopped process', resize: 'cannot resize a stopped container',
    kill: { notFound: 'process already finished' }, exit: 'process already finished',
  },
  deleted: {
    start: 'cannot start a deleted process', resize: 'cannot resize a deleted process', exit: 'process already finished',
    delete: { notFound: 'cannot delete a deleted process' }, kill: { notFound: 'cannot kill a deleted process' },
  },
};

/** Where each successful operation leads (operations absent here leave the state unchanged). */
const transitions: Partial<Record<Operation, ProcessStatus>> = {
  start: 'running',
  delete: 'deleted',
  pause: 'paused',
  resume: 'running',
  exit: 'stopped',
};

export function checkOperation(kind: ProcessKind, status: ProcessStatus, op: Operation): BerthError | undefined {
  const verdict = (kind === 'init' ? initRules : execRules)[status][op] ?? `cannot ${op} a ${status} process`;
  if (verdict === true) return undefined;
  if (typeof verdict === 'string') return new FailedPrecondition(verdict);
  return new NotFound(verdict.notFound);
}

export class ProcessStateMachine {
  private current: ProcessStatus = 'created';

  constructor(readonly kind: ProcessKind) {}

  get status(): ProcessStatus {
    return this.current;
  }

  /** Throws the containerd error when `op` is not allowed now. */
  check(op: Operation): void {
    const err = checkOperation(this.kind, this.current, op);
    if (err) throw err;
  }

  /** Checks `op` and moves to its target state. */
  apply(op: Operation): void {
    this.check(op);
    const to = transitions[op];
    if (to) this.current = to;
  }

  /** Pausing is an observable in-between state of `pause` (init only). */
  beginPause(): void {
    this.check('pause');
    this.current = 'pausing';
  }

  /** Ends a pause that failed: back to running unless something else happened meanwhile. */
  abortPause(): void {
    if (this.current === 'pausing') this.current = 'running';
  }

  finishPause(): void {
    if (this.current === 'pausing') this.current = 'paused';
  }
}
