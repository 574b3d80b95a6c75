/**
 * (3c) the memory floor of berth's design, measured in the same run as the berth rows: what an idle Node.js
 * process costs before any berth code runs. Two variants, `count` processes each, one variant at a time (so
 * the node binary's shared pages are split among about as many processes as in the one-shim-per-container row):
 * - bare: `node <the shim's V8 flags>` running a setInterval only;
 * - grpc: the same plus a grpc-js Server (from the repository's node_modules) fed by a net.Server on a
 *   listening Unix socket handed over as fd 3, through its connection injector: the shape of shim/server.ts,
 *   with no service added and no berth module loaded.
 * The flags are read from the shebang line of bin/berth-shim at run time, so they never drift from the shim's.
 * Each process calls global.gc() ~500 ms after start (the shim does the same once idle, see shim/idle-gc.ts)
 * and then reports ready; `settleMs` later the mean Pss of /proc/<pid>/smaps_rollup is taken. Only the
 * processes spawned here are killed, by pid, at the end, on failure and on abort (Ctrl-C), and the temp dir
 * is removed.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Outcome } from './metrics';
import { memoryOf } from './procs';
import { round } from './stats';

export interface FloorResult {
  /** Processes per variant. */
  n: number;
  /** The V8 flags used (bin/berth-shim's shebang line). */
  flags: string[];
  /** Mean Pss per idle `node <flags>` process. */
  bareNodeKiB: number;
  /** Mean Pss per idle `node <flags>` process serving grpc-js on an fd-passed socket. */
  grpcServerKiB: number;
}

export interface FloorOptions {
  /** The repository (bin/berth-shim, node_modules/@grpc/grpc-js). */
  repo: string;
  /** A temp dir is made below it for the script and the sockets, and removed at the end. */
  parentDir: string;
  count: number;
  settleMs: number;
  signal: AbortSignal;
}

const GC_DELAY_MS = 500;
const READY_TIMEOUT_MS = 30_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The node flags on a `#!/usr/bin/env -S node --a --b` (or `#!/usr/bin/node --a`) first line. */
export function nodeFlagsFromShebang(text: string, file = 'script'): string[] {
  const first = text.split('\n', 1)[0];
  if (!first.startsWith('#!')) throw new Error(`${file}: no shebang line`);
  const words = first.slice(2).trim().split(/\s+/);
  const node = words.findIndex((w) => path.basename(w) === 'node');
  if (node < 0) throw new Error(`${file}: no node in the shebang line`);
  return words.slice(node + 1).filter((w) => w.startsWith('-'));
}

/** The idle process: argv[2] is `bare` or `grpc`; prints `ready` once its collection is done. */
function idleScript(grpcModule: string): string {
  return `'use strict';
setInterval(() => {}, 1 << 30);
const ready = () => setTimeout(() => { global.gc(); process.stdout.write('ready\\n'); }, ${GC_DELAY_MS});
if (process.argv[2] !== 'grpc') ready();
else {
  const net = require('node:net');
  const { Server, ServerCredentials } = require(${JSON.stringify(grpcModule)});
  const server = new Server({ 'grpc.max_receive_message_length': 16 << 20 });
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener = net.createServer((socket) => { socket.on('error', () => socket.destroy()); injector.injectConnection(socket); });
  listener.listen({ fd: 3 }, ready);
}
`;
}

/** A listening socket at `file` (bound under a temporary name and renamed: closing our copy unlinks the bind path). */
async function listenAt(file: string): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: `${file}.tmp` }, () => resolve());
  });
  fs.renameSync(`${file}.tmp`, file);
  return server;
}

/** Resolves when the child prints `ready`; rejects when it exits first or the time is up. */
function whenReady(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what}: not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stderr?.on('data', (d: Buffer) => void (err = (err + d.toString()).slice(-600)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited (${sig ?? code}) before it was ready: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/** Spawns `count` idle processes of one variant, waits for them and `settleMs`; mean Pss in KiB. */
async function measureVariant(variant: 'bare' | 'grpc', opts: FloorOptions, flags: string[], dir: string, children: ChildProcess[]): Promise<number> {
  const script = path.join(dir, 'idle.js');
  const mine: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < opts.count; i++) {
    opts.signal.throwIfAborted();
    const listener = variant === 'grpc' ? await listenAt(path.join(dir, `grpc-${i}.sock`)) : undefined;
    const fd = (listener as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd;
    if (listener && (typeof fd !== 'number' || fd < 0)) throw new Error(`floor socket ${i}: no listening descriptor`);
    try {
      const child = spawn(process.execPath, [...flags, script, variant], { stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', fd] });
      child.on('error', () => {});
      children.push(child);
      mine.push(child);
      const p = whenReady(child, `floor ${variant} process ${i}`);
      p.catch(() => {}); // handled by Promise.all below, or moot when a later spawn fails first
      ready.push(p);
    } finally {
      if (listener) await new Promise<void>((r) => listener.close(() => r()));
    }
  }
  await Promise.all(ready);
  await sleep(opts.settleMs);
  opts.signal.throwIfAborted();
  const pss = mine.map((c) => memoryOf(c.pid!).pssKiB);
  if (pss.some((k) => k === 0)) throw new Error(`floor ${variant}: a process is gone before its memory was read`);
  return round(pss.reduce((a, b) => a + b, 0) / pss.length, 1);
}

/** Kills the given children by pid (SIGKILL) and waits for their exit. */
async function killAll(children: ChildProcess[]): Promise<void> {
  const live = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = live.map((c) => new Promise<void>((r) => c.once('exit', () => r())));
  for (const c of live) c.kill('SIGKILL');
  await Promise.race([Promise.all(exited), sleep(5000)]);
  children.length = 0;
}

/** The floor figures, or the error that stopped them; never throws except on abort. */
export async function measureFloor(opts: FloorOptions): Promise<Outcome<FloorResult>> {
  const shim = path.join(opts.repo, 'bin', 'berth-shim');
  const dir = fs.mkdtempSync(path.join(opts.parentDir, 'floor-'));
  const children: ChildProcess[] = [];
  const onAbort = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const flags = nodeFlagsFromShebang(fs.readFileSync(shim, 'utf8'), shim);
    fs.writeFileSync(path.join(dir, 'idle.js'), idleScript(require.resolve('@grpc/grpc-js', { paths: [opts.repo] })));
    const bareNodeKiB = await measureVariant('bare', opts, flags, dir, children);
    await killAll(children);
    const grpcServerKiB = await measureVariant('grpc', opts, flags, dir, children);
    return { ok: true, value: { n: opts.count, flags, bareNodeKiB, grpcServerKiB } };
  } catch (err) {
    opts.signal.throwIfAborted();
    return { ok: false, error: (err instanceof Error ? err.message : String(err)).split('\n')[0] };
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    await killAll(children);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
