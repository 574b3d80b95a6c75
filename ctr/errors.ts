/**
 * How bctr ends: ctr prints `ctr: <message>` on stderr and exits 1; a command that mirrors a process's exit
 * status ends with that status and prints nothing (urfave/cli's NewExitError("", code)).
 */
import { messageOf } from '../pkg/errdefs';

/** Ends the command with this exit code and no message. */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
    this.name = 'ExitStatus';
  }
}

/** The line ctr prints for an error. */
export function errorLine(err: unknown): string {
  return `ctr: ${messageOf(err)}`;
}

/** The exit code for anything thrown out of a command. */
export function exitCodeOf(err: unknown): number {
  return err instanceof ExitStatus ? err.code : 1;
}

/** A client-side error with a plain message, like ctr's errors.New. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
