/**
 * runc's --console-socket: the caller (containerd-shim-runc-v2, `recvtty`...) listens on a unix socket;
 * berth-runc connects, sends the container process's pty master with SCM_RIGHTS (the message's data names
 * the pty) and closes its own copy. The caller owns the terminal from then on; berth-runc can exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { messageOf } from '../../pkg/errdefs';
import { sendFdToSocket } from '../sys/linux';
import { CliError } from './context';

/** The absolute socket path, checked before any container process exists (runc dials it first). */
export function resolveConsoleSocket(socketPath: string): string {
  const abs = path.resolve(socketPath);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    throw new CliError(`dial unix ${abs}: connect: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : messageOf(err)}`);
  }
  if (!st.isSocket()) throw new CliError(`dial unix ${abs}: connect: connection refused`);
  return abs;
}

/** Sends the pty master over the console socket and closes our copy. */
export function sendConsole(socketPath: string, master: number): void {
  let name = '/dev/ptmx';
  try {
    name = fs.readlinkSync(`/proc/self/fd/${master}`);
  } catch {}
  try {
    sendFdToSocket(socketPath, master, name);
  } catch (err) {
    throw new CliError(`send console to ${socketPath}: ${messageOf(err)}`);
  } finally {
    try {
      fs.closeSync(master);
    } catch {}
  }
}

/** runc's checks of --tty / --console-socket against --detach. */
export function checkTerminalFlags(terminal: boolean, consoleSocket: string | undefined, detach: boolean): void {
  if (detach && terminal && !consoleSocket) {
    throw new CliError('cannot allocate tty if runc will detach without setting console socket');
  }
  if (consoleSocket && (!terminal || !detach)) {
    throw new CliError('cannot use console socket if runc will not detach or allocate tty');
  }
}
