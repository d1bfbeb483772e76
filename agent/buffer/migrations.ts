// Versioned schema of the buffer database. A migration only ever adds; `compatibleWith` is the
// oldest schema version whose agent can still use a database at this version, so rolling back to
// the previous agent after an upgrade keeps working unless a migration says otherwise.
export interface Migration {
  version: number;
  compatibleWith: number;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    compatibleWith: 1,
    sql: `
      -- seq = priority * 2^44 + n (see priority.ts): the table is ordered by kind, then age, so the
      -- oldest documents of one kind sit on contiguous pages. Dropping them frees whole pages, and
      -- leasing or dropping walks one range of the primary key without another index.
      CREATE TABLE outbox (
        seq             INTEGER PRIMARY KEY,
        event_id        TEXT    NOT NULL,
        dataset         TEXT    NOT NULL,
        timestamp       TEXT    NOT NULL,                  -- the document's @timestamp (chooses its index)
        recorded_at     INTEGER NOT NULL,                  -- ms since epoch, booth clock
        bytes           INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        body            TEXT    NOT NULL
      );

      -- Per kind: documents queued, dead letters, and the last n handed out (never reused, so a
      -- leased seq always means the same row). Kept by triggers, so counts never need a scan.
      CREATE TABLE queue (
        priority INTEGER PRIMARY KEY,
        queued   INTEGER NOT NULL DEFAULT 0,
        dead     INTEGER NOT NULL DEFAULT 0,
        last_n   INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO queue (priority) VALUES (0), (1), (2), (3), (4);
      CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox BEGIN
        UPDATE queue SET queued = queued + 1 WHERE priority = NEW.seq / 17592186044416;
      END;
      CREATE TRIGGER outbox_deleted AFTER DELETE ON outbox BEGIN
        UPDATE queue SET queued = queued - 1 WHERE priority = OLD.seq / 17592186044416;
      END;

      CREATE TABLE dead_letters (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id    TEXT    NOT NULL,
        dataset     TEXT    NOT NULL,
        priority    INTEGER NOT NULL,
        timestamp   TEXT    NOT NULL,
        recorded_at INTEGER NOT NULL,
        failed_at   INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,
        status_code INTEGER,
        error_type  TEXT,
        reason      TEXT    NOT NULL,
        bytes       INTEGER NOT NULL,
        body        TEXT    NOT NULL
      );
      CREATE INDEX dead_letters_by_priority ON dead_letters (priority, seq);
      CREATE TRIGGER dead_inserted AFTER INSERT ON dead_letters BEGIN
        UPDATE queue SET dead = dead + 1 WHERE priority = NEW.priority;
      END;
      CREATE TRIGGER dead_deleted AFTER DELETE ON dead_letters BEGIN
        UPDATE queue SET dead = dead - 1 WHERE priority = OLD.priority;
      END;

      CREATE TABLE state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;

      -- One row per image file, keyed by its path below watch_dir: what happened to it.
      CREATE TABLE uploads (
        path            TEXT    PRIMARY KEY,
        booking_id      TEXT    NOT NULL,
        size            INTEGER NOT NULL,
        mtime_ms        INTEGER NOT NULL,
        status          TEXT    NOT NULL,                  -- pending | uploaded | rejected | failing
        attempts        INTEGER NOT NULL DEFAULT 0,
        http_status     INTEGER,
        last_error      TEXT,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        speed_mb_s      REAL,
        updated_at      INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX uploads_by_booking ON uploads (booking_id);

      CREATE TABLE bookings (
        id             TEXT    PRIMARY KEY,
        first_seen_at  INTEGER NOT NULL,
        finished_at    INTEGER,
        summarized_at  INTEGER,
        summary        TEXT
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    compatibleWith: 1,
    sql: `
      -- When the successful upload ran (wall clock, ms): a booking's duration spans restarts.
      ALTER TABLE uploads ADD COLUMN started_at INTEGER;
      ALTER TABLE uploads ADD COLUMN ended_at INTEGER;
      CREATE INDEX uploads_by_status ON uploads (status, next_attempt_at);
    `,
  },
  {
    version: 3,
    compatibleWith: 1,
    sql: `
      -- Today's uploads and the last one, for the heartbeat and status, without a scan of every file ever.
      CREATE INDEX uploads_by_end ON uploads (ended_at) WHERE status = 'uploaded';
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
