/**
 * Leases table, with containerd's metadata semantics (metadata/leases.go). Leases are inert until images,
 * content and snapshots exist: they are recorded, listed, filtered and deleted, and hold resource
 * references (`content` digests, `ingests` refs, `snapshots/<snapshotter>` keys) that nothing collects yet.
 * The `containerd.io/gc.expire` label is stored like any other label and not acted upon.
 */
import crypto from 'node:crypto';
import { AlreadyExists, InvalidArgument, NotFound, Unimplemented } from '../../pkg/errdefs';
import { parseAll } from '../filters';
import { checkMap, type Adaptor } from '../filters/filter';
import type { SqliteDatabase } from './db';
import { withoutEmptyValues } from './labels';
import type { NamespaceStore } from './namespaces';
import { nowTimestamp, type Labels, type LeaseRecord, type LeaseResource } from './types';

interface LeaseRow {
  id: string;
  labels: string;
  created_s: number;
  created_ns: number;
}

const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const digestHexLength: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** containerd's leases.WithRandomID: `<nanoseconds of now>-<4 chars of base64url>`. */
export function randomLeaseId(): string {
  const ns = Number(process.hrtime.bigint() % 1_000_000_000n);
  return `${ns}-${crypto.randomBytes(3).toString('base64url')}`;
}

export function leaseAdaptor(l: LeaseRecord): Adaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case 'id':
        return l.id.length > 0 ? l.id : undefined;
      case 'labels':
        return Object.keys(l.labels).length > 0 ? checkMap(fieldpath.slice(1), l.labels) : undefined;
    }
    return undefined;
  };
}

/** Validates a resource reference and returns its canonical type and id (containerd's parseLeaseResource). */
function parseResource(r: LeaseResource): { type: string; id: string } {
  const keys = r.type.split('/');
  switch (keys[0]) {
    case 'content':
    case 'ingests':
      if (keys.length !== 1) throw new InvalidArgument(`invalid resource type ${r.type}: invalid argument`);
      if (keys[0] === 'content') {
        const [alg, hex] = r.id.split(':');
        const want = digestHexLength[alg ?? ''];
        if (!digestRe.test(r.id) || (want !== undefined && !/^[a-f0-9]+$/.test(hex ?? '')) || (want !== undefined && hex!.length !== want)) {
          throw new InvalidArgument(`invalid content resource id ${r.id}: invalid checksum digest format: invalid argument`);
        }
      }
      return { type: r.type, id: r.id };
    case 'snapshots':
      if (keys.length !== 2) throw new InvalidArgument(`invalid snapshot resource type ${r.type}: invalid argument`);
      return { type: r.type, id: r.id };
    default:
      throw new Unimplemented(`resource type ${r.type} not supported yet: not implemented`);
  }
}

export class LeaseStore {
  private readonly q;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly namespaces: NamespaceStore,
  ) {
    this.q = {
      get: db.prepare<[string, string], LeaseRow>('SELECT id, labels, created_s, created_ns FROM leases WHERE namespace = ? AND id = ?'),
      list: db.prepare<[string], LeaseRow>('SELECT id, labels, created_s, created_ns FROM leases WHERE namespace = ? ORDER BY id'),
      insert: db.prepare<[string, string, string, number, number]>(
        'INSERT INTO leases (namespace, id, labels, created_s, created_ns) VALUES (?, ?, ?, ?, ?)',
      ),
      delete: db.prepare<[string, string]>('DELETE FROM leases WHERE namespace = ? AND id = ?'),
      addResource: db.prepare<[string, string, string, string]>(
        'INSERT OR IGNORE INTO lease_resources (namespace, lease_id, type, resource_id) VALUES (?, ?, ?, ?)',
      ),
      deleteResource: db.prepare<[string, string, string, string]>(
        'DELETE FROM lease_resources WHERE namespace = ? AND lease_id = ? AND type = ? AND resource_id = ?',
      ),
      listResources: db.prepare<[string, string], { type: string; resource_id: string }>(
        'SELECT type, resource_id FROM lease_resources WHERE namespace = ? AND lease_id = ? ORDER BY type, resource_id',
      ),
    };
  }

  create(ns: string, id: string, labels: Labels = {}): LeaseRecord {
    if (id === '') throw new InvalidArgument('lease id must be provided: invalid argument');
    const lease: LeaseRecord = { id, labels: withoutEmptyValues(labels), created_at: nowTimestamp() };
    this.db.transaction(() => {
      this.namespaces.ensure(ns);
      if (this.q.get.get(ns, id)) throw new AlreadyExists(`lease "${id}": already exists`);
      this.q.insert.run(ns, id, JSON.stringify(lease.labels), lease.created_at.seconds, lease.created_at.nanos);
    })();
    return lease;
  }

  get(ns: string, id: string): LeaseRecord {
    const row = this.q.get.get(ns, id);
    if (!row) throw new NotFound(`lease "${id}": not found`);
    return fromRow(row);
  }

  list(ns: string, filters: readonly string[] = []): LeaseRecord[] {
    const filter = parseAll(filters);
    return this.q.list.all(ns).map(fromRow).filter((l) => filters.length === 0 || filter.match(leaseAdaptor(l)));
  }

  delete(ns: string, id: string): void {
    if (this.q.delete.run(ns, id).changes === 0) throw new NotFound(`lease "${id}": not found`);
  }

  addResource(ns: string, leaseId: string, r: LeaseResource): void {
    this.db.transaction(() => {
      if (!this.q.get.get(ns, leaseId)) throw new NotFound(`lease "${leaseId}": not found`);
      const { type, id } = parseResource(r);
      this.q.addResource.run(ns, leaseId, type, id);
    })();
  }

  deleteResource(ns: string, leaseId: string, r: LeaseResource): void {
    this.db.transaction(() => {
      if (!this.q.get.get(ns, leaseId)) throw new NotFound(`lease "${leaseId}": not found`);
      const { type, id } = parseResource(r);
      this.q.deleteResource.run(ns, leaseId, type, id);
    })();
  }

  listResources(ns: string, leaseId: string): LeaseResource[] {
    if (!this.q.get.get(ns, leaseId)) throw new NotFound(`lease "${leaseId}": not found`);
    return this.q.listResources.all(ns, leaseId).map((r) => ({ id: r.resource_id, type: r.type }));
  }
}

function fromRow(r: LeaseRow): LeaseRecord {
  return { id: r.id, labels: JSON.parse(r.labels) as Labels, created_at: { seconds: r.created_s, nanos: r.created_ns } };
}
