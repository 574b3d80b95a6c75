/**
 * Starts a real Docker engine (Debian's docker.io, dockerd 20.10) in a temp dir against a given containerd
 * socket — berthd in the compat tests — and runs the docker CLI against it. Everything it starts and creates
 * (the dockerd pid, its data and exec roots, mounts below them) is removed by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestDockerd {
  dir: string;
  host: string;
  docker(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  stop(): Promise<void>;
}

export const DOCKERD = '/usr/sbin/dockerd';
export const DOCKER = '/usr/bin/docker';

export function haveDocker(): boolean {
  return fs.existsSync(DOCKERD) && fs.existsSync(DOCKER);
}

/** Runs a command to completion, with optional stdin and a timeout (the child is killed when it passes). */
export function runCommand(
  file: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function unmountBelow(dir: string): void {
  const lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => typeof p === 'string' && (p === dir || p.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    spawnSyncQuiet('umount', ['-l', p]);
  }
}

function spawnSyncQuiet(file: string, args: string[]): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('node:child_process').spawnSync(file, args, { stdio: 'ignore' });
}

/** Starts dockerd on `containerdAddress`; resolves once `docker version` answers. */
export async function startDockerd(containerdAddress: string): Promise<TestDockerd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-dockerd-'));
  const sock = path.join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'a');
  const child: ChildProcess = spawn(
    DOCKERD,
    [
      '--containerd', containerdAddress,
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'dockerd.pid'),
      '-H', host,
      '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip6tables=false',
      '--storage-driver=vfs',
      '--containerd-namespace', 'moby',
      '--config-file', writeEmptyConfig(dir),
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  let exited = false;
  child.on('exit', () => (exited = true));

  const docker = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    runCommand(DOCKER, ['-H', host, ...args], opts);

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      await waitFor(async () => exited, 20_000, 'dockerd to stop').catch(() => child.kill('SIGKILL'));
      await waitFor(async () => exited, 5_000, 'dockerd to die').catch(() => {});
    }
    unmountBelow(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(async () => exited || (await docker(['version'], { timeoutMs: 5000 })).code === 0, 30_000, 'dockerd to answer');
    if (exited) throw new Error(`dockerd exited at start: ${fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, host, docker, stop };
}

function writeEmptyConfig(dir: string): string {
  const p = path.join(dir, 'daemon.json');
  fs.writeFileSync(p, '{}');
  return p;
}

/** Imports a busybox rootfs directory as image `name` (with PATH set, as a real image would have). */
export async function importRootfs(d: TestDockerd, rootfs: string, name: string): Promise<void> {
  const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const imp = spawn(DOCKER, ['-H', d.host, 'import', '-c', 'ENV PATH=/bin:/sbin:/usr/bin', '-', name], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  tar.stdout.pipe(imp.stdin);
  let err = '';
  imp.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((r) => imp.on('close', r));
  if (code !== 0) throw new Error(`docker import failed: ${err}`);
}
