/**
 * Leaves the machine as the benchmark found it, on success, failure and Ctrl-C alike, touching only what this
 * run created: the side's tasks and containers (through its API), the daemon pid it started, then any shim
 * or container process still alive that belongs to the run (procs.ts says how they are recognised), mounts
 * under the side's temp dir, its cgroup directories, containerd's shim sockets for its ids
 * (`/run/containerd/s/<sha256(address/ns/id)>`, containerd 1.6 keeps them there whatever the state dir),
 * and finally the temp dir.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { sweepNamespace, type Side } from './ops';
import { cgroupDirs, cgroupMembers, findShims, mountsUnder } from './procs';

const CONTAINERD_SHIM_SOCKET_DIR = '/run/containerd/s';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (pids.some(pidAlive) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

/** SIGKILLs the run's leftover shims and container processes of one side (never anything else); describes them. */
export async function killLeftovers(side: Side): Promise<string[]> {
  const d = side.daemon;
  const pids = [
    ...findShims({ dir: d.dir, stateDir: d.stateDir, cgroupParent: side.cgroupParent, daemonPid: undefined }),
    ...cgroupMembers(side.cgroupParent),
  ].filter((pid) => pid !== process.pid && pid !== d.pid);
  const described = pids.map((pid) => `${pid} ${describe(pid)}`);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await waitGone(pids, 5000);
  return described;
}

function describe(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 160);
  } catch {
    return '(gone)';
  }
}

/** Stops everything of one side and removes its files; returns what went wrong (for the log), never throws. */
export async function teardownSide(side: Side, opts: { keepDir?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const d = side.daemon;
  if (d.alive()) {
    const errs = await sweepNamespace(side, 5000);
    if (errs.length > 0) problems.push(`${d.name}: sweep: ${errs.slice(0, 3).join('; ')}`);
  }
  await d.stop().catch((err) => problems.push(`${d.name}: stop: ${String(err)}`));
  d.client.close();
  const killed = await killLeftovers(side);
  if (killed.length > 0) problems.push(`${d.name}: killed ${killed.length} leftover process(es): ${killed.join('; ')}`);
  for (const mp of mountsUnder(d.dir)) {
    try {
      execFileSync('umount', ['-l', mp], { stdio: 'ignore' });
    } catch {
      problems.push(`${d.name}: umount ${mp} failed`);
    }
  }
  for (const dir of cgroupDirs(side.cgroupParent)) {
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      problems.push(`${d.name}: rmdir ${dir}: ${(err as Error).message}`);
    }
  }
  if (d.name === 'containerd') {
    for (const id of side.ids) {
      const hash = createHash('sha256').update(path.join(d.socket, side.namespace, id)).digest('hex');
      fs.rmSync(path.join(CONTAINERD_SHIM_SOCKET_DIR, hash), { force: true });
    }
  }
  const stillMounted = mountsUnder(d.dir);
  if (stillMounted.length > 0) problems.push(`${d.name}: kept ${d.dir}: still mounted ${stillMounted.join(' ')}`);
  else if (!opts.keepDir) {
    try {
      fs.rmSync(d.dir, { recursive: true, force: true });
    } catch (err) {
      problems.push(`${d.name}: rm ${d.dir}: ${(err as Error).message}`);
    }
  }
  return problems;
}
