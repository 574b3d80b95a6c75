/**
 * What bctr's integration tests share: running bin/bctr (and the real ctr) as child processes with their
 * output collected, waiting for conditions, and a private real containerd in a temp dir (its own socket,
 * root and state; the CRI plugin disabled) that is stopped, with its tasks and dirs, afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from '../helpers/daemon';

export const BCTR = path.join(REPO_ROOT, 'bin', 'bctr');
export const CTR = '/usr/bin/ctr';
export const CONTAINERD = '/usr/bin/containerd';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export interface RunOptions {
  /** Written to stdin, then stdin is closed (after `inputAfter` resolves, when given). */
  input?: string;
  inputAfter?: Promise<unknown>;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** Starts a CLI (bctr: `node bin/bctr`) with `-a address` and returns the process; see collect(). */
export function spawnCli(which: 'bctr' | 'ctr', address: string, args: string[], env?: Record<string, string>): ChildProcess {
  const [cmd, pre] = which === 'bctr' ? [process.execPath, [BCTR]] : [CTR, []];
  const child = spawn(cmd, [...pre, '-a', address, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stdin!.on('error', () => undefined);
  return child;
}

export function collect(child: ChildProcess, timeoutMs = 30_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms: ${child.spawnargs.join(' ')}\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function runCli(which: 'bctr' | 'ctr', address: string, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const child = spawnCli(which, address, args, opts.env);
  const done = collect(child, opts.timeoutMs);
  if (opts.inputAfter) await opts.inputAfter;
  child.stdin!.end(opts.input ?? '');
  return done;
}

const shellQuote = (a: string): string => `'${a.replaceAll("'", `'\\''`)}'`;

/** Runs bctr under a pseudo-terminal (util-linux `script`), as an interactive `-t` user would. */
export async function runBctrUnderPty(address: string, args: string[], timeoutMs = 30_000): Promise<CliResult> {
  const cmd = [process.execPath, BCTR, '-a', address, ...args].map(shellQuote).join(' ');
  const child = spawn('/usr/bin/script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const done = collect(child, timeoutMs);
  child.stdin!.end();
  return done;
}

export const newId = (prefix = 'bt'): string => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** FIFO directories bctr leaves under its root (none once a command has cleaned up). */
export function fifoDirs(): string[] {
  try {
    return fs.readdirSync('/run/berth/fifo');
  } catch {
    return [];
  }
}

export interface PrivateContainerd {
  address: string;
  dir: string;
  pid: number;
  logs(): string;
  /** Kills and deletes every task in `namespaces`, stops containerd (SIGTERM, then SIGKILL), removes its dirs. */
  stop(namespaces: string[]): Promise<void>;
}

/** Starts /usr/bin/containerd on its own socket, root and state under a fresh temp dir. */
export async function startContainerd(): Promise<PrivateContainerd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-containerd-'));
  const address = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(config, 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n');
  let log = '';
  const child = spawn(
    CONTAINERD,
    ['--config', config, '--address', address, '--root', path.join(dir, 'root'), '--state', path.join(dir, 'state')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.add(child);
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
    if (log.length > 1_000_000) log = log.slice(-500_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(async () => (await runCli('ctr', address, ['version'], { timeoutMs: 15_000 })).code === 0 || undefined, 'containerd to serve', 30_000);
  return {
    address,
    dir,
    pid: child.pid!,
    logs: () => log,
    async stop(namespaces: string[]): Promise<void> {
      for (const ns of namespaces) {
        const ids = (await runCli('ctr', address, ['-n', ns, 't', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
        for (const id of ids) await runCli('ctr', address, ['-n', ns, 't', 'rm', '-f', id]);
        const cids = (await runCli('ctr', address, ['-n', ns, 'c', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
        if (cids.length > 0) await runCli('ctr', address, ['-n', ns, 'c', 'rm', ...cids]);
        if (ns !== 'default') await runCli('ctr', address, ['ns', 'rm', ns]);
      }
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      children.delete(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Removes the namespace's cgroup directories left on cgroup v1 hierarchies (empty ones only). */
export function removeNamespaceCgroups(ns: string): void {
  for (const ctrl of fs.readdirSync('/sys/fs/cgroup')) {
    const d = path.join('/sys/fs/cgroup', ctrl, ns);
    try {
      for (const sub of fs.readdirSync(d, { withFileTypes: true })) if (sub.isDirectory()) fs.rmdirSync(path.join(d, sub.name));
      fs.rmdirSync(d);
    } catch {}
  }
}
