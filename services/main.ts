/**
 * Entry of bin/berthd.
 *
 *   berthd [--address SOCK] [--root DIR] [--state DIR] [--config FILE] [--log-level LEVEL]
 *   berthd config default        # print the embedded default configuration (TOML)
 *
 * SIGTERM / SIGINT: graceful shutdown (stop accepting, let running calls finish briefly, close the store,
 * remove the socket), exit 0. A second signal exits at once.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { messageOf } from '../pkg/errdefs';
import { getLogger } from '../pkg/log';
import { defaultConfigToml, loadConfig } from './config';
import { startDaemon } from './daemon';

interface Flags {
  address?: string;
  root?: string;
  state?: string;
  config?: string;
  logLevel?: string;
}

const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(p));

async function serve(flags: Flags): Promise<void> {
  const log = getLogger('berthd');
  const config = loadConfig({
    address: abs(flags.address),
    root: abs(flags.root),
    state: abs(flags.state),
    config: flags.config,
    logLevel: flags.logLevel,
  });
  config.address = path.resolve(config.address);
  config.root = path.resolve(config.root);
  config.state = path.resolve(config.state);
  const daemon = await startDaemon(config);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    signalled = true;
    log.info('received signal', { signal });
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { error: messageOf(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGPIPE', () => {});
}

/**
 * The common case — only serve options, each with a value — parsed without loading commander (≈ 10 ms of
 * start-up); anything else (help, `config`, unknown or malformed options) goes to commander, which owns the
 * messages. Returns undefined when commander must decide.
 */
function quickFlags(args: string[]): Flags | undefined {
  try {
    const { values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        address: { type: 'string', short: 'a' },
        root: { type: 'string' },
        state: { type: 'string' },
        config: { type: 'string', short: 'c' },
        'log-level': { type: 'string', short: 'l' },
      },
    });
    if (positionals.length > 0) return undefined;
    const { 'log-level': logLevel, ...rest } = values;
    const flags: Flags = { ...rest };
    if (logLevel !== undefined) flags.logLevel = logLevel;
    // A value that looks like an option (`--root --state`) is commander's to judge.
    if (Object.values(flags).some((v) => v === undefined || v.startsWith('-'))) return undefined;
    return flags;
  } catch {
    return undefined;
  }
}

export function main(argv: string[]): void {
  const quick = quickFlags(argv.slice(2));
  if (quick) {
    serve(quick).catch((err: unknown) => {
      process.stderr.write(`berthd: ${messageOf(err)}\n`);
      process.exit(1);
    });
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Command } = require('commander') as typeof import('commander');
  const program = new Command('berthd')
    .description('containerd-compatible container supervisor daemon')
    .option('-a, --address <path>', 'gRPC socket path')
    .option('--root <dir>', 'root directory (metadata)')
    .option('--state <dir>', 'state directory (task bundles, shim sockets)')
    .option('-c, --config <file>', 'TOML configuration file')
    .option('-l, --log-level <level>', 'error, warn, info or debug')
    .action(async (flags: Flags) => serve(flags));
  const configCmd = program.command('config').description('configuration commands');
  configCmd
    .command('default')
    .description('print the embedded default configuration')
    .action(() => {
      process.stdout.write(defaultConfigToml());
    });
  program.parseAsync(argv).catch((err: unknown) => {
    process.stderr.write(`berthd: ${messageOf(err)}\n`);
    process.exit(1);
  });
}

if (require.main === module) main(process.argv);
