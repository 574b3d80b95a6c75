/**
 * The lifecycle verbs: create, start, run, delete, kill, state, list — runc's semantics and messages.
 *
 * `create` leaves the container's init waiting at the start barrier (the exec FIFO under --root/<id>/) and
 * exits: berth-runc keeps nothing running. The init is berth-runc's child (CLONE_PARENT), so once
 * berth-runc exits it is re-parented to the caller's subreaper (containerd-shim-runc-v2 reaps it by the pid
 * from --pid-file). `start` releases the barrier from a separate process.
 */
import path from 'node:path';
import { isAlreadyExists, messageOf } from '../../pkg/errdefs';
import type { Container } from '../runtime/container';
import { CliError, ExitRequest, factoryOf, loadContainer, stateJson, writePidFile, type GlobalOptions } from './context';
import { checkTerminalFlags, resolveConsoleSocket, sendConsole } from './console';
import { waitForeground } from './foreground';
import { log } from './log';
import { readBundleSpec } from '../runtime/spec';

export interface CreateOptions {
  bundle?: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

/** Creates the container and its init (waiting at the barrier); `detach` false keeps the pty master. */
async function createAndStartInit(g: GlobalOptions, id: string, opts: CreateOptions, detach: boolean): Promise<{ c: Container; pid: number; master?: number }> {
  const bundle = path.resolve(opts.bundle || process.cwd());
  const spec = await readBundleSpec(bundle);
  const terminal = spec.process?.terminal === true;
  checkTerminalFlags(terminal, opts.consoleSocket, detach);
  const consoleSocket = opts.consoleSocket ? resolveConsoleSocket(opts.consoleSocket) : undefined;
  if (opts.noPivot) log('debug', 'create: --no-pivot ignored: the rootfs is always entered with pivot_root');
  let c: Container;
  try {
    c = await factoryOf(g).create(id, { bundle, spec });
  } catch (err) {
    if (isAlreadyExists(err)) throw new CliError('container with given ID already exists');
    throw err;
  }
  try {
    const p = await c.start({ stdin: 0, stdout: 1, stderr: 2 });
    let master = p.terminalMaster;
    if (master !== undefined && consoleSocket) {
      sendConsole(consoleSocket, master);
      master = undefined;
    }
    if (opts.pidFile) writePidFile(opts.pidFile, p.pid);
    return { c, pid: p.pid, master };
  } catch (err) {
    await c.destroy().catch(() => {});
    throw err;
  }
}

export async function create(g: GlobalOptions, id: string, opts: CreateOptions): Promise<void> {
  try {
    await createAndStartInit(g, id, opts, true);
  } catch (err) {
    throw new CliError(`berth-runc create failed: ${messageOf(err)}`);
  }
}

export async function start(g: GlobalOptions, id: string): Promise<void> {
  const c = await loadContainer(g, id);
  const { status } = await c.state();
  switch (status) {
    case 'created':
      await c.run();
      return;
    case 'stopped':
      throw new CliError('cannot start a container that has stopped');
    case 'running':
      throw new CliError('cannot start an already running container');
    default:
      throw new CliError(`cannot start a container in the ${status} state`);
  }
}

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
}

/** create + start; without --detach, waits for the init and leaves with its exit status. */
export async function run(g: GlobalOptions, id: string, opts: RunOptions): Promise<void> {
  let created: Awaited<ReturnType<typeof createAndStartInit>>;
  try {
    created = await createAndStartInit(g, id, opts, opts.detach === true);
  } catch (err) {
    throw new CliError(`berth-runc run failed: ${messageOf(err)}`);
  }
  const { c, pid, master } = created;
  if (opts.detach) {
    await c.run();
    return;
  }
  const exited = waitForeground(pid, master);
  try {
    await c.run();
  } catch (err) {
    await c.destroy().catch(() => {});
    throw err;
  }
  const status = await exited;
  if (!opts.keep) await c.destroy();
  throw new ExitRequest(status.exitStatus);
}

export async function deleteContainer(g: GlobalOptions, id: string, opts: { force?: boolean }): Promise<void> {
  let c: Container;
  try {
    c = await loadContainer(g, id);
  } catch (err) {
    if (err instanceof CliError && err.message === 'container does not exist') {
      // an aborted create can leave a directory without state: remove it as runc does
      const dir = path.join(path.resolve(g.root), id);
      if (id && !id.includes('/')) await import('node:fs/promises').then((f) => f.rm(dir, { recursive: true, force: true }));
      if (opts.force) return;
    }
    throw err;
  }
  const { status } = await c.state();
  // A created container is not stopped either: the spec wants an error and no effect (runc deletes it).
  if ((status === 'created' || status === 'running' || status === 'paused') && !opts.force) {
    throw new CliError(`cannot delete container ${id} that is not stopped: ${status}`);
  }
  await c.destroy();
}

export async function kill(g: GlobalOptions, id: string, signal: string | undefined, opts: { all?: boolean }): Promise<void> {
  const c = await loadContainer(g, id);
  const sig = signal ?? 'SIGTERM';
  const { status } = await c.state();
  if (!opts.all && status !== 'created' && status !== 'running' && status !== 'paused') throw new CliError('container not running');
  try {
    await c.kill(sig, { all: opts.all });
  } catch (err) {
    const m = messageOf(err);
    if (/unknown signal|out of range/.test(m)) throw new CliError(`unknown signal "${sig}"`);
    if (/already finished|cannot kill/.test(m)) throw new CliError('container not running');
    throw err;
  }
}

export async function state(g: GlobalOptions, id: string): Promise<void> {
  const c = await loadContainer(g, id);
  process.stdout.write(JSON.stringify(stateJson(await c.state()), null, '  ') + '\n');
}

export async function list(g: GlobalOptions, opts: { format?: string; quiet?: boolean }): Promise<void> {
  const factory = factoryOf(g);
  const states = [];
  for (const id of await factory.list()) {
    try {
      states.push(stateJson(await (await factory.load(id)).state()));
    } catch (err) {
      log('warning', `list: ${id}: ${messageOf(err)}`);
    }
  }
  if (opts.quiet) {
    for (const s of states) process.stdout.write(s.id + '\n');
    return;
  }
  if (opts.format === 'json') {
    process.stdout.write(JSON.stringify(states.length ? states : null) + '\n');
    return;
  }
  if (opts.format && opts.format !== 'table') throw new CliError(`invalid format option`);
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, 'root'])];
  process.stdout.write(tabulate(rows));
}

/** Go's tabwriter as runc sets it up: min width 12, padding 3, spaces. */
export function tabulate(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(12, ...rows.map((r) => (r[i] ?? '').length + 3)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('') + '\n').join('');
}
