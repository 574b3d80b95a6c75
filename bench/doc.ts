/**
 * Rewrites docs/performance.md (and docs/performance-latency.svg) from one run's results: the command, the
 * machine, the side-by-side table with ratios, the lifecycle broken into its calls, the memory details,
 * the targets of issue 6 against the measured ratios, the memory floor of the design (bench/floor.ts) and how
 * each figure is taken.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderLatencyChart } from './chart';
import type { BenchResults } from './results';
import { markdownTable, type Row } from './table';

const TARGETS: { key: string; what: string; max?: number; min?: number }[] = [
  { key: 'lifecycle.median', what: 'lifecycle latency ≤ 0.5× containerd', max: 0.5 },
  { key: 'burst.total', what: '20-way burst ≤ 1.0× containerd', max: 1.0 },
  { key: 'exitEvent.median', what: '/tasks/exit latency ≤ 1.0× containerd', max: 1.0 },
];

/** `1.6.20~ds1` out of `containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3`. */
function versionOf(s: string): string {
  return /\d+\.\d+\.\d+\S*/.exec(s)?.[0] ?? s;
}

function targetLines(rows: Row[], r: BenchResults): string[] {
  const out = TARGETS.map((t) => {
    const row = rows.find((x) => x.key === t.key);
    const ratio = row?.ratio;
    if (ratio === null || ratio === undefined) return `- ${t.what}: not measured (${String(row?.berth ?? 'no row')})`;
    const met = t.max !== undefined ? ratio <= t.max : ratio >= (t.min ?? 0);
    return `- ${t.what}: measured **${ratio}×** — ${met ? 'met' : 'not met'}`;
  });
  const mem = r.memory.berth;
  out.push(
    mem?.ok
      ? `- PSS per idle container ≤ 12 MiB: measured **${(mem.value.perContainerPssKiB / 1024).toFixed(2)} MiB** — ${mem.value.perContainerPssKiB <= 12 * 1024 ? 'met' : 'not met'}`
      : `- PSS per idle container ≤ 12 MiB: not measured`,
  );
  const grouped = r.memoryGrouped?.berth;
  if (grouped?.ok) {
    const kib = grouped.value.perContainerPssKiB;
    out.push(`- (optional) shim groups of ${grouped.value.groupSize ?? r.options.groupSize}, reported separately: **${(kib / 1024).toFixed(2)} MiB** per idle container — ${kib <= 12 * 1024 ? 'within' : 'above'} 12 MiB`);
  }
  return out;
}

function phaseTable(r: BenchResults): string[] {
  const b = r.lifecycle.berth?.ok ? r.lifecycle.berth.value.phases : undefined;
  const c = r.lifecycle.containerd?.ok ? r.lifecycle.containerd.value.phases : undefined;
  if (!b && !c) return ['No lifecycle was measured.'];
  const names: [string, string][] = [
    ['containerCreate', 'Containers.Create'],
    ['taskCreate', 'Tasks.Create'],
    ['start', 'Tasks.Start'],
    ['wait', 'Tasks.Wait result after Start'],
    ['taskDelete', 'Tasks.Delete'],
    ['containerDelete', 'Containers.Delete'],
  ];
  const lines = ['| call | berth (ms) | containerd (ms) |', '|---|---:|---:|'];
  const ms = (v: number | undefined): string => (v === undefined ? '—' : v.toFixed(1));
  for (const [k, label] of names) lines.push(`| ${label} | ${ms(b?.[k])} | ${ms(c?.[k])} |`);
  return lines;
}

function memoryLines(r: BenchResults): string[] {
  const lines = ['| side | shims | shims PSS (MiB) | shims RSS (MiB) | daemon PSS (MiB) | daemon RSS (MiB) | per container PSS (MiB) |', '|---|---:|---:|---:|---:|---:|---:|'];
  const runs: [string, BenchResults['memory']][] = [['', r.memory], [`, shim groups of ${r.options.groupSize}`, r.memoryGrouped ?? {}]];
  for (const [what, memory] of runs) {
    for (const side of r.sides) {
      const m = memory[side];
      if (!m?.ok) {
        lines.push(`| ${side}${what} | error: ${(m && !m.ok ? m.error : r.sideErrors[side] ?? 'not measured').replace(/\|/g, '\\|')} | | | | | |`);
        continue;
      }
      const v = m.value;
      const mib = (k: number): string => (k / 1024).toFixed(1);
      lines.push(`| ${side}${what} | ${v.shimPids.length} | ${mib(v.shimPssKiB)} | ${mib(v.shimRssKiB)} | ${mib(v.daemonPssKiB)} | ${mib(v.daemonRssKiB)} | ${(v.perContainerPssKiB / 1024).toFixed(2)} |`);
    }
  }
  return lines;
}

const TARGET_KIB = 12 * 1024;
const mib = (kib: number): string => (kib / 1024).toFixed(2);

/**
 * What berth's per-container figure is made of (shim + the daemon's share + the extra shims' share) and how
 * the floor (an idle node with the shim's flags, bare and serving grpc-js) compares with what the 12 MiB
 * target leaves for a shim.
 */
export function floorLines(r: BenchResults): string[] {
  const f = r.memoryFloor;
  if (!f) return ['The floor (bench/floor.ts) was not measured in this run.'];
  if (!f.ok) return [`The floor (bench/floor.ts) could not be measured: ${f.error}`];
  const v = f.value;
  const lines = [
    `Floor (berth only, no berth code; mean of ${v.n} processes each, \`${['node', ...v.flags].join(' ')}\` as in`,
    `bin/berth-shim): an idle node **${mib(v.bareNodeKiB)} MiB** PSS; the same serving a grpc-js server on a listening socket`,
    `passed as fd 3 (net.Server → connection injector, as shim/server.ts) **${mib(v.grpcServerKiB)} MiB**.`,
  ];
  const m = r.memory.berth;
  if (!m?.ok) return lines;
  const { containers, shimPids, shimPssKiB, daemonPssKiB, perContainerPssKiB } = m.value;
  const perShim = shimPssKiB / shimPids.length;
  const extra = Math.max(0, shimPids.length - containers);
  const shares = daemonPssKiB / containers + (perShim * extra) / containers;
  const left = TARGET_KIB - shares;
  lines.push(
    '',
    `berth's per-container figure (${mib(perContainerPssKiB)} MiB) = one shim's PSS (${mib(perShim)} MiB, mean of ${shimPids.length})`,
    `+ the daemon's share (${mib(daemonPssKiB / containers)} MiB: its PSS / ${containers}) + the share of the shims beyond one per`,
    extra > 0
      ? `container, pre-started or kept for reuse (${extra} × ${mib(perShim)} MiB / ${containers} = ${mib((perShim * extra) / containers)} MiB).`
      : 'container, pre-started or kept for reuse (none counted in this run).',
    `The 12 MiB target minus those shares leaves ${mib(left)} MiB per shim; the grpc-js floor alone (${mib(v.grpcServerKiB)} MiB)`,
    `is ${v.grpcServerKiB > left ? 'above' : 'within'} that, before any berth code runs.`,
  );
  return lines;
}

/** Writes the page and the chart; returns the paths written. */
/** The scale phase (bench/scale.ts), one row per side; nothing when it did not run. */
export function scaleLines(r: BenchResults): string[] {
  if (!r.scale || !r.options.scale) return [];
  const mib = (k: number): string => (k / 1024).toFixed(1);
  const lines = [
    `## Scale: ${r.options.scale} idle containers`,
    '',
    '| side | failed starts | start all (s) | daemon RSS (MiB) | daemon PSS (MiB) | PSS per container (MiB) | Tasks.List median / p90 (ms) | Containers.List median / p90 (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const side of r.sides) {
    const o = r.scale[side];
    if (!o) continue;
    if (!o.ok) {
      lines.push(`| ${side} | error: ${o.error.replace(/\|/g, '\\|')} | | | | | | |`);
      continue;
    }
    const v = o.value;
    lines.push(
      `| ${side} | ${v.startErrors} | ${(v.startAllMs / 1000).toFixed(1)} | ${mib(v.daemonRssKiB)} | ${mib(v.daemonPssKiB)} | ${mib(v.perContainerPssKiB)} | ` +
        `${v.tasksList.medianMs} / ${v.tasksList.p90Ms} | ${v.containersList.medianMs} / ${v.containersList.p90Ms} |`,
    );
  }
  const errors = r.sides.map((s) => r.scale?.[s]).filter((o) => o?.ok && o.value.firstError);
  for (const o of errors) if (o?.ok) lines.push('', `First failed start: ${o.value.firstError}`);
  return [...lines, ''];
}

export function writePerformanceDoc(docsDir: string, r: BenchResults, rows: Row[]): string[] {
  fs.mkdirSync(docsDir, { recursive: true });
  const svgPath = path.join(docsDir, 'performance-latency.svg');
  fs.writeFileSync(svgPath, renderLatencyChart(r));
  const m = r.machine;
  const o = r.options;
  const page = [
    '# Performance: berth vs containerd',
    '',
    `<!-- Generated by \`npm run bench\` (bench/doc.ts) on ${r.finishedAt}. Do not edit by hand: run the benchmark again. -->`,
    '',
    'One run of `npm run bench` starts its own `berthd` and its own `containerd` (each in a temp dir with its own',
    'socket, root and state), drives both through the same gRPC client with the same containerd v1 calls, alternating',
    'A B A B, and writes this page. Ratios are berth / containerd: below 1 is better for berth on "lower" rows, above 1',
    'on "higher" rows.',
    '',
    `Command: \`${r.command}\` (through \`npm run bench\`), ${r.startedAt} → ${r.finishedAt}.`,
    '',
    '## Machine',
    '',
    `- ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB memory`,
    `- ${m.os}, kernel ${m.kernel}`,
    `- node ${m.node}; containerd ${versionOf(m.containerd)}; runc ${versionOf(m.runc)}`,
    `- load average when the run started: ${m.loadAverage?.join(', ') ?? 'not recorded'}`,
    '',
    '## Results',
    '',
    markdownTable(rows),
    '',
    ...Object.entries(r.sideErrors).map(([s, e]) => `- ${s} could not run: ${e}`),
    '',
    '![latency distributions](performance-latency.svg)',
    '',
    '## Targets (issue 6)',
    '',
    ...targetLines(rows, r),
    '',
    '## Lifecycle, call by call (medians)',
    '',
    ...phaseTable(r),
    '',
    `## Memory with ${o.idle} idle containers`,
    '',
    ...memoryLines(r),
    '',
    ...floorLines(r),
    '',
    ...scaleLines(r),
    '## How each figure is taken',
    '',
    `- **Lifecycle**: Containers.Create (busybox rootfs directory, the OCI spec containerd's client generates, runtime`,
    '  `io.containerd.runc.v2`), Tasks.Create, Tasks.Wait issued before Tasks.Start, the Wait result, Tasks.Delete,',
    `  Containers.Delete of \`/bin/true\`; ${o.warmups} warm-ups then ${o.iterations} samples per side, alternating sides.`,
    `- **Burst**: ${o.burst} such lifecycles started at once; wall time until the last finishes; median of ${o.burstRounds} round(s) per side`,
    '  (the first round is shown too: berth then has only its pre-started shims, later rounds find the shims the previous',
    '  round gave back).',
    '- **berth as configured by default**: `[shim] prestart = 2` pre-started shims; a deleted task\'s shim is recycled',
    '  for the next task (kept up to 30 s, at most 32 idle); pool and recycled shims are counted in the memory figures.',
    '  containerd starts a fresh `containerd-shim-runc-v2` per task.',
    '- **Exit event**: one Events.Subscribe stream per side with `topic=="/tasks/exit"`; a `sleep 1000` task is started,',
    `  the clock runs from the Kill(SIGKILL) call to the arrival of that task's event; one warm-up, ${o.eventSamples} samples.`,
    `- **Memory**: ${o.idle} \`sleep 1000\` containers per side, ${o.settleMs} ms after the last start, sum of \`Pss\` from`,
    '  `/proc/<pid>/smaps_rollup` over the side\'s shim processes (found by their command line naming the side\'s temp',
    '  dir, by `shim.pid` files under the state dir checked against `shim.starttime`, or as children of the daemon),',
    '  plus the daemon\'s own PSS, divided by the number of containers. Container processes themselves are not counted',
    '  (they are the same on both sides).',
    `- **Memory, shim groups**: the same, with the containers labelled \`io.containerd.runc.v2.group=<g>\` in groups of`,
    `  ${o.groupSize} (\`--group-size\`; label and spec annotation, as \`ctr run --label\` sets them): one shim per group on`,
    '  both sides (containerd\'s runc v2 shim reads the group from the annotation, berthd from the label).',
    '  Reported as its own row; the figure without groups above stays the one for one shim per container.',
    '- **Floor**: with no daemon involved, the same number of idle `node` processes as containers (one variant at a',
    '  time), started with the V8 flags of bin/berth-shim\'s shebang line: a bare one (setInterval only) and one serving',
    '  a grpc-js Server (no service added) through its connection injector on a listening socket passed as fd 3; each',
    `  calls global.gc() 500 ms after start, then ${o.settleMs} ms later the mean \`Pss\` per process is read.`,
    `- **List rates**: with the same ${o.idle} containers, sequential Tasks.List then Containers.List calls for ${o.listMs} ms each.`,
    `- **Scale**: ${o.scale ?? 0} \`sleep 1000\` containers on one side at a time (8 starts in flight; a failed start is`,
    `  counted, not retried), ${o.settleMs} ms after the last start the daemon's RSS and PSS and the PSS per container`,
    '  (as the memory row), then 20 sequential Tasks.List and 20 Containers.List calls after one warm-up each.',
    `- **Restart**: ${o.restartTasks} running \`sleep\` tasks; the daemon pid the benchmark started is SIGKILLed and started again`,
    '  on the same dirs; Tasks.List is polled back to back (the client reconnects within milliseconds); the clock runs',
    '  from the new spawn until Tasks.List returns all tasks RUNNING (the first answer of any kind is in the JSON).',
    '- The load average above is what other work on the machine was doing; every figure moves with it, the ratios less.',
    '- `$RUN` in error messages is the run\'s temp dir.',
    '- Raw samples: `bench/results/latest.json` (not committed). Figures belong here, never in timed tests.',
    '',
  ].join('\n');
  const mdPath = path.join(docsDir, 'performance.md');
  fs.writeFileSync(mdPath, page);
  return [mdPath, svgPath];
}
