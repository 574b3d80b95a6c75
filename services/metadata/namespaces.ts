/**
 * Namespaces table, with containerd's metadata semantics (metadata/namespaces.go):
 * - a namespace exists once created explicitly or implicitly (first container or lease written in it);
 * - `labels` of an unknown namespace are empty, not an error (clients read them for defaults before any
 *   object exists);
 * - setting a label creates the namespace; an empty value removes the label;
 * - deleting refuses while containers remain (FailedPrecondition), leases go with the namespace.
 */
import { AlreadyExists, FailedPrecondition, NotFound } from '../../pkg/errdefs';
import { validateIdentifier } from '../../pkg/identifiers';
import type { SqliteDatabase } from './db';
import { validateLabels, withoutEmptyValues } from './labels';
import type { Labels, NamespaceRecord } from './types';

export class NamespaceStore {
  private readonly q;

  constructor(private readonly db: SqliteDatabase) {
    this.q = {
      get: db.prepare<[string], { labels: string }>('SELECT labels FROM namespaces WHERE name = ?'),
      list: db.prepare<[], { name: string; labels: string }>('SELECT name, labels FROM namespaces ORDER BY name'),
      insert: db.prepare<[string, string]>('INSERT INTO namespaces (name, labels) VALUES (?, ?)'),
      ensure: db.prepare<[string]>("INSERT OR IGNORE INTO namespaces (name, labels) VALUES (?, '{}')"),
      setLabels: db.prepare<[string, string]>(
        'INSERT INTO namespaces (name, labels) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET labels = excluded.labels',
      ),
      hasContainers: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM containers WHERE namespace = ? LIMIT 1'),
      delete: db.prepare<[string]>('DELETE FROM namespaces WHERE name = ?'),
    };
  }

  /** The namespace, or undefined when it was never created. */
  get(name: string): NamespaceRecord | undefined {
    const row = this.q.get.get(name);
    return row ? { name, labels: JSON.parse(row.labels) as Labels } : undefined;
  }

  exists(name: string): boolean {
    return this.q.get.get(name) !== undefined;
  }

  /** Labels of a namespace; empty when the namespace does not exist (as containerd). */
  labels(name: string): Labels {
    return this.get(name)?.labels ?? {};
  }

  list(): NamespaceRecord[] {
    return this.q.list.all().map((r) => ({ name: r.name, labels: JSON.parse(r.labels) as Labels }));
  }

  create(name: string, labels: Labels = {}): NamespaceRecord {
    validateIdentifier(name);
    validateLabels(labels, 'namespace.Labels');
    const stored = withoutEmptyValues(labels);
    this.db.transaction(() => {
      if (this.exists(name)) throw new AlreadyExists(`namespace "${name}": already exists`);
      this.q.insert.run(name, JSON.stringify(stored));
    })();
    return { name, labels: stored };
  }

  /** Creates the namespace if it does not exist yet (implicit creation on first write). */
  ensure(name: string): void {
    this.q.ensure.run(name);
  }

  /**
   * Sets labels: `replace` = the whole set (no field mask), otherwise only the given keys (an empty value
   * removes one). Creates the namespace when missing, as containerd does.
   */
  updateLabels(name: string, labels: Labels, keys?: readonly string[]): NamespaceRecord {
    validateIdentifier(name);
    return this.db.transaction(() => {
      let next: Labels;
      if (keys === undefined) {
        validateLabels(labels, 'namespace.Labels');
        next = withoutEmptyValues(labels);
      } else {
        next = { ...this.labels(name) };
        for (const k of keys) {
          const v = labels[k] ?? '';
          validateLabels({ [k]: v }, 'namespace.Labels');
          if (v === '') delete next[k];
          else next[k] = v;
        }
      }
      this.q.setLabels.run(name, JSON.stringify(next));
      return { name, labels: next };
    })();
  }

  delete(name: string): void {
    this.db.transaction(() => {
      if (!this.exists(name)) throw new NotFound(`namespace "${name}": not found`);
      if (this.q.hasContainers.get(name)) {
        throw new FailedPrecondition(`namespace "${name}" must be empty, but it still has containers: failed precondition`);
      }
      this.q.delete.run(name);
    })();
  }
}
