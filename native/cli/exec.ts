/**
 * `exec`: a new process in a running container, described by `--process <process.json>` or by the
 * arguments (the container's own spec.process with runc's overrides: --cwd, --env, --user, --tty,
 * --additional-gids, --cap, --no-new-privs). Detached (-d) it exits once the process runs (the caller's
 * subreaper collects it, by the pid in --pid-file); otherwise it waits and leaves with the process's status.
 * Failures leave with 255 and "exec failed: ..." as runc.
 */
import fs from 'node:fs';
import path from 'node:path';
import { messageOf } from '../../pkg/errdefs';
import { readBundleSpec, validateProcess } from '../runtime/spec';
import type { OciProcess } from '../runtime/spec-types';
import { CliError, ExitRequest, loadContainer, writePidFile, type GlobalOptions } from './context';
import { checkTerminalFlags, resolveConsoleSocket, sendConsole } from './console';
import { waitForeground } from './foreground';

export interface ExecOptions {
  process?: string;
  detach?: boolean;
  tty?: boolean;
  consoleSocket?: string;
  pidFile?: string;
  cwd?: string;
  env?: string[];
  user?: string;
  additionalGids?: string[];
  cap?: string[];
  noNewPrivs?: boolean;
  ignorePaused?: boolean;
}

const EXEC_FAILED = 255;

export async function exec(g: GlobalOptions, id: string, args: string[], opts: ExecOptions): Promise<void> {
  try {
    await execInner(g, id, args, opts);
  } catch (err) {
    if (err instanceof ExitRequest) throw err;
    throw new CliError(`exec failed: ${messageOf(err)}`, EXEC_FAILED);
  }
}

async function execInner(g: GlobalOptions, id: string, args: string[], opts: ExecOptions): Promise<void> {
  const c = await loadContainer(g, id);
  const st = await c.state();
  if (st.status === 'stopped' || st.status === 'creating') throw new Error(`cannot exec in a ${st.status} container`);
  if (st.status === 'paused' && !opts.ignorePaused) throw new Error('cannot exec in a paused state (use --ignore-paused to override)');
  const proc = opts.process ? readProcessFile(opts.process) : await processFromFlags(st.bundle, args, opts);
  const detach = opts.detach === true;
  checkTerminalFlags(proc.terminal === true, opts.consoleSocket, detach);
  const consoleSocket = opts.consoleSocket ? resolveConsoleSocket(opts.consoleSocket) : undefined;
  const p = await c.exec(proc, { stdin: 0, stdout: 1, stderr: 2 });
  let master = p.terminalMaster;
  if (master !== undefined && consoleSocket) {
    sendConsole(consoleSocket, master);
    master = undefined;
  }
  if (opts.pidFile) writePidFile(opts.pidFile, p.pid);
  if (detach) return;
  const status = await waitForeground(p.pid, master);
  throw new ExitRequest(status.exitStatus);
}

function readProcessFile(file: string): OciProcess {
  let proc: OciProcess;
  try {
    proc = JSON.parse(fs.readFileSync(path.resolve(file), 'utf8')) as OciProcess;
  } catch (err) {
    throw new Error(`process ${file}: ${messageOf(err)}`);
  }
  validateProcess(proc, 'process');
  return proc;
}

/** runc's getProcess: the container's spec.process with the flags applied. */
async function processFromFlags(bundle: string, args: string[], opts: ExecOptions): Promise<OciProcess> {
  if (args.length === 0) throw new CliError('exec args cannot be empty', EXEC_FAILED);
  const spec = await readBundleSpec(bundle);
  const base = spec.process;
  if (!base) throw new Error(`bundle ${bundle}: config.json has no process`);
  const proc: OciProcess = structuredClone(base);
  proc.args = args;
  if (opts.cwd) proc.cwd = opts.cwd;
  proc.env = [...(proc.env ?? []), ...(opts.env ?? [])];
  proc.terminal = opts.tty === true;
  if (opts.noNewPrivs !== undefined) proc.noNewPrivileges = opts.noNewPrivs;
  if (opts.cap?.length) {
    const caps = (proc.capabilities ??= {});
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) caps[set] = [...(caps[set] ?? []), ...opts.cap];
  }
  if (opts.user) {
    const [uid, gid] = opts.user.split(':', 2);
    const u = Number(uid);
    if (!Number.isInteger(u) || u < 0) throw new Error(`parsing ${uid} as int for uid failed`);
    proc.user = { ...proc.user, uid: u };
    if (gid !== undefined) {
      const gn = Number(gid);
      if (!Number.isInteger(gn) || gn < 0) throw new Error(`parsing ${gid} as int for gid failed`);
      proc.user.gid = gn;
    }
  }
  for (const g of opts.additionalGids ?? []) {
    const n = Number(g);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid additional gid ${g}`);
    proc.user.additionalGids = [...(proc.user.additionalGids ?? []), n];
  }
  validateProcess(proc, 'process');
  return proc;
}
