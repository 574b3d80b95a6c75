/**
 * The shim's stdio plumbing without containers: client FIFOs (late readers, readers that go away and come
 * back), the process pipes, end-of-output detection before an exit is reported, CloseIO.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FifoOutput } from '../../shim/io/fifo';
import { ProcessStdio } from '../../shim/io/stdio';
import { getLogger } from '../../pkg/log';

const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-shim-io-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const f of fifos) {
    try {
      fs.closeSync(fs.openSync(f, fs.constants.O_RDWR | fs.constants.O_NONBLOCK));
    } catch {}
  }
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

const mkfifo = (p: string): string => {
  execFileSync('mkfifo', ['-m', '0600', p]);
  return p;
};

const fifos: string[] = [];
/** Reads a FIFO to its end; `after` unblocks a reader still waiting for a writer, so a failure cannot hang. */
function readAll(p: string, onChunk?: (c: string) => void, onOpen?: () => void): Promise<string> {
  fifos.push(p);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = fs.createReadStream(p);
    if (onOpen) s.once('open', onOpen);
    s.on('data', (c) => {
      chunks.push(c as Buffer);
      onChunk?.(c.toString());
    });
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

const log = getLogger('test');

describe('shim io', () => {
  it('keeps output for a reader that opens the FIFO after the shim', async () => {
    const fifo = mkfifo(path.join(tmp(), 'out'));
    const out = await FifoOutput.open(fifo); // nobody reads yet: must not block or fail
    out.write(Buffer.from('early\n'));
    let opened!: () => void;
    const isOpen = new Promise<void>((r) => (opened = r));
    const text = readAll(fifo, undefined, opened);
    out.write(Buffer.from('late\n'));
    // (the reader must have opened before the last writer closes: a FIFO nobody holds loses its data)
    await isOpen;
    await out.end();
    assert.equal(await text, 'early\nlate\n');
  });

  it('drops output while no reader is there, without an error, and reattaches to a new reader', async () => {
    const fifo = mkfifo(path.join(tmp(), 'out'));
    const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const out = await FifoOutput.open(fifo);
    fs.closeSync(fd); // the client goes away
    for (let i = 0; i < 50; i++) out.write(Buffer.alloc(4096, 'x'));
    await new Promise((r) => setTimeout(r, 300));
    let got = '';
    const text = readAll(fifo, (chunk) => (got += chunk)); // a client comes back
    const deadline = Date.now() + 10_000;
    while (!got.includes('again') && Date.now() < deadline) {
      out.write(Buffer.from('again\n')); // the FIFO is re-opened for the new reader (at most every 250 ms)
      await new Promise((r) => setTimeout(r, 50));
    }
    await out.end();
    assert.match(await text, /again\n/);
  });

  it('reports the end of output only after every byte reached the FIFO; times out while a writer holds the pipe', async () => {
    const dir = tmp();
    const fifo = mkfifo(path.join(dir, 'out'));
    const text = readAll(fifo);
    const io = await ProcessStdio.open({ stdin: '', stdout: fifo, stderr: '', terminal: false }, dir, log);
    const w = io.processFds.stdout!;
    const held = fs.openSync(`/proc/self/fd/${w}`, 'w'); // a "grandchild" keeping the pipe open
    io.started();
    const written = new Promise<void>((resolve, reject) => fs.write(held, 'x'.repeat(200_000), (err) => (err ? reject(err) : resolve())));
    assert.equal(await io.drained(200), false);
    await written;
    fs.closeSync(held);
    assert.equal(await io.drained(5000), true);
    assert.equal((await text).length, 200_000);
    io.close();
  });

  it('passes stdin through and ends it after CloseIO once the client closed its end', async () => {
    const dir = tmp();
    const inFifo = mkfifo(path.join(dir, 'in'));
    const io = await ProcessStdio.open({ stdin: inFifo, stdout: '', stderr: '', terminal: false }, dir, log);
    const r = fs.openSync(`/proc/self/fd/${io.processFds.stdin!}`, 'r'); // the process's stdin
    io.started();
    const client = fs.openSync(inFifo, 'w');
    fs.writeSync(client, 'hello\n');
    fs.closeSync(client); // the client's end alone does not end the input...
    const got: Buffer[] = [];
    const reader = fs.createReadStream('', { fd: r });
    const ended = new Promise<void>((resolve) => reader.on('end', () => resolve()));
    reader.on('data', (c) => got.push(c as Buffer));
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(Buffer.concat(got).toString(), 'hello\n');
    io.closeStdin(); // ...CloseIO does
    await ended;
    io.close();
  });
});
