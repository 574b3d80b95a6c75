/**
 * `file://` stdio URIs (containerd's shim accepts them for stdout/stderr, e.g. `ctr run --log-uri
 * file:///var/log/x`): output appended to a regular file. Other schemes (binary://) are not supported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { InvalidArgument, Unimplemented } from '../../pkg/errdefs';

/** What the output copy writes to: a FIFO or a file. */
export interface OutputSink extends EventEmitter {
  write(chunk: Buffer): boolean;
  end(): Promise<void>;
  destroy(): void;
}

/** The path of a file:// URI; undefined for a plain path; throws for other schemes. */
export function fileUriPath(p: string, what: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(p);
  if (!m) return undefined;
  if (m[1]!.toLowerCase() !== 'file') throw new Unimplemented(`${what} ${p}: ${m[1]} URIs are not supported`);
  const u = new URL(p);
  const file = decodeURIComponent(u.pathname);
  if (!path.isAbsolute(file)) throw new InvalidArgument(`${what} ${p}: file path must be absolute`);
  return file;
}

export class FileOutput extends EventEmitter implements OutputSink {
  private broken = false;
  private constructor(private readonly stream: fs.WriteStream) {
    super();
    stream.on('drain', () => this.emit('drain'));
    stream.on('error', () => {
      this.broken = true;
      this.emit('drain');
    });
  }

  static async open(file: string): Promise<FileOutput> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.promises.open(file, 'a', 0o640);
    return new FileOutput(fs.createWriteStream('', { fd: handle, autoClose: true } as any));
  }

  write(chunk: Buffer): boolean {
    if (this.broken) return true;
    return this.stream.write(chunk);
  }

  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
  }

  destroy(): void {
    this.stream.destroy();
  }
}
