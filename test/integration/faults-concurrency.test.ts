/**
 * Concurrency against a real berthd with real shims (docs/faults.md): Kill, Delete, Wait and Get racing on
 * one task (and on one exec) — no crash, exactly one Delete wins, every Wait reports the one exit, exactly one
 * `/tasks/exit` and `/tasks/delete`; and clients that go away mid-call (cancelled or timed-out Tasks.Wait,
 * cancelled Events.Subscribe, a client process SIGKILLed with streams open) leave nothing behind: the
 * exchange's subscriber count (berthd's debug log, `subscription opened|closed {subscribers}`) returns to its
 * value before, berthd's and the shim's memory stop growing, and new subscribers and waiters still work.
 * 50 concurrent creates of one id are in tasks-restart. Root only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { OCI_PROCESS_TYPE_URL, packJsonAny } from '../../proto/any';
import { REPO_ROOT, SERVICES } from '../helpers/daemon';
import { serviceDefinition } from '../../proto/loader';
import { EventCollector, ROOT_SKIP, TasksEnv, randomId, waitFor } from './tasks-harness';

const skip = ROOT_SKIP;
const env = new TasksEnv();
let events: EventCollector;

before(async () => {
  if (skip) return;
  await env.start({ logLevel: 'debug', env: { BERTH_LOG_LEVEL: 'debug' } }); // berthd's level, and its shims'
  events = new EventCollector(env.events, ['topic~="^/tasks/"']);
  await waitFor(() => subscribers() === 1, 'the collector subscribed');
});

after(async () => {
  if (skip) return fs.rmSync(env.work, { recursive: true, force: true });
  events?.stop();
  await env.stop();
});

/** The exchange's subscriber count, from berthd's last `subscription opened|closed` debug line. */
function subscribers(): number {
  const re = /"message":"subscription (?:opened|closed)"[^\n]*?"subscribers":(\d+)|"subscribers":(\d+)[^\n]*?"message":"subscription (?:opened|closed)"/g;
  let last = 0;
  for (const m of env.berthd.logs().matchAll(re)) last = Number(m[1] ?? m[2]);
  return last;
}

/** The last `"inflight":N` in `text` (berthd's `call` / `call done` lines, a shim's `request done` lines). */
function lastInflight(text: string): number {
  let last = 0;
  for (const m of text.matchAll(/"inflight":(\d+)/g)) last = Number(m[1]);
  return last;
}
const berthdInflight = (): number => lastInflight(env.berthd.logs());
const shimInflight = (id: string): number => lastInflight(fs.readFileSync(path.join(env.berthd.state, 'tasks', 'default', id, 'shim.log'), 'utf8'));

/** Calls of `method` berthd has received (its debug `call` lines). */
function callsOf(method: string): number {
  return env.berthd.logs().split('\n').filter((l) => l.includes('"message":"call"') && l.includes(`/${method}"`)).length;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}


/**
 * A raw client on an HTTP/2 connection of its own: grpc-js clients of one target otherwise share one
 * connection, and Node's HTTP/2 server closes a connection on which more than 1000 streams were reset in a
 * burst (then 33 a second; nghttp2's rapid-reset guard) — a test that cancels hundreds of calls must not
 * take the others' calls down with it (that the others survive is tested below).
 */
function ownConnection(service: 'tasks' | 'events'): any {
  const { file, name } = SERVICES[service];
  const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(file, name), name);
  return new Ctor(`unix:${env.berthd.address}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}
const nsMetadata = (): grpc.Metadata => {
  const md = new grpc.Metadata();
  md.set('containerd-namespace', 'default');
  return md;
};

/** Like Promise.all, but waits for every promise before rethrowing the first failure (no task left in flight). */
async function allSettledOrThrow(ps: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(ps)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

type Outcome = { ok: true; value: any } | { ok: false; code: number; details: string };
const settle = (p: Promise<any>): Promise<Outcome> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (err) => ({ ok: false as const, code: err.code, details: err.details }),
  );
const codes = (os: Outcome[]): string[] => os.map((o) => (o.ok ? 'OK' : status[o.code]!));

test('Kill, Delete, Wait and Get racing on one task: one Delete wins, every Wait gets the exit, events once', { skip }, async () => {
  const ids = [randomId(), randomId(), randomId()];
  const berthd = env.berthd.pid;
  await allSettledOrThrow(
    ids.map(async (id) => {
      const pid = await env.run(id, ['/bin/sleep', '1000']);
      const tasks = env.tasks;
      const early = Array.from({ length: 10 }, () => settle(tasks.Wait!({ container_id: id, exec_id: '' })));
      await waitFor(() => callsOf('Wait') >= 10, 'waits reached berthd');
      // Round 1, while it runs: kills, deletes (refused while running, or one wins once it has exited), gets.
      const round1 = await Promise.all([
        ...Array.from({ length: 5 }, () => settle(tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false }))),
        ...Array.from({ length: 5 }, () => settle(tasks.Delete!({ container_id: id }))),
        ...Array.from({ length: 5 }, () => settle(tasks.Wait!({ container_id: id, exec_id: '' }))),
        ...Array.from({ length: 5 }, () => settle(tasks.Get!({ container_id: id, exec_id: '' }))),
      ]);
      const [kills, deletes1, waits1, gets] = [round1.slice(0, 5), round1.slice(5, 10), round1.slice(10, 15), round1.slice(15)];
      assert.ok(kills.some((o) => o.ok), `one kill at least reached the running task: ${codes(kills)}`);
      for (const o of kills) assert.ok(o.ok || o.code === status.NOT_FOUND, `kill: ${codes([o])} ${!o.ok && o.details}`);
      for (const o of deletes1) assert.ok(o.ok || [status.FAILED_PRECONDITION, status.NOT_FOUND].includes(o.code), `delete: ${!o.ok && o.details}`);
      for (const o of waits1) assert.ok((o.ok && o.value.exit_status === 137) || (!o.ok && o.code === status.NOT_FOUND), `wait: ${JSON.stringify(o)}`);
      for (const o of gets) assert.ok(o.ok || o.code === status.NOT_FOUND, `get: ${JSON.stringify(o)}`);
      for (const o of await Promise.all(early)) {
        assert.ok(o.ok, `a wait issued before the kill: ${JSON.stringify(o)}`);
        assert.equal(o.value.exit_status, 137);
      }
      // Round 2, once it has exited: deletes, waits and kills together.
      const round2 = await Promise.all([
        ...Array.from({ length: 8 }, () => settle(tasks.Delete!({ container_id: id }))),
        ...Array.from({ length: 4 }, () => settle(tasks.Wait!({ container_id: id, exec_id: '' }))),
        ...Array.from({ length: 4 }, () => settle(tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: true }))),
      ]);
      const deletes = [...deletes1, ...round2.slice(0, 8)];
      const won = deletes.filter((o) => o.ok);
      assert.equal(won.length, 1, `exactly one delete wins: ${codes(deletes)}`);
      assert.equal((won[0] as any).value.exit_status, 137);
      assert.equal((won[0] as any).value.pid, pid);
      // The losers: NotFound once the winner is done, FailedPrecondition `is being deleted` while it runs.
      for (const o of round2.slice(0, 8)) assert.ok(o.ok || [status.NOT_FOUND, status.FAILED_PRECONDITION].includes(o.code), `late delete: ${JSON.stringify(o)}`);
      for (const o of round2.slice(8, 12)) assert.ok((o.ok && o.value.exit_status === 137) || (!o.ok && o.code === status.NOT_FOUND), `late wait: ${JSON.stringify(o)}`);
      for (const o of round2.slice(12)) assert.ok(o.ok || o.code === status.NOT_FOUND, `late kill: ${JSON.stringify(o)}`);
      await assert.rejects(tasks.Get!({ container_id: id, exec_id: '' }), (err: any) => err.code === status.NOT_FOUND);
      await waitFor(() => events.topics(id).includes('/tasks/delete'), `${id} delete event`);
      await env.containers.Delete!({ id });
    }),
  );
  await new Promise((r) => setTimeout(r, 300)); // room for a duplicate event to show up
  for (const id of ids) assert.deepEqual(events.topics(id), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'], id);
  assert.equal(env.berthd.pid, berthd);
  process.kill(berthd, 0); // still there
  await env.settled();
});

test('Kill, DeleteProcess and Wait racing on one exec: one DeleteProcess wins, the init goes on', { skip }, async () => {
  const id = randomId();
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    const spec = packJsonAny(OCI_PROCESS_TYPE_URL, { args: ['/bin/sleep', '1000'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] });
    await env.tasks.Exec!({ container_id: id, exec_id: 'x', stdin: '', stdout: '', stderr: '', terminal: false, spec });
    await env.tasks.Start!({ container_id: id, exec_id: 'x' });
    const all = await Promise.all([
      ...Array.from({ length: 5 }, () => settle(env.tasks.Wait!({ container_id: id, exec_id: 'x' }))),
      ...Array.from({ length: 3 }, () => settle(env.tasks.Kill!({ container_id: id, exec_id: 'x', signal: 9, all: false }))),
      ...Array.from({ length: 5 }, () => settle(env.tasks.DeleteProcess!({ container_id: id, exec_id: 'x' }))),
    ]);
    for (const o of all.slice(0, 5)) assert.ok((o.ok && o.value.exit_status === 137) || (!o.ok && o.code === status.NOT_FOUND), `wait: ${JSON.stringify(o)}`);
    const late = await Promise.all(Array.from({ length: 5 }, () => settle(env.tasks.DeleteProcess!({ container_id: id, exec_id: 'x' }))));
    const deletes = [...all.slice(8), ...late];
    assert.equal(deletes.filter((o) => o.ok).length, 1, `exactly one DeleteProcess wins: ${codes(deletes)}`);
    for (const o of deletes) assert.ok(o.ok || [status.FAILED_PRECONDITION, status.NOT_FOUND].includes(o.code), JSON.stringify(o));
    assert.equal((deletes.find((o) => o.ok) as any).value.exit_status, 137);
    assert.equal(await env.status(id), 'RUNNING');
    assert.equal((await env.tasks.ListPids!({ container_id: id })).processes.length, 1);
    await waitFor(() => events.events.filter((e) => e.topic === '/tasks/exit' && e.event.container_id === id).length === 1, 'exec exit event');
  } finally {
    await env.remove(id);
  }
});

test('a task exiting by itself while Delete, Kill and Wait race: one status for all, one exit event', { skip }, async () => {
  const ids = Array.from({ length: 4 }, () => randomId());
  await allSettledOrThrow(
    ids.map(async (id) => {
      await env.createContainer(id, ['/bin/sh', '-c', 'exit 3']);
      await env.tasks.Create!(env.createTaskRequest(id));
      const waits = Array.from({ length: 3 }, () => settle(env.tasks.Wait!({ container_id: id, exec_id: '' })));
      await env.tasks.Start!({ container_id: id, exec_id: '' });
      const raced = await Promise.all([
        ...Array.from({ length: 3 }, () => settle(env.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false }))),
        ...Array.from({ length: 3 }, () => settle(env.tasks.Delete!({ container_id: id }))),
      ]);
      const waited = await Promise.all(waits);
      let deletes = raced.slice(3);
      if (!deletes.some((o) => o.ok)) deletes = deletes.concat(await Promise.all([settle(env.tasks.Delete!({ container_id: id })), settle(env.tasks.Delete!({ container_id: id }))]));
      const won = deletes.filter((o) => o.ok) as { ok: true; value: any }[];
      assert.equal(won.length, 1, `one delete: ${codes(deletes)}`);
      const exit = won[0]!.value.exit_status;
      assert.ok(exit === 3 || exit === 137, `exit ${exit}`);
      for (const o of waited) assert.ok(o.ok && o.value.exit_status === exit, `wait agrees with delete (${exit}): ${JSON.stringify(o)}`);
      await waitFor(() => events.topics(id).includes('/tasks/delete'), 'delete event');
      const exits = events.events.filter((e) => e.topic === '/tasks/exit' && e.event.container_id === id);
      assert.equal(exits.length, 1);
      assert.equal(exits[0]!.event.exit_status, exit);
      await env.containers.Delete!({ id });
    }),
  );
  await env.settled();
});

test('timed-out and cancelled Waits leave no handler running in berthd or the shim; a later Wait gets the exit', { skip }, async () => {
  const id = randomId();
  const client = ownConnection('tasks');
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    const shim = env.shimPid(id);
    // A probe call (Get → shim State) logs, as it ends, how many other handlers still run in each process.
    const probe = async (): Promise<{ berthd: number; shim: number }> => {
      await env.tasks.Get!({ container_id: id, exec_id: '' });
      return { berthd: berthdInflight(), shim: shimInflight(id) };
    };
    const base = await probe();
    assert.equal(base.shim, 0);
    const handlersDone = async (): Promise<void> => {
      let last = base;
      await waitFor(async () => {
        last = await probe();
        return last.berthd === base.berthd && last.shim === 0;
      }, 'handlers done').catch(() => assert.deepEqual(last, base, 'handlers still running (berthd, shim)'));
    };
    const round = async (): Promise<void> => {
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          settle(
            new Promise((resolve, reject) => {
              // Half time out (deadline), half are cancelled by the client.
              const call = client.Wait({ container_id: id, exec_id: '' }, nsMetadata(), { deadline: Date.now() + 300 }, (err: any, res: any) => (err ? reject(err) : resolve(res)));
              if (i % 2) setTimeout(() => call.cancel(), 100);
            }),
          ),
        ),
      );
      for (const o of outcomes) assert.ok(!o.ok && [status.DEADLINE_EXCEEDED, status.CANCELLED].includes(o.code), JSON.stringify(o));
    };
    await round(); // warm up
    await handlersDone();
    const before = { berthd: rssKiB(env.berthd.pid), shim: rssKiB(shim) };
    for (let i = 0; i < 3; i++) await round();
    await handlersDone();
    // A loose bound on top of the exact counts: RSS follows V8's heap sizing (tens of MiB either way over a
    // few thousand calls); it catches only a gross leak.
    const grown = { berthd: rssKiB(env.berthd.pid) - before.berthd, shim: rssKiB(shim) - before.shim };
    assert.ok(grown.berthd < 64 * 1024 && grown.shim < 64 * 1024, `RSS grew ${JSON.stringify(grown)} KiB over 600 abandoned waits`);
    const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
    await env.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false });
    assert.equal((await waited).exit_status, 137);
  } finally {
    client.close();
    await env.remove(id);
  }
});

test('cancelled subscriptions: the subscriber count returns, memory stays flat, subscribers still get events', { skip }, async () => {
  const base = subscribers();
  const baseInflight = berthdInflight();
  const client = ownConnection('events');
  const round = async (): Promise<void> => {
    const streams = Array.from({ length: 200 }, () => {
      const s = client.Subscribe({ filters: ['topic=="/faults/never"'] }, nsMetadata());
      s.on('data', () => {});
      s.on('error', () => {});
      return s;
    });
    await waitFor(() => subscribers() === base + 200, `200 subscriptions opened (at ${subscribers()})`);
    for (const s of streams) s.cancel();
    await waitFor(() => subscribers() === base && berthdInflight() === baseInflight, `subscriptions closed (at ${subscribers()})`);
  };
  try {
    await round(); // warm up
    await new Promise((r) => setTimeout(r, 300));
    const before = rssKiB(env.berthd.pid);
    for (let i = 0; i < 3; i++) await round();
    await new Promise((r) => setTimeout(r, 300));
    const grown = rssKiB(env.berthd.pid) - before;
    assert.ok(grown < 64 * 1024, `berthd RSS grew ${grown} KiB over 600 cancelled subscriptions`);
  } finally {
    client.close();
  }

  const fresh = new EventCollector(env.events, ['topic=="/faults/ping"']);
  try {
    await waitFor(() => subscribers() === base + 1, 'fresh subscriber');
    await env.events.Publish!({ topic: '/faults/ping', event: packJsonAny(OCI_PROCESS_TYPE_URL, {}) });
    await waitFor(() => fresh.events.some((e) => e.topic === '/faults/ping'), 'the fresh subscriber gets the event');
    await assertCollectorAlive();
  } finally {
    fresh.stop();
  }
  await waitFor(() => subscribers() === base, 'fresh subscriber gone');
});

/** The long-lived collector (filter /tasks/) still gets a new task's events. */
async function assertCollectorAlive(): Promise<void> {
  const id = randomId();
  await env.run(id, ['/bin/true']);
  await env.remove(id);
  await waitFor(() => events.topics(id).includes('/tasks/delete'), 'the long-lived subscriber still gets events');
}

test('a connection resetting 1200 streams at once: other connections and their subscriptions go on', { skip }, async (t) => {
  const base = subscribers();
  const client = ownConnection('events');
  // A stream on the misbehaving connection that is never cancelled: Node ends it when it drops the connection.
  const victim = client.Subscribe({ filters: ['topic=="/faults/never"'] }, nsMetadata());
  let victimEnded = '';
  victim.on('data', () => {});
  victim.on('error', (e: any) => (victimEnded = `${status[e.code]} ${e.details}`));
  try {
    await waitFor(() => subscribers() === base + 1, 'victim subscribed');
    for (let k = 0; k < 6; k++) {
      const streams = Array.from({ length: 200 }, () => {
        const s = client.Subscribe({ filters: ['topic=="/faults/never"'] }, nsMetadata());
        s.on('data', () => {});
        s.on('error', () => {});
        return s;
      });
      await new Promise((r) => setTimeout(r, 100));
      for (const s of streams) s.cancel();
    }
    await new Promise((r) => setTimeout(r, 300));
    t.diagnostic(`the resetting connection's own long-lived stream: ${victimEnded || 'still open'}`);
  } finally {
    victim.cancel();
    client.close();
  }
  await waitFor(() => subscribers() === base, `subscriptions closed (at ${subscribers()})`);
  await assertCollectorAlive();
});

test('a client process SIGKILLed with Subscribe and Wait streams open leaves no subscriber and the task works', { skip }, async () => {
  const id = randomId();
  try {
    await env.run(id, ['/bin/sleep', '1000']);
    const base = subscribers();
    const waitsBefore = callsOf('Wait');
    const helper = path.join(REPO_ROOT, 'dist', 'test', 'helpers', 'daemon.js');
    const script = `
      const { serviceClient } = require(${JSON.stringify(helper)});
      const ev = serviceClient(${JSON.stringify(env.berthd.address)}, 'events');
      const tasks = serviceClient(${JSON.stringify(env.berthd.address)}, 'tasks');
      for (let i = 0; i < 100; i++) { const s = ev.Subscribe({ filters: [] }); s.on('data', () => {}); s.on('error', () => {}); }
      for (let i = 0; i < 100; i++) tasks.Wait({ container_id: ${JSON.stringify(id)}, exec_id: '' }).catch(() => {});
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitFor(() => subscribers() === base + 100 && callsOf('Wait') >= waitsBefore + 100, `streams open (${subscribers()} subscribers)`, 20_000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await waitFor(() => subscribers() === base, `subscriptions closed (at ${subscribers()})`);
    await waitFor(() => shimInflight(id) === 0, `the shim's waits ended (at ${shimInflight(id)})`);
    const waited = env.tasks.Wait!({ container_id: id, exec_id: '' });
    await env.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: false });
    assert.equal((await waited).exit_status, 137);
    assert.equal((await env.tasks.Delete!({ container_id: id })).exit_status, 137);
  } finally {
    await env.remove(id);
  }
  await env.settled();
});
