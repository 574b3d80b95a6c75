/**
 * `npm run bench`: berthd and containerd side by side, each started by this process in its own temp dir,
 * both driven through the same gRPC client with the same containerd v1 calls, alternating A B A B.
 * Prints the table, writes the results JSON and (on a full run) docs/performance.md with its SVG chart.
 * Everything it started is stopped and removed at the end, on failure and on Ctrl-C too.
 *
 *   node dist/bench/run.js [--iterations N] [--only berth|containerd] [--skip-restart] [--quick]
 *                          [--burst N] [--idle N] [--group-size N] [--restart-tasks N] [--settle-ms N] [--scale N] [--out FILE]
 *                          [--docs | --no-docs]
 *
 * --quick shrinks every count (5 samples, bursts of 4, 4 idle and 4 restarted tasks, short List windows) for
 * a smoke test; --burst/--idle/--restart-tasks override single counts. The idle memory is measured twice: one
 * shim per container, and with the containers in shim groups of --group-size (default 10, quick 2; label
 * io.containerd.runc.v2.group), reported as its own row; --settle-ms is the wait between the last start and
 * the memory reading (default 2000). Beside berth's rows, the floor of its design (bench/floor.ts): --idle
 * idle node processes with the shim's flags, bare and serving grpc-js on an fd-passed socket (not with
 * --only containerd). The docs page is rewritten only on a
 * full run (no --quick, no --only, default counts) unless --docs or --no-docs says otherwise.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CONTAINERD_BIN, Daemon, type SideName } from './daemons';
import { measureBurst, measureExitEvents, measureLifecycle, type PerSide } from './metrics';
import type { Side } from './ops';
import { mountsUnder } from './procs';
import { describeMachine, writeResults, type BenchOptions, type BenchResults } from './results';
import { makeRootfs } from './spec';
import { measureFloor } from './floor';
import { measureScale } from './scale';
import { measureIdle, measureIdleGrouped, measureRestart } from './steady';
import { formatTable, tableRows } from './table';
import { teardownSide } from './teardown';
import { writePerformanceDoc } from './doc';

const REPO = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..');
const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

interface Cli {
  options: BenchOptions;
  out: string;
  docs: boolean;
}

function parseCli(argv: string[]): Cli {
  const { values } = parseArgs({
    args: argv,
    options: {
      iterations: { type: 'string' },
      only: { type: 'string' },
      'skip-restart': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      burst: { type: 'string' },
      idle: { type: 'string' },
      'group-size': { type: 'string' },
      'restart-tasks': { type: 'string' },
      'settle-ms': { type: 'string' },
      scale: { type: 'string' },
      docs: { type: 'boolean' },
      'no-docs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').match(/\/\*\*([\s\S]*?)\*\//)?.[1].replace(/^ \* ?/gm, '') ?? '');
    process.exit(0);
  }
  if (values.only !== undefined && values.only !== 'berth' && values.only !== 'containerd') {
    throw new Error(`--only ${values.only}: expected berth or containerd`);
  }
  const quick = values.quick === true;
  const count = (name: string, raw: string | undefined, dflt: number): number => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${raw}: expected a positive integer`);
    return n;
  };
  const iterations = count('iterations', values.iterations, quick ? 5 : 30);
  const options: BenchOptions = {
    iterations,
    warmups: quick ? 1 : 3,
    burst: count('burst', values.burst, quick ? 4 : 20),
    burstRounds: quick ? 1 : 3,
    idle: count('idle', values.idle, quick ? 4 : 20),
    groupSize: count('group-size', values['group-size'], quick ? 2 : 10),
    listMs: quick ? 300 : 2000,
    settleMs: count('settle-ms', values['settle-ms'], quick ? 200 : 2000),
    restartTasks: count('restart-tasks', values['restart-tasks'], quick ? 4 : 50),
    scale: values.scale === '0' ? 0 : count('scale', values.scale, quick ? 0 : 200),
    eventSamples: iterations,
    skipRestart: values['skip-restart'] === true,
    quick,
    only: values.only as SideName | undefined,
  };
  const full =
    !quick && options.only === undefined && [values.burst, values.idle, values['group-size'], values['restart-tasks'], values['settle-ms'], values.scale].every((v) => v === undefined);
  return {
    options,
    out: path.resolve(values.out ?? path.join(REPO, 'bench/results/latest.json')),
    docs: values['no-docs'] ? false : (values.docs ?? full),
  };
}

function emptyResults(cli: Cli, sides: SideName[]): BenchResults {
  const pretty = process.argv.slice(2).join(' ');
  return {
    schema: 1,
    command: `node dist/bench/run.js${pretty ? ` ${pretty}` : ''}`,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    options: cli.options,
    machine: describeMachine(),
    sides,
    sideErrors: {},
    lifecycle: {},
    burst: {},
    exitEvent: {},
    memory: {},
    memoryGrouped: {},
    list: {},
    restart: {},
  };
}

/** Copies one measurement's per-side outcomes into the results. */
function merge<T>(into: PerSide<T>, from: PerSide<T>): void {
  Object.assign(into, from);
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root: the benchmark starts container daemons');
  const wanted: SideName[] = cli.options.only ? [cli.options.only] : ['berth', 'containerd'];
  const results = emptyResults(cli, wanted);

  const tag = randomBytes(4).toString('hex');
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-bench-${tag}-`));
  const namespace = `bench-${tag}`;
  const rootfs = path.join(runDir, 'rootfs');
  const abort = new AbortController();
  const sides: Side[] = wanted.map((name) => ({
    daemon: new Daemon({ name, dir: path.join(runDir, name), namespace }),
    namespace,
    cgroupParent: `berth-bench-${tag}-${name}`,
    rootfs,
    ids: new Set<string>(),
    nextId: 0,
    signal: abort.signal,
  }));

  let teardown: Promise<void> | undefined;
  const teardownAll = (): Promise<void> =>
    (teardown ??= (async () => {
      for (const side of sides) for (const p of await teardownSide(side)) log(p);
      const mounted = mountsUnder(runDir);
      if (mounted.length > 0) log(`kept ${runDir}: still mounted ${mounted.join(' ')}`);
      else fs.rmSync(runDir, { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping the daemons and removing ${runDir}`);
    abort.abort(new Error(`interrupted by ${sig}`));
    void teardownAll().finally(() => process.exit(130));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, onSignal);
  process.once('exit', () => sides.forEach((s) => s.daemon.killSync()));

  try {
    await makeRootfs(rootfs);
    const active: Side[] = [];
    for (const side of sides) {
      const name = side.daemon.name;
      try {
        if (name === 'containerd' && !fs.existsSync(CONTAINERD_BIN)) throw new Error(`${CONTAINERD_BIN} is not installed`);
        log(`starting ${name} in ${side.daemon.dir}`);
        await side.daemon.start();
        active.push(side);
      } catch (err) {
        results.sideErrors[name] = (err as Error).message.split('\n')[0];
        log(`${name}: ${results.sideErrors[name]}`);
      }
    }
    const o = cli.options;
    const phase = (msg: string): void => {
      abort.signal.throwIfAborted();
      log(msg);
    };
    phase(`lifecycle latency: ${o.warmups} warm-ups + ${o.iterations} samples per side`);
    merge(results.lifecycle, await measureLifecycle(active, o.warmups, o.iterations));
    phase(`burst: ${o.burstRounds} round(s) of ${o.burst} lifecycles in parallel`);
    merge(results.burst, await measureBurst(active, o.burst, o.burstRounds));
    phase(`/tasks/exit latency: ${o.eventSamples} samples per side`);
    merge(results.exitEvent, await measureExitEvents(active, o.eventSamples));
    phase(`idle: ${o.idle} sleeping containers per side: memory, List rates`);
    const idle = await measureIdle(active, { count: o.idle, listMs: o.listMs, settleMs: o.settleMs });
    merge(results.memory, idle.memory);
    merge(results.list, idle.list);
    phase(`idle, grouped: ${o.idle} sleeping containers per side in shim groups of ${o.groupSize}: memory`);
    merge(results.memoryGrouped, await measureIdleGrouped(active, { count: o.idle, groupSize: o.groupSize, settleMs: o.settleMs }));
    if (o.only !== 'containerd') {
      phase(`memory floor: ${o.idle} idle node processes with the shim's flags, bare then serving grpc-js`);
      results.memoryFloor = await measureFloor({ repo: REPO, parentDir: runDir, count: o.idle, settleMs: o.settleMs, signal: abort.signal });
    }
    if ((o.scale ?? 0) > 0) {
      phase(`scale: ${o.scale} idle containers, one side at a time`);
      results.scale = await measureScale(active, { count: o.scale!, settleMs: o.settleMs });
    }
    if (!o.skipRestart) {
      phase(`restart: ${o.restartTasks} running tasks, SIGKILL, start again`);
      merge(results.restart, await measureRestart(active, o.restartTasks));
    }
  } finally {
    await teardownAll();
  }
  results.finishedAt = new Date().toISOString();
  const sanitized = JSON.parse(JSON.stringify(results).split(runDir).join('$RUN')) as BenchResults;
  writeResults(cli.out, sanitized);
  const rows = tableRows(sanitized);
  process.stdout.write(`\n${formatTable(rows)}\n\nresults: ${cli.out}\n`);
  if (cli.docs) {
    for (const f of writePerformanceDoc(path.join(REPO, 'docs'), sanitized, rows)) process.stdout.write(`wrote ${f}\n`);
  }
  const errors = new Set<string>();
  for (const r of rows) {
    for (const side of ['berth', 'containerd'] as const) {
      const cell = r[side];
      if (typeof cell === 'string' && cell.startsWith('error: ')) errors.add(`${side}: ${cell.slice(7)}`);
    }
  }
  if (errors.size > 0) process.stdout.write(`\nerrors:\n${[...errors].map((e) => `  ${e}`).join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
