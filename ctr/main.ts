/**
 * bctr: Berth's command-line client, mirroring containerd 1.6's `ctr` (verbs, flags, output). Global options
 * come before the command: `bctr [-a SOCK] [-n NS] [--timeout D] [--debug] COMMAND ...`; the address and
 * namespace also come from BERTH_ADDRESS and BERTH_NAMESPACE. Errors print as `ctr: <message>` and exit 1;
 * `run`, `tasks start|exec|attach` exit with the process's status.
 */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_ADDRESS, DEFAULT_NAMESPACE } from './commands/common';
import { register as registerVersion, clientVersion } from './commands/version';
import { register as registerNamespaces } from './commands/namespaces';
import { register as registerContainers } from './commands/containers';
import { register as registerEvents } from './commands/events';
import { register as registerPlugins } from './commands/plugins';
import { register as registerLeases } from './commands/leases';
import { register as registerRun } from './commands/run';
import { register as registerTasks } from './commands/tasks';
import { errorLine, exitCodeOf, ExitStatus } from './errors';
import { setDebug } from './log';
import { setOutput, writeErr, type TextSink } from './output';

/** The whole command tree; parse errors and --help throw CommanderError instead of exiting. */
export function buildProgram(io?: { stdout: TextSink; stderr: TextSink }): Command {
  const program = new Command('bctr');
  if (io) program.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  program
    .description("Berth's command-line client for berthd (mirrors containerd's ctr)")
    .usage('[global options] command [command options] [arguments...]')
    .enablePositionalOptions()
    .exitOverride()
    .version(clientVersion(), '-v, --version', 'print the version')
    .option('--debug', 'enable debug output in logs')
    .addOption(
      new Option('-a, --address <value>', "address for berthd's GRPC server").env('BERTH_ADDRESS').default(DEFAULT_ADDRESS),
    )
    .addOption(new Option('--timeout <value>', 'total timeout for ctr commands').default('0s'))
    .addOption(new Option('--connect-timeout <value>', 'timeout for connecting to berthd').default('0s'))
    .addOption(
      new Option('-n, --namespace <value>', 'namespace to use with commands').env('BERTH_NAMESPACE').default(DEFAULT_NAMESPACE),
    )
    .hook('preAction', (cmd) => setDebug(!!cmd.opts().debug));
  registerPlugins(program);
  registerVersion(program);
  registerContainers(program);
  registerEvents(program);
  registerLeases(program);
  registerNamespaces(program);
  registerRun(program);
  registerTasks(program);
  return program;
}

/**
 * Runs bctr with argv (as process.argv) and returns the exit code. `io` redirects bctr's own output (not a
 * container's) and commander's help and errors, for tests.
 */
export async function main(argv: string[], io?: { stdout: TextSink; stderr: TextSink }): Promise<number> {
  if (io) setOutput(io.stdout, io.stderr);
  const program = buildProgram(io);
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander already printed help or the error
    if (!(err instanceof ExitStatus)) writeErr(errorLine(err) + '\n');
    return exitCodeOf(err);
  }
}

/** The launcher's entry point: runs and exits (stdio writes are synchronous for files and pipes). */
export function cli(argv: string[] = process.argv): void {
  main(argv).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(errorLine(err) + '\n');
      process.exit(1);
    },
  );
}

if (require.main === module) cli();
