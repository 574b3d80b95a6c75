/**
 * Where the shim manager keeps its state under berthd's state directory (`--state`, default /run/berth):
 *
 *   <state>/tasks/<namespace>/<id>/   one bundle per task (0700)
 *       config.json      the OCI spec from the container record
 *       rootfs/          mount point for Tasks.Create rootfs mounts (mounted by the shim)
 *       address          the shim's socket path (unix path socket, no scheme)
 *       shim.pid         the shim's pid
 *       shim.starttime   its kernel start time (/proc/<pid>/stat field 22), to detect pid reuse
 *       events.json      event pump record: last published seq, published exits (see event-pump.ts)
 *       task.json        the init process pid and start time once created (for dead-shim cleanup)
 *       shim.log         the shim's stdout and stderr
 *       shim-events      the shim's queue of events berthd has not acknowledged (written by the shim)
 *   <state>/s/<random>   the shims' listening sockets (0600 in a 0700 directory)
 *
 * Bundles live under `tasks/` rather than directly under <state> so nothing else in the state directory
 * (the daemon socket, other components' files, the socket directory itself) can be mistaken for a
 * namespace when berthd walks the bundles at start. Socket names are short and random: their length does
 * not depend on the namespace or id, so `sun_path` (108 bytes) is never exceeded for valid ids.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { validateIdentifier } from '../../pkg/identifiers';
import { InvalidArgument } from '../../pkg/errdefs';

/** Largest `sun_path` (including the terminating NUL) on Linux. */
export const SUN_PATH_MAX = 108;

export const BUNDLE_FILES = {
  spec: 'config.json',
  rootfs: 'rootfs',
  address: 'address',
  shimPid: 'shim.pid',
  shimStartTime: 'shim.starttime',
  events: 'events.json',
  task: 'task.json',
  log: 'shim.log',
  shimEvents: 'shim-events',
} as const;

export class StateLayout {
  readonly tasksRoot: string;
  readonly socketsDir: string;

  constructor(readonly stateDir: string) {
    this.tasksRoot = path.join(stateDir, 'tasks');
    this.socketsDir = path.join(stateDir, 's');
  }

  /** Creates the state, tasks and socket directories (0700). */
  ensure(): void {
    for (const dir of [this.stateDir, this.tasksRoot, this.socketsDir]) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.chmodSync(dir, 0o700);
    }
  }

  namespaceDir(namespace: string): string {
    validateIdentifier(namespace);
    return path.join(this.tasksRoot, namespace);
  }

  /** The bundle of a task; both names are validated before they touch a path. */
  bundleDir(namespace: string, id: string): string {
    validateIdentifier(id);
    return path.join(this.namespaceDir(namespace), id);
  }

  bundleFile(bundle: string, name: keyof typeof BUNDLE_FILES): string {
    return path.join(bundle, BUNDLE_FILES[name]);
  }

  /** A fresh socket path in the socket directory; throws when the state dir is too long for sun_path. */
  newSocketPath(): string {
    const p = path.join(this.socketsDir, randomBytes(6).toString('hex'));
    // The temporary bind name adds 4 bytes (see spawn.ts).
    if (Buffer.byteLength(p) + 4 + 1 > SUN_PATH_MAX) {
      throw new InvalidArgument(`state dir ${this.stateDir}: too long for shim socket paths (sun_path is ${SUN_PATH_MAX} bytes)`);
    }
    return p;
  }

  /** Whether a socket path belongs to our socket directory (recorded addresses are checked before use). */
  ownsSocket(p: string): boolean {
    return path.dirname(path.resolve(p)) === this.socketsDir && /^[0-9a-f]{12}$/.test(path.basename(p));
  }
}
