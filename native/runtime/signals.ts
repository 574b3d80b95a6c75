/** Signal names and numbers: `9`, `'KILL'`, `'SIGKILL'`, `'sigterm'` all work; unknown ones are InvalidArgument. */
import os from 'node:os';
import { InvalidArgument } from '../../pkg/errdefs';

export function signalNumber(signal: number | string): number {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal <= 0 || signal > 64) throw new InvalidArgument(`signal ${signal}: out of range`);
    return signal;
  }
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) return signalNumber(Number(s));
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  const n = (os.constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new InvalidArgument(`signal ${signal}: unknown signal`);
  return n;
}
