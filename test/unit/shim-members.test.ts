/**
 * The tasks one shim serves (shim/members.ts): Bind rules for groups and recycling, which member a request
 * names, forgetting members. No containers: Bind only opens each bundle's event file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Members } from '../../shim/members';
import { getLogger } from '../../pkg/log';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-members-'));
const cwd = process.cwd();
after(() => {
  process.chdir(cwd);
  fs.rmSync(base, { recursive: true, force: true });
});

const log = getLogger('test').child({});
const bundle = (id: string): string => {
  const dir = path.join(base, id);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
};

test('a grouped shim takes further tasks of its group and namespace only', async () => {
  const m = new Members(log);
  await m.bind({ id: 'a', namespace: 'ns', bundle: bundle('g1-a') }, 'pod1');
  await m.bind({ id: 'b', namespace: 'ns', bundle: bundle('g1-b') }, 'pod1');
  assert.equal(m.size, 2);
  assert.equal(m.groupName, 'pod1');
  assert.equal(m.require('b').identity.bundle, path.join(base, 'g1-b'));
  // the same Bind again is fine; another task under a served id is not
  await m.bind({ id: 'b', namespace: 'ns', bundle: bundle('g1-b') }, 'pod1');
  await assert.rejects(m.bind({ id: 'b', namespace: 'ns', bundle: bundle('g1-b2') }, 'pod1'), /task b: already exists/);
  await assert.rejects(m.bind({ id: 'c', namespace: 'ns', bundle: bundle('g1-c') }, 'pod2'), /shim is bound to task ns\/a/);
  await assert.rejects(m.bind({ id: 'c', namespace: 'other', bundle: bundle('g1-c') }, 'pod1'), /shim is bound to task ns\/a/);
  await assert.rejects(m.bind({ id: 'c', namespace: 'ns', bundle: bundle('g1-c') }), /shim is bound to task ns\/a/);
  assert.throws(() => m.require('zz'), /container not created/);
  assert.throws(() => m.pick(''), /shim serves 2 tasks/);
  assert.equal(m.pick('a')?.identity.id, 'a');
  // every event file is the member's own
  assert.ok(fs.existsSync(path.join(base, 'g1-a', 'shim-events')));
  assert.ok(fs.existsSync(path.join(base, 'g1-b', 'shim-events')));
});

test('forgetting members: the shim leaves a forgotten bundle and loses its group with its last task', async () => {
  const m = new Members(log);
  await m.bind({ id: 'a', namespace: 'ns', bundle: bundle('g2-a') }, 'pod');
  await m.bind({ id: 'b', namespace: 'ns', bundle: bundle('g2-b') }, 'pod');
  assert.equal(process.cwd(), path.join(base, 'g2-b'));
  await m.forget('b');
  assert.equal(process.cwd(), path.join(base, 'g2-a'), 'a removed bundle is never the working directory');
  assert.equal(m.pick('')?.identity.id, 'a', 'with one task left, no id means that task');
  await m.forget('a');
  assert.equal(m.size, 0);
  assert.equal(m.groupName, '');
  assert.equal(m.pick(''), undefined);
  assert.throws(() => m.require('a'), /shim is not bound to a task/);
});

test('an ungrouped shim refuses a second task while its task is not deleted', async () => {
  const m = new Members(log);
  await m.bind({ id: 'a', namespace: 'ns', bundle: bundle('u-a') });
  await assert.rejects(m.bind({ id: 'b', namespace: 'ns', bundle: bundle('u-b') }), /shim is bound to task ns\/a/);
  await assert.rejects(m.bind({ id: 'b', namespace: 'ns', bundle: bundle('u-b') }, 'pod'), /shim is bound to task ns\/a/);
  await assert.rejects(m.bind({ id: 'c', namespace: 'ns', bundle: 'relative' }), /must be an absolute path/);
  assert.equal(m.isIdle(), false);
});
