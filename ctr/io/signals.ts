/**
 * ctr's ForwardAllSignals: while bctr waits for a process (without a tty) the signals it receives go to
 * that process through Tasks.Kill instead of ending bctr. SIGCHLD, SIGPIPE and SIGURG are ignored, as
 * ctr's canIgnoreSignal does; SIGKILL and SIGSTOP cannot be caught; SIGUSR1 belongs to Node's inspector and
 * SIGPROF to its profiler.
 */
import { constants } from 'node:os';

export const FORWARDED_SIGNALS: NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGUSR2',
  'SIGALRM',
  'SIGWINCH',
  'SIGCONT',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
];

/** Installs the forwarding; returns the function that removes it. */
export function forwardAllSignals(kill: (signal: number) => Promise<unknown>): () => void {
  const handlers = FORWARDED_SIGNALS.map((name) => {
    const handler = (): void => {
      kill(constants.signals[name]).catch(() => undefined);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}

/**
 * moby/sys/signal.ParseSignal: a number, or a name with or without `SIG` in any case
 * (`9`, `KILL`, `sigkill`). Errors like ctr: `Invalid signal: <raw>`.
 */
export function parseSignal(raw: string): number {
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n === 0) throw new Error(`Invalid signal: ${raw}`);
    return n;
  }
  const name = ('SIG' + raw.toUpperCase().replace(/^SIG/, '')) as NodeJS.Signals;
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new Error(`Invalid signal: ${raw}`);
  return n;
}
