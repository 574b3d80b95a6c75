/**
 * What every berth-runc verb shares: the global flags, the Factory over `--root`, loading a container by id
 * with runc's messages, and CliError (a message for the log and the exit code runc would give).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isNotFound, messageOf } from '../../pkg/errdefs';
import { validateIdentifier } from '../../pkg/identifiers';
import { Factory } from '../runtime/factory';
import type { Container, ContainerState } from '../runtime/container';

export const DEFAULT_ROOT = '/run/berth-runc';
/** The OCI runtime-spec version berth-runc reports in `state` and `features`. */
export const OCI_VERSION = '1.0.2-dev';

export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: string;
  debug: boolean;
  systemdCgroup: boolean;
}

/** An error to report and the exit code to leave with (1 unless said otherwise, 255 for exec as runc). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Leaves with `code` after the verb has finished (pending output is flushed by process.exitCode). */
export class ExitRequest extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/**
 * The Factory behind berth-runc: it never reaps (the caller's subreaper does) and runs prestart hooks at
 * `start` with status 'created', the runtime-spec 1.0 lifecycle (runc runs them during `create`).
 */
export function factoryOf(g: GlobalOptions): Factory {
  return new Factory({ stateRoot: path.resolve(g.root), reap: false, prestartAt: 'start' });
}

/** Loads container `id`; runc's "container does not exist" when it is not there. */
export async function loadContainer(g: GlobalOptions, id: string | undefined): Promise<Container> {
  if (!id) throw new CliError('container id cannot be empty');
  try {
    validateIdentifier(id);
  } catch (err) {
    throw new CliError(`invalid container id: ${messageOf(err)}`);
  }
  try {
    return await factoryOf(g).load(id);
  } catch (err) {
    if (isNotFound(err)) throw new CliError('container does not exist');
    throw err;
  }
}

/** runc's state document (`runc state`, `runc list --format json`, hooks' stdin). */
export interface OciStateJson {
  ociVersion: string;
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
}

export function stateJson(s: ContainerState): OciStateJson {
  return {
    ociVersion: OCI_VERSION, id: s.id, pid: s.pid, status: s.status, bundle: s.bundle, rootfs: s.rootfs,
    created: s.created.toISOString(), ...(Object.keys(s.annotations).length ? { annotations: s.annotations } : {}), owner: '',
  };
}

/** Writes a pid file as runc does: the decimal pid, no newline, through a temp file and a rename. */
export function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}`);
  fs.writeFileSync(tmp, String(pid), { mode: 0o644 });
  fs.renameSync(tmp, abs);
}
