/**
 * berth-runc: an OCI runtime command line (runc's verbs, flags, output and exit codes) over native/.
 * `bin/berth-runc` calls `cli(process.argv)`. See docs/berth-runc.md.
 *
 * Global flags: --root (default /run/berth-runc), --log, --log-format text|json, --debug,
 * --systemd-cgroup (refused: not supported). Errors go to the log (runc's logrus lines; see log.ts) and
 * exit 1 (exec 255; run and exec leave with the container process's status).
 */
import { Command, CommanderError, Option } from 'commander';
import { messageOf } from '../../pkg/errdefs';
import { CliError, DEFAULT_ROOT, ExitRequest, type GlobalOptions } from './context';
import { exec } from './exec';
import { features, versionText, writeSpec } from './info';
import { events, ps } from './inspect';
import { create, deleteContainer, kill, list, run, start, state } from './lifecycle';
import { pause, resume, update } from './control';
import { configureLog, log, logFatal } from './log';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** Long flags Go programs also accept with one dash (`-bundle x`); rewritten to `--bundle x`. */
const LONG_FLAGS = new Set([
  'bundle', 'pid-file', 'console-socket', 'no-pivot', 'no-new-keyring', 'preserve-fds', 'root', 'log', 'log-format', 'debug',
  'systemd-cgroup', 'force', 'all', 'detach', 'process', 'tty', 'cwd', 'env', 'user', 'format', 'stats', 'interval', 'resources',
  'quiet', 'rootless', 'keep', 'ignore-paused', 'additional-gids', 'cap', 'no-new-privs', 'criu', 'version', 'help',
]);

export function normalizeArgs(args: string[]): string[] {
  const out: string[] = [];
  let positional = 0;
  for (const a of args) {
    if (a === '--') positional = 2;
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    if (positional < 2 && m && LONG_FLAGS.has(m[1]!)) out.push(`-${a}`);
    else out.push(a);
  }
  return out;
}

function program(): Command {
  let globals: GlobalOptions | undefined;
  const g = (): GlobalOptions => globals!;
  const p = new Command('berth-runc')
    .description('an OCI runtime over Berth\'s native runtime, runc-compatible')
    .option('--root <dir>', 'root directory for storage of container state', DEFAULT_ROOT)
    .option('--log <file>', 'set the log file to write logs to (default: stderr)')
    .addOption(new Option('--log-format <format>', 'set the log format').choices(['text', 'json']).default('text'))
    .option('--debug', 'enable debug logging', false)
    .option('--systemd-cgroup', 'use the systemd cgroup driver (not supported)', false)
    .option('--criu <path>', 'ignored (checkpoint/restore is not supported)')
    .option('--rootless <value>', 'rootless mode (only "false" is supported)')
    .option('-v, --version', 'print the version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  p.hook('preAction', (root) => {
    const o = root.opts();
    configureLog({ file: o.log, format: o.logFormat, debug: o.debug });
    globals = { root: o.root, log: o.log, logFormat: o.logFormat, debug: o.debug, systemdCgroup: o.systemdCgroup };
    if (o.systemdCgroup) throw new CliError('the systemd cgroup driver is not supported by berth-runc (cgroupfs only)');
    if (o.rootless !== undefined && o.rootless !== 'false') throw new CliError('rootless mode is not supported by berth-runc');
  });

  const bundleFlags = (c: Command): Command =>
    c.option('-b, --bundle <dir>', 'path to the root of the bundle directory (default: the current directory)')
      .option('--pid-file <file>', 'file to write the process id to')
      .option('--console-socket <path>', 'unix socket receiving the pty master of the container\'s terminal')
      .option('--no-pivot', 'do not use pivot_root (ignored: always pivot_root)')
      .option('--no-new-keyring', 'do not create a new session keyring (none is ever created)')
      .option('--preserve-fds <n>', 'pass N additional file descriptors (not supported beyond 0)');
  const createOpts = (o: Record<string, unknown>) => ({
    bundle: o.bundle as string | undefined, pidFile: o.pidFile as string | undefined, consoleSocket: o.consoleSocket as string | undefined,
    noPivot: o.pivot === false, noNewKeyring: o.newKeyring === false,
  });
  const checkPreserve = (o: Record<string, unknown>): void => {
    if (o.preserveFds !== undefined && Number(o.preserveFds) !== 0) throw new CliError('--preserve-fds is not supported by berth-runc');
  };

  bundleFlags(p.command('create').description('create a container').argument('<container-id>'))
    .action(async (id: string, o) => {
      checkPreserve(o);
      await create(g(), id, createOpts(o));
    });
  p.command('start').description('execute the user defined process in a created container').argument('<container-id>')
    .action(async (id: string) => start(g(), id));
  bundleFlags(p.command('run').description('create and run a container').argument('<container-id>'))
    .option('-d, --detach', 'detach from the container\'s process')
    .option('--keep', 'do not delete the container after it exits')
    .action(async (id: string, o) => {
      checkPreserve(o);
      await run(g(), id, { ...createOpts(o), detach: o.detach === true, keep: o.keep === true });
    });
  p.command('state').description('output the state of a container').argument('<container-id>')
    .action(async (id: string) => state(g(), id));
  p.command('kill').description('kill sends the specified signal (default: SIGTERM) to the container\'s init process')
    .argument('<container-id>').argument('[signal]').option('-a, --all', 'send the signal to all processes in the container')
    .action(async (id: string, sig: string | undefined, o) => kill(g(), id, sig, { all: o.all === true }));
  p.command('delete').description('delete any resources held by the container').argument('<container-id>')
    .option('-f, --force', 'forcibly delete the container if it is still running (uses SIGKILL)')
    .action(async (id: string, o) => deleteContainer(g(), id, { force: o.force === true }));
  p.command('exec').description('execute new process inside the container').argument('<container-id>').argument('[command...]')
    .option('-p, --process <file>', 'path to the process.json')
    .option('-d, --detach', 'detach from the container\'s process')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--console-socket <path>', 'unix socket receiving the pty master')
    .option('--pid-file <file>', 'file to write the process id to')
    .option('--cwd <dir>', 'current working directory in the container')
    .option('-e, --env <NAME=value>', 'set environment variables', collect)
    .option('-u, --user <uid[:gid]>', 'UID (format: <uid>[:<gid>])')
    .option('-g, --additional-gids <gid>', 'additional gids', collect)
    .option('-c, --cap <cap>', 'add a capability to the bounding set for the process', collect)
    .option('--no-new-privs', 'set the no new privileges value for the process')
    .option('--ignore-paused', 'allow exec in a paused container')
    .option('--preserve-fds <n>', 'pass N additional file descriptors (not supported beyond 0)')
    .passThroughOptions()
    .action(async (id: string, command: string[], o) => {
      checkPreserve(o);
      await exec(g(), id, command, {
        process: o.process, detach: o.detach === true, tty: o.tty === true, consoleSocket: o.consoleSocket, pidFile: o.pidFile,
        cwd: o.cwd, env: o.env, user: o.user, additionalGids: o.additionalGids, cap: o.cap,
        noNewPrivs: o.newPrivs === false ? true : undefined, ignorePaused: o.ignorePaused === true,
      });
    });
  p.command('ps').description('ps displays the processes running inside a container').argument('<container-id>').argument('[ps-options...]')
    .option('-f, --format <format>', 'select one of: table or json', 'table')
    .passThroughOptions()
    .action(async (id: string, psArgs: string[], o) => ps(g(), id, psArgs, { format: o.format }));
  p.command('pause').description('pause suspends all processes inside the container').argument('<container-id>')
    .action(async (id: string) => pause(g(), id));
  p.command('resume').description('resumes all processes that have been previously paused').argument('<container-id>')
    .action(async (id: string) => resume(g(), id));
  p.command('update').description('update container resource constraints').argument('<container-id>')
    .option('-r, --resources <file>', 'path to a file with the resources (OCI linux.resources JSON), or - for stdin')
    .option('--blkio-weight <n>').option('--cpu-period <n>').option('--cpu-quota <n>').option('--cpu-share <n>')
    .option('--cpu-rt-period <n>').option('--cpu-rt-runtime <n>').option('--cpuset-cpus <list>').option('--cpuset-mems <list>')
    .option('--memory <bytes>').option('--memory-reservation <bytes>').option('--memory-swap <bytes>').option('--pids-limit <n>')
    .action(async (id: string, o) => update(g(), id, o));
  p.command('list').alias('ls').description('lists containers started by berth-runc with the given root')
    .option('-f, --format <format>', 'select one of: table or json', 'table')
    .option('-q, --quiet', 'display only container IDs')
    .action(async (o) => list(g(), { format: o.format, quiet: o.quiet === true }));
  p.command('events').description('display container events such as OOM notifications and cpu, memory, and IO usage statistics')
    .argument('<container-id>').option('--stats', 'display the container\'s stats then exit').option('--interval <duration>', 'the stats collection interval', '5s')
    .action(async (id: string, o) => events(g(), id, { stats: o.stats === true, interval: o.interval }));
  p.command('spec').description('create a new specification file')
    .option('-b, --bundle <dir>', 'path to the root of the bundle directory').option('--rootless', 'generate a rootless spec (not supported)')
    .action(async (o) => writeSpec({ bundle: o.bundle, rootless: o.rootless === true }));
  p.command('features').description('show the enabled features')
    .action(async () => void process.stdout.write(JSON.stringify(features(), null, '    ') + '\n'));
  return p;
}

const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);

/** True when -v/--version comes among the global flags, before any command. */
function wantsVersion(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-v' || a === '--version') return true;
    if (GLOBAL_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return a === 'version';
  }
  return false;
}

/** Runs berth-runc; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  // the runtime's own log (pkg/log, read when its first line is written) must not reach stderr, which may be
  // the container's: errors only, and berth-runc reports the errors it gets itself
  process.env.BERTH_LOG_LEVEL = 'error';
  const args = normalizeArgs(argv.slice(2));
  if (wantsVersion(args)) {
    process.stdout.write(versionText());
    return 0;
  }
  try {
    await program().parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof ExitRequest) return err.exitCode;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
      return 1; // commander printed the usage error
    }
    if (err instanceof CliError) {
      logFatal(err.message);
      return err.exitCode;
    }
    log('debug', (err as Error)?.stack ?? String(err));
    logFatal(messageOf(err));
    return 1;
  }
}

export function cli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`berth-runc: ${messageOf(err)}\n`);
      process.exit(1);
    },
  );
}
