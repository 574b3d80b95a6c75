/**
 * Builds containerd's task event payloads (containerd.events.*, api/events/task.proto) and queues them under
 * their topics. One method per event the shim causes; each resolves once the event is persisted.
 */
import { encodeMessage } from '../../proto/loader';
import { toTimestamp } from '../../proto/timestamp';
import type { EventQueue, QueuedEvent } from './queue';

export const TOPICS = {
  create: '/tasks/create',
  start: '/tasks/start',
  exit: '/tasks/exit',
  delete: '/tasks/delete',
  oom: '/tasks/oom',
  execAdded: '/tasks/exec-added',
  execStarted: '/tasks/exec-started',
  paused: '/tasks/paused',
  resumed: '/tasks/resumed',
} as const;

export interface TaskIOPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export class TaskEvents {
  constructor(
    private readonly queue: EventQueue,
    private readonly namespace: () => string,
  ) {}

  private emit(topic: string, typeName: string, msg: object): Promise<QueuedEvent> {
    return this.queue.publish(topic, this.namespace(), typeName, encodeMessage(typeName, msg));
  }

  create(containerId: string, bundle: string, rootfs: object[], io: TaskIOPaths, pid: number): Promise<QueuedEvent> {
    return this.emit(TOPICS.create, 'containerd.events.TaskCreate', { container_id: containerId, bundle, rootfs, io, checkpoint: '', pid });
  }
  start(containerId: string, pid: number): Promise<QueuedEvent> {
    return this.emit(TOPICS.start, 'containerd.events.TaskStart', { container_id: containerId, pid });
  }
  /** `id` is the exec id, or the container id for the init process. */
  exit(containerId: string, id: string, pid: number, exitStatus: number, exitedAt: Date): Promise<QueuedEvent> {
    return this.emit(TOPICS.exit, 'containerd.events.TaskExit', {
      container_id: containerId,
      id,
      pid,
      exit_status: exitStatus,
      exited_at: toTimestamp(exitedAt),
    });
  }
  delete(containerId: string, pid: number, exitStatus: number, exitedAt: Date | undefined): Promise<QueuedEvent> {
    return this.emit(TOPICS.delete, 'containerd.events.TaskDelete', {
      container_id: containerId,
      pid,
      exit_status: exitStatus,
      exited_at: exitedAt ? toTimestamp(exitedAt) : null,
      id: '',
    });
  }
  oom(containerId: string): Promise<QueuedEvent> {
    return this.emit(TOPICS.oom, 'containerd.events.TaskOOM', { container_id: containerId });
  }
  execAdded(containerId: string, execId: string): Promise<QueuedEvent> {
    return this.emit(TOPICS.execAdded, 'containerd.events.TaskExecAdded', { container_id: containerId, exec_id: execId });
  }
  execStarted(containerId: string, execId: string, pid: number): Promise<QueuedEvent> {
    return this.emit(TOPICS.execStarted, 'containerd.events.TaskExecStarted', { container_id: containerId, exec_id: execId, pid });
  }
  paused(containerId: string): Promise<QueuedEvent> {
    return this.emit(TOPICS.paused, 'containerd.events.TaskPaused', { container_id: containerId });
  }
  resumed(containerId: string): Promise<QueuedEvent> {
    return this.emit(TOPICS.resumed, 'containerd.events.TaskResumed', { container_id: containerId });
  }
}
