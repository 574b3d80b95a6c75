/**
 * berth-shim: the supervisor of one container, or of the containers of one group (see docs/shim.md).
 *
 *   berth-shim [--namespace NS --id ID --bundle DIR]     (listening socket as fd 3, stderr → <bundle>/shim.log)
 *
 * Without --id the shim is pre-started and waits for Bind. Environment: BERTH_LOG_LEVEL, BERTH_LOG_FORMAT,
 * BERTH_SHIM_PARENT (pid of the spawning daemon: an idle shim exits once it is no longer its parent),
 * BERTH_SHIM_IO_DRAIN_MS (how long an exit report waits for output to end, default 2000), BERTH_INIT_BINARY.
 *
 * The shim outlives berthd: it runs in its own session, ignores SIGHUP and SIGPIPE, keeps serving when clients
 * go away, and exits only on Shutdown (or SIGTERM/SIGINT once no process runs).
 */
import { getLogger, type Logger } from '../pkg/log';
import { lookupType } from '../proto/loader';
import { becomeSubreaper } from './runtime/reap';
import { IdleCollector } from '../pkg/idle-gc';
import { collectAndTrim } from './idle-gc';
import { LISTEN_FD, serveOnFd, type ShimServer } from './server';
import { ShimService } from './service';
import type { TaskIdentity } from './task';

interface Args {
  namespace?: string;
  id?: string;
  bundle?: string;
}

function parseArgs(argv: string[]): Args {
  const out: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--(namespace|id|bundle)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`${a}: value required`);
    out[m[1] as keyof Args] = value;
  }
  out.namespace ??= process.env.BERTH_SHIM_NAMESPACE;
  out.id ??= process.env.BERTH_SHIM_ID;
  out.bundle ??= process.env.BERTH_SHIM_BUNDLE;
  return out;
}

async function main(): Promise<void> {
  const log = getLogger('shim').child({ shimPid: process.pid });
  // Survive the daemon: no terminal hangup, no broken pipe, no stray exception ends the shim.
  process.on('SIGHUP', () => {});
  process.on('SIGPIPE', () => {});
  process.on('uncaughtException', (err) => log.error('uncaught exception', { err: String(err), stack: err.stack }));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err: String(err) }));

  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    log.error('bad arguments', { err: String(err) });
    process.exit(2);
  }

  becomeSubreaper();
  const served: { server?: ShimServer } = {};
  const service: ShimService = new ShimService({
    log,
    onShutdown: () => void exit(0),
  });

  const exit = async (code: number): Promise<void> => {
    service.endStream();
    await service.members.closeQueues();
    await served.server?.close().catch(() => {});
    process.exit(code);
  };

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (service.hasLiveProcesses()) log.warn('signal ignored while processes run (use Shutdown now=true)', { signal: sig });
      else void exit(0);
    });
  }

  if (args.id || args.namespace || args.bundle) {
    if (!args.id || !args.namespace || !args.bundle) {
      log.error('--namespace, --id and --bundle go together');
      process.exit(2);
    }
    await service.bind({ id: args.id, namespace: args.namespace, bundle: args.bundle } satisfies TaskIdentity);
  }

  watchParent(service, exit, log);
  const idle = new IdleCollector({ collect: collectAndTrim });
  served.server = await serveOnFd(LISTEN_FD, idle.wrap(service.handlers()), (err) => log.error('listener error', { err: String(err) }));
  log.info('shim serving', { fd: LISTEN_FD, bound: Boolean(args.id) });
  // While idle (before Create arrives): load the default backend and the event payload types, so Create
  // does not pay for them. A request arriving meanwhile waits at most this one tick.
  setImmediate(() => {
    preload();
    idle.touch();
  });
}

/**
 * An idle shim (pre-started, or recycled after its task was deleted) belongs to the berthd that spawned it:
 * when that daemon is gone (our parent changed), nobody will ever bind it, so it exits instead of lingering.
 * A shim with a task never does this: it outlives berthd by design.
 */
function watchParent(service: ShimService, exit: (code: number) => Promise<void>, log: Logger): void {
  // The spawner names itself (berthd sets BERTH_SHIM_PARENT): a daemon that died while this process was still
  // starting would otherwise already be gone when ppid is first read, and the shim would wait for ever.
  const named = Number(process.env.BERTH_SHIM_PARENT);
  delete process.env.BERTH_SHIM_PARENT;
  const parent = Number.isInteger(named) && named > 0 ? named : process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent && service.isIdle()) {
      log.info('idle shim: its daemon is gone, exiting', { parent });
      clearInterval(timer);
      void exit(0);
    }
  }, 1000);
  timer.unref();
}

function preload(): void {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('./runtime/native');
    lookupType('containerd.events.TaskExit');
  } catch {
    // loaded again (and failing properly) when used
  }
}

main().catch((err) => {
  getLogger('shim').error('shim failed to start', { err: String(err), stack: (err as Error).stack });
  process.exit(1);
});
