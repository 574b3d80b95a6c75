/**
 * MetadataStore: berthd's metadata (namespaces, containers, leases, server UUID) in one SQLite database
 * under the root directory. Synchronous (better-sqlite3); every write is one transaction; statements are
 * prepared once at open. Use `transaction(fn)` to group several writes atomically (nested calls become
 * savepoints).
 *
 *   const store = MetadataStore.open('/var/lib/berth');
 *   store.containers.get('default', 'web1');            // ContainerRecord, or NotFound
 *   store.containers.list('default', ['labels.app==web']);
 *   store.close();
 */
import crypto from 'node:crypto';
import { openDatabase, type SqliteDatabase } from './db';
import { ContainerStore } from './containers';
import { LeaseStore } from './leases';
import { NamespaceStore } from './namespaces';

export class MetadataStore {
  readonly namespaces: NamespaceStore;
  readonly containers: ContainerStore;
  readonly leases: LeaseStore;
  /** Persistent server UUID, generated on the first start (Introspection.Server). */
  readonly uuid: string;
  private closed = false;

  private constructor(
    private readonly db: SqliteDatabase,
    readonly root: string,
  ) {
    this.namespaces = new NamespaceStore(db);
    this.containers = new ContainerStore(db, this.namespaces);
    this.leases = new LeaseStore(db, this.namespaces);
    this.uuid = this.loadUuid();
  }

  /** Opens (creating when needed) the store under `root`; fails when another process holds it. */
  static open(root: string, opts: { exclusive?: boolean } = {}): MetadataStore {
    return new MetadataStore(openDatabase(root, opts), root);
  }

  private loadUuid(): string {
    return this.db.transaction(() => {
      const row = this.db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'uuid'").get();
      if (row) return row.value;
      const uuid = crypto.randomUUID();
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('uuid', ?)").run(uuid);
      return uuid;
    })();
  }

  /** Runs `fn` in one transaction: all its writes commit together or none does. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** SQLite's own consistency check; 'ok' when sound. */
  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
