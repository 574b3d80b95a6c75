/**
 * containerd.services.namespaces.v1.Namespaces, as containerd's services/namespaces/local.go:
 * - Get of a namespace never created answers its name with no labels (clients read labels first);
 * - Update with mask paths `labels.KEY` sets (empty value removes) single labels, `labels` or no mask
 *   replaces them all; Update creates the namespace when missing; other paths are InvalidArgument;
 * - Delete refuses a namespace that still has containers (FailedPrecondition), unknown → NotFound.
 * Publishes /namespaces/create and /namespaces/update in the caller's namespace (as containerd; the
 * namespace's own name when the caller sent none), /namespaces/delete in the deleted namespace.
 */
import { InvalidArgument } from '../../pkg/errdefs';
import { isValidIdentifier } from '../../pkg/identifiers';
import { packAny } from '../../proto/any';
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import type { EventExchange } from '../events/exchange';
import type { MetadataStore } from '../metadata/store';
import type { Labels } from '../metadata/types';
import type { Logger } from '../../pkg/log';
import { unary, type GrpcServer } from '../server';

interface NamespaceMsg {
  name: string;
  labels: Labels;
}

/** containerd publishes namespace events in the namespace of the request. */
function eventNamespace(caller: string | undefined, name: string): string {
  return caller !== undefined && isValidIdentifier(caller) ? caller : name;
}

export function registerNamespacesService(server: GrpcServer, store: MetadataStore, events: EventExchange, log: Logger): void {
  server.addService(serviceDefinition(PROTO_FILES.namespaces, 'containerd.services.namespaces.v1.Namespaces'), {
    Get: unary(async (req: { name: string }) => ({
      namespace: { name: req.name, labels: store.namespaces.labels(req.name) },
    })),

    List: unary(async () => ({ namespaces: store.namespaces.list() })),

    Create: unary(async (req: { namespace: NamespaceMsg | null }, ctx) => {
      const ns = req.namespace ?? { name: '', labels: {} };
      const created = store.namespaces.create(ns.name, ns.labels ?? {});
      log.debug('namespace created', { namespace: created.name });
      events.publish(eventNamespace(ctx.namespace, created.name), '/namespaces/create', packAny('containerd.events.NamespaceCreate', created));
      return { namespace: { name: ns.name, labels: ns.labels ?? {} } };
    }),

    Update: unary(async (req: { namespace: NamespaceMsg | null; update_mask: { paths: string[] } | null }, ctx) => {
      const ns = req.namespace ?? { name: '', labels: {} };
      const paths = req.update_mask?.paths ?? [];
      let keys: string[] | undefined;
      if (paths.length > 0 && !paths.includes('labels')) {
        keys = paths.map((p) => {
          if (!p.startsWith('labels.')) throw new InvalidArgument(`cannot update "${p}" field`);
          return p.slice('labels.'.length);
        });
      } else if (paths.some((p) => p !== 'labels' && !p.startsWith('labels.'))) {
        throw new InvalidArgument(`cannot update "${paths.find((p) => p !== 'labels' && !p.startsWith('labels.'))}" field`);
      }
      const updated = store.namespaces.updateLabels(ns.name, ns.labels ?? {}, keys);
      events.publish(eventNamespace(ctx.namespace, updated.name), '/namespaces/update', packAny('containerd.events.NamespaceUpdate', {
        name: ns.name,
        labels: ns.labels ?? {},
      }));
      return { namespace: updated };
    }),

    Delete: unary(async (req: { name: string }) => {
      store.namespaces.delete(req.name);
      log.debug('namespace deleted', { namespace: req.name });
      events.publish(req.name, '/namespaces/delete', packAny('containerd.events.NamespaceDelete', { name: req.name }));
      return {};
    }),
  });
}
