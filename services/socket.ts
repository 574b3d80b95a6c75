/**
 * The daemon's unix socket: parent directory created 0711 when missing; an existing socket file that no
 * server answers on is stale and removed; one a live server answers on makes berthd refuse to start; the
 * socket is created with mode 0660 (umask held during bind) and chowned to the configured uid:gid.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { FailedPrecondition, Internal } from '../pkg/errdefs';
import type { Logger } from '../pkg/log';

/** Resolves true when something accepts connections on the unix socket `address`. */
export function socketAnswers(address: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(address);
    const done = (answers: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(answers);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Makes `address` free to bind, or throws when it belongs to a live server or is not a socket. */
export async function prepareSocketPath(address: string, log: Logger): Promise<void> {
  const dir = path.dirname(address);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  let st: fs.Stats;
  try {
    st = fs.lstatSync(address);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new FailedPrecondition(`${address}: exists and is not a socket`);
  if (await socketAnswers(address)) throw new FailedPrecondition(`${address}: another server is listening on this socket`);
  log.info('removing stale socket', { address });
  fs.rmSync(address, { force: true });
}

export async function listenUnixSocket(
  server: grpc.Server,
  address: string,
  owner: { uid: number; gid: number },
  log: Logger,
): Promise<void> {
  await prepareSocketPath(address, log);
  const oldMask = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix:${address}`, grpc.ServerCredentials.createInsecure(), (err) => {
        if (err) reject(new Internal(`listen on ${address}: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  fs.chmodSync(address, 0o660);
  const st = fs.statSync(address);
  if (st.uid !== owner.uid || st.gid !== owner.gid) {
    try {
      fs.chownSync(address, owner.uid, owner.gid);
    } catch (err) {
      const warn = process.getuid?.() === 0 ? log.warn : log.debug;
      warn('cannot chown socket', { address, uid: owner.uid, gid: owner.gid, error: (err as Error).message });
    }
  }
}
