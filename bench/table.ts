/**
 * The side-by-side table: one row per figure, berth and containerd columns, and the ratio berth/containerd
 * (below 1 is better for berth on "lower is better" rows, above 1 on "higher is better" rows). A side that
 * failed a measurement shows its error in its cell and no ratio. The floor rows (bench/floor.ts) are berth's
 * alone: their containerd cell is '—'.
 */
import type { SideName } from './daemons';
import type { FloorResult } from './floor';
import type { ScaleResult } from './scale';
import type { Outcome } from './metrics';
import type { BenchResults } from './results';
import { round } from './stats';

export interface Row {
  key: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher';
  berth: number | string;
  containerd: number | string;
  /** berth / containerd, when both are numbers. */
  ratio: number | null;
}

type Pick = (r: BenchResults, side: SideName) => Outcome<number> | undefined;

/** A figure of the berth-only memory floor (results.memoryFloor), in the berth column. */
function floor(get: (v: FloorResult) => number): Pick {
  return (r, side) => {
    const o = side === 'berth' ? r.memoryFloor : undefined;
    if (!o) return undefined;
    return o.ok ? { ok: true, value: round(get(o.value), 2) } : o;
  };
}

function field<K extends keyof BenchResults>(key: K, get: (v: any) => number): Pick {
  return (r, side) => {
    const o = (r[key] as Partial<Record<SideName, Outcome<unknown>>>)[side];
    if (!o) return undefined;
    return o.ok ? { ok: true, value: round(get(o.value), 2) } : o;
  };
}

interface RowDef {
  key: string;
  label: (r: BenchResults) => string;
  unit: string;
  better: 'lower' | 'higher';
  pick: Pick;
  berthOnly?: true;
}

const ROWS: RowDef[] = [
  { key: 'lifecycle.median', label: () => 'lifecycle /bin/true, median', unit: 'ms', better: 'lower', pick: field('lifecycle', (v) => v.median) },
  { key: 'lifecycle.p90', label: () => 'lifecycle /bin/true, p90', unit: 'ms', better: 'lower', pick: field('lifecycle', (v) => v.p90) },
  { key: 'burst.total', label: (r) => `${r.options.burst} lifecycles in parallel, total`, unit: 'ms', better: 'lower', pick: field('burst', (v) => v.medianMs) },
  { key: 'burst.first', label: () => '  first round (berth: no warm shims yet)', unit: 'ms', better: 'lower', pick: field('burst', (v) => v.roundsMs[0] ?? NaN) },
  { key: 'exitEvent.median', label: () => 'Kill → /tasks/exit event, median', unit: 'ms', better: 'lower', pick: field('exitEvent', (v) => v.median) },
  { key: 'exitEvent.p90', label: () => 'Kill → /tasks/exit event, p90', unit: 'ms', better: 'lower', pick: field('exitEvent', (v) => v.p90) },
  {
    key: 'memory.perContainer', label: (r) => `PSS per idle container (${r.options.idle} sleeping)`, unit: 'MiB', better: 'lower',
    pick: field('memory', (v) => v.perContainerPssKiB / 1024),
  },
  { key: 'memory.shims', label: () => '  of which shims', unit: 'MiB', better: 'lower', pick: field('memory', (v) => v.shimPssKiB / v.containers / 1024) },
  { key: 'memory.daemon', label: () => '  daemon PSS (whole)', unit: 'MiB', better: 'lower', pick: field('memory', (v) => v.daemonPssKiB / 1024) },
  {
    key: 'memoryFloor.bare', label: () => "Floor: idle node, the shim's flags", unit: 'MiB', better: 'lower', berthOnly: true,
    pick: floor((v) => v.bareNodeKiB / 1024),
  },
  {
    key: 'memoryFloor.grpc', label: () => 'Floor: idle node + grpc-js server, no berth code', unit: 'MiB', better: 'lower', berthOnly: true,
    pick: floor((v) => v.grpcServerKiB / 1024),
  },
  {
    key: 'memory.grouped', label: (r) => `PSS per idle container, shim groups of ${r.options.groupSize} (${r.options.idle} sleeping)`, unit: 'MiB', better: 'lower',
    pick: field('memoryGrouped', (v) => v.perContainerPssKiB / 1024),
  },
  { key: 'list.tasks', label: (r) => `Tasks.List with ${r.options.idle} containers`, unit: 'calls/s', better: 'higher', pick: field('list', (v) => v.tasksListPerSec) },
  { key: 'list.containers', label: (r) => `Containers.List with ${r.options.idle} containers`, unit: 'calls/s', better: 'higher', pick: field('list', (v) => v.containersListPerSec) },
  ...scaleRows(),
  { key: 'restart.firstAnswer', label: () => 'restart → first Tasks.List answer', unit: 'ms', better: 'lower', pick: field('restart', (v) => v.firstAnswerMs) },
  { key: 'restart.allRunning', label: (r) => `restart → all ${r.options.restartTasks} tasks listed`, unit: 'ms', better: 'lower', pick: field('restart', (v) => v.allRunningMs) },
];

/** The scale phase (bench/scale.ts): shown only when it ran. */
function scaleRows(): RowDef[] {
  const n = (r: BenchResults): string => `${r.options.scale ?? 0} idle`;
  const pick = (get: (v: ScaleResult) => number): Pick => (r, side) => {
    const o = r.scale?.[side];
    if (!o) return undefined;
    return o.ok ? { ok: true, value: round(get(o.value), 2) } : o;
  };
  return [
    { key: 'scale.errors', label: (r) => `scale: ${n(r)}, failed starts`, unit: 'count', better: 'lower', pick: pick((v) => v.startErrors) },
    { key: 'scale.start', label: (r) => `scale: ${n(r)}, start them all`, unit: 's', better: 'lower', pick: pick((v) => v.startAllMs / 1000) },
    { key: 'scale.rss', label: (r) => `scale: ${n(r)}, daemon RSS`, unit: 'MiB', better: 'lower', pick: pick((v) => v.daemonRssKiB / 1024) },
    { key: 'scale.pss', label: (r) => `scale: ${n(r)}, PSS per container`, unit: 'MiB', better: 'lower', pick: pick((v) => v.perContainerPssKiB / 1024) },
    { key: 'scale.tasksList', label: (r) => `scale: ${n(r)}, Tasks.List median`, unit: 'ms', better: 'lower', pick: pick((v) => v.tasksList.medianMs) },
    { key: 'scale.containersList', label: (r) => `scale: ${n(r)}, Containers.List median`, unit: 'ms', better: 'lower', pick: pick((v) => v.containersList.medianMs) },
  ];
}

export function tableRows(r: BenchResults): Row[] {
  const rows: Row[] = [];
  for (const def of ROWS) {
    if (def.key.startsWith('restart') && r.options.skipRestart) continue;
    if (def.key.startsWith('scale') && !r.scale) continue;
    const cell = (side: SideName): number | string => {
      if (!r.sides.includes(side)) return 'not run';
      const o = def.pick(r, side);
      if (!o) return r.sideErrors[side] ? `error: ${r.sideErrors[side]}` : 'not measured';
      return o.ok ? o.value : `error: ${o.error}`;
    };
    const berth = cell('berth');
    const containerd = def.berthOnly ? '—' : cell('containerd');
    const ratio = typeof berth === 'number' && typeof containerd === 'number' && containerd !== 0 ? round(berth / containerd, 2) : null;
    rows.push({ key: def.key, label: def.label(r), unit: def.unit, better: def.better, berth, containerd, ratio });
  }
  return rows;
}

function text(v: number | string | null, width: number): string {
  const s = v === null ? '—' : typeof v === 'number' ? String(v) : v;
  return s.length > width ? s.slice(0, width - 1) + '…' : s;
}

/** The table for a terminal. */
export function formatTable(rows: Row[]): string {
  const w = [44, 9, 22, 22, 16];
  const pad = (s: string, n: number, right = false): string => (right ? s.padStart(n) : s.padEnd(n));
  const head = [pad('metric', w[0]), pad('unit', w[1]), pad('berth', w[2], true), pad('containerd', w[3], true), pad('berth/containerd', w[4], true)];
  const lines = [head.join(' '), '-'.repeat(w.reduce((a, b) => a + b + 1, -1))];
  for (const r of rows) {
    lines.push(
      [pad(r.label, w[0]), pad(r.unit, w[1]), pad(text(r.berth, w[2]), w[2], true), pad(text(r.containerd, w[3]), w[3], true), pad(text(r.ratio, w[4]), w[4], true)].join(' '),
    );
  }
  return lines.join('\n');
}

/** The table as Markdown (docs/performance.md). */
export function markdownTable(rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = ['| metric | unit | berth | containerd | berth/containerd | better |', '|---|---|---:|---:|---:|---|'];
  for (const r of rows) {
    const cell = (v: number | string | null): string => esc(v === null ? '—' : String(v));
    lines.push(`| ${esc(r.label.trim())} | ${r.unit} | ${cell(r.berth)} | ${cell(r.containerd)} | ${cell(r.ratio)} | ${r.better} |`);
  }
  return lines.join('\n');
}
