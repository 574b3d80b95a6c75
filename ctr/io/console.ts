/**
 * The local terminal for `-t` (containerd/console's Current, SetRaw, Reset, Size) and ctr's
 * HandleConsoleResize: the pty size is sent once at start and again on every SIGWINCH.
 */
import type { ReadStream, WriteStream } from 'node:tty';

export interface ConsoleSize {
  width: number;
  height: number;
}

export class Console {
  private raw = false;

  private constructor(
    private readonly input: ReadStream,
    private readonly output: WriteStream | undefined,
  ) {}

  /** The controlling console of bctr's stdio; ctr panics with "provided file is not a console" instead. */
  static current(): Console {
    const stdin = process.stdin as ReadStream;
    if (!stdin.isTTY) throw new Error('provided file is not a console');
    const out = [process.stdout, process.stderr].find((s) => (s as WriteStream).isTTY) as WriteStream | undefined;
    return new Console(stdin, out);
  }

  setRaw(): void {
    this.input.setRawMode(true);
    this.raw = true;
  }

  reset(): void {
    if (this.raw) this.input.setRawMode(false);
    this.raw = false;
  }

  size(): ConsoleSize {
    const [width, height] = this.output ? this.output.getWindowSize() : [0, 0];
    return { width, height };
  }

  /**
   * Sends the size now and on each SIGWINCH; returns the function that stops listening. Errors are logged
   * by the caller's resize function, never thrown (as ctr logs "resize pty").
   */
  handleResize(resize: (size: ConsoleSize) => Promise<unknown>): () => void {
    const send = (): void => {
      resize(this.size()).catch(() => undefined);
    };
    send();
    process.on('SIGWINCH', send);
    return () => process.off('SIGWINCH', send);
  }
}
