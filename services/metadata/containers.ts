/**
 * Containers table, with containerd's metadata semantics (metadata/containers.go):
 * - Create validates (id, extension keys, labels, runtime name, spec, snapshotter when a snapshot key is
 *   set), stamps created_at = updated_at, creates the namespace implicitly; duplicate → AlreadyExists.
 * - Update applies a field mask: `labels`, `labels.KEY`, `spec`, `extensions`, `extensions.KEY`, `image`,
 *   `snapshotkey`; any other path → InvalidArgument. Without a mask the same fields are replaced, and a
 *   different snapshotter or runtime name is refused (they are immutable).
 * - The spec and runtime options are stored as type URL + bytes, never parsed here.
 */
import { AlreadyExists, InvalidArgument, NotFound } from '../../pkg/errdefs';
import { validateIdentifier } from '../../pkg/identifiers';
import type { AnyMessage } from '../../proto/any';
import { parseAll } from '../filters';
import { checkMap, type Adaptor } from '../filters/filter';
import type { SqliteDatabase } from './db';
import { validateLabels, withoutEmptyValues } from './labels';
import type { NamespaceStore } from './namespaces';
import { nowTimestamp, type ContainerRecord, type Labels } from './types';

interface ContainerRow {
  id: string;
  labels: string;
  image: string;
  runtime_name: string;
  runtime_options_type: string | null;
  runtime_options_value: Buffer | null;
  spec_type: string | null;
  spec_value: Buffer | null;
  snapshotter: string;
  snapshot_key: string;
  extensions: string;
  created_s: number;
  created_ns: number;
  updated_s: number;
  updated_ns: number;
}

type RowParams = [
  string, string, string, string, string | null, Buffer | null, string | null, Buffer | null,
  string, string, string, number, number, number, number,
];

const COLUMNS =
  'id, labels, image, runtime_name, runtime_options_type, runtime_options_value, spec_type, spec_value, ' +
  'snapshotter, snapshot_key, extensions, created_s, created_ns, updated_s, updated_ns';

/** The fields a full-replace Update (no mask) may change. */
const REPLACE_PATHS = ['labels', 'spec', 'extensions', 'image', 'snapshotkey'];

function anyOf(type: string | null, value: Buffer | null): AnyMessage | null {
  return type === null ? null : { type_url: type, value: value ?? Buffer.alloc(0) };
}

function fromRow(r: ContainerRow): ContainerRecord {
  const ext = JSON.parse(r.extensions) as Record<string, { type_url: string; value: string }>;
  const extensions: Record<string, AnyMessage> = {};
  for (const [k, v] of Object.entries(ext)) extensions[k] = { type_url: v.type_url, value: Buffer.from(v.value, 'base64') };
  return {
    id: r.id,
    labels: JSON.parse(r.labels) as Labels,
    image: r.image,
    runtime: { name: r.runtime_name, options: anyOf(r.runtime_options_type, r.runtime_options_value) },
    spec: anyOf(r.spec_type, r.spec_value),
    snapshotter: r.snapshotter,
    snapshot_key: r.snapshot_key,
    created_at: { seconds: r.created_s, nanos: r.created_ns },
    updated_at: { seconds: r.updated_s, nanos: r.updated_ns },
    extensions,
  };
}

function toParams(ns: string, c: ContainerRecord): [string, ...RowParams] {
  const ext: Record<string, { type_url: string; value: string }> = {};
  for (const [k, v] of Object.entries(c.extensions)) {
    ext[k] = { type_url: v.type_url, value: Buffer.from(v.value ?? []).toString('base64') };
  }
  const opts = c.runtime.options;
  return [
    ns, c.id, JSON.stringify(c.labels), c.image, c.runtime.name,
    opts ? opts.type_url : null, opts ? Buffer.from(opts.value ?? []) : null,
    c.spec ? c.spec.type_url : null, c.spec ? Buffer.from(c.spec.value ?? []) : null,
    c.snapshotter, c.snapshot_key, JSON.stringify(ext),
    c.created_at.seconds, c.created_at.nanos, c.updated_at.seconds, c.updated_at.nanos,
  ];
}

function freezeRecord(c: ContainerRecord): ContainerRecord {
  Object.freeze(c.labels);
  Object.freeze(c.runtime);
  Object.freeze(c.extensions);
  Object.freeze(c.created_at);
  Object.freeze(c.updated_at);
  return Object.freeze(c);
}

/** A container as the filter engine sees it: id, image, runtime.name, labels.* (containerd's adaptContainer). */
export function containerAdaptor(c: ContainerRecord): Adaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case 'id':
        return c.id.length > 0 ? c.id : undefined;
      case 'runtime':
        if (fieldpath.length <= 1 || fieldpath[1] !== 'name') return undefined;
        return c.runtime.name.length > 0 ? c.runtime.name : undefined;
      case 'image':
        return c.image.length > 0 ? c.image : undefined;
      case 'labels':
        return Object.keys(c.labels).length > 0 ? checkMap(fieldpath.slice(1), c.labels) : undefined;
    }
    return undefined;
  };
}

export function validateContainer(c: ContainerRecord): void {
  try {
    validateIdentifier(c.id);
  } catch (err) {
    throw new InvalidArgument(`container.ID: ${(err as Error).message}: invalid argument`, { cause: err });
  }
  for (const k of Object.keys(c.extensions)) {
    if (k === '') throw new InvalidArgument('container.Extension keys must not be zero-length: invalid argument');
  }
  validateLabels(c.labels, 'containers.Labels');
  if (c.runtime.name === '') throw new InvalidArgument('container.Runtime.Name must be set: invalid argument');
  if (c.spec === null) throw new InvalidArgument('container.Spec must be set: invalid argument');
  if (c.snapshot_key !== '' && c.snapshotter === '') {
    throw new InvalidArgument('container.Snapshotter must be set if container.SnapshotKey is set: invalid argument');
  }
}

/** Fills the defaults of a partial record coming from the wire. */
export function normalizeContainer(c: Partial<ContainerRecord> & { id?: string }): ContainerRecord {
  return {
    id: c.id ?? '',
    labels: { ...(c.labels ?? {}) },
    image: c.image ?? '',
    runtime: { name: c.runtime?.name ?? '', options: c.runtime?.options ?? null },
    spec: c.spec ?? null,
    snapshotter: c.snapshotter ?? '',
    snapshot_key: c.snapshot_key ?? '',
    created_at: c.created_at ?? { seconds: 0, nanos: 0 },
    updated_at: c.updated_at ?? { seconds: 0, nanos: 0 },
    extensions: { ...(c.extensions ?? {}) },
  };
}

/** A namespace's containers as last read from the database, in id order. */
interface NamespaceCache {
  byId: Map<string, ContainerRecord>;
  sorted: ContainerRecord[];
}

/**
 * Reads are served from a per-namespace cache filled on the first List and dropped on every write to that
 * namespace (berthd is the only process using the database: it holds it exclusively). Records handed out
 * are shared and frozen: copy before changing one.
 */
export class ContainerStore {
  private readonly q;
  private readonly cache = new Map<string, NamespaceCache>();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly namespaces: NamespaceStore,
  ) {
    this.q = {
      get: db.prepare<[string, string], ContainerRow>(`SELECT ${COLUMNS} FROM containers WHERE namespace = ? AND id = ?`),
      list: db.prepare<[string], ContainerRow>(`SELECT ${COLUMNS} FROM containers WHERE namespace = ? ORDER BY id`),
      insert: db.prepare<[string, ...RowParams]>(
        `INSERT INTO containers (namespace, ${COLUMNS}) VALUES (${new Array(16).fill('?').join(', ')})`,
      ),
      // Same parameters as insert: an upsert that only ever takes the update branch here.
      update: db.prepare<[string, ...RowParams]>(
        `INSERT INTO containers (namespace, ${COLUMNS}) VALUES (${new Array(16).fill('?').join(', ')})
         ON CONFLICT (namespace, id) DO UPDATE SET labels = excluded.labels, image = excluded.image,
           runtime_name = excluded.runtime_name, runtime_options_type = excluded.runtime_options_type,
           runtime_options_value = excluded.runtime_options_value, spec_type = excluded.spec_type,
           spec_value = excluded.spec_value, snapshotter = excluded.snapshotter, snapshot_key = excluded.snapshot_key,
           extensions = excluded.extensions, created_s = excluded.created_s, created_ns = excluded.created_ns,
           updated_s = excluded.updated_s, updated_ns = excluded.updated_ns`,
      ),
      delete: db.prepare<[string, string]>('DELETE FROM containers WHERE namespace = ? AND id = ?'),
    };
  }

  /** The container; NotFound `container "id" in namespace "ns": not found`. */
  get(ns: string, id: string): ContainerRecord {
    const cached = this.cache.get(ns);
    const found = cached ? cached.byId.get(id) : this.readOne(ns, id);
    if (!found) throw new NotFound(`container "${id}" in namespace "${ns}": not found`);
    return found;
  }

  /** Containers of a namespace matching any of the filters (containerd syntax), ordered by id. */
  list(ns: string, filters: readonly string[] = []): ContainerRecord[] {
    const filter = parseAll(filters);
    const all = this.namespaceCache(ns).sorted;
    return filters.length === 0 ? all.slice() : all.filter((c) => filter.match(containerAdaptor(c)));
  }

  private readOne(ns: string, id: string): ContainerRecord | undefined {
    const row = this.q.get.get(ns, id);
    return row ? freezeRecord(fromRow(row)) : undefined;
  }

  private namespaceCache(ns: string): NamespaceCache {
    const cached = this.cache.get(ns);
    if (cached) return cached;
    const sorted = this.q.list.all(ns).map((r) => freezeRecord(fromRow(r)));
    const entry = { byId: new Map(sorted.map((c) => [c.id, c])), sorted };
    // Inside a caller's transaction the rows may still roll back: do not remember them.
    if (!this.db.inTransaction) this.cache.set(ns, entry);
    return entry;
  }

  /** Forgets the cached containers of `ns` (every write calls this). */
  invalidate(ns: string): void {
    this.cache.delete(ns);
  }

  create(ns: string, input: ContainerRecord): ContainerRecord {
    const c = normalizeContainer(input);
    try {
      validateContainer(c);
    } catch (err) {
      throw new InvalidArgument(`create container failed validation: ${(err as Error).message}`, { cause: err });
    }
    c.labels = withoutEmptyValues(c.labels);
    c.created_at = nowTimestamp();
    c.updated_at = c.created_at;
    this.invalidate(ns);
    this.db.transaction(() => {
      this.namespaces.ensure(ns);
      if (this.q.get.get(ns, c.id)) throw new AlreadyExists(`container "${c.id}": already exists`);
      this.q.insert.run(...toParams(ns, c));
    })();
    return freezeRecord(c);
  }

  /**
   * Applies `fieldPaths` of `input` to the stored container (all replaceable fields when empty), as
   * containerd's containerStore.Update.
   */
  update(ns: string, input: ContainerRecord, fieldPaths: readonly string[] = []): ContainerRecord {
    const c = normalizeContainer(input);
    if (c.id === '') throw new InvalidArgument('must specify a container id: invalid argument');
    this.invalidate(ns);
    return this.db.transaction(() => {
      const row = this.q.get.get(ns, c.id);
      if (!row) throw new NotFound(`container "${c.id}": not found`);
      const updated = fromRow(row);
      let paths = fieldPaths;
      if (paths.length === 0) {
        paths = REPLACE_PATHS;
        if (updated.snapshotter !== c.snapshotter) {
          throw new InvalidArgument('container.Snapshotter field is immutable: invalid argument');
        }
        if (updated.runtime.name !== c.runtime.name) {
          throw new InvalidArgument('container.Runtime.Name field is immutable: invalid argument');
        }
      }
      for (const p of paths) {
        if (p.startsWith('labels.')) {
          const key = p.slice('labels.'.length);
          updated.labels[key] = c.labels[key] ?? '';
          continue;
        }
        if (p.startsWith('extensions.')) {
          const key = p.slice('extensions.'.length);
          const ext = c.extensions[key];
          if (ext) updated.extensions[key] = ext;
          else delete updated.extensions[key];
          continue;
        }
        switch (p) {
          case 'labels':
            updated.labels = c.labels;
            break;
          case 'spec':
            updated.spec = c.spec;
            break;
          case 'extensions':
            updated.extensions = c.extensions;
            break;
          case 'image':
            updated.image = c.image;
            break;
          case 'snapshotkey':
            updated.snapshot_key = c.snapshot_key;
            break;
          default:
            throw new InvalidArgument(`cannot update "${p}" field on "${c.id}": invalid argument`);
        }
      }
      try {
        validateContainer(updated);
      } catch (err) {
        throw new InvalidArgument(`update failed validation: ${(err as Error).message}`, { cause: err });
      }
      updated.labels = withoutEmptyValues(updated.labels);
      updated.updated_at = nowTimestamp();
      this.q.update.run(...toParams(ns, updated));
      return freezeRecord(updated);
    })();
  }

  delete(ns: string, id: string): void {
    this.invalidate(ns);
    const { changes } = this.q.delete.run(ns, id);
    if (changes === 0) {
      if (!this.namespaces.exists(ns)) throw new NotFound(`cannot delete container "${id}" in namespace "${ns}": not found`);
      throw new NotFound(`container ${id}: not found`);
    }
  }
}
