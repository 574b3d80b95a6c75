/**
 * A stand-in berth-shim for the shim manager's unit tests (no root, no containers): it serves the berth
 * shim API on fd 3 like the real shim, and its "init process" is a real `sleep` child, so kill, wait,
 * exit statuses and orphan cleanup behave as with a container. Events are queued with sequence numbers
 * until acknowledged, as shim.proto describes.
 *
 *   node tasks-fake-shim.js --namespace NS --id ID --bundle DIR
 *
 * FAKE_SHIM_MODE=mute: accept connections but never answer (a hung shim).
 * FAKE_SHIM_MODE=refuse-create-bind: Create{..., namespace} (a pre-started shim bound by Create) answers
 * UNAVAILABLE, as a shim that cannot take the task does; Bind then Create works.
 * FAKE_SHIM_NO_DELETE_EVENT=1: do not queue /tasks/delete.
 */
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Server, ServerCredentials, status, type ServerWritableStream } from '@grpc/grpc-js';
import { serviceDefinition, PROTO_FILES, encodeMessage } from '../../proto/loader';
import { toTimestamp, type Timestamp } from '../../proto/timestamp';

const argv = process.argv.slice(2);
const arg = (name: string): string => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] ?? '' : '');
let namespace = arg('namespace');
let bundle = arg('bundle');

interface QueuedEvent {
  seq: number;
  timestamp: Timestamp;
  topic: string;
  event: { type_url: string; value: Buffer };
  namespace: string;
}

let seq = 0;
let queue: QueuedEvent[] = [];
let subscriber: ServerWritableStream<unknown, unknown> | undefined;

function emit(topic: string, type: string, msg: object): void {
  const ev: QueuedEvent = { seq: ++seq, timestamp: toTimestamp(), topic, event: { type_url: type, value: encodeMessage(type, msg) }, namespace };
  queue.push(ev);
  subscriber?.write(ev);
}

interface Proc {
  child: ChildProcess;
  pid: number;
  status: 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED';
  exitStatus: number;
  exitedAt: Timestamp | null;
  waiters: (() => void)[];
}

let init: Proc | undefined;
let taskId = arg('id');

function fail(code: status, details: string): { code: status; details: string } {
  return { code, details };
}

type Cb = (err: unknown, res?: unknown) => void;
const u = (fn: (req: any) => unknown) => (call: { request: any }, cb: Cb) => {
  try {
    const r = fn(call.request);
    if (r instanceof Promise) r.then((v) => cb(null, v), (e: unknown) => cb(e));
    else cb(null, r);
  } catch (e) {
    cb(e);
  }
};

function needInit(): Proc {
  if (!init) throw fail(status.NOT_FOUND, 'container not created');
  return init;
}

function stateOf(): object {
  const p = needInit();
  return { id: taskId, bundle, pid: p.pid, status: p.status, stdin: '', stdout: '', stderr: '', terminal: false, exit_status: p.exitStatus, exited_at: p.exitedAt, exec_id: '' };
}

const impl = {
  State: u(() => stateOf()),
  Create: u((req: { id: string; namespace?: string; bundle?: string }) => {
    if (init) throw fail(status.ALREADY_EXISTS, 'task already created');
    // Create{..., namespace} binds a pre-started shim first (shim.proto step 2); one that cannot take it: UNAVAILABLE.
    if (req.namespace) {
      if (process.env.FAKE_SHIM_MODE === 'refuse-create-bind') throw fail(status.UNAVAILABLE, `task ${req.id}: this shim cannot take it`);
      if (taskId !== '' && taskId !== req.id) throw fail(status.UNAVAILABLE, `task ${req.id}: this shim cannot take it: bound to ${taskId}`);
      namespace = req.namespace;
      bundle = req.bundle ?? bundle;
    }
    taskId = req.id;
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const p: Proc = { child, pid: child.pid!, status: 'CREATED', exitStatus: 0, exitedAt: null, waiters: [] };
    child.on('exit', (code, sig) => {
      p.status = 'STOPPED';
      p.exitStatus = code ?? 128 + (sig ? (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 }) as Record<string, number>)[sig] ?? 0 : 0);
      p.exitedAt = toTimestamp();
      emit('/tasks/exit', 'containerd.events.TaskExit', { container_id: taskId, id: taskId, pid: p.pid, exit_status: p.exitStatus, exited_at: p.exitedAt });
      for (const w of p.waiters.splice(0)) w();
    });
    init = p;
    emit('/tasks/create', 'containerd.events.TaskCreate', { container_id: taskId, bundle, rootfs: [], io: null, checkpoint: '', pid: p.pid });
    return { pid: p.pid };
  }),
  Start: u(() => {
    const p = needInit();
    if (p.status !== 'CREATED') throw fail(status.FAILED_PRECONDITION, `process ${p.pid} is ${p.status.toLowerCase()}`);
    p.status = 'RUNNING';
    emit('/tasks/start', 'containerd.events.TaskStart', { container_id: taskId, pid: p.pid });
    return { pid: p.pid };
  }),
  Delete: u(() => {
    const p = needInit();
    if (p.status === 'RUNNING' || p.status === 'PAUSED') throw fail(status.FAILED_PRECONDITION, 'process is running');
    if (p.status === 'CREATED') {
      p.child.removeAllListeners('exit');
      p.child.kill('SIGKILL');
    }
    init = undefined;
    if (!process.env.FAKE_SHIM_NO_DELETE_EVENT) {
      emit('/tasks/delete', 'containerd.events.TaskDelete', { container_id: taskId, pid: p.pid, exit_status: p.exitStatus, exited_at: p.exitedAt, id: '' });
    }
    return { pid: p.pid, exit_status: p.exitStatus, exited_at: p.exitedAt };
  }),
  Pids: u(() => ({ processes: [{ pid: needInit().pid, info: null }] })),
  Pause: u(() => {
    const p = needInit();
    p.child.kill('SIGSTOP');
    p.status = 'PAUSED';
    emit('/tasks/paused', 'containerd.events.TaskPaused', { container_id: taskId });
    return {};
  }),
  Resume: u(() => {
    const p = needInit();
    p.child.kill('SIGCONT');
    p.status = 'RUNNING';
    emit('/tasks/resumed', 'containerd.events.TaskResumed', { container_id: taskId });
    return {};
  }),
  Kill: u((req: { signal: number }) => {
    const p = needInit();
    if (p.status === 'STOPPED') throw fail(status.NOT_FOUND, 'process already finished');
    process.kill(p.pid, req.signal);
    if (p.status === 'PAUSED') process.kill(p.pid, 'SIGCONT');
    return {};
  }),
  Exec: u(() => {
    throw fail(status.UNIMPLEMENTED, 'fake shim: no exec');
  }),
  ResizePty: u(() => ({})),
  CloseIO: u(() => ({})),
  Update: u(() => ({})),
  Wait: u(async () => {
    const p = needInit();
    if (p.status !== 'STOPPED') await new Promise<void>((r) => p.waiters.push(r));
    return { exit_status: p.exitStatus, exited_at: p.exitedAt };
  }),
  Stats: u(() => ({ stats: { type_url: 'io.containerd.cgroups.v1.Metrics', value: encodeMessage('io.containerd.cgroups.v1.Metrics', { pids: { current: 1, limit: 0 } }) } })),
  Connect: u(() => ({ shim_pid: process.pid, task_pid: init?.pid ?? 0, version: 'fake' })),
  Shutdown: u(() => {
    setImmediate(() => process.exit(0));
    return {};
  }),
  Events: (call: ServerWritableStream<{ after_seq: number }, unknown>) => {
    subscriber?.end();
    subscriber = call;
    for (const ev of queue) if (ev.seq > Number(call.request.after_seq)) call.write(ev);
    call.on('cancelled', () => {
      if (subscriber === call) subscriber = undefined;
    });
  },
  Ack: u((req: { seq: number }) => {
    queue = queue.filter((e) => e.seq > Number(req.seq));
    return {};
  }),
  Bind: u((req: { id: string; namespace: string; bundle: string }) => {
    if (taskId !== '') throw fail(status.FAILED_PRECONDITION, `shim already bound to ${taskId}`);
    taskId = req.id;
    namespace = req.namespace;
    bundle = req.bundle;
    return { shim_pid: process.pid };
  }),
};

const listener = net.createServer();
if (process.env.FAKE_SHIM_MODE === 'mute') {
  // Accept and hold connections without ever speaking HTTP/2.
  const held: net.Socket[] = [];
  listener.on('connection', (s) => held.push(s));
} else {
  const server = new Server();
  server.addService(serviceDefinition(PROTO_FILES.shim, 'berth.shim.v1.Shim'), impl as never);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  listener.on('connection', (s) => injector.injectConnection(s));
}
listener.listen({ fd: 3 });
process.on('SIGTERM', () => process.exit(0));
