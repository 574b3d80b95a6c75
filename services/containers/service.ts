/**
 * containerd.services.containers.v1.Containers over the metadata store (services/containers/local.go):
 * Get, List / ListStream (containerd filters over id, image, runtime.name, labels.*), Create, Update (field
 * mask), Delete. Publishes /containers/create, /containers/update, /containers/delete after each commit.
 * The spec is stored as sent (type URL + bytes): a malformed spec is only refused when a task is created.
 */
import { InvalidArgument } from '../../pkg/errdefs';
import { packAny } from '../../proto/any';
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import type { EventExchange } from '../events/exchange';
import type { MetadataStore } from '../metadata/store';
import type { ContainerRecord } from '../metadata/types';
import type { Logger } from '../../pkg/log';
import { serverStream, unary, type GrpcServer } from '../server';

export function registerContainersService(server: GrpcServer, store: MetadataStore, events: EventExchange, log: Logger): void {
  server.addService(serviceDefinition(PROTO_FILES.containers, 'containerd.services.containers.v1.Containers'), {
    Get: unary(async (req: { id: string }, ctx) => ({
      container: store.containers.get(ctx.requireNamespace(), req.id),
    })),

    List: unary(async (req: { filters: string[] }, ctx) => ({
      containers: store.containers.list(ctx.requireNamespace(), req.filters ?? []),
    })),

    ListStream: serverStream(async (req: { filters: string[] }, ctx, send) => {
      for (const container of store.containers.list(ctx.requireNamespace(), req.filters ?? [])) send({ container });
    }),

    Create: unary(async (req: { container: ContainerRecord | null }, ctx) => {
      const ns = ctx.requireNamespace();
      const created = store.containers.create(ns, req.container ?? ({} as ContainerRecord));
      log.debug('container created', { namespace: ns, id: created.id, runtime: created.runtime.name });
      events.publish(ns, '/containers/create', packAny('containerd.events.ContainerCreate', {
        id: created.id,
        image: created.image,
        runtime: { name: created.runtime.name, options: created.runtime.options },
      }));
      return { container: created };
    }),

    Update: unary(async (req: { container: ContainerRecord | null; update_mask: { paths: string[] } | null }, ctx) => {
      const ns = ctx.requireNamespace();
      if (!req.container || req.container.id === '') throw new InvalidArgument('Container.ID required');
      const updated = store.containers.update(ns, req.container, req.update_mask?.paths ?? []);
      log.debug('container updated', { namespace: ns, id: updated.id, paths: req.update_mask?.paths ?? [] });
      events.publish(ns, '/containers/update', packAny('containerd.events.ContainerUpdate', {
        id: updated.id,
        image: updated.image,
        labels: updated.labels,
        snapshot_key: updated.snapshot_key,
      }));
      return { container: updated };
    }),

    Delete: unary(async (req: { id: string }, ctx) => {
      const ns = ctx.requireNamespace();
      store.containers.delete(ns, req.id);
      log.debug('container deleted', { namespace: ns, id: req.id });
      events.publish(ns, '/containers/delete', packAny('containerd.events.ContainerDelete', { id: req.id }));
      return {};
    }),
  });
}
