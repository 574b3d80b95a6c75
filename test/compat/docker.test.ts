/**
 * The real Docker engine (dockerd 20.10, Debian docker.io) on berthd: `dockerd --containerd <berthd socket>`
 * with its own data and exec roots, and the docker CLI. Root only; skipped with a reason otherwise.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBerthd, type TestDaemon } from '../helpers/daemon';
import { makeBusyboxRootfs } from '../helpers/rootfs';
import { haveDocker, importRootfs, startDockerd, type TestDockerd } from '../helpers/dockerd';

const skip = process.getuid?.() !== 0 ? 'needs root: dockerd and containers' : !haveDocker() ? 'docker.io is not installed' : false;

let berthd: TestDaemon | undefined;
let dockerd: TestDockerd | undefined;
let work: string | undefined;
const IMAGE = 'berth-test-busybox:latest';

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-docker-'));
  const rootfs = path.join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  berthd = await startBerthd();
  dockerd = await startDockerd(berthd.address);
  await importRootfs(dockerd, rootfs, IMAGE);
});

after(async () => {
  if (dockerd) {
    // Containers first, so their tasks go away through berthd while both daemons are up.
    const ps = await dockerd.docker(['ps', '-aq']);
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await dockerd.docker(['rm', '-f', ...ids]);
    await dockerd.stop();
  }
  await berthd?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('docker run --rm prints the output', { skip }, async () => {
  const r = await dockerd!.docker(['run', '--rm', IMAGE, 'echo', 'hi']);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'hi\n');
  assert.equal(r.code, 0);
});

test('docker run propagates the exit code', { skip }, async () => {
  const r = await dockerd!.docker(['run', '--rm', IMAGE, 'sh', '-c', 'exit 3']);
  assert.equal(r.code, 3, r.stderr);
});

test('docker run -i passes stdin and its end', { skip }, async () => {
  const r = await dockerd!.docker(['run', '--rm', '-i', IMAGE, 'cat'], { input: 'line one\nline two\n' });
  assert.equal(r.stdout, 'line one\nline two\n', r.stderr);
  assert.equal(r.code, 0);
});

test('docker run -d, logs, exec, pause/unpause, stop within its timeout, rm', { skip }, async () => {
  const d = dockerd!;
  const run = await d.docker(['run', '-d', '--name', 'berth-test-web', IMAGE, 'sh', '-c', 'echo started; exec sleep 1000']);
  assert.equal(run.code, 0, run.stderr);
  try {
    const deadline = Date.now() + 10_000;
    let logs = '';
    while (Date.now() < deadline) {
      logs = (await d.docker(['logs', 'berth-test-web'])).stdout;
      if (logs.includes('started')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(logs, 'started\n');

    const ex = await d.docker(['exec', 'berth-test-web', 'sh', '-c', 'echo from-exec; exit 5']);
    assert.equal(ex.stdout, 'from-exec\n');
    assert.equal(ex.code, 5);

    assert.equal((await d.docker(['pause', 'berth-test-web'])).code, 0);
    const st = await d.docker(['inspect', '-f', '{{.State.Status}}', 'berth-test-web']);
    assert.equal(st.stdout.trim(), 'paused');
    assert.equal((await d.docker(['unpause', 'berth-test-web'])).code, 0);
    const st2 = await d.docker(['inspect', '-f', '{{.State.Status}}', 'berth-test-web']);
    assert.equal(st2.stdout.trim(), 'running');

    // sleep as pid 1 ignores SIGTERM: docker must escalate to SIGKILL after the 2 s timeout.
    const t0 = Date.now();
    const stop = await d.docker(['stop', '-t', '2', 'berth-test-web'], { timeoutMs: 30_000 });
    const took = Date.now() - t0;
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(took < 10_000, `docker stop took ${took} ms`);
    const st3 = await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'berth-test-web']);
    assert.equal(st3.stdout.trim(), 'exited 137');
  } finally {
    const rm = await d.docker(['rm', '-f', 'berth-test-web']);
    assert.equal(rm.code, 0, rm.stderr);
  }
});
