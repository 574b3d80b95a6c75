/**
 * The tasks one shim serves, by id (shim.proto "Groups", docs/shim.md "Shim groups").
 *
 * A shim serves one task, or several when berthd binds it with a group: the first Bind{id, namespace, bundle,
 * group} ties the shim to the group, and each later Bind naming the same group and namespace adds a task
 * (a member). Each member has its own Task (state machines as for a single task) and its own event queue,
 * kept in its own bundle (`<bundle>/shim-events`), so what a dead shim leaves behind is read per bundle as
 * before. Shutdown{id} forgets that member; the shim exits when no member is left. A shim bound without a
 * group serves one task at a time and may be recycled (Bind after its task was deleted and every event
 * acknowledged); a grouped shim never is.
 */
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from '../pkg/errdefs';
import { validateIdentifier } from '../pkg/identifiers';
import type { Logger } from '../pkg/log';
import { EventQueue } from './events/queue';
import { TaskEvents } from './events/publisher';
import { Task, type TaskIdentity } from './task';

/** How many tasks one shim process serves one after the other (Bind after Delete) before berthd must start a new one. */
export const MAX_TASKS_PER_SHIM = 100;

export interface Member {
  identity: TaskIdentity;
  task: Task;
  queue: EventQueue;
  log: Logger;
}

export class Members {
  private readonly byId = new Map<string, Member>();
  /** The group label of a grouped shim ('' for a shim serving one task). */
  private group = '';
  /** Tasks bound before the current one(s) (recycling). */
  private uses = 0;
  /** Set once the shim decided to exit: no more Binds. */
  shuttingDown = false;
  /** The queue of a shim serving nothing (an Events stream on an unbound shim streams nothing). */
  readonly spare = new EventQueue();

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.byId.size;
  }

  get groupName(): string {
    return this.group;
  }

  all(): Member[] {
    return [...this.byId.values()];
  }

  /** Ties the shim to a task (command line, or Bind). See the header for when a bound shim takes another one. */
  async bind(identity: TaskIdentity, group = ''): Promise<Member> {
    const existing = this.byId.get(identity.id);
    if (existing && existing.identity.namespace === identity.namespace && existing.identity.bundle === identity.bundle && !existing.task.isDeleted) {
      return existing;
    }
    validateIdentifier(identity.id);
    validateIdentifier(identity.namespace);
    if (group.length > 4096) throw new InvalidArgument(`group of task ${identity.id}: longer than 4096 bytes`);
    if (!identity.bundle.startsWith('/')) throw new InvalidArgument(`bundle ${identity.bundle}: must be an absolute path`);
    if (this.shuttingDown) throw new FailedPrecondition(`task ${identity.id}: shim is shutting down`);
    const first = this.all()[0];
    if (first) {
      const joins = this.group !== '' && group === this.group && identity.namespace === first.identity.namespace;
      if (joins) {
        if (existing && !(existing.task.isDeleted && existing.queue.pending().length === 0)) throw new AlreadyExists(`task ${identity.id}: already exists`);
        if (existing) await this.forget(identity.id);
      } else if (this.reusable()) {
        // Recycled: the previous task is deleted and every one of its events acknowledged.
        this.log.info('shim rebound to a new task', { previous: `${first.identity.namespace}/${first.identity.id}` });
        for (const m of this.all()) await this.forget(m.identity.id);
        this.uses++;
      } else {
        throw new FailedPrecondition(`shim is bound to task ${first.identity.namespace}/${first.identity.id}`);
      }
    }
    if (this.byId.size === 0) this.group = group;
    const log = this.log.child({ namespace: identity.namespace, id: identity.id });
    enter(identity.bundle, log);
    const queue = new EventQueue();
    await queue.attach(identity.bundle);
    const member: Member = { identity, queue, log, task: new Task(identity, new TaskEvents(queue, () => identity.namespace), log) };
    this.byId.set(identity.id, member);
    log.info('shim bound to task', { bundle: identity.bundle, group: this.group || undefined, tasks: this.byId.size });
    return member;
  }

  /** The member serving task `id`, if any. */
  get(id: string): Member | undefined {
    return this.byId.get(id);
  }

  /** The member a task request names; FailedPrecondition before any Bind, NotFound for another id. */
  require(id: string): Member {
    const m = this.byId.get(id);
    if (m) return m;
    if (this.byId.size === 0) throw new FailedPrecondition('shim is not bound to a task');
    throw new NotFound('container not created');
  }

  /** The member an Events/Ack/Connect call means: `id`, or with no id the only one (undefined: none bound). */
  pick(id: string): Member | undefined {
    if (id) return this.require(id);
    if (this.byId.size > 1) throw new InvalidArgument(`shim serves ${this.byId.size} tasks: the request must name one`);
    return this.all()[0];
  }

  /** Drops a member (its task deleted or destroyed): closes its event file and leaves its bundle. */
  async forget(id: string): Promise<void> {
    const m = this.byId.get(id);
    if (!m) return;
    this.byId.delete(id);
    await m.queue.close().catch(() => {});
    const next = this.all().pop();
    // A removed bundle must not stay the working directory (runc spawned from a removed cwd fails).
    if (next) enter(next.identity.bundle, next.log);
    if (this.byId.size === 0) this.group = '';
  }

  /** True while the shim serves nothing: never bound, or every task deleted and every event acknowledged. */
  isIdle(): boolean {
    return this.all().every((m) => m.task.isDeleted && m.queue.pending().length === 0);
  }

  /** Whether Bind may recycle this shim for an unrelated task (never a grouped shim). */
  private reusable(): boolean {
    return this.group === '' && this.isIdle() && this.uses < MAX_TASKS_PER_SHIM;
  }

  /** True while some task has a process that has not exited. */
  hasLiveProcesses(): boolean {
    return this.all().some((m) => !m.task.isDeleted && m.task.processes().some((p) => p.status !== 'stopped'));
  }

  async closeQueues(): Promise<void> {
    for (const m of this.all()) await m.queue.close().catch(() => {});
  }
}

function enter(bundle: string, log: Logger): void {
  try {
    process.chdir(bundle);
  } catch (err) {
    log.warn('cannot enter the bundle', { err: String(err) });
  }
}
