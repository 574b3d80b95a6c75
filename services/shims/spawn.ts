/**
 * Spawning a berth-shim (DESIGN.md "berth-shim", shim.proto step 1).
 *
 * berthd creates the listening socket itself: a path socket (never abstract) in `<state>/s/` (0700), mode
 * 0600. It binds a temporary name and renames it to the final one before closing its own copy of the
 * listener, because libuv unlinks a pipe server's bind path on close; the rename leaves the temporary
 * name to be "unlinked" and the socket, now owned by the shim's fd 3, stays reachable at the final path.
 *
 * The shim is spawned with stdio ['ignore', log, log, listener] (so the listener is its fd 3), detached
 * into its own session with no pipe to berthd, and unref'd: it outlives berthd. Its address, pid and pid
 * start time are written into the bundle (write-then-rename) before anything talks to it.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Internal, NotFound, messageOf } from '../../pkg/errdefs';
import { writeFileAtomic, processStartTime, removeFile, isProcessAlive } from './files';
import type { ShimClient } from './client';
import { BUNDLE_FILES } from './layout';

export interface SpawnedShim {
  pid: number;
  startTime: string;
  address: string;
  /** The child handle (only while this berthd is the shim's parent). */
  child: ChildProcess;
}

export interface SpawnShimOptions {
  binary: string;
  args: string[];
  /** Socket path to serve on (from StateLayout.newSocketPath). */
  address: string;
  /** Working directory of the shim and where shim.log goes. */
  cwd: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** When set, address, shim.pid and shim.starttime are recorded in this bundle. */
  bundle?: string;
}

async function listen(bindPath: string): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: bindPath, backlog: 128 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Records the shim's address and identity in its bundle (each file write-then-rename). */
export function recordShim(bundle: string, shim: { address: string; pid: number; startTime: string }): void {
  writeFileAtomic(path.join(bundle, BUNDLE_FILES.address), shim.address + '\n');
  writeFileAtomic(path.join(bundle, BUNDLE_FILES.shimStartTime), shim.startTime + '\n');
  writeFileAtomic(path.join(bundle, BUNDLE_FILES.shimPid), String(shim.pid) + '\n');
}

export async function spawnShim(opts: SpawnShimOptions): Promise<SpawnedShim> {
  const tmpPath = `${opts.address}.tmp`;
  removeFile(tmpPath);
  const server = await listen(tmpPath);
  let logFd: number | undefined;
  try {
    fs.chmodSync(tmpPath, 0o600);
    fs.renameSync(tmpPath, opts.address);
    const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new Internal('shim socket: no listening descriptor');
    logFd = fs.openSync(opts.logFile, 'a', 0o600);
    const child = spawn(opts.binary, opts.args, {
      stdio: ['ignore', logFd, logFd, fd],
      detached: true,
      cwd: opts.cwd,
      // The shim watches this pid: an idle shim exits once berthd is gone (even if it died before the shim ran).
      env: { ...(opts.env ?? process.env), BERTH_SHIM_PARENT: String(process.pid) },
    });
    if (child.pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(`shim binary ${opts.binary}: not found`);
      throw new Internal(`shim binary ${opts.binary}: spawn: ${messageOf(err)}`, { cause: err });
    }
    child.on('error', () => {});
    child.unref();
    const startTime = processStartTime(child.pid) ?? '';
    const spawned: SpawnedShim = { pid: child.pid, startTime, address: opts.address, child };
    if (opts.bundle) recordShim(opts.bundle, spawned);
    return spawned;
  } catch (err) {
    removeFile(opts.address);
    throw err;
  } finally {
    if (logFd !== undefined) fs.closeSync(logFd);
    await closeServer(server);
  }
}

/** The last lines of a shim log (for errors about a shim that died). */
export function logTail(logFile: string, bytes = 600): string {
  try {
    const buf = fs.readFileSync(logFile);
    return buf.subarray(Math.max(0, buf.length - bytes)).toString('utf8').trim();
  } catch {
    return '';
  }
}

/**
 * Waits until a freshly spawned shim serves its socket. The bound is generous (a burst of shims starting
 * on few cores takes seconds); the wait ends early with an error when the shim process dies.
 */
export async function waitUntilServing(client: ShimClient, shim: SpawnedShim, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.waitForReady(Math.max(1, Math.min(500, deadline - Date.now())));
      return;
    } catch (err) {
      if (!isProcessAlive(shim.pid, shim.startTime)) {
        const tail = logTail(logFile);
        throw new Internal(`shim ${shim.pid}: exited before serving${tail ? `: ${tail}` : ''}`, { cause: err });
      }
      if (Date.now() >= deadline) throw err;
    }
  }
}
