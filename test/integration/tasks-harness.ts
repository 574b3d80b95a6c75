/**
 * Shared setup of the tasks integration tests: a real berthd (test/helpers/daemon.ts) with real shims, a
 * busybox rootfs, container specs whose cgroups live under a per-run `berth-test-<random>` parent, an
 * event collector, and a scan for anything a task could leave behind (shim processes, mounts, cgroups,
 * bundles, sockets, FIFOs).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startBerthd, type ServiceClient, type StartOptions, type TestDaemon } from '../helpers/daemon';
import { makeBusyboxRootfs } from '../helpers/rootfs';
import { exampleSpec, type ExampleSpecOptions } from '../../native/runtime/spec-example';
import { OCI_SPEC_TYPE_URL, packJsonAny, unpackAny } from '../../proto/any';

export const isRoot = (): boolean => process.getuid?.() === 0;
export const ROOT_SKIP = isRoot() ? false : 'needs root: containers';

export const randomId = (prefix = 'berth-test'): string => `${prefix}-${randomBytes(4).toString('hex')}`;

export interface Collected {
  namespace: string;
  topic: string;
  event: Record<string, any>;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Collects envelopes of a Subscribe stream until `stop()`. */
export class EventCollector {
  readonly events: Collected[] = [];
  private readonly stream: any;

  constructor(client: ServiceClient, filters: string[] = []) {
    this.stream = client.Subscribe!({ filters });
    this.stream.on('data', (env: any) => {
      let event: Record<string, any> = {};
      try {
        event = unpackAny(env.event);
      } catch {}
      this.events.push({ namespace: env.namespace, topic: env.topic, event });
    });
    this.stream.on('error', () => {});
  }

  /** Topics of one container (by container_id), in order. */
  topics(containerId: string): string[] {
    return this.events.filter((e) => e.event.container_id === containerId).map((e) => e.topic);
  }

  stop(): void {
    this.stream.cancel();
  }
}

export class TasksEnv {
  berthd!: TestDaemon;
  containers!: ServiceClient;
  tasks!: ServiceClient;
  events!: ServiceClient;
  readonly work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-tasks-'));
  readonly rootfs = path.join(this.work, 'rootfs');
  /** cgroupsPath parent of every container made here. */
  readonly cgroupParent = randomId();

  async start(opts?: StartOptions): Promise<void> {
    await makeBusyboxRootfs(this.rootfs);
    this.berthd = await startBerthd(opts);
    this.connect();
  }

  connect(): void {
    this.containers = this.berthd.client('containers');
    this.tasks = this.berthd.client('tasks');
    this.events = this.berthd.client('events');
  }

  /** The pid berthd recorded for the shim of task `id`. */
  shimPid(id: string, ns = 'default'): number {
    return Number(fs.readFileSync(path.join(this.berthd.state, 'tasks', ns, id, 'shim.pid'), 'utf8'));
  }

  spec(id: string, opts: ExampleSpecOptions = {}): object {
    return exampleSpec({ rootfs: this.rootfs, cgroupsPath: `/${this.cgroupParent}/${id}`, ...opts });
  }

  async createContainer(id: string, args: string[], opts: ExampleSpecOptions & { rawSpec?: Buffer } = {}): Promise<void> {
    const spec = opts.rawSpec ? { type_url: OCI_SPEC_TYPE_URL, value: opts.rawSpec } : packJsonAny(OCI_SPEC_TYPE_URL, this.spec(id, { args, ...opts }));
    await this.containers.Create!({ container: { id, runtime: { name: 'io.containerd.runc.v2', options: null }, spec } });
  }

  createTaskRequest(id: string, extra: object = {}): object {
    return { container_id: id, rootfs: [], stdin: '', stdout: '', stderr: '', terminal: false, checkpoint: null, options: null, runtime_path: '', ...extra };
  }

  /** Container + task created and started; returns the init pid. */
  async run(id: string, args: string[], opts: ExampleSpecOptions = {}): Promise<number> {
    await this.createContainer(id, args, opts);
    await this.tasks.Create!(this.createTaskRequest(id));
    const { pid } = await this.tasks.Start!({ container_id: id, exec_id: '' });
    return pid as number;
  }

  async status(id: string): Promise<string | undefined> {
    try {
      return (await this.tasks.Get!({ container_id: id, exec_id: '' }, { timeoutMs: 5000 })).process.status;
    } catch {
      return undefined;
    }
  }

  /** Kills, waits for, deletes the task and its container, ignoring what is already gone. */
  async remove(id: string): Promise<void> {
    await this.tasks.Kill!({ container_id: id, exec_id: '', signal: 9, all: true }).catch(() => {});
    await waitFor(async () => (await this.status(id)) !== 'RUNNING', `${id} stopped`, 10_000).catch(() => {});
    await this.tasks.Delete!({ container_id: id }).catch(() => {});
    await this.containers.Delete!({ id }).catch(() => {});
  }

  /** Everything a task could leave behind, as lists of descriptions (all empty when clean). */
  leftovers(): { shims: string[]; mounts: string[]; cgroups: string[]; bundles: string[]; sockets: string[]; fifos: string[] } {
    const state = this.berthd.state;
    const shims: string[] = [];
    // A task's shim names the state dir on its command line (spawned for the task) or is recorded in its
    // bundle (a pre-started or recycled shim bound to it, whose command line has no arguments).
    const bundlePids = new Set<string>();
    for (const ns of readdirOrEmpty(path.join(state, 'tasks'))) {
      for (const id of readdirOrEmpty(path.join(state, 'tasks', ns))) {
        try {
          bundlePids.add(fs.readFileSync(path.join(state, 'tasks', ns, id, 'shim.pid'), 'utf8').trim());
        } catch {}
      }
    }
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes('berth-shim') && (cmd.includes(state) || bundlePids.has(pid))) shims.push(`${pid} ${cmd.replace(/\0/g, ' ')}`);
      } catch {}
    }
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(this.berthd.dir) || l.includes(this.work));
    const cgroups: string[] = [];
    for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
      let ctrls: string[] = [];
      try {
        ctrls = fs.readdirSync(base);
      } catch {}
      for (const c of ctrls) {
        const dir = path.join(base, c, this.cgroupParent);
        try {
          for (const child of fs.readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) cgroups.push(path.join(dir, child.name));
        } catch {}
      }
    }
    const list = (p: string): string[] => {
      try {
        return fs.readdirSync(p);
      } catch {
        return [];
      }
    };
    const bundles = list(path.join(state, 'tasks')).flatMap((ns) => list(path.join(state, 'tasks', ns)).map((id) => `${ns}/${id}`));
    // Idle pre-started (or recycled) shims of the pool are berthd's, not a task's leftovers.
    const pooled = new Set(
      list(path.join(state, 'pool')).map((d) => {
        try {
          return path.basename(fs.readFileSync(path.join(state, 'pool', d, 'address'), 'utf8').trim());
        } catch {
          return '';
        }
      }),
    );
    const sockets = list(path.join(state, 's')).filter((s) => !pooled.has(s));
    const fifos: string[] = [];
    const walk = (p: string): void => {
      for (const e of fs.readdirSync(p, { withFileTypes: true })) {
        const full = path.join(p, e.name);
        if (e.isFIFO()) fifos.push(full);
        else if (e.isDirectory()) walk(full);
      }
    };
    if (fs.existsSync(state)) walk(state);
    return { shims, mounts, cgroups, bundles, sockets, fifos };
  }

  /**
   * Asserts that nothing is left behind, waiting a little: a deleted task's shim exits and its files go
   * just after Delete answers.
   */
  async settled(timeoutMs = 5000): Promise<void> {
    const clean = (): boolean => Object.values(this.leftovers()).every((l) => l.length === 0);
    try {
      await waitFor(clean, 'no leftovers', timeoutMs);
    } catch {
      assert.deepEqual(this.leftovers(), { shims: [], mounts: [], cgroups: [], bundles: [], sockets: [], fifos: [] });
    }
  }

  /** Removes the per-run cgroup parents (empty by then). */
  removeCgroupParents(): void {
    for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
      let ctrls: string[] = [];
      try {
        ctrls = fs.readdirSync(base);
      } catch {}
      for (const c of ctrls) {
        try {
          fs.rmdirSync(path.join(base, c, this.cgroupParent));
        } catch {}
      }
    }
  }

  async stop(): Promise<void> {
    if (this.berthd) {
      const left = await this.tasks.List!({}).catch(() => ({ tasks: [] }));
      for (const t of left.tasks as { id: string }[]) await this.remove(t.id);
      await this.berthd.stop();
    }
    this.removeCgroupParents();
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}

/** A FIFO made like ctr makes them, and a reader that never blocks the event loop (opened O_RDWR). */
/** True while `pid` names a live process (not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function makeFifo(dir: string, name: string): { path: string; read(): string; close(): void } {
  const p = path.join(dir, name);
  execFileSync('mkfifo', ['-m', '0600', p]);
  const fd = fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  let text = '';
  return {
    path: p,
    read() {
      const buf = Buffer.alloc(65536);
      for (;;) {
        let n = 0;
        try {
          n = fs.readSync(fd, buf, 0, buf.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
        if (n <= 0) break;
        text += buf.subarray(0, n).toString();
      }
      return text;
    },
    close() {
      fs.closeSync(fd);
    },
  };
}

function readdirOrEmpty(p: string): string[] {
  try {
    return fs.readdirSync(p);
  } catch {
    return [];
  }
}
