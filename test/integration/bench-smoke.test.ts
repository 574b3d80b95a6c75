/**
 * Smoke test of the benchmark harness (bench/run.ts): one `--quick --iterations 2` run against a berthd and a
 * containerd it starts itself must produce a results JSON in which both sides have every figure, positive, and
 * berth's memory floor (bench/floor.ts) is there too.
 * It checks that the harness and both daemons work end to end; the figures themselves are never asserted
 * against a time budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const RUN_JS = path.resolve(__dirname, '../../bench/run.js');
const CONTAINERD = '/usr/bin/containerd';

type Outcome = { ok: true; value: Record<string, any> } | { ok: false; error: string };

function positive(label: string, v: unknown): void {
  assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${label}: expected a positive number, got ${String(v)}`);
}

function valueOf(results: Record<string, any>, metric: string, side: string): Record<string, any> {
  const o = results[metric]?.[side] as Outcome | undefined;
  assert.ok(o, `${metric}.${side}: missing (side error: ${results.sideErrors?.[side] ?? 'none'})`);
  assert.ok(o.ok, `${metric}.${side}: ${o.ok ? '' : o.error}`);
  return o.value;
}

test('bench --quick measures berth and containerd side by side', { timeout: 300_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root: the benchmark starts container daemons');
  if (!fs.existsSync(CONTAINERD)) return t.skip(`containerd is not installed (${CONTAINERD})`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-bench-'));
  try {
    const out = path.join(dir, 'results.json');
    await promisify(execFile)(process.execPath, [RUN_JS, '--quick', '--iterations', '2', '--out', out, '--no-docs'], {
      timeout: 280_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`bench failed: ${err.message}\n${err.stderr ?? ''}`);
    });
    const results = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, any>;
    assert.deepEqual(results.sides, ['berth', 'containerd']);
    for (const side of ['berth', 'containerd']) {
      const life = valueOf(results, 'lifecycle', side);
      assert.equal(life.samples.length, 2, `${side}: two lifecycle samples`);
      positive(`${side} lifecycle median`, life.median);
      positive(`${side} lifecycle p90`, life.p90);
      positive(`${side} burst`, valueOf(results, 'burst', side).medianMs);
      const ev = valueOf(results, 'exitEvent', side);
      assert.equal(ev.samples.length, 2, `${side}: two exit-event samples`);
      positive(`${side} exit event median`, ev.median);
      const mem = valueOf(results, 'memory', side);
      positive(`${side} shim PSS`, mem.shimPssKiB);
      positive(`${side} daemon PSS`, mem.daemonPssKiB);
      positive(`${side} PSS per container`, mem.perContainerPssKiB);
      const grouped = valueOf(results, 'memoryGrouped', side);
      assert.equal(grouped.groupSize, 2, `${side}: quick runs group the sleepers by 2`);
      positive(`${side} PSS per container, shim groups`, grouped.perContainerPssKiB);
      const list = valueOf(results, 'list', side);
      positive(`${side} Tasks.List rate`, list.tasksListPerSec);
      positive(`${side} Containers.List rate`, list.containersListPerSec);
      positive(`${side} restart`, valueOf(results, 'restart', side).allRunningMs);
    }
    const floor = results.memoryFloor as Outcome | undefined;
    assert.ok(floor?.ok, `memoryFloor: ${floor && !floor.ok ? floor.error : 'missing'}`);
    assert.equal(floor.value.n, 4, 'quick runs measure the floor with 4 processes per variant');
    positive('floor, bare node', floor.value.bareNodeKiB);
    positive('floor, grpc-js server', floor.value.grpcServerKiB);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
