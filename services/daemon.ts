/**
 * The composition root of berthd: opens the metadata store, creates the event exchange and the gRPC server,
 * registers every plugin (the built-in metadata services, then the tasks plugin and any extra ones), starts
 * them, and listens on the unix socket. `stop()` shuts down in reverse: subscriptions end, the server stops
 * accepting and lets running calls finish briefly, plugins stop, the store closes, the socket goes.
 *
 *   const daemon = await startDaemon(loadConfig({ address: '/tmp/b.sock', root: '/tmp/root', state: '/tmp/state' }));
 *   ...
 *   await daemon.stop();
 */
import fs from 'node:fs';
import { Cleanup } from '../pkg/cleanup';
import { getLogger, setLogLevel, type Logger } from '../pkg/log';
import type { BerthdConfig } from './config';
import { EventExchange } from './events/exchange';
import type { PluginInfo } from './introspection/service';
import { MetadataStore } from './metadata/store';
import { builtinPlugins, describePlugins } from './plugins';
import { GrpcServer } from './server';
import { prepareSocketPath } from './socket';
import { tasksPlugin } from './tasks/plugin';

export interface DaemonContext {
  config: BerthdConfig;
  store: MetadataStore;
  events: EventExchange;
  log: Logger;
}

export interface DaemonPlugin {
  /** containerd's plugin id, e.g. 'tasks'. */
  name: string;
  /** containerd's plugin type, e.g. 'io.containerd.grpc.v1'. */
  type: string;
  /** Adds the plugin's gRPC services (called once, before the socket listens). */
  register(server: GrpcServer, ctx: DaemonContext): void;
  /** Runs after every plugin registered and before the socket listens (e.g. reconnect to shims). */
  start?(): Promise<void>;
  /** Runs at shutdown, after the server stopped serving, in reverse order of registration. */
  stop?(): Promise<void>;
}

export interface Daemon {
  address: string;
  ctx: DaemonContext;
  server: GrpcServer;
  /** What Introspection.Plugins reports. */
  plugins(): PluginInfo[];
  /** Graceful shutdown; idempotent. */
  stop(): Promise<void>;
}

/** How long running calls may go on once shutdown begins. */
export const SHUTDOWN_GRACE_MS = 2000;

/** Plugins beyond the metadata services, compiled in (the tasks plugin is added here). */
function compiledInPlugins(): DaemonPlugin[] {
  return [tasksPlugin()];
}

export async function startDaemon(config: BerthdConfig, extraPlugins: DaemonPlugin[] = []): Promise<Daemon> {
  setLogLevel(config.logLevel);
  const log = getLogger('berthd');
  const undo = new Cleanup();
  try {
    await prepareSocketPath(config.address, log);
    fs.mkdirSync(config.root, { recursive: true, mode: 0o711 });
    fs.mkdirSync(config.state, { recursive: true, mode: 0o711 });
    const store = MetadataStore.open(config.root);
    undo.push(() => store.close());
    const events = new EventExchange(log.child({ component: 'events' }));
    undo.push(() => events.close());
    const ctx: DaemonContext = { config, store, events, log };

    let infos: PluginInfo[] = [];
    const plugins = [...builtinPlugins(() => infos), ...compiledInPlugins(), ...extraPlugins];
    infos = describePlugins(plugins, ctx);

    const server = new GrpcServer({
      maxRecvMessageSize: config.grpc.maxRecvMessageSize,
      maxSendMessageSize: config.grpc.maxSendMessageSize,
      log,
    });
    for (const p of plugins) p.register(server, ctx);
    const started: DaemonPlugin[] = [];
    undo.push(async () => {
      for (const p of started.reverse()) await p.stop?.();
    });
    for (const p of plugins) {
      if (p.start) await p.start();
      started.push(p);
    }
    await server.listen(config.address, { uid: config.grpc.uid, gid: config.grpc.gid });
    undo.push(() => fs.rmSync(config.address, { force: true }));
    undo.push(() => server.server.forceShutdown());
    undo.release();
    log.info('serving', {
      address: config.address,
      root: config.root,
      state: config.state,
      uuid: store.uuid,
      startupMs: Math.round(process.uptime() * 1000),
    });

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        log.info('shutting down');
        events.close();
        await server.shutdown(SHUTDOWN_GRACE_MS);
        for (const p of started.reverse()) {
          try {
            await p.stop?.();
          } catch (err) {
            log.error('plugin stop failed', { plugin: p.name, error: (err as Error).message });
          }
        }
        store.close();
        fs.rmSync(config.address, { force: true });
        log.info('stopped');
      })());
    return { address: config.address, ctx, server, plugins: () => infos, stop };
  } catch (err) {
    await undo.run();
    throw err;
  }
}
