/**
 * berthd configuration: embedded defaults ← TOML file (`--config`) ← command-line flags.
 *
 * The TOML file follows containerd's config.toml layout where it overlaps:
 *
 *   version = 2
 *   root = "/var/lib/berth"          # metadata database (berth.db), server uuid
 *   state = "/run/berth"             # per-task bundles, shim sockets
 *   [grpc]
 *     address = "/run/berth/berthd.sock"
 *     uid = 0                        # owner of the socket
 *     gid = 0
 *     max_recv_message_size = 16777216
 *     max_send_message_size = 16777216
 *   [debug]
 *     level = "info"                 # error | warn | info | debug
 *   [shim]
 *     binary = ""                    # berth-shim launcher; empty = bin/berth-shim of this checkout
 *     prestart = 2                   # shims kept started and waiting for work (deleted tasks' shims are reused)
 *
 * Unknown keys are refused (a typo must not silently fall back to a default).
 */
import fs from 'node:fs';
import { InvalidArgument } from '../pkg/errdefs';

type SmolToml = typeof import('smol-toml', { with: { 'resolution-mode': 'import' } });

/**
 * smol-toml, loaded on first use (start-up without a config file does not pay for it). It ships CommonJS
 * under `require` but only ESM typings: loaded with require, typed from its d.ts.
 */
function parseToml(text: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('smol-toml') as SmolToml).parse(text);
}

export interface BerthdConfig {
  root: string;
  state: string;
  address: string;
  logLevel: string;
  grpc: { uid: number; gid: number; maxRecvMessageSize: number; maxSendMessageSize: number };
  shim: { binary?: string; prestart?: number };
}

export const MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];

export function defaultConfig(): BerthdConfig {
  return {
    root: '/var/lib/berth',
    state: '/run/berth',
    address: '/run/berth/berthd.sock',
    logLevel: 'info',
    grpc: { uid: 0, gid: 0, maxRecvMessageSize: MAX_MESSAGE_SIZE, maxSendMessageSize: MAX_MESSAGE_SIZE },
    shim: { binary: '', prestart: 2 },
  };
}

/** The embedded defaults as TOML (what `berthd config default` prints). */
export function defaultConfigToml(): string {
  const c = defaultConfig();
  return [
    'version = 2',
    `root = ${JSON.stringify(c.root)}`,
    `state = ${JSON.stringify(c.state)}`,
    '',
    '[grpc]',
    `  address = ${JSON.stringify(c.address)}`,
    `  uid = ${c.grpc.uid}`,
    `  gid = ${c.grpc.gid}`,
    `  max_recv_message_size = ${c.grpc.maxRecvMessageSize}`,
    `  max_send_message_size = ${c.grpc.maxSendMessageSize}`,
    '',
    '[debug]',
    `  level = ${JSON.stringify(c.logLevel)}`,
    '',
    '[shim]',
    `  binary = ${JSON.stringify(c.shim.binary ?? '')}`,
    `  prestart = ${c.shim.prestart ?? 2}`,
    '',
  ].join('\n');
}

/** Flags given on the command line; undefined = not given. */
export interface ConfigFlags {
  address?: string;
  root?: string;
  state?: string;
  logLevel?: string;
}

type Table = Record<string, unknown>;

function table(v: unknown, where: string): Table {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgument(`config: ${where} must be a table`);
  return v as Table;
}

function refuseUnknown(t: Table, known: string[], where: string): void {
  for (const k of Object.keys(t)) {
    if (!known.includes(k)) throw new InvalidArgument(`config: unknown key ${where ? where + '.' : ''}${k}`);
  }
}

function str(t: Table, key: string, where: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidArgument(`config: ${where}${key} must be a string`);
  return v;
}

function int(t: Table, key: string, where: string): number | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new InvalidArgument(`config: ${where}${key} must be a non-negative integer`);
  }
  return v;
}

/** Applies a parsed TOML document over a config. */
export function applyToml(base: BerthdConfig, doc: Table): BerthdConfig {
  const c: BerthdConfig = { ...base, grpc: { ...base.grpc }, shim: { ...base.shim } };
  refuseUnknown(doc, ['version', 'root', 'state', 'grpc', 'debug', 'shim'], '');
  const version = int(doc, 'version', '');
  if (version !== undefined && version !== 2) throw new InvalidArgument(`config: version ${version} is not supported (2 is)`);
  c.root = str(doc, 'root', '') ?? c.root;
  c.state = str(doc, 'state', '') ?? c.state;
  const grpc = table(doc.grpc, 'grpc');
  refuseUnknown(grpc, ['address', 'uid', 'gid', 'max_recv_message_size', 'max_send_message_size'], 'grpc');
  c.address = str(grpc, 'address', 'grpc.') ?? c.address;
  c.grpc.uid = int(grpc, 'uid', 'grpc.') ?? c.grpc.uid;
  c.grpc.gid = int(grpc, 'gid', 'grpc.') ?? c.grpc.gid;
  c.grpc.maxRecvMessageSize = int(grpc, 'max_recv_message_size', 'grpc.') ?? c.grpc.maxRecvMessageSize;
  c.grpc.maxSendMessageSize = int(grpc, 'max_send_message_size', 'grpc.') ?? c.grpc.maxSendMessageSize;
  const debug = table(doc.debug, 'debug');
  refuseUnknown(debug, ['level'], 'debug');
  c.logLevel = str(debug, 'level', 'debug.') ?? c.logLevel;
  const shim = table(doc.shim, 'shim');
  refuseUnknown(shim, ['binary', 'prestart'], 'shim');
  c.shim.binary = str(shim, 'binary', 'shim.') ?? c.shim.binary;
  c.shim.prestart = int(shim, 'prestart', 'shim.') ?? c.shim.prestart;
  return c;
}

export function parseConfigToml(text: string, file = 'config'): Table {
  try {
    return parseToml(text) as Table;
  } catch (err) {
    throw new InvalidArgument(`config ${file}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

/** Builds the effective config: defaults ← file (when given) ← flags; validates the result. */
export function loadConfig(flags: ConfigFlags & { config?: string }): BerthdConfig {
  let c = defaultConfig();
  if (flags.config) {
    let text: string;
    try {
      text = fs.readFileSync(flags.config, 'utf8');
    } catch (err) {
      throw new InvalidArgument(`config ${flags.config}: ${(err as Error).message}`, { cause: err });
    }
    c = applyToml(c, parseConfigToml(text, flags.config));
  }
  if (flags.address !== undefined) c.address = flags.address;
  if (flags.root !== undefined) c.root = flags.root;
  if (flags.state !== undefined) c.state = flags.state;
  if (flags.logLevel !== undefined) c.logLevel = flags.logLevel;
  validateConfig(c);
  return c;
}

export function validateConfig(c: BerthdConfig): void {
  for (const [name, v] of [['root', c.root], ['state', c.state], ['grpc.address', c.address]] as const) {
    if (v === '') throw new InvalidArgument(`config: ${name} must not be empty`);
  }
  if (!LOG_LEVELS.includes(c.logLevel)) {
    throw new InvalidArgument(`config: log level "${c.logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  if (c.grpc.maxRecvMessageSize <= 0 || c.grpc.maxSendMessageSize <= 0) {
    throw new InvalidArgument('config: grpc message sizes must be positive');
  }
}
