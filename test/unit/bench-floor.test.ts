/**
 * The benchmark's memory floor, its pure parts: the node flags read from bin/berth-shim's shebang line, the two
 * berth-only table rows (containerd cell '—', no ratio, the other rows untouched) and the memory section's
 * sentence on what the per-container figure is made of. Nothing is spawned and nothing is timed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { floorLines } from '../../bench/doc';
import { nodeFlagsFromShebang } from '../../bench/floor';
import type { BenchResults } from '../../bench/results';
import { tableRows } from '../../bench/table';
import { benchResults } from './bench-fixtures';

const SHIM = path.resolve(__dirname, '../../../bin/berth-shim');

function results(over: Partial<BenchResults> = {}): BenchResults {
  return benchResults({
    memory: {
      berth: {
        ok: true,
        value: { containers: 4, shimPids: [1, 2, 3, 4, 5, 6], shimPssKiB: 6 * 14 * 1024, shimRssKiB: 0, daemonPssKiB: 40 * 1024, daemonRssKiB: 0, perContainerPssKiB: 31 * 1024 },
      },
      containerd: {
        ok: true,
        value: { containers: 4, shimPids: [7, 8, 9, 10], shimPssKiB: 4 * 3 * 1024, shimRssKiB: 0, daemonPssKiB: 40 * 1024, daemonRssKiB: 0, perContainerPssKiB: 13 * 1024 },
      },
    },
    memoryFloor: { ok: true, value: { n: 4, flags: ['--lite-mode', '--expose-gc'], bareNodeKiB: 8 * 1024, grpcServerKiB: 13.5 * 1024 } },
    ...over,
  });
}

describe('nodeFlagsFromShebang', () => {
  it('reads the flags of bin/berth-shim, --expose-gc among them', () => {
    const flags = nodeFlagsFromShebang(fs.readFileSync(SHIM, 'utf8'), SHIM);
    assert.ok(flags.length > 0);
    assert.ok(flags.includes('--expose-gc'), flags.join(' '));
    assert.ok(flags.every((f) => f.startsWith('--')), flags.join(' '));
  });

  it('takes env -S and a plain node path alike', () => {
    assert.deepEqual(nodeFlagsFromShebang('#!/usr/bin/env -S node --a=1 --b\nrest'), ['--a=1', '--b']);
    assert.deepEqual(nodeFlagsFromShebang('#! /usr/local/bin/node --lite-mode\n'), ['--lite-mode']);
    assert.deepEqual(nodeFlagsFromShebang('#!/usr/bin/env node\n'), []);
  });

  it('refuses a file without a node shebang, naming the file', () => {
    assert.throws(() => nodeFlagsFromShebang("'use strict';\n", 'bin/x'), { message: 'bin/x: no shebang line' });
    assert.throws(() => nodeFlagsFromShebang('#!/bin/sh -e\n', 'bin/x'), { message: 'bin/x: no node in the shebang line' });
  });
});

describe('floor rows of the table', () => {
  it('shows berth figures in MiB, — for containerd and no ratio', () => {
    const rows = tableRows(results());
    const bare = rows.find((r) => r.key === 'memoryFloor.bare');
    const grpc = rows.find((r) => r.key === 'memoryFloor.grpc');
    assert.deepEqual([bare?.berth, bare?.containerd, bare?.ratio, bare?.unit], [8, '—', null, 'MiB']);
    assert.deepEqual([grpc?.berth, grpc?.containerd, grpc?.ratio], [13.5, '—', null]);
  });

  it('leaves the other rows as they were, the floor after the daemon row', () => {
    const keys = tableRows(results()).map((r) => r.key);
    assert.deepEqual(keys.slice(6, 11), ['memory.perContainer', 'memory.shims', 'memory.daemon', 'memoryFloor.bare', 'memoryFloor.grpc']);
    assert.equal(keys.filter((k) => !k.startsWith('memoryFloor')).length, 12); // 14 rows, the 2 restart rows skipped
    const perContainer = tableRows(results()).find((r) => r.key === 'memory.perContainer');
    assert.deepEqual([perContainer?.berth, perContainer?.containerd, perContainer?.ratio], [31, 13, 2.38]);
  });

  it('says not run, not measured or the error when there is no figure', () => {
    const only = tableRows(results({ sides: ['containerd'], memoryFloor: undefined })).find((r) => r.key === 'memoryFloor.grpc');
    assert.equal(only?.berth, 'not run');
    const missing = tableRows(results({ memoryFloor: undefined })).find((r) => r.key === 'memoryFloor.bare');
    assert.equal(missing?.berth, 'not measured');
    const failed = tableRows(results({ memoryFloor: { ok: false, error: 'floor grpc process 0: exited (1)' } })).find((r) => r.key === 'memoryFloor.bare');
    assert.equal(failed?.berth, 'error: floor grpc process 0: exited (1)');
  });
});

describe('floorLines', () => {
  it('splits the per-container figure into shim, daemon share and extra shims, and compares with the floor', () => {
    const text = floorLines(results()).join('\n');
    // 6 shims for 4 containers: 14 MiB each; daemon 40/4 = 10 MiB; 2 extra shims: 2 × 14 / 4 = 7 MiB.
    assert.match(text, /one shim's PSS \(14\.00 MiB, mean of 6\)/);
    assert.match(text, /daemon's share \(10\.00 MiB/);
    assert.match(text, /2 × 14\.00 MiB \/ 4 = 7\.00 MiB/);
    assert.match(text, /leaves -5\.00 MiB per shim; the grpc-js floor alone \(13\.50 MiB\)\nis above that/);
    assert.match(text, /`node --lite-mode --expose-gc`/);
  });

  it('says within when the floor fits, and what is missing otherwise', () => {
    const fits = results();
    fits.memory.berth = { ok: true, value: { containers: 20, shimPids: Array.from({ length: 20 }, (_, i) => i + 1), shimPssKiB: 20 * 10 * 1024, shimRssKiB: 0, daemonPssKiB: 20 * 1024, daemonRssKiB: 0, perContainerPssKiB: 11 * 1024 } };
    fits.memoryFloor = { ok: true, value: { n: 20, flags: [], bareNodeKiB: 8 * 1024, grpcServerKiB: 10 * 1024 } };
    assert.match(floorLines(fits).join('\n'), /leaves 11\.00 MiB per shim; .*\nis within that/);
    assert.match(floorLines(fits).join('\n'), /\(none counted in this run\)/);
    assert.match(floorLines(results({ memoryFloor: undefined })).join('\n'), /was not measured/);
    assert.match(floorLines(results({ memoryFloor: { ok: false, error: 'boom' } })).join('\n'), /could not be measured: boom/);
  });
});
