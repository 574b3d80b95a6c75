/**
 * A fixture for runtime tests: a temp bundle with a busybox rootfs, a Factory with its own state root, unique
 * container ids and cgroup paths (`/berth-test-<random>`), and `runToEnd` capturing a container's output in
 * files. `cleanup` destroys every container it made and removes the temp tree.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Factory, exampleSpec, type Container, type ExitStatus, type OciSpec } from '../../native';
import type { ExampleSpecOptions } from '../../native/runtime/spec-example';
import { makeBusyboxRootfs } from './rootfs';

export interface RunResult {
  status: ExitStatus;
  stdout: string;
  stderr: string;
}

export interface RuntimeFixture {
  dir: string;
  bundle: string;
  rootfs: string;
  factory: Factory;
  /** a fresh id and a spec for it (cgroupsPath unique to this test) */
  spec(opts?: ExampleSpecOptions): { id: string; spec: OciSpec };
  create(spec: OciSpec, id?: string): Promise<Container>;
  /** create + start + run + wait + read output (the container is destroyed afterwards) */
  runToEnd(spec: OciSpec): Promise<RunResult>;
  outputFiles(): { out: number; err: number; read(): { stdout: string; stderr: string } };
  cleanup(): Promise<void>;
}

export async function runtimeFixture(): Promise<RuntimeFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
  const bundle = path.join(dir, 'bundle');
  const rootfs = path.join(bundle, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  const factory = new Factory({ stateRoot: path.join(dir, 'state') });
  const containers: Container[] = [];
  const fds: number[] = [];
  let n = 0;
  const tag = crypto.randomBytes(4).toString('hex');

  const fx: RuntimeFixture = {
    dir, bundle, rootfs, factory,
    spec(opts = {}) {
      const id = `t${tag}-${n++}`;
      return { id, spec: exampleSpec({ cgroupsPath: `/berth-test-${tag}-${id}`, ...opts }) };
    },
    async create(spec, id) {
      const cid = id ?? `t${tag}-${n++}`;
      const c = await factory.create(cid, { bundle, spec });
      containers.push(c);
      return c;
    },
    outputFiles() {
      const base = path.join(dir, `out-${n++}`);
      const out = fs.openSync(`${base}.stdout`, 'w+');
      const err = fs.openSync(`${base}.stderr`, 'w+');
      fds.push(out, err);
      return {
        out, err,
        read: () => ({ stdout: fs.readFileSync(`${base}.stdout`, 'utf8'), stderr: fs.readFileSync(`${base}.stderr`, 'utf8') }),
      };
    },
    async runToEnd(spec) {
      const c = await fx.create(spec);
      const files = fx.outputFiles();
      try {
        const p = await c.start({ stdout: files.out, stderr: files.err });
        await c.run();
        const status = await withTimeout(p.wait(), 20_000, 'container exit');
        return { status, ...files.read() };
      } finally {
        await c.destroy();
      }
    },
    async cleanup() {
      for (const c of containers) await c.destroy().catch(() => {});
      for (const fd of fds) {
        try {
          fs.closeSync(fd);
        } catch {}
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return fx;
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns true. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
