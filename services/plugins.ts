/**
 * The built-in plugins of berthd and how every plugin is described to Introspection.Plugins, with
 * containerd's plugin type names (`io.containerd.grpc.v1` for gRPC services, `io.containerd.event.v1`,
 * `io.containerd.metadata.v1`, `io.containerd.runtime.v2`).
 */
import type { DaemonContext, DaemonPlugin } from './daemon';
import { registerContainersService } from './containers/service';
import { registerEventsService } from './events/service';
import { registerHealthService } from './health/service';
import { registerIntrospectionService, type PluginInfo } from './introspection/service';
import { registerLeasesService } from './leases/service';
import { registerNamespacesService } from './namespaces/service';
import { registerVersionService } from './version/service';

export const GRPC_PLUGIN = 'io.containerd.grpc.v1';
export const EVENT_PLUGIN = 'io.containerd.event.v1';
export const METADATA_PLUGIN = 'io.containerd.metadata.v1';
export const RUNTIME_PLUGIN = 'io.containerd.runtime.v2';

/** The gRPC services berthd always serves; `plugins` lists every plugin for Introspection. */
export function builtinPlugins(plugins: () => PluginInfo[]): DaemonPlugin[] {
  return [
    { name: 'version', type: GRPC_PLUGIN, register: (s) => registerVersionService(s) },
    { name: 'introspection', type: GRPC_PLUGIN, register: (s, ctx) => registerIntrospectionService(s, ctx.store.uuid, plugins) },
    { name: 'namespaces', type: GRPC_PLUGIN, register: (s, ctx) => registerNamespacesService(s, ctx.store, ctx.events, ctx.log) },
    { name: 'containers', type: GRPC_PLUGIN, register: (s, ctx) => registerContainersService(s, ctx.store, ctx.events, ctx.log) },
    { name: 'events', type: GRPC_PLUGIN, register: (s, ctx) => registerEventsService(s, ctx.events) },
    { name: 'leases', type: GRPC_PLUGIN, register: (s, ctx) => registerLeasesService(s, ctx.store) },
    { name: 'healthcheck', type: GRPC_PLUGIN, register: (s) => registerHealthService(s) },
  ];
}

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

function info(type: string, id: string, extra: Partial<PluginInfo> = {}): PluginInfo {
  return { type, id, requires: [], platforms: [], exports: {}, capabilities: [], init_err: null, ...extra };
}

/** What Introspection.Plugins reports for a daemon running `plugins`. */
export function describePlugins(plugins: readonly DaemonPlugin[], ctx: DaemonContext): PluginInfo[] {
  const out: PluginInfo[] = [
    info(EVENT_PLUGIN, 'exchange'),
    info(METADATA_PLUGIN, 'sqlite', { requires: [EVENT_PLUGIN], exports: { root: ctx.config.root } }),
  ];
  if (plugins.some((p) => p.name === 'tasks')) {
    out.push(info(RUNTIME_PLUGIN, 'task', {
      requires: [EVENT_PLUGIN, METADATA_PLUGIN],
      platforms: [{ os: 'linux', architecture: goArch[process.arch] ?? process.arch, variant: '' }],
      exports: { root: ctx.config.root, state: ctx.config.state },
    }));
  }
  for (const p of plugins) {
    const requires = p.type === GRPC_PLUGIN && p.name !== 'version' && p.name !== 'introspection' ? [METADATA_PLUGIN, EVENT_PLUGIN] : [];
    out.push(info(p.type, p.name, { requires }));
  }
  return out;
}
