/**
 * What every bctr command shares: the global options, opening a client for the duration of an action, the
 * repeatable-flag collector and ctr's `key=value` label parsing.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { Client } from '../client';
import { parseGoDuration } from '../format/gotime';
import { UsageError } from '../errors';
import { writeOut } from '../output';

export const DEFAULT_ADDRESS = '/run/berth/berthd.sock';
export const DEFAULT_NAMESPACE = 'default';

export interface GlobalOptions {
  address: string;
  namespace: string;
  timeout: string;
  connectTimeout: string;
  debug?: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

function durationMs(flag: string, text: string): number {
  try {
    return parseGoDuration(text);
  } catch (err) {
    throw new UsageError(`invalid value "${text}" for flag -${flag}: ${(err as Error).message}`);
  }
}

/** Opens a client with the global options, runs fn, closes the client. */
export async function withClient<T>(cmd: Command, fn: (client: Client) => Promise<T>): Promise<T> {
  const g = globalOptions(cmd);
  const client = await Client.connect({
    address: g.address,
    namespace: g.namespace,
    timeoutMs: durationMs('timeout', g.timeout),
    connectTimeoutMs: durationMs('connect-timeout', g.connectTimeout),
  });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** commander collector for repeatable flags (`--env A=1 --env B=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** ctr's commands.LabelArgs: `k=v` → {k: v}; a bare `k` means `k=true`. */
export function labelArgs(strings: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const s of strings) {
    const eq = s.indexOf('=');
    if (eq < 0) labels[s] = 'true';
    else labels[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return labels;
}

/** ctr's commands.ObjectWithLabelArgs: first argument, then labels from the rest. */
export function objectWithLabelArgs(args: string[]): [string, Record<string, string>] {
  return [args[0] ?? '', labelArgs(args.slice(1))];
}

/** ctr's commands.AnnotationArgs: every entry must be `k=v`. */
export function annotationArgs(strings: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of strings) {
    const eq = s.indexOf('=');
    if (eq < 0) throw new UsageError(`invalid key=value format annotation: ${s}`);
    out[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return out;
}

/** Writes to stdout (synchronous for files and pipes on Linux, like Go's fmt.Print). */
export function print(text: string): void {
  writeOut(text);
}

/** fmt.Println: operands joined by spaces, then a newline. */
export function println(...parts: (string | number)[]): void {
  writeOut(parts.join(' ') + '\n');
}

/** Integer flag values (commander hands over strings). */
export function intFlag(name: string): (value: string) => number {
  return (value: string): number => {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`invalid value "${value}" for flag -${name}`);
    return Number(value);
  };
}

export function floatFlag(name: string): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || Number.isNaN(n)) throw new InvalidArgumentError(`invalid value "${value}" for flag -${name}`);
    return n;
  };
}
