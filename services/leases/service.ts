/**
 * containerd.services.leases.v1.Leases (services/leases/service.go): Create (given id or a random one),
 * Delete, List (filters over id and labels.*), AddResource / DeleteResource / ListResources. Inert until
 * images and snapshots exist: nothing is garbage-collected, `sync` on Delete has nothing to wait for.
 */
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import { randomLeaseId } from '../metadata/leases';
import type { MetadataStore } from '../metadata/store';
import type { Labels, LeaseResource } from '../metadata/types';
import { unary, type GrpcServer } from '../server';

export function registerLeasesService(server: GrpcServer, store: MetadataStore): void {
  server.addService(serviceDefinition(PROTO_FILES.leases, 'containerd.services.leases.v1.Leases'), {
    Create: unary(async (req: { id: string; labels: Labels }, ctx) => ({
      lease: store.leases.create(ctx.requireNamespace(), req.id || randomLeaseId(), req.labels ?? {}),
    })),
    Delete: unary(async (req: { id: string }, ctx) => {
      store.leases.delete(ctx.requireNamespace(), req.id);
      return {};
    }),
    List: unary(async (req: { filters: string[] }, ctx) => ({
      leases: store.leases.list(ctx.requireNamespace(), req.filters ?? []),
    })),
    AddResource: unary(async (req: { id: string; resource: LeaseResource | null }, ctx) => {
      store.leases.addResource(ctx.requireNamespace(), req.id, req.resource ?? { id: '', type: '' });
      return {};
    }),
    DeleteResource: unary(async (req: { id: string; resource: LeaseResource | null }, ctx) => {
      store.leases.deleteResource(ctx.requireNamespace(), req.id, req.resource ?? { id: '', type: '' });
      return {};
    }),
    ListResources: unary(async (req: { id: string }, ctx) => ({
      resources: store.leases.listResources(ctx.requireNamespace(), req.id),
    })),
  });
}
