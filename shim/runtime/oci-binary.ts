/**
 * The OCI-runtime-binary backend: drives `runc` / `crun` through their command line (execa), as containerd's
 * runc shim does. Chosen when Create's options are `containerd.runc.v1.Options` with a `binary_name`.
 *
 *   runc --root R --log <bundle>/runc-log.json --log-format json [--systemd-cgroup] <command>
 *     create --bundle B --pid-file <bundle>/init.pid ID     (stdio: the process's pipes)
 *     start ID | kill [--all] ID SIG | pause ID | resume ID | ps --format json ID | events --stats ID
 *     update -r - ID (resources JSON on stdin) | delete --force ID
 *     exec --process <bundle>/runc-exec-E.json --pid-file <bundle>/runc-exec-E.pid -d ID
 *
 * R is `Options.root/<namespace>` when given, else `<bundle>/runc-root`. The processes runc starts are
 * re-parented to the shim (child subreaper) and reaped by the native Reaper. With a terminal, runc gets
 * `--console-socket` and sends the pty master there (console-socket.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { FailedPrecondition, Internal, NotFound, messageOf, type BerthError } from '../../pkg/errdefs';
import { encodeMessage } from '../../proto/loader';
import type { Logger } from '../../pkg/log';
import type { ProcessFds } from '../io/stdio';
import { runcStatsToV1Metrics, type RuncStats } from './oci-stats';
import { memoryCgroupOf, readOomKillCount, type MemoryCgroup } from './cgroup-oom';
import { watchPid } from './reap';
import { ConsoleSocket } from './console-socket';
import type { ContainerRuntime, KillOptions, OciProcessSpec, RuntimeContext, RuntimeProcess } from './types';
import { resizePty } from '../../native/runtime/terminal';

/** containerd.runc.v1.Options as decoded. */
export interface RuncOptions {
  binary_name: string;
  root: string;
  systemd_cgroup: boolean;
  no_pivot_root: boolean;
  no_new_keyring: boolean;
}

type Stdio = number | 'ignore' | 'pipe';

export class OciBinaryRuntime implements ContainerRuntime {
  readonly name: string;
  private readonly root: string;
  private readonly logFile: string;
  private initPid = 0;
  private memcg: MemoryCgroup | undefined;

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly opts: RuncOptions,
    private readonly log: Logger,
  ) {
    this.name = path.basename(opts.binary_name);
    this.root = opts.root ? path.join(opts.root, ctx.namespace) : path.join(ctx.bundle, 'runc-root');
    this.logFile = path.join(ctx.bundle, 'runc-log.json');
  }

  private globalArgs(): string[] {
    const a = ['--root', this.root, '--log', this.logFile, '--log-format', 'json'];
    if (this.opts.systemd_cgroup) a.push('--systemd-cgroup');
    return a;
  }

  /** Runs one runtime command; failures become Berth errors with the runtime's own message. */
  private async run(what: string, args: string[], stdio: { stdin?: Stdio; stdout?: Stdio; stderr?: Stdio; input?: string } = {}): Promise<string> {
    const { execa } = await import('execa');
    const logOffset = await fileSize(this.logFile);
    try {
      const r = await execa(this.opts.binary_name, [...this.globalArgs(), ...args], {
        ...(stdio.input !== undefined ? { input: stdio.input } : { stdin: stdio.stdin ?? 'ignore' }),
        stdout: stdio.stdout ?? 'pipe',
        stderr: stdio.stderr ?? 'pipe',
        reject: true,
        stripFinalNewline: true,
        cleanup: false,
      } as any);
      return typeof r.stdout === 'string' ? r.stdout : '';
    } catch (err) {
      throw await this.runtimeError(what, err, logOffset);
    }
  }

  private async runtimeError(what: string, err: unknown, logOffset: number): Promise<BerthError> {
    const e = err as { stderr?: unknown; shortMessage?: string; code?: string };
    if (e.code === 'ENOENT') return new NotFound(`OCI runtime ${this.opts.binary_name}: not found`, { cause: err });
    const fromLog = await lastLoggedError(this.logFile, logOffset);
    const stderr = typeof e.stderr === 'string' ? e.stderr.trim() : '';
    const msg = fromLog ?? (stderr || e.shortMessage || messageOf(err));
    const text = `OCI runtime ${what} failed: ${msg}`;
    if (/container not running|process already finished|not running/.test(msg)) return new NotFound('process already finished', { cause: err });
    if (/does not exist|no such/i.test(msg)) return new NotFound(text, { cause: err });
    if (/container is paused|already paused|not paused/.test(msg)) return new FailedPrecondition(text, { cause: err });
    return new Internal(text, { cause: err });
  }

  private pidFile(name: string): string {
    return path.join(this.ctx.bundle, name);
  }

  async create(io: ProcessFds): Promise<RuntimeProcess> {
    const spec = this.ctx.spec as { process?: { terminal?: boolean } };
    const pidFile = this.pidFile('init.pid');
    const args = ['create', '--bundle', this.ctx.bundle, '--pid-file', pidFile];
    if (this.opts.no_pivot_root) args.push('--no-pivot');
    if (this.opts.no_new_keyring) args.push('--no-new-keyring');
    const consoleSocket = spec.process?.terminal ? await ConsoleSocket.open() : undefined;
    try {
      if (consoleSocket) args.push('--console-socket', consoleSocket.path);
      args.push(this.ctx.id);
      await this.run('create', args, { stdin: io.stdin ?? 'ignore', stdout: io.stdout ?? 'ignore', stderr: io.stderr ?? 'ignore' });
      const terminalMaster = consoleSocket ? await consoleSocket.receiveMaster() : undefined;
      const pid = await readPidFile(pidFile);
      this.initPid = pid;
      this.memcg = await memoryCgroupOf(pid).catch(() => undefined);
      return { pid, terminalMaster, wait: () => watchPid(pid) };
    } finally {
      consoleSocket?.close();
    }
  }

  async start(): Promise<void> {
    await this.run('start', ['start', this.ctx.id]);
  }

  async exec(execId: string, spec: OciProcessSpec, io: ProcessFds): Promise<RuntimeProcess> {
    const specFile = this.pidFile(`runc-exec-${execId}.json`);
    const pidFile = this.pidFile(`runc-exec-${execId}.pid`);
    await fs.writeFile(specFile, JSON.stringify(spec), { mode: 0o600 });
    const consoleSocket = spec.terminal ? await ConsoleSocket.open() : undefined;
    try {
      const args = ['exec', '--process', specFile, '--pid-file', pidFile, '-d'];
      if (consoleSocket) args.push('--console-socket', consoleSocket.path);
      args.push(this.ctx.id);
      await this.run('exec', args, { stdin: io.stdin ?? 'ignore', stdout: io.stdout ?? 'ignore', stderr: io.stderr ?? 'ignore' });
      const terminalMaster = consoleSocket ? await consoleSocket.receiveMaster() : undefined;
      const pid = await readPidFile(pidFile);
      return { pid, terminalMaster, wait: () => watchPid(pid) };
    } finally {
      consoleSocket?.close();
      await Promise.all([fs.rm(specFile, { force: true }), fs.rm(pidFile, { force: true })]);
    }
  }

  async kill(signal: number, opts: KillOptions): Promise<void> {
    const args = ['kill'];
    if (opts.all) args.push('--all');
    args.push(this.ctx.id, String(signal));
    await this.run('kill', args);
  }

  async pause(): Promise<void> {
    await this.run('pause', ['pause', this.ctx.id]);
  }

  async resume(): Promise<void> {
    await this.run('resume', ['resume', this.ctx.id]);
  }

  async pids(): Promise<number[]> {
    const out = await this.run('ps', ['ps', '--format', 'json', this.ctx.id]);
    const pids = JSON.parse(out || '[]') as number[] | null;
    return pids ?? [];
  }

  async stats(): Promise<{ type_url: string; value: Buffer }> {
    const out = await this.run('events', ['events', '--stats', this.ctx.id]);
    const ev = JSON.parse(out) as { data?: RuncStats };
    const typeName = 'io.containerd.cgroups.v1.Metrics';
    return { type_url: typeName, value: encodeMessage(typeName, runcStatsToV1Metrics(ev.data ?? {})) };
  }

  async update(resources: Record<string, unknown>): Promise<void> {
    await this.run('update', ['update', '--resources', '-', this.ctx.id], { input: JSON.stringify(resources) });
  }

  async resizePty(master: number, width: number, height: number): Promise<void> {
    resizePty(master, width, height);
  }

  async oomKillCount(): Promise<number> {
    return this.memcg ? readOomKillCount(this.memcg) : 0;
  }

  async delete(): Promise<void> {
    try {
      await this.run('delete', ['delete', '--force', this.ctx.id]);
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      this.log.debug('runtime delete: container already gone', { err: messageOf(err) });
    }
    if (!this.opts.root) await fs.rm(this.root, { recursive: true, force: true });
    void this.initPid;
  }
}

async function readPidFile(file: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8');
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new Internal(`pid file ${file}: invalid pid ${JSON.stringify(text)}`);
  return pid;
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

/** The last error an OCI runtime wrote to its JSON log after `offset` (runc and crun write {"level","msg"} lines). */
async function lastLoggedError(file: string, offset: number): Promise<string | undefined> {
  let text: string;
  try {
    const fh = await fs.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(offset, size - 65536);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      text = buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
  for (const line of text.trim().split('\n').reverse()) {
    try {
      const l = JSON.parse(line) as { level?: string; msg?: string };
      if ((l.level === 'error' || l.level === 'fatal') && l.msg) return l.msg;
    } catch {}
  }
  return undefined;
}
