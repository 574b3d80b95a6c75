/**
 * bctr's FIFO IO without a daemon (no root): the FIFO set layout, output copied until the writer closes,
 * stdin held back until startStdin and closed (then CloseIO) at end of input, and clean removal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { newFifoSet, removeFifoSet, removeFifoPaths } from '../../ctr/io/fifo';
import { ProcessStreams } from '../../ctr/io/streams';

function tempRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-ctr-io-'));
}

function collect(s: PassThrough): () => string {
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  return () => text;
}

/** The shim's side of an output FIFO: open for writing (a reader exists, so this does not block). */
function shimWrite(p: string, text: string): void {
  const fd = fs.openSync(p, fs.constants.O_WRONLY);
  fs.writeSync(fd, text);
  fs.closeSync(fd);
}

/** The shim's side of the stdin FIFO: everything read until end of input. */
function shimReadAll(p: string): Promise<string> {
  const sock = new net.Socket({ fd: fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), readable: true, writable: false });
  let text = '';
  sock.on('data', (c: Buffer) => (text += c.toString()));
  return new Promise((resolve, reject) => {
    sock.once('end', () => resolve(text));
    sock.once('error', reject);
  });
}

test('FIFO set: <id>-stdin/stdout/stderr in a fresh directory; no stderr with a terminal', async () => {
  const root = tempRoot();
  try {
    const set = await newFifoSet({ id: 'web1', terminal: false, stdin: true, stdout: true, stderr: true, root });
    assert.equal(path.dirname(set.dir), root);
    assert.deepEqual([set.stdin, set.stdout, set.stderr].map((p) => path.basename(p)), ['web1-stdin', 'web1-stdout', 'web1-stderr']);
    for (const p of [set.stdin, set.stdout, set.stderr]) assert.ok(fs.lstatSync(p).isFIFO(), p);
    assert.equal(fs.statSync(set.dir).mode & 0o777, 0o700);
    const tty = await newFifoSet({ id: 'web1', terminal: true, stdin: true, stdout: true, stderr: true, root });
    assert.equal(tty.stderr, '');
    assert.deepEqual(fs.readdirSync(tty.dir).sort(), ['web1-stdin', 'web1-stdout']);
    await removeFifoSet(set);
    await removeFifoPaths([tty.stdin, tty.stdout, '']);
    assert.deepEqual(fs.readdirSync(root), []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('output is copied until the shim closes its ends; stdin waits for startStdin, then EOF and CloseIO', async () => {
  const root = tempRoot();
  const set = await newFifoSet({ id: 'p', terminal: false, stdin: true, stdout: true, stderr: true, root });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const input = new PassThrough();
  const streams = ProcessStreams.open(set, { stdin: input, stdout, stderr });
  try {
    input.write('before-start ');
    const received = shimReadAll(set.stdin);
    await new Promise((r) => setTimeout(r, 50));
    let closed = 0;
    streams.startStdin(async () => {
      closed++;
    });
    input.end('after-start');
    assert.equal(await received, 'before-start after-start', 'input written before the start is delivered once started');
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, 1, 'CloseIO after the FIFO is closed');

    shimWrite(set.stdout, 'hello ');
    shimWrite(set.stderr, 'oops');
    // A second writer session on stdout: the reader keeps going until every writer is gone.
    await streams.waitOutput();
    assert.equal(out(), 'hello ');
    assert.equal(err(), 'oops');
  } finally {
    streams.close();
    await removeFifoSet(set);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a large output is copied completely with backpressure', async () => {
  const root = tempRoot();
  const set = await newFifoSet({ id: 'big', terminal: true, stdin: false, stdout: true, stderr: false, root });
  const stdout = new PassThrough({ highWaterMark: 1024 });
  let bytes = 0;
  const streams = ProcessStreams.open(set, { stdout, stdin: Readable.from([]) });
  try {
    const done = streams.waitOutput();
    const fd = fs.openSync(set.stdout, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    const payload = Buffer.alloc(4 << 20, 'x');
    let off = 0;
    stdout.on('data', (c: Buffer) => (bytes += c.length));
    while (off < payload.length) {
      try {
        off += fs.writeSync(fd, payload, off, Math.min(65536, payload.length - off));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    fs.closeSync(fd);
    await done;
    await new Promise((r) => setImmediate(r));
    assert.equal(bytes, payload.length);
  } finally {
    streams.close();
    await removeFifoSet(set);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
