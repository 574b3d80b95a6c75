/**
 * An idle (pre-started) shim exits once the daemon that spawned it is gone, so a berthd killed with its pool
 * full leaves no shim behind; a shim with a task is not affected (tested by the restart suites).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHIM_BIN } from './shim-harness';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

test('an idle shim exits when the daemon that spawned it dies', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-orphan-'));
  let shimPid = 0;
  try {
    // A stand-in daemon: listens, hands the socket to the shim as fd 3 (detached, as berthd does), prints the
    // shim's pid and exits at once.
    const parent = `
      const net = require('node:net'); const { spawn } = require('node:child_process');
      const srv = net.createServer().listen(${JSON.stringify(path.join(dir, 'shim.sock'))}, () => {
        const child = spawn(${JSON.stringify(SHIM_BIN)}, [], { stdio: ['ignore', 'ignore', 'ignore', srv._handle.fd], detached: true });
        child.unref(); console.log(child.pid); setTimeout(() => process.exit(0), 1500);
      });`;
    const r = spawnSync(process.execPath, ['-e', parent], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    shimPid = Number(r.stdout.trim());
    assert.ok(shimPid > 0, `no shim pid in ${JSON.stringify(r.stdout)}`);
    const deadline = Date.now() + 10_000;
    while (alive(shimPid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.equal(alive(shimPid), false, 'the idle shim outlived its daemon');
  } finally {
    if (shimPid > 0 && alive(shimPid)) process.kill(shimPid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an idle shim exits even when its daemon died before the shim started (BERTH_SHIM_PARENT)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-orphan-'));
  let shimPid = 0;
  try {
    // The stand-in daemon exits right after the spawn: the shim's first look at its parent already sees init.
    const parent = `
      const net = require('node:net'); const { spawn } = require('node:child_process');
      const srv = net.createServer().listen(${JSON.stringify(path.join(dir, 'shim.sock'))}, () => {
        const env = { ...process.env, BERTH_SHIM_PARENT: String(process.pid) };
        const child = spawn(${JSON.stringify(SHIM_BIN)}, [], { stdio: ['ignore', 'ignore', 'ignore', srv._handle.fd], detached: true, env });
        child.unref(); console.log(child.pid); process.exit(0);
      });`;
    const r = spawnSync(process.execPath, ['-e', parent], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    shimPid = Number(r.stdout.trim());
    assert.ok(shimPid > 0, `no shim pid in ${JSON.stringify(r.stdout)}`);
    const deadline = Date.now() + 10_000;
    while (alive(shimPid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.equal(alive(shimPid), false, 'the idle shim outlived its daemon');
  } finally {
    if (shimPid > 0 && alive(shimPid)) process.kill(shimPid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
