/**
 * runc's console socket (`--console-socket`): the OCI runtime connects to a unix socket we listen on and
 * sends the pty master of the container's terminal with SCM_RIGHTS. The socket lives in a private 0700
 * directory under the temp dir (short enough for sun_path whatever the bundle path), removed after use.
 *
 * Node must not read the connection itself (a plain read would discard the descriptor), so connections are
 * accepted paused and the message is taken with native's recvmsg (receiveFd).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Internal } from '../../pkg/errdefs';
import { receiveFd } from '../../native/sys/linux';

const RECEIVE_TIMEOUT_MS = 5000;

export class ConsoleSocket {
  private readonly server: net.Server;
  private connection: Promise<net.Socket>;

  private constructor(
    readonly path: string,
    private readonly dir: string,
  ) {
    this.server = net.createServer({ pauseOnConnect: true });
    this.connection = new Promise((resolve) => this.server.once('connection', resolve));
  }

  static async open(): Promise<ConsoleSocket> {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'berth-console-'));
    const cs = new ConsoleSocket(path.join(dir, 'c.sock'), dir);
    await new Promise<void>((resolve, reject) => {
      cs.server.once('error', reject);
      cs.server.listen(cs.path, () => resolve());
    });
    return cs;
  }

  /** The pty master the runtime sent (call after the runtime command returned). */
  async receiveMaster(): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Internal('console socket: the OCI runtime sent no terminal')), RECEIVE_TIMEOUT_MS);
    });
    try {
      const sock = await Promise.race([this.connection, timeout]);
      const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new Internal('console socket: no descriptor for the connection');
      for (;;) {
        const got = receiveFd(fd);
        if (got) return got.fd;
        await Promise.race([new Promise((r) => setTimeout(r, 5)), timeout]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.connection.then((s) => s.destroy(), () => {});
    this.server.close();
    fs.rm(this.dir, { recursive: true, force: true }, () => {});
  }
}
