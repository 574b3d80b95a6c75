/**
 * The benchmark's scale phase, its pure parts: the List latency summary (call counting, no timing asserted),
 * the table rows (only when the phase ran; ratios like other rows) and the docs section. Nothing is spawned.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scaleLines } from '../../bench/doc';
import type { BenchResults } from '../../bench/results';
import { listLatency, type ScaleResult } from '../../bench/scale';
import { tableRows } from '../../bench/table';
import { benchResults } from './bench-fixtures';

function scaleOf(over: Partial<ScaleResult> = {}): ScaleResult {
  return {
    containers: 200,
    startErrors: 0,
    startAllMs: 40_000,
    daemonRssKiB: 100 * 1024,
    daemonPssKiB: 60 * 1024,
    perContainerPssKiB: 13.5 * 1024,
    tasksList: { medianMs: 2.5, p90Ms: 3 },
    containersList: { medianMs: 5, p90Ms: 6 },
    ...over,
  };
}

function results(scale?: BenchResults['scale'], n = 200): BenchResults {
  return benchResults(scale ? { scale } : {}, { scale: n, quick: false });
}

describe('listLatency', () => {
  it('makes one warm-up call plus the timed ones and reports median and p90', async () => {
    let calls = 0;
    const l = await listLatency(async () => void calls++, 20);
    assert.equal(calls, 21);
    assert.ok(l.medianMs >= 0 && l.p90Ms >= l.medianMs, JSON.stringify(l));
  });
});

describe('scale rows', () => {
  it('are absent when the phase did not run', () => {
    assert.equal(tableRows(results(undefined, 0)).filter((r) => r.key.startsWith('scale')).length, 0);
  });

  it('show both sides with ratios, and an error in its own cell', () => {
    const rows = tableRows(results({ berth: { ok: true, value: scaleOf() }, containerd: { ok: true, value: scaleOf({ tasksList: { medianMs: 5, p90Ms: 6 } }) } }));
    const scale = rows.filter((r) => r.key.startsWith('scale'));
    assert.deepEqual(scale.map((r) => r.key), ['scale.errors', 'scale.start', 'scale.rss', 'scale.pss', 'scale.tasksList', 'scale.containersList']);
    const tl = scale.find((r) => r.key === 'scale.tasksList')!;
    assert.equal(tl.berth, 2.5);
    assert.equal(tl.ratio, 0.5);
    assert.match(tl.label, /^scale: 200 idle, Tasks\.List median$/);
    assert.equal(scale.find((r) => r.key === 'scale.rss')!.berth, 100);
    const failed = tableRows(results({ berth: { ok: false, error: 'Tasks.List: 190 of 200 tasks RUNNING' } }));
    assert.equal(failed.find((r) => r.key === 'scale.pss')!.berth, 'error: Tasks.List: 190 of 200 tasks RUNNING');
    assert.equal(failed.find((r) => r.key === 'scale.pss')!.containerd, 'not measured');
  });
});

describe('scale section of docs/performance.md', () => {
  it('has one row per side and names the first failed start', () => {
    const lines = scaleLines(results({ berth: { ok: true, value: scaleOf({ startErrors: 1, firstError: 'scale-7: Tasks.Create: boom' }) } }));
    assert.equal(lines[0], '## Scale: 200 idle containers');
    const berth = lines.find((l) => l.startsWith('| berth |'))!;
    assert.match(berth, /^\| berth \| 1 \| 40\.0 \| 100\.0 \| 60\.0 \| 13\.5 \| 2\.5 \/ 3 \| 5 \/ 6 \|$/);
    assert.ok(lines.includes('First failed start: scale-7: Tasks.Create: boom'));
    assert.deepEqual(scaleLines(results(undefined, 0)), []);
  });

  it('escapes a | in an error', () => {
    const lines = scaleLines(results({ containerd: { ok: false, error: 'a|b' } }));
    assert.ok(lines.some((l) => l === '| containerd | error: a\\|b | | | | | | |'), lines.join('\n'));
  });
});
