// Opens (or creates) the buffer database: durable pragmas, a corruption check, migrations.
// A corrupt or unreadable file is moved aside — kept for inspection, never deleted — and a fresh
// database is started; the caller records a state_reset event from what this returns.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isCorruption, SchemaTooNewError, sqliteCode } from './errors.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';

export type Db = Database.Database;

export const DB_FILE = 'buffer.db';
/** Quarantined databases kept at most; older ones are deleted so they cannot fill the disk. */
const QUARANTINE_KEEP = 3;

export interface Reset {
  reason: string;
  quarantinedPath: string;
}

export interface Opened {
  db: Db;
  file: string;
  /** Set when the previous database was moved aside. */
  reset?: Reset;
}

/** Files up to this size are quick_checked at open (under half a second); larger ones in steps while running. */
export const SYNC_CHECK_MAX_BYTES = 32e6;

export interface OpenOptions {
  /** Run SQLite's quick_check at open when the file is small enough (see SYNC_CHECK_MAX_BYTES). */
  check?: boolean;
  now?: () => number;
}

export function openDatabase(stateDir: string, opts: OpenOptions = {}): Opened {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, DB_FILE);
  const check = (opts.check ?? true) && fileSize(file) <= SYNC_CHECK_MAX_BYTES;
  try {
    return { db: openChecked(file, check), file };
  } catch (err) {
    if (err instanceof SchemaTooNewError || !isUnusable(err, file)) throw err;
    const quarantinedPath = quarantine(file, opts.now?.() ?? Date.now());
    const reason = describeUnusable(err);
    return { db: openChecked(file, false), file, reset: { reason, quarantinedPath } };
  }
}

/** Moves the current database aside and starts a fresh one (corruption found while running). */
export function replaceDatabase(stateDir: string, reason: string, now: () => number = Date.now): Opened {
  const file = path.join(stateDir, DB_FILE);
  const quarantinedPath = quarantine(file, now());
  return { db: openChecked(file, false), file, reset: { reason, quarantinedPath } };
}

/** Read-only access for `status` and `export`, safe while the daemon writes (WAL). */
export function openReadOnly(stateDir: string): Db {
  const db = new Database(path.join(stateDir, DB_FILE), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 2000');
  return db;
}

function openChecked(file: string, check: boolean): Db {
  const db = new Database(file);
  try {
    // auto_vacuum must be chosen before the first table exists; INCREMENTAL lets the file shrink
    // when buffer.max_size is lowered.
    if (db.pragma('page_count', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    // FULL: every commit is on disk before record() returns, so power loss keeps it.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('mmap_size = 0');
    db.pragma('cache_size = -8000'); // 8 MB of page cache: plenty, and bounded on a small board
    db.pragma('temp_store = MEMORY');
    if (check) {
      const result = db.pragma('quick_check', { simple: true });
      if (result !== 'ok') throw Object.assign(new Error(`quick_check: ${String(result)}`), { code: 'SQLITE_CORRUPT' });
    }
    migrate(db, file);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Db, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    const row = db.prepare(`SELECT value FROM state WHERE key = 'schema.compatible_with'`).get() as { value: string } | undefined;
    const compatibleWith = row ? Number(JSON.parse(row.value)) : current;
    if (compatibleWith > SCHEMA_VERSION) throw new SchemaTooNewError(file, current, SCHEMA_VERSION);
    return;
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare(`INSERT OR REPLACE INTO state (key, value) VALUES ('schema.compatible_with', ?)`).run(JSON.stringify(m.compatibleWith));
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function isUnusable(err: unknown, file: string): boolean {
  if (isCorruption(err)) return true;
  const code = sqliteCode(err);
  // A file that exists but cannot be opened as a database (unreadable, a folder, garbage).
  return (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR_READ' || code === 'SQLITE_IOERR_SHORT_READ') && fs.existsSync(file);
}

function describeUnusable(err: unknown): string {
  const code = sqliteCode(err);
  if (code === 'SQLITE_NOTADB') return 'the file is not a SQLite database';
  if (code === 'SQLITE_CANTOPEN') return 'the database file cannot be opened';
  return `the database is corrupt (${code ?? 'unknown'}: ${(err as Error).message})`;
}

/** Moves the database and its WAL/SHM aside; returns the new path of the main file. */
function quarantine(file: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  const target = `${file}.corrupt-${stamp}`;
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      fs.renameSync(file + suffix, target + suffix);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  pruneQuarantine(path.dirname(file));
  return target;
}

function pruneQuarantine(dir: string): void {
  const mains = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(`${DB_FILE}.corrupt-`) && !f.endsWith('-wal') && !f.endsWith('-shm'))
    .sort();
  for (const old of mains.slice(0, Math.max(0, mains.length - QUARANTINE_KEEP))) {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(dir, old + suffix), { force: true });
  }
}
