/**
 * A process berth-runc waits for (`run` and `exec` without --detach): signals berth-runc receives are
 * forwarded to it, its exit status becomes berth-runc's exit code, and with a terminal berth-runc relays
 * between its own stdio and the pty master (the terminal put in raw mode, its size followed).
 *
 * The process is berth-runc's child (berth-init clones it with CLONE_PARENT), so the Reaper collects it.
 */
import fs from 'node:fs';
import os from 'node:os';
import tty from 'node:tty';
import type { Socket } from 'node:net';
import { Reaper, type ExitStatus } from '../runtime/reaper';
import { resizePty } from '../runtime/terminal';
import { kill } from '../sys/linux';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM'];

/** Waits for pid, forwarding signals and relaying its terminal; resolves with its exit status. */
export async function waitForeground(pid: number, terminalMaster?: number): Promise<ExitStatus> {
  const exit = Reaper.get().watch(pid);
  const handlers = FORWARDED.map((sig) => {
    const h = (): void => {
      try {
        kill(pid, sigNumber(sig));
      } catch {}
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  const relay = terminalMaster === undefined ? undefined : relayTerminal(terminalMaster);
  try {
    const status = await exit;
    await relay?.drained();
    return status;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    relay?.close();
  }
}

function sigNumber(sig: NodeJS.Signals): number {
  return os.constants.signals[sig];
}

interface Relay {
  drained(): Promise<void>;
  close(): void;
}

/** Copies stdin → master and master → stdout; raw mode and SIGWINCH when stdin/stdout are terminals. */
function relayTerminal(master: number): Relay {
  const con = new tty.ReadStream(master) as unknown as Socket;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  con.on('data', (chunk: Buffer) => {
    try {
      fs.writeSync(1, chunk);
    } catch {}
  });
  con.on('end', ended);
  con.on('close', ended);
  con.on('error', ended); // EIO once the last slave is closed: end of output
  const stdinIsTty = tty.isatty(0);
  if (stdinIsTty) (process.stdin as tty.ReadStream).setRawMode(true);
  const onInput = (chunk: Buffer): void => {
    if (!con.destroyed) con.write(chunk);
  };
  process.stdin.on('data', onInput);
  process.stdin.on('error', () => {});
  const resize = (): void => {
    if (process.stdout.isTTY) {
      try {
        resizePty(master, process.stdout.columns, process.stdout.rows);
      } catch {}
    }
  };
  resize();
  process.on('SIGWINCH', resize);
  return {
    async drained() {
      await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
    },
    close() {
      process.off('SIGWINCH', resize);
      process.stdin.off('data', onInput);
      process.stdin.pause();
      if (stdinIsTty) (process.stdin as tty.ReadStream).setRawMode(false);
      con.destroy();
    },
  };
}
