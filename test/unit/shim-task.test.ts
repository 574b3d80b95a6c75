/**
 * The shim's task logic against a fake runtime (no root, no containers): event order when a process exits
 * during Start, exactly one exit per process, Delete of a created task, errors of the state machines.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventQueue } from '../../shim/events/queue';
import { TaskEvents } from '../../shim/events/publisher';
import { Task } from '../../shim/task';
import type { ContainerRuntime, ExitInfo, RuntimeProcess } from '../../shim/runtime/types';
import { getLogger } from '../../pkg/log';
import { FailedPrecondition, NotFound } from '../../pkg/errdefs';
import { packJsonAny, OCI_PROCESS_TYPE_URL } from '../../proto/any';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

class FakeProcess implements RuntimeProcess {
  private resolveExit!: (e: ExitInfo) => void;
  private readonly exit = new Promise<ExitInfo>((r) => (this.resolveExit = r));
  constructor(readonly pid: number) {}
  wait(): Promise<ExitInfo> {
    return this.exit;
  }
  die(exitStatus: number): void {
    this.resolveExit({ exitStatus, exitedAt: new Date() });
  }
}

class FakeRuntime implements ContainerRuntime {
  readonly name = 'fake';
  init = new FakeProcess(100);
  execs: FakeProcess[] = [];
  exitOnStart: number | undefined;
  killed: number[] = [];
  async create(): Promise<RuntimeProcess> {
    return this.init;
  }
  async start(): Promise<void> {
    if (this.exitOnStart !== undefined) this.init.die(this.exitOnStart);
  }
  async exec(): Promise<RuntimeProcess> {
    const p = new FakeProcess(200 + this.execs.length);
    this.execs.push(p);
    return p;
  }
  async kill(signal: number): Promise<void> {
    this.killed.push(signal);
    if (signal === 9) this.init.die(137);
  }
  async pause(): Promise<void> {}
  async resume(): Promise<void> {}
  async pids(): Promise<number[]> {
    return [100];
  }
  async stats(): Promise<{ type_url: string; value: Buffer }> {
    return { type_url: 'x', value: Buffer.alloc(0) };
  }
  async update(): Promise<void> {}
  async resizePty(): Promise<void> {}
  async oomKillCount(): Promise<number> {
    return 0;
  }
  async delete(): Promise<void> {}
}

async function setup(): Promise<{ task: Task; runtime: FakeRuntime; queue: EventQueue; topics: () => string[] }> {
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-shim-task-'));
  dirs.push(bundle);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify({ process: { args: ['true'], cwd: '/' }, linux: { namespaces: [{ type: 'pid' }] } }));
  const queue = new EventQueue();
  await queue.attach(bundle);
  const runtime = new FakeRuntime();
  const task = new Task({ id: 'c1', namespace: 'ns', bundle }, new TaskEvents(queue, () => 'ns'), getLogger('test'), () => runtime);
  return { task, runtime, queue, topics: () => queue.pending().map((e) => e.topic) };
}

const createReq = (bundle = '') => ({ id: 'c1', bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '', options: null, checkpoint: '' });

describe('shim task logic', () => {
  it('queues /tasks/start before the exit of a process that exits during Start; Wait sees the status', async () => {
    const { task, runtime, topics } = await setup();
    await task.create(createReq());
    runtime.exitOnStart = 3;
    const init = task.requireInit();
    const waited = init.wait();
    await init.start();
    assert.equal((await waited).exitStatus, 3);
    assert.deepEqual(topics(), ['/tasks/create', '/tasks/start', '/tasks/exit']);
    assert.equal(init.status, 'stopped');
    await assert.rejects(init.kill(15, false), NotFound);
    await assert.rejects(init.start(), (e: unknown) => e instanceof FailedPrecondition && e.message === 'cannot start a stopped process');
    const r = await task.delete('');
    assert.equal(r.exitStatus, 3);
    assert.deepEqual(topics(), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    assert.throws(() => task.process(''), NotFound);
  });

  it('deletes a created task by killing it: one exit, then delete', async () => {
    const { task, runtime, topics } = await setup();
    await task.create(createReq());
    const r = await task.delete('');
    assert.equal(r.exitStatus, 137);
    assert.deepEqual(runtime.killed, [9]);
    assert.deepEqual(topics(), ['/tasks/create', '/tasks/exit', '/tasks/delete']);
  });

  it('exec processes: added, started, one exit each, refused while running, forgotten on delete', async () => {
    const { task, runtime, topics } = await setup();
    await task.create(createReq());
    await task.requireInit().start();
    const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['sh'], cwd: '/' });
    await task.exec('e1', spec, { stdin: '', stdout: '', stderr: '', terminal: false });
    const e1 = task.process('e1') as import('../../shim/process/exec').ExecProcess;
    await assert.rejects(e1.kill(9), (e: unknown) => e instanceof FailedPrecondition && e.message === 'process not created');
    await e1.start();
    await assert.rejects(task.delete('e1'), FailedPrecondition);
    runtime.execs[0]!.die(0);
    runtime.execs[0]!.die(1); // a second report is ignored
    await e1.wait();
    assert.equal((await task.delete('e1')).exitStatus, 0);
    assert.throws(() => task.process('e1'), (e: unknown) => e instanceof NotFound && e.message === 'process does not exist e1');
    assert.deepEqual(topics(), ['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit']);
    await assert.rejects(task.create(createReq()), /already exists/);
  });
});
