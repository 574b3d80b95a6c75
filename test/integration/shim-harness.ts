/**
 * Test harness for berth-shim: spawns bin/berth-shim with a listening socket as fd 3 (as berthd does), a
 * promise-based client of the shim API, FIFOs, busybox bundles, and cleanup of everything it started.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Metadata, credentials, makeGenericClientConstructor, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { PROTO_FILES, decodeMessage, serviceDefinition } from '../../proto/loader';
import { exampleSpec } from '../../native/runtime/spec-example';
import { makeBusyboxRootfs } from '../helpers/rootfs';

export const REPO = path.resolve(__dirname, '../../..');
export const SHIM_BIN = path.join(REPO, 'bin', 'berth-shim');

export const isRoot = (): boolean => process.getuid?.() === 0;

export function randomId(prefix = 'berth-test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export type Msg = Record<string, any>;

export class ShimClient {
  private readonly client: Client & Record<string, any>;
  constructor(readonly address: string) {
    const Ctor = makeGenericClientConstructor(serviceDefinition(PROTO_FILES.shim, 'berth.shim.v1.Shim'), 'Shim');
    this.client = new Ctor(`unix:${address}`, credentials.createInsecure()) as Client & Record<string, any>;
  }
  call<T extends Msg = Msg>(method: string, req: Msg, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client[method](req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }
  events(afterSeq: number): ClientReadableStream<Msg> {
    return this.client.Events({ after_seq: afterSeq }, new Metadata()) as ClientReadableStream<Msg>;
  }
  close(): void {
    this.client.close();
  }
}

export interface ShimHandle {
  pid: number;
  address: string;
  client: ShimClient;
  child: ChildProcess;
  logFile: string;
}

/** Spawns a shim for (namespace, id, bundle): socket in `dir`, detached, fd 3 = listener. */
export async function spawnShim(opts: { dir: string; namespace?: string; id?: string; bundle?: string; env?: NodeJS.ProcessEnv }): Promise<ShimHandle> {
  const address = path.join(opts.dir, `s-${randomBytes(3).toString('hex')}.sock`);
  const tmp = address + '.tmp';
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmp, () => resolve());
  });
  fs.renameSync(tmp, address); // closing the server unlinks its bound name (the .tmp one), not the address
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const logFile = path.join(opts.bundle ?? opts.dir, 'shim.log');
  const logFd = fs.openSync(logFile, 'a');
  const args = ['--max-semi-space-size=1', SHIM_BIN];
  if (opts.id) args.push('--namespace', opts.namespace ?? 'default', '--id', opts.id, '--bundle', opts.bundle!);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', logFd, logFd, fd],
    detached: true,
    env: { ...process.env, BERTH_LOG_LEVEL: 'debug', ...opts.env },
  });
  fs.closeSync(logFd);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  child.unref();
  child.on('error', () => {});
  const client = new ShimClient(address);
  return { pid: child.pid!, address, client, child, logFile };
}

/** Kills a shim we started (and waits for it). */
export async function killShim(h: ShimHandle | undefined): Promise<void> {
  if (!h) return;
  h.client.close();
  if (h.child.exitCode === null && h.child.signalCode === null) {
    const exited = new Promise<void>((resolve) => h.child.once('exit', () => resolve()));
    try {
      process.kill(h.pid, 'SIGKILL');
    } catch {}
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  }
}

/** Resolves with the exit code once the shim exits (or undefined after ms). */
export function shimExit(h: ShimHandle, ms: number): Promise<number | null | undefined> {
  if (h.child.exitCode !== null) return Promise.resolve(h.child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    h.child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

export function mkfifo(p: string): string {
  execFileSync('mkfifo', ['-m', '0600', p]);
  return p;
}

/** Reads a FIFO until end of file (the open waits for the writer, on the thread pool). */
export function readFifo(p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = fs.createReadStream(p);
    s.on('data', (c) => chunks.push(c as Buffer));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

/** Unblocks anything waiting to open a FIFO (test cleanup). */
export function releaseFifo(p: string): void {
  try {
    fs.closeSync(fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK));
  } catch {}
}

let rootfsDir: string | undefined;

/** A shared busybox rootfs for all bundles of this process. */
export async function busyboxRootfs(base: string): Promise<string> {
  if (!rootfsDir) {
    rootfsDir = path.join(base, 'rootfs');
    await makeBusyboxRootfs(rootfsDir);
  }
  return rootfsDir;
}

/** A bundle directory with config.json for busybox running `args`. */
export async function makeBundle(base: string, id: string, args: string[], extra: { terminal?: boolean; cgroupsPath?: string; rootPath?: string } = {}): Promise<string> {
  const rootfs = extra.rootPath ?? (await busyboxRootfs(base));
  const bundle = path.join(base, id);
  fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
  const spec = exampleSpec({ args, rootfs, terminal: extra.terminal, cgroupsPath: extra.cgroupsPath ?? `/${id}` });
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-shim-'));
}

/** The decoded payload of a ShimEvent. */
export function eventPayload(ev: Msg): Msg {
  return decodeMessage(ev.event.type_url, ev.event.value);
}

/** Collects events from a stream until `until` returns true for the list (or the timeout). */
export function collectEvents(stream: ClientReadableStream<Msg>, until: (evs: Msg[]) => boolean, timeoutMs = 20_000): Promise<Msg[]> {
  const got: Msg[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`events: timed out with ${got.map((e) => `${e.seq}${e.topic}`).join(' ')}`)), timeoutMs);
    const onData = (e: Msg): void => {
      got.push(e);
      if (until(got)) {
        clearTimeout(t);
        stream.off('data', onData);
        resolve(got);
      }
    };
    stream.on('data', onData);
    stream.on('error', () => {});
  });
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes leftover cgroup directories named `name` under every v1 hierarchy (test cleanup). */
export function removeCgroups(name: string): void {
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h, name);
    try {
      fs.rmdirSync(dir);
    } catch {}
  }
}
