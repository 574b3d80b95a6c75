/**
 * The runtime-only figure: create + start + run + wait + destroy of /bin/true through native/ (no daemon, no
 * shim), median of 30 after 3 warm-up runs, on a busybox rootfs with the default spec (pid, net, ipc, uts,
 * mount namespaces, the usual mounts, a cgroup). Needs root.   node dist/bench/runtime.js [--runs N]
 * `measureRuntime` gives the same figure to other benchmarks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Factory, exampleSpec } from '../native';
import { makeBusyboxRootfs } from '../test/helpers/rootfs';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

export interface RuntimeFigure {
  /** milliseconds */
  median: number;
  min: number;
  p90: number;
  max: number;
  n: number;
}

/** Measures create+start+run+wait+destroy of /bin/true `runs` times (after 3 warm-up runs). Needs root. */
export async function measureRuntime(runs = 30): Promise<RuntimeFigure> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-runtime-'));
  try {
    const bundle = path.join(dir, 'bundle');
    await makeBusyboxRootfs(path.join(bundle, 'rootfs'));
    const factory = new Factory({ stateRoot: path.join(dir, 'state') });
    const once = async (i: number): Promise<number> => {
      const id = `bench-${process.pid}-${i}`;
      const spec = exampleSpec({ args: ['/bin/true'], cgroupsPath: `/berth-bench-${id}` });
      const t0 = process.hrtime.bigint();
      const c = await factory.create(id, { bundle, spec });
      const p = await c.start({});
      await c.run();
      const st = await p.wait();
      await c.destroy();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (st.exitStatus !== 0) throw new Error(`run ${i}: /bin/true exited ${st.exitStatus}`);
      return ms;
    };
    for (let i = 0; i < 3; i++) await once(1000 + i);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await once(i));
    times.sort((a, b) => a - b);
    return { median: percentile(times, 0.5), min: times[0]!, p90: percentile(times, 0.9), max: times[times.length - 1]!, n: runs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench/runtime: needs root');
    process.exit(2);
  }
  const runsArg = process.argv.indexOf('--runs');
  const r = await measureRuntime(runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30);
  const f = (n: number): string => n.toFixed(1);
  console.log(`runtime create+start+run+wait+destroy of /bin/true: median ${f(r.median)} ms ` +
    `(min ${f(r.min)}, p90 ${f(r.p90)}, max ${f(r.max)}, n=${r.n})`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
