/**
 * Hooks through bin/berth-runc, across its separate processes: createRuntime and createContainer during
 * `create`; prestart (status 'created', runtime-spec 1.0 lifecycle), startContainer and poststart during
 * `start`; poststop during `delete`. A failing prestart fails `start` and destroys the container; a failing
 * createContainer fails `create` with the hook's output in the log. Root only; skipped with a reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { makeBusyboxRootfs } from '../helpers/rootfs';
import { exampleSpec, type OciSpec } from '../../native';

const BERTH_RUNC = path.resolve(__dirname, '../../../bin/berth-runc');
const skip = process.getuid?.() !== 0 ? 'needs root: namespaces, cgroups' : false;
const tag = randomBytes(3).toString('hex');
let work = '';
let root = '';
let bundle = '';
let n = 0;
const ids: string[] = [];

function brunc(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(BERTH_RUNC, ['--root', root, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => setTimeout(() => resolve({ code, stderr }), 50)));
}

async function statusOf(id: string): Promise<string> {
  const child = spawn(BERTH_RUNC, ['--root', root, 'state', id], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('close', r));
  return (JSON.parse(out || '{}') as { status?: string }).status ?? 'missing';
}

function newId(): string {
  const id = `hk${tag}-${n++}`;
  ids.push(id);
  return id;
}

/** A hook appending "<kind> <status>" to <work>/order (startContainer sees <work> as /out). */
function hook(kind: string, extra = ''): { path: string; args: string[]; env: string[] } {
  const out = kind === 'startContainer' ? '/out' : work;
  const status = `sed -e 's/.*"status":"\\([a-z]*\\)".*/\\1/'`;
  return { path: '/bin/sh', args: ['sh', '-c', `echo ${kind} $(${status}) >> ${out}/order; ${extra}`], env: ['PATH=/bin:/usr/bin'] };
}

function writeSpec(hooks: Record<string, unknown[]>): void {
  const spec: OciSpec = exampleSpec({ args: ['/bin/sh', '-c', 'echo process >> /out/order'], cgroupsPath: `/berth-test-${tag}-${n}` });
  spec.mounts!.push({ destination: '/out', type: 'bind', source: work, options: ['rbind', 'rw'] });
  spec.hooks = hooks;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
}

const order = (): string[] => fs.readFileSync(path.join(work, 'order'), 'utf8').split('\n').filter(Boolean);

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-hooks-cli-'));
  root = path.join(work, 'root');
  bundle = path.join(work, 'bundle');
  await makeBusyboxRootfs(path.join(bundle, 'rootfs'));
});

after(async () => {
  if (!work) return;
  for (const id of ids) await brunc(['delete', '--force', id]);
  fs.rmSync(work, { recursive: true, force: true });
});

test('each hook runs in the berth-runc command that owns its point, with its status', { skip }, async () => {
  fs.rmSync(path.join(work, 'order'), { force: true });
  writeSpec({
    prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], createContainer: [hook('createContainer')],
    startContainer: [hook('startContainer')], poststart: [hook('poststart')], poststop: [hook('poststop')],
  });
  const id = newId();
  assert.equal((await brunc(['create', '--bundle', bundle, id])).code, 0);
  assert.deepEqual(order(), ['createRuntime creating', 'createContainer creating']);
  assert.equal((await brunc(['start', id])).code, 0);
  const deadline = Date.now() + 10_000;
  while (!order().includes('process') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(order().slice(2), ['prestart created', 'startContainer created', 'process', 'poststart running']);
  while ((await statusOf(id)) !== 'stopped' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await brunc(['delete', id])).code, 0);
  assert.equal(order().at(-1), 'poststop stopped');
});

test('a failing prestart fails start and destroys the container; a failing createContainer fails create', { skip }, async () => {
  fs.rmSync(path.join(work, 'order'), { force: true });
  writeSpec({ prestart: [hook('prestart', 'exit 3')], poststop: [hook('poststop')] });
  const id = newId();
  assert.equal((await brunc(['create', '--bundle', bundle, id])).code, 0);
  const start = await brunc(['start', id]);
  assert.equal(start.code, 1);
  assert.match(start.stderr, /prestart hook \/bin\/sh: exited with 3/);
  assert.match((await brunc(['state', id])).stderr, /container does not exist/, 'destroyed');
  assert.deepEqual(order(), ['prestart created', 'poststop stopped']);

  writeSpec({ createContainer: [hook('createContainer', 'echo broken >&2; exit 4')] });
  const log = path.join(work, 'log.json');
  const bad = await brunc(['--log', log, '--log-format', 'json', 'create', '--bundle', bundle, newId()]);
  assert.equal(bad.code, 1);
  const last = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!);
  assert.match(last.msg, /createContainer hook \/bin\/sh: exit status 4: broken/);
});
