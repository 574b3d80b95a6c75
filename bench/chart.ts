/**
 * docs/performance-latency.svg: the latency distributions of both sides, drawn by hand as SVG (no
 * dependency). One panel per distribution (lifecycle of /bin/true, Kill → /tasks/exit); in each, one row
 * per side with every sample as a dot (deterministic vertical jitter), a box from p25 to p75, the median as
 * a thick line and whiskers from min to max. Each panel has its own linear millisecond axis from 0.
 *
 * Usage: node dist/bench/chart.js [results.json] [out.svg]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SideName } from './daemons';
import type { BenchResults } from './results';
import { median, percentile } from './stats';

const COLORS: Record<SideName, string> = { berth: '#1f77b4', containerd: '#d62728' };
const WIDTH = 760;
const LEFT = 110;
const RIGHT = 30;
const ROW_H = 56;
const PANEL_GAP = 34;

interface Series {
  side: SideName;
  samples: number[];
  error?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis maximum and tick step covering `max`. */
function niceAxis(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const rough = max / 5;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= rough) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step, step };
}

function panel(title: string, series: Series[], y0: number): { svg: string; height: number } {
  const all = series.flatMap((s) => s.samples);
  const { top, step } = niceAxis(Math.max(...all, 0));
  const plotW = WIDTH - LEFT - RIGHT;
  const x = (v: number): number => LEFT + (v / top) * plotW;
  const parts: string[] = [];
  const axisY = y0 + 24 + series.length * ROW_H;
  parts.push(`<text x="${LEFT}" y="${y0 + 14}" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    const xv = x(v).toFixed(1);
    parts.push(`<line x1="${xv}" y1="${y0 + 22}" x2="${xv}" y2="${axisY}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${xv}" y="${axisY + 14}" font-size="11" text-anchor="middle" fill="#555">${+v.toFixed(6)}</text>`);
  }
  parts.push(`<text x="${LEFT + plotW / 2}" y="${axisY + 30}" font-size="11" text-anchor="middle" fill="#555">milliseconds</text>`);
  series.forEach((s, i) => {
    const cy = y0 + 24 + i * ROW_H + ROW_H / 2;
    const color = COLORS[s.side];
    parts.push(`<text x="${LEFT - 10}" y="${cy + 4}" font-size="13" text-anchor="end" fill="${color}">${s.side}</text>`);
    if (s.samples.length === 0) {
      const why = s.error === 'not run' ? 'not run' : s.error ? `error: ${s.error}` : 'no samples';
      parts.push(`<text x="${LEFT + 6}" y="${cy + 4}" font-size="12" fill="#888">${esc(why.slice(0, 90))}</text>`);
      return;
    }
    const [lo, hi] = [Math.min(...s.samples), Math.max(...s.samples)];
    const [q1, q3, med] = [percentile(s.samples, 25), percentile(s.samples, 75), median(s.samples)];
    parts.push(`<line x1="${x(lo).toFixed(1)}" y1="${cy}" x2="${x(hi).toFixed(1)}" y2="${cy}" stroke="${color}" stroke-width="1"/>`);
    for (const v of [lo, hi]) parts.push(`<line x1="${x(v).toFixed(1)}" y1="${cy - 8}" x2="${x(v).toFixed(1)}" y2="${cy + 8}" stroke="${color}"/>`);
    parts.push(
      `<rect x="${x(q1).toFixed(1)}" y="${cy - 14}" width="${Math.max(1, x(q3) - x(q1)).toFixed(1)}" height="28" fill="${color}" fill-opacity="0.15" stroke="${color}"/>`,
    );
    s.samples.forEach((v, k) => {
      const jitter = (((k * 7919) % 23) / 22 - 0.5) * 22;
      parts.push(`<circle cx="${x(v).toFixed(1)}" cy="${(cy + jitter).toFixed(1)}" r="2.6" fill="${color}" fill-opacity="0.55"/>`);
    });
    parts.push(`<line x1="${x(med).toFixed(1)}" y1="${cy - 16}" x2="${x(med).toFixed(1)}" y2="${cy + 16}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${x(med).toFixed(1)}" y="${cy - 19}" font-size="11" text-anchor="middle" fill="${color}">${med.toFixed(1)}</text>`);
  });
  return { svg: parts.join('\n'), height: axisY + 34 - y0 };
}

function seriesOf(r: BenchResults, key: 'lifecycle' | 'exitEvent'): Series[] {
  return (['berth', 'containerd'] as SideName[]).map((side) => {
    const o = r[key][side];
    if (!r.sides.includes(side)) return { side, samples: [], error: 'not run' };
    if (!o) return { side, samples: [], error: r.sideErrors[side] ?? 'not measured' };
    return o.ok ? { side, samples: o.value.samples } : { side, samples: [], error: o.error };
  });
}

/** The SVG document for a results object. */
export function renderLatencyChart(r: BenchResults): string {
  const panels = [
    { title: `Lifecycle of /bin/true (create → delete), ${r.options.iterations} samples per side`, series: seriesOf(r, 'lifecycle') },
    { title: 'Kill → /tasks/exit event arrival', series: seriesOf(r, 'exitEvent') },
  ];
  let y = 40;
  const bodies: string[] = [];
  for (const p of panels) {
    const { svg, height } = panel(p.title, p.series, y);
    bodies.push(svg);
    y += height + PANEL_GAP;
  }
  const version = (s: string): string => /\d+\.\d+\.\d+[^\s~+-]*/.exec(s)?.[0] ?? s;
  const caption = `${r.machine.nproc} cores, kernel ${r.machine.kernel}, node ${r.machine.node}, containerd ${version(r.machine.containerd)}, runc ${version(r.machine.runc)} — ${r.finishedAt.slice(0, 10)}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" font-size="15" text-anchor="middle" font-weight="bold">berth vs containerd: latency (box p25–p75, bar median, whiskers min–max)</text>`,
    ...bodies,
    `<text x="${WIDTH - 8}" y="${y - 8}" font-size="10" text-anchor="end" fill="#777">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

if (require.main === module) {
  const repo = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..');
  const input = process.argv[2] ?? path.join(repo, 'bench/results/latest.json');
  const output = process.argv[3] ?? path.join(repo, 'docs/performance-latency.svg');
  const results = JSON.parse(fs.readFileSync(input, 'utf8')) as BenchResults;
  fs.writeFileSync(output, renderLatencyChart(results));
  console.log(`wrote ${output}`);
}
