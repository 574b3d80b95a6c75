/**
 * Copies between bctr's own stdio and a process's FIFOs (containerd's cio copyIO), without ever blocking
 * the event loop: every FIFO is opened with O_NONBLOCK (the stdin FIFO O_RDWR, which Linux allows without
 * a reader, so opening never waits for the shim) and then driven by libuv through a net.Socket.
 *
 * Output is copied from the moment the FIFOs are open (before the task starts, as ctr does); stdin only
 * once the caller says the process runs (ctr 1.6 loses an end-of-input that arrives before the task
 * exists). At end of input the stdin FIFO is closed and the caller's onStdinEnd (CloseIO) runs.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { FifoSet } from './fifo';

const { O_RDONLY, O_RDWR, O_NONBLOCK } = fs.constants;

export interface LocalStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
}

function drainInto(source: net.Socket, target: Writable | undefined): Promise<void> {
  return new Promise((resolve) => {
    source.on('data', (chunk: Buffer) => {
      if (target && !target.write(chunk)) {
        source.pause();
        target.once('drain', () => source.resume());
      }
    });
    source.once('end', resolve);
    source.once('close', resolve);
    source.once('error', () => resolve());
  });
}

export class ProcessStreams {
  private stdinSocket?: net.Socket;
  private readonly outputs: net.Socket[] = [];
  private readonly outputDone: Promise<void>;
  private stdinStarted = false;

  private constructor(
    readonly fifos: FifoSet,
    private readonly local: LocalStreams,
  ) {
    if (fifos.stdin) {
      this.stdinSocket = new net.Socket({ fd: fs.openSync(fifos.stdin, O_RDWR | O_NONBLOCK), readable: false, writable: true });
      this.stdinSocket.on('error', () => undefined); // the reader went away: drop input, never die of EPIPE
    }
    const done: Promise<void>[] = [];
    for (const [p, target] of [
      [fifos.stdout, local.stdout],
      [fifos.stderr, fifos.terminal ? undefined : local.stderr],
    ] as const) {
      if (!p || (p === fifos.stderr && fifos.terminal)) continue;
      const s = new net.Socket({ fd: fs.openSync(p, O_RDONLY | O_NONBLOCK), readable: true, writable: false });
      this.outputs.push(s);
      done.push(drainInto(s, target));
    }
    this.outputDone = Promise.all(done).then(() => undefined);
  }

  /** Opens bctr's ends of the FIFOs and starts copying output to the local streams. */
  static open(fifos: FifoSet, local: LocalStreams): ProcessStreams {
    return new ProcessStreams(fifos, local);
  }

  /** Starts copying local stdin into the stdin FIFO; at its end closes the FIFO and calls onStdinEnd. */
  startStdin(onStdinEnd: () => Promise<unknown>): void {
    const sock = this.stdinSocket;
    const input = this.local.stdin;
    if (this.stdinStarted || !sock || !input) return;
    this.stdinStarted = true;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      // Close only once everything written has left: destroy() after the last write's callback.
      sock.write('', () => {
        sock.destroy();
        onStdinEnd().catch(() => undefined);
      });
    };
    input.on('data', (chunk: Buffer) => {
      if (!sock.destroyed && !sock.write(chunk)) {
        input.pause();
        sock.once('drain', () => input.resume());
      }
    });
    input.once('end', finish);
    input.once('error', finish);
    input.resume();
  }

  /** Resolves when the shim has closed stdout and stderr (all output copied). */
  waitOutput(): Promise<void> {
    return this.outputDone;
  }

  /** Closes every FIFO end bctr holds and stops reading local stdin. */
  close(): void {
    this.stdinSocket?.destroy();
    for (const s of this.outputs) s.destroy();
    if (this.stdinStarted) this.local.stdin?.pause();
  }
}
