/**
 * containerd.services.introspection.v1.Introspection: Server (the persistent UUID of this daemon's root) and
 * Plugins (every plugin berthd runs, under containerd's plugin type names, filterable by `type` and `id`
 * with containerd's filter syntax, as `ctr plugins ls` shows them).
 */
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import { checkMap, parseAll, type Adaptor } from '../filters';
import { unary, type GrpcServer } from '../server';

/** `containerd.services.introspection.v1.Plugin`. */
export interface PluginInfo {
  type: string;
  id: string;
  requires: string[];
  platforms: { os: string; architecture: string; variant: string }[];
  exports: Record<string, string>;
  capabilities: string[];
  init_err: null;
}

/** The filterable fields of a plugin, as containerd's adaptPlugin: `type`, `id`. */
export function pluginAdaptor(p: PluginInfo): Adaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case 'type':
        return p.type.length > 0 ? p.type : undefined;
      case 'id':
        return p.id.length > 0 ? p.id : undefined;
      case 'exports':
        return checkMap(fieldpath.slice(1), p.exports);
    }
    return undefined;
  };
}

export function registerIntrospectionService(server: GrpcServer, uuid: string, plugins: () => PluginInfo[]): void {
  server.addService(serviceDefinition(PROTO_FILES.introspection, 'containerd.services.introspection.v1.Introspection'), {
    Plugins: unary(async (req: { filters: string[] }) => {
      const filter = parseAll(req.filters ?? []);
      return { plugins: plugins().filter((p) => filter.match(pluginAdaptor(p))) };
    }),
    Server: unary(async () => ({ uuid })),
  });
}
