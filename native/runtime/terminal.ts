/**
 * The pty of a process with `terminal: true`: the runtime opens the pair, gives the slave to berth-init as
 * fds 0-2 (it makes it the controlling terminal and, for the init, binds it onto /dev/console), and hands the
 * master to the caller as Process.terminalMaster.
 */
import fs from 'node:fs';
import { openPtyMaster, setWindowSize } from '../sys/linux';

export interface PtyPair {
  /** the master fd: the caller owns it once the process started */
  master: number;
  /** the slave fd (close-on-exec), closed by the runtime after berth-init started */
  slave: number;
  slavePath: string;
}

export function openPty(size?: { width: number; height: number }): PtyPair {
  const { master, slavePath } = openPtyMaster();
  try {
    const slave = fs.openSync(slavePath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    if (size && size.width > 0 && size.height > 0) setWindowSize(master, size.width, size.height);
    return { master, slave, slavePath };
  } catch (err) {
    fs.closeSync(master);
    throw err;
  }
}

/** Resizes the terminal of a process (ResizePty). */
export function resizePty(master: number, width: number, height: number): void {
  setWindowSize(master, width, height);
}
