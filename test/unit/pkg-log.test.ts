/**
 * pkg/log never drops a line: when stderr is a non-blocking pipe (Node makes it so once anything touches
 * process.stderr, e.g. a MaxListenersExceededWarning) and the reader is slow, a full pipe must not lose lines.
 * This lost berthd's debug lines under load and made the fault tests that count them flaky.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';

const LOG_MODULE = path.resolve(__dirname, '../../pkg/log.js');

function runWriter(touchStderr: boolean): Promise<string[]> {
  const script = `
    ${touchStderr ? 'process.stderr;' : ''}
    const { getLogger } = require(${JSON.stringify(LOG_MODULE)});
    const log = getLogger('test');
    for (let i = 0; i < 3000; i++) log.info('line', { i, pad: 'x'.repeat(100) });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr.pause(); // a slow reader: the pipe fills up before anything is read
  setTimeout(() => {
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.resume();
  }, 500);
  return new Promise((resolve) => child.on('close', () => resolve(out.split('\n').filter(Boolean))));
}

for (const touch of [false, true]) {
  test(`every line arrives, in order, through a full pipe (stderr ${touch ? 'non-blocking' : 'blocking'})`, async () => {
    const lines = await runWriter(touch);
    assert.equal(lines.length, 3000);
    lines.forEach((l, i) => assert.equal((JSON.parse(l) as { i: number }).i, i));
  });
}
