/**
 * A real dockerd keeps working across a berthd restart (issue 5): a container started with `docker run -d`
 * can be `docker exec`ed and `docker stop`ped after berthd was SIGKILLed and restarted, and an exit that
 * happens while berthd is down reaches dockerd (the container shows as exited). Root and docker.io only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBerthd, type TestDaemon } from '../helpers/daemon';
import { makeBusyboxRootfs } from '../helpers/rootfs';
import { haveDocker, importRootfs, startDockerd, type TestDockerd } from '../helpers/dockerd';
import { waitFor } from './tasks-harness';

const skip = process.getuid?.() !== 0 ? 'needs root: dockerd and containers' : !haveDocker() ? 'docker.io is not installed' : false;
const IMAGE = 'berth-test-busybox:latest';

let berthd: TestDaemon | undefined;
let dockerd: TestDockerd | undefined;
let work = '';

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-dockerd-restart-'));
  await makeBusyboxRootfs(path.join(work, 'rootfs'));
  berthd = await startBerthd();
  dockerd = await startDockerd(berthd.address);
  await importRootfs(dockerd, path.join(work, 'rootfs'), IMAGE);
});

after(async () => {
  if (dockerd) {
    const ps = await dockerd.docker(['ps', '-aq']);
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await dockerd.docker(['rm', '-f', ...ids]);
    await dockerd.stop();
  }
  await berthd?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/**
 * dockerd's gRPC connection to its containerd backs off while berthd is down (grpc-go: 1 s growing by 1.6×):
 * wait until it is back, as a user would retry.
 */
async function reconnected(t: { diagnostic(msg: string): void }, name: string): Promise<void> {
  const t0 = Date.now();
  await waitFor(async () => ((await dockerd!.docker(['exec', name, 'true'])).code === 0 ? true : undefined), 'dockerd reconnected', 90_000);
  t.diagnostic(`dockerd answered docker exec ${Date.now() - t0} ms after berthd was back`);
}

async function state(name: string): Promise<string> {
  return (await dockerd!.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim();
}

test('docker exec and docker stop work after berthd was killed and restarted', { skip, timeout: 180_000 }, async (t) => {
  const d = dockerd!;
  const run = await d.docker(['run', '-d', '--name', 'berth-test-survivor', IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done']);
  assert.equal(run.code, 0, run.stderr);
  await berthd!.kill();
  await berthd!.restart();
  await reconnected(t, 'berth-test-survivor');
  const ex = await d.docker(['exec', 'berth-test-survivor', 'echo', 'still here'], { timeoutMs: 60_000 });
  assert.equal(ex.stdout, 'still here\n', ex.stderr);
  assert.equal(ex.code, 0);
  const stop = await d.docker(['stop', '-t', '10', 'berth-test-survivor'], { timeoutMs: 60_000 });
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(await state('berth-test-survivor'), 'exited 0');
  assert.equal((await d.docker(['rm', 'berth-test-survivor'])).code, 0);
});

test('an exit while berthd is down reaches dockerd after the restart', { skip, timeout: 180_000 }, async () => {
  const d = dockerd!;
  const run = await d.docker(['run', '-d', '--name', 'berth-test-downexit', IMAGE, 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 9']);
  assert.equal(run.code, 0, run.stderr);
  await berthd!.kill();
  // Let the container exit while berthd is down (the shim keeps its status and the event).
  const pid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', 'berth-test-downexit'])).stdout.trim());
  fs.writeFileSync(`/proc/${pid}/root/tmp/go`, '');
  await waitFor(() => !fs.existsSync(`/proc/${pid}`), 'container exit');
  await berthd!.restart();
  await waitFor(async () => ((await state('berth-test-downexit')) === 'exited 9' ? true : undefined), 'dockerd sees the exit', 60_000);
  assert.equal((await d.docker(['rm', 'berth-test-downexit'])).code, 0);
});
