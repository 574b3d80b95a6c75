/**
 * What berthd knows about a task beyond its shim, so it can clean up when the shim is dead (shim.md:
 * "cleaning up after a dead shim is berthd's job"):
 *
 *   <bundle>/task.json = { pid, startTime, cgroups: [dir...], runtime?: {binary, root}, group? }
 *
 * recorded right after Create: the init's pid and start time, the cgroup directories that belong to the
 * container alone (from /proc/<init>/cgroup, keeping only hierarchies where the init sits in a cgroup of
 * its own: not the shim's, not the root, named like the spec's cgroupsPath or the container id), and the
 * OCI runtime binary and state root when the task runs through runc/crun.
 *
 * destroyContainer() then ends everything of the container: `<binary> --root R delete --force ID` for an OCI
 * binary backend; every cgroup thawed, its processes SIGKILLed and the directory removed; the init
 * (verified by start time) SIGKILLed. replayShimEvents() publishes what the dead shim had queued but not
 * delivered (`<bundle>/shim-events`), so exits it observed keep their real status.
 *
 * This is file and signal work only (cgroupfs files, kill(2) through process.kill): berthd never imports
 * native/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { unpackAny, type AnyMessage } from '../../proto/any';
import { messageOf } from '../../pkg/errdefs';
import type { Logger } from '../../pkg/log';
import { BUNDLE_FILES } from './layout';
import { isProcessAlive, signalVerified, waitProcessGone, writeFileAtomic } from './files';
import type { EventLedger, EventPublisher, TaskExitEvent } from './event-ledger';

export interface TaskFacts {
  pid: number;
  startTime: string;
  cgroups: string[];
  runtime?: { binary: string; root: string };
  /** The task's shim group (services/shims/groups.ts), when it has one. */
  group?: string;
}

export function writeTaskFacts(bundle: string, facts: TaskFacts): void {
  writeFileAtomic(path.join(bundle, BUNDLE_FILES.task), JSON.stringify(facts));
}

export function readTaskFacts(bundle: string): TaskFacts | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(bundle, BUNDLE_FILES.task), 'utf8')) as Partial<TaskFacts>;
    if (typeof r.pid !== 'number' || r.pid <= 0) return undefined;
    return {
      pid: r.pid,
      startTime: typeof r.startTime === 'string' ? r.startTime : '',
      cgroups: Array.isArray(r.cgroups) ? r.cgroups.filter((c): c is string => typeof c === 'string' && c.startsWith('/sys/fs/cgroup/')) : [],
      runtime: r.runtime && typeof r.runtime.binary === 'string' && typeof r.runtime.root === 'string' ? r.runtime : undefined,
      group: typeof r.group === 'string' && r.group !== '' ? r.group : undefined,
    };
  } catch {
    return undefined;
  }
}

interface CgroupMount {
  mountpoint: string;
  root: string;
  /** Controllers (v1, plus `name=...`), or ['' ] for the v2 hierarchy. */
  controllers: string[];
}

/**
 * The host's cgroup mounts, read once per berthd: they do not change under a running daemon (native/cgroups
 * probes its root once per process on the same grounds), and recordInit asks on every Tasks.Create.
 */
let cgroupMountsRead: CgroupMount[] | undefined;
function cgroupMounts(): CgroupMount[] {
  return (cgroupMountsRead ??= readCgroupMounts());
}

function readCgroupMounts(): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts] = post.split(' ');
    if (fstype === 'cgroup2') out.push({ mountpoint: f[4]!, root: f[3]!, controllers: [''] });
    else if (fstype === 'cgroup') out.push({ mountpoint: f[4]!, root: f[3]!, controllers: (superOpts ?? '').split(',') });
  }
  return out;
}

/** `/proc/<pid>/cgroup` as hierarchy key (controllers, '' for v2) → path. */
function procCgroups(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
      const i = line.indexOf(':');
      const j = line.indexOf(':', i + 1);
      if (i < 0 || j < 0) continue;
      m.set(line.slice(i + 1, j), line.slice(j + 1));
    }
  } catch {}
  return m;
}

/**
 * The cgroup directories that belong to the container whose init is `initPid` (see the header for the
 * rule); [] when nothing can be attributed safely.
 */
export function containerCgroups(initPid: number, shimPid: number, id: string, cgroupsPath: string | undefined): string[] {
  const mine = procCgroups(initPid);
  const shim = procCgroups(shimPid);
  const mounts = cgroupMounts();
  const dirs: string[] = [];
  for (const [key, p] of mine) {
    if (p === '/' || p === shim.get(key)) continue;
    const named = (cgroupsPath && (p === cgroupsPath || p.endsWith('/' + cgroupsPath.replace(/^\/+/, '')))) || path.posix.basename(p) === id;
    if (!named) continue;
    const ctrls = key.split(',');
    const mount = mounts.find((m) => (key === '' ? m.controllers[0] === '' : ctrls.every((c) => m.controllers.includes(c))));
    if (!mount) continue;
    const rel = mount.root !== '/' && p.startsWith(mount.root) ? p.slice(mount.root.length) : p;
    const dir = path.join(mount.mountpoint, rel);
    if (dir.startsWith('/sys/fs/cgroup/') && !dirs.includes(dir)) dirs.push(dir);
  }
  return dirs;
}

function pidsIn(dir: string): number[] {
  try {
    return fs
      .readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((n) => n > 1 && n !== process.pid);
  } catch {
    return [];
  }
}

function tryWrite(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch {}
}

/** Kills every process of the container and removes what the runtime left (cgroups, runc state). */
export async function destroyContainer(id: string, facts: TaskFacts, log: Logger): Promise<void> {
  if (facts.runtime) {
    const { execa } = await import('execa');
    const r = await execa(facts.runtime.binary, ['--root', facts.runtime.root, 'delete', '--force', id], { reject: false, timeout: 10_000 });
    if (r.exitCode !== 0) log.debug('oci runtime delete --force failed', { stderr: String(r.stderr).slice(0, 300) });
  }
  const dirs = facts.cgroups.filter((d) => fs.existsSync(d));
  for (const d of dirs) {
    tryWrite(path.join(d, 'freezer.state'), 'THAWED');
    tryWrite(path.join(d, 'cgroup.freeze'), '0');
  }
  signalVerified(facts.pid, facts.startTime, 'SIGKILL');
  const deadline = Date.now() + 5000;
  for (;;) {
    const pids = [...new Set(dirs.flatMap(pidsIn))];
    if (pids.length === 0) break;
    if (Date.now() > deadline) {
      log.warn('container processes survive SIGKILL', { pids });
      break;
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await waitProcessGone(facts.pid, facts.startTime, 2000);
  for (const d of dirs.sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('cannot remove cgroup', { dir: d, error: messageOf(err) });
    }
  }
  if (isProcessAlive(facts.pid, facts.startTime)) log.warn('container init survives', { pid: facts.pid });
}

interface ShimEventLine {
  seq: number;
  ts: string;
  topic: string;
  type: string;
  value: string;
}

/** One event of the shim's queue file, decoded. */
export interface QueuedShimEvent {
  seq: number;
  timestamp: Date;
  topic: string;
  event: AnyMessage;
}

/**
 * The events the shim queued in `<bundle>/shim-events` with seq above `afterSeq`, in file order (a torn or
 * foreign line is skipped; no file: none).
 */
export function readQueuedEvents(bundle: string, afterSeq: number): QueuedShimEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(bundle, BUNDLE_FILES.shimEvents), 'utf8');
  } catch {
    return [];
  }
  const out: QueuedShimEvent[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let ev: ShimEventLine;
    try {
      ev = JSON.parse(line) as ShimEventLine;
    } catch {
      continue;
    }
    if (typeof ev.seq !== 'number' || ev.seq <= afterSeq || typeof ev.topic !== 'string' || typeof ev.type !== 'string') continue;
    const ts = new Date(ev.ts);
    out.push({
      seq: ev.seq,
      timestamp: Number.isNaN(ts.getTime()) ? new Date() : ts,
      topic: ev.topic,
      event: { type_url: ev.type, value: Buffer.from(String(ev.value ?? ''), 'base64') },
    });
  }
  return out;
}

/**
 * Publishes the events a dead shim had queued but berthd had not published (`<bundle>/shim-events`, seq
 * above the ledger's), in order, exits deduplicated. A torn last line is ignored.
 */
export function replayShimEvents(bundle: string, namespace: string, ledger: EventLedger, publisher: EventPublisher, log: Logger): string[] {
  const topics: string[] = [];
  for (const ev of readQueuedEvents(bundle, ledger.seq)) {
    let publish = true;
    if (ev.topic === '/tasks/exit') {
      try {
        publish = ledger.claimExit(unpackAny(ev.event) as unknown as TaskExitEvent);
      } catch (err) {
        log.warn('dead shim: undecodable exit event', { error: messageOf(err) });
      }
    }
    if (publish) {
      publisher.publish(namespace, ev.topic, ev.event, ev.timestamp);
      topics.push(ev.topic);
    }
    ledger.published(ev.seq, ev.topic, ev.event);
  }
  return topics;
}
