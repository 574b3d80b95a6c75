/**
 * The two daemons under test, each started by the benchmark in its own temp dir with its own socket:
 * `bin/berthd --address --root --state` and `/usr/bin/containerd` with a minimal config (CRI disabled).
 * Both are spawned detached (their own process group) so a Ctrl-C on the benchmark's terminal reaches only
 * the benchmark, which then stops exactly the pids it started. Logs go to `<dir>/daemon.log`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { BenchClient } from './client';

export type SideName = 'berth' | 'containerd';

export const CONTAINERD_BIN = '/usr/bin/containerd';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface DaemonOptions {
  name: SideName;
  /** The side's unique temp dir; everything it creates lives below (socket, root, state, logs). */
  dir: string;
  namespace: string;
}

export class Daemon {
  readonly name: SideName;
  readonly dir: string;
  readonly socket: string;
  readonly rootDir: string;
  readonly stateDir: string;
  readonly logFile: string;
  readonly client: BenchClient;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Set by stop(): teardown has begun and the daemon must not be started again. */
  private retired = false;

  constructor(opts: DaemonOptions) {
    this.name = opts.name;
    this.dir = opts.dir;
    this.socket = path.join(opts.dir, `${opts.name}.sock`);
    this.rootDir = path.join(opts.dir, 'root');
    this.stateDir = path.join(opts.dir, 'state');
    this.logFile = path.join(opts.dir, 'daemon.log');
    fs.mkdirSync(this.rootDir, { recursive: true });
    fs.mkdirSync(this.stateDir, { recursive: true });
    this.client = new BenchClient(this.socket, opts.namespace);
  }

  /** The pid of the daemon process this benchmark started, while it runs. */
  get pid(): number | undefined {
    return this.alive() ? this.child?.pid : undefined;
  }

  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private command(): [string, string[]] {
    if (this.name === 'containerd') {
      const config = path.join(this.dir, 'config.toml');
      if (!fs.existsSync(config)) fs.writeFileSync(config, containerdConfig(this));
      return [CONTAINERD_BIN, ['--config', config, '--address', this.socket, '--root', this.rootDir, '--state', this.stateDir]];
    }
    const berthd = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..', 'bin/berthd');
    if (!fs.existsSync(berthd)) throw new Error(`berthd: ${berthd} does not exist`);
    return [berthd, ['--address', this.socket, '--root', this.rootDir, '--state', this.stateDir]];
  }

  /** Spawns the daemon (same dirs on every call) and waits until it answers Version. */
  async start(): Promise<void> {
    this.spawn();
    await this.client.waitReady(READY_TIMEOUT_MS, () => this.alive()).catch((err: Error) => {
      throw new Error(`${err.message}; log ${this.logFile}: ${tail(this.logFile)}`);
    });
  }

  /** Spawns the daemon without waiting for it to serve (the restart metric polls by itself). */
  spawn(): void {
    if (this.retired) throw new Error(`${this.name}: stopped for good (teardown)`);
    if (this.alive()) throw new Error(`${this.name}: already running as pid ${this.child?.pid}`);
    const [cmd, args] = this.command();
    const log = fs.openSync(this.logFile, 'a');
    try {
      const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log] });
      this.child = child;
      this.exited = new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      });
      child.once('error', (err) => fs.appendFileSync(this.logFile, `spawn error: ${err.message}\n`));
    } finally {
      fs.closeSync(log);
    }
  }

  /** The last lines of the daemon's log, for error messages. */
  logTail(): string {
    return tail(this.logFile);
  }

  /** SIGKILLs the pid this benchmark started and waits for it to be gone. */
  async killHard(): Promise<void> {
    if (!this.alive()) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after a grace period; only ever the pid this benchmark started. */
  async stop(): Promise<void> {
    this.retired = true;
    if (!this.alive()) return;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Last resort from a synchronous `exit` handler. */
  killSync(): void {
    if (this.alive()) this.child!.kill('SIGKILL');
  }
}

function containerdConfig(d: Daemon): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'version = 2',
    `root = ${q(d.rootDir)}`,
    `state = ${q(d.stateDir)}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '',
    '[grpc]',
    `  address = ${q(d.socket)}`,
    '',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(path.join(d.dir, 'opt'))}`,
    '',
  ].join('\n');
}

function tail(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no log)';
  }
}
