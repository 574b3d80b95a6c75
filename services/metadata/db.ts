/**
 * Opens berthd's SQLite database (`<root>/berth.db`) and brings its schema up to date, once per start.
 *
 * Durability: WAL journal with synchronous=NORMAL. Every write runs in a transaction; a daemon killed at any
 * instant (SIGKILL) leaves the database at the last committed transaction. The connection takes an exclusive
 * lock (locking_mode=EXCLUSIVE), so a second daemon pointed at the same root fails to open it instead of
 * sharing it.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FailedPrecondition } from '../../pkg/errdefs';

export type SqliteDatabase = Database.Database;

export const DB_FILE = 'berth.db';
const SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE namespaces (
  name   TEXT PRIMARY KEY,
  labels TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;

CREATE TABLE containers (
  namespace             TEXT NOT NULL REFERENCES namespaces(name),
  id                    TEXT NOT NULL,
  labels                TEXT NOT NULL DEFAULT '{}',
  image                 TEXT NOT NULL DEFAULT '',
  runtime_name          TEXT NOT NULL,
  runtime_options_type  TEXT,
  runtime_options_value BLOB,
  spec_type             TEXT,
  spec_value            BLOB,
  snapshotter           TEXT NOT NULL DEFAULT '',
  snapshot_key          TEXT NOT NULL DEFAULT '',
  extensions            TEXT NOT NULL DEFAULT '{}',
  created_s             INTEGER NOT NULL,
  created_ns            INTEGER NOT NULL,
  updated_s             INTEGER NOT NULL,
  updated_ns            INTEGER NOT NULL,
  PRIMARY KEY (namespace, id)
);

CREATE TABLE leases (
  namespace  TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
  id         TEXT NOT NULL,
  labels     TEXT NOT NULL DEFAULT '{}',
  created_s  INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  PRIMARY KEY (namespace, id)
) WITHOUT ROWID;

CREATE TABLE lease_resources (
  namespace   TEXT NOT NULL,
  lease_id    TEXT NOT NULL,
  type        TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  PRIMARY KEY (namespace, lease_id, type, resource_id),
  FOREIGN KEY (namespace, lease_id) REFERENCES leases(namespace, id) ON DELETE CASCADE
) WITHOUT ROWID;
`;

/** Opens (creating if needed) the database under `root`. */
export function openDatabase(root: string, opts: { exclusive?: boolean } = {}): SqliteDatabase {
  fs.mkdirSync(root, { recursive: true, mode: 0o711 });
  const file = path.join(root, DB_FILE);
  // 0600: the root directory is 0711 (traversable), and container specs may hold secrets. SQLite gives its
  // -wal and -shm files the database file's mode; an older, more open database is tightened here.
  fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(f, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const db = new Database(file);
  try {
    if (opts.exclusive !== false) db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      throw new FailedPrecondition(`metadata database ${file} is in use by another process`, { cause: err });
    }
    throw err;
  }
  return db;
}

function migrate(db: SqliteDatabase): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === SCHEMA_VERSION) return;
    if (version > SCHEMA_VERSION) {
      throw new FailedPrecondition(`metadata schema version ${version} is newer than this berthd (${SCHEMA_VERSION})`);
    }
    if (version === 0) db.exec(SCHEMA_V1);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
