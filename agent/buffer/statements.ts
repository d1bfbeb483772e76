// Every SQL statement the buffer runs, prepared once per database, and the conversions between
// rows and the buffer's shapes.
import type { BoothDocument, Dataset } from '../../shared/documents/schema.ts';
import type { Db } from './open.ts';
import { PRIORITY, seqRange } from './priority.ts';
import type { UploadRow } from './types.ts';

export type Statements = ReturnType<typeof prepare>;

/** An upload row as the putUpload statement's parameters. */
export function uploadParams(u: UploadRow, updatedAt: number): Record<string, string | number | null> {
  return {
    path: u.path,
    booking_id: u.bookingId,
    size: u.size,
    mtime_ms: u.mtimeMs,
    status: u.status,
    attempts: u.attempts,
    http_status: u.httpStatus ?? null,
    last_error: u.lastError ?? null,
    next_attempt_at: u.nextAttemptAt ?? 0,
    speed_mb_s: u.speedMbS ?? null,
    started_at: u.startedAt ?? null,
    ended_at: u.endedAt ?? null,
    updated_at: updatedAt,
  };
}

/**
 * The next numbers of each kind for documents of these priorities, in their order — claimed in one
 * step per kind inside the caller's write transaction, so a second process recording at the same
 * time (booth-agent record) gets the ones after.
 */
export function claimSeqs(stmts: Statements, priorities: readonly number[]): number[] {
  const counts = new Map<number, number>();
  for (const p of priorities) counts.set(p, (counts.get(p) ?? 0) + 1);
  const next = new Map<number, number>();
  for (const [priority, n] of counts) {
    const { last_n } = stmts.claimSeqs.get(n, priority) as { last_n: number };
    next.set(priority, seqRange(priority)[0] + last_n - n + 1);
  }
  return priorities.map((p) => {
    const seq = next.get(p)!;
    next.set(p, seq + 1);
    return seq;
  });
}

export interface Row {
  eventId: string;
  dataset: Dataset;
  priority: number;
  timestamp: string;
  bytes: number;
  body: string;
}

export function toUploadRow(r: Record<string, unknown>): UploadRow {
  return {
    path: r['path'] as string,
    bookingId: r['booking_id'] as string,
    size: r['size'] as number,
    mtimeMs: r['mtime_ms'] as number,
    status: r['status'] as UploadRow['status'],
    attempts: r['attempts'] as number,
    httpStatus: r['http_status'] as number | null,
    lastError: r['last_error'] as string | null,
    nextAttemptAt: r['next_attempt_at'] as number,
    speedMbS: r['speed_mb_s'] as number | null,
    startedAt: r['started_at'] as number | null,
    endedAt: r['ended_at'] as number | null,
  };
}

export function toRow(doc: BoothDocument): Row {
  const body = JSON.stringify(doc);
  const dataset = doc.event.dataset;
  const priority = PRIORITY[dataset];
  if (priority === undefined) throw new Error(`cannot record a document of unknown dataset ${String(dataset)}`);
  return { eventId: doc.event.id, dataset, priority, timestamp: doc['@timestamp'], bytes: Buffer.byteLength(body), body };
}

export function prepare(db: Db) {
  const notLeased = 'seq NOT IN (SELECT value FROM json_each(?))';
  // "seq >= ? AND seq < ?" is one kind's range of the primary key (see priority.ts).
  const ofKind = 'seq >= ? AND seq < ?';
  return {
    claimSeqs: db.prepare(`UPDATE queue SET last_n = last_n + ? WHERE priority = ? RETURNING last_n`),
    skipSeqsTo: db.prepare(`UPDATE queue SET last_n = max(last_n, ?) WHERE priority = ?`),
    insertDead: db.prepare(
      `INSERT INTO dead_letters (event_id, dataset, priority, timestamp, recorded_at, failed_at, attempts, status_code, error_type, reason, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    uploadedFiles: db.prepare(`SELECT path, booking_id, size, mtime_ms, ended_at, speed_mb_s FROM uploads WHERE status = 'uploaded'`),
    summarizedBookings: db.prepare(`SELECT id, first_seen_at, finished_at, summarized_at FROM bookings WHERE summarized_at IS NOT NULL`),
    insert: db.prepare(`INSERT INTO outbox (seq, event_id, dataset, timestamp, recorded_at, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    deleteUnleasedHeartbeats: db.prepare(`DELETE FROM outbox WHERE ${ofKind} AND ${notLeased}`),
    deleteOlderHeartbeats: db.prepare(`DELETE FROM outbox WHERE ${ofKind} AND ${notLeased} AND seq < (SELECT max(seq) FROM outbox WHERE ${ofKind})`),
    // A lease (outbox.ts): the oldest ready documents of one stretch of seqs [from, to], as one row —
    // the facts as JSON arrays and the bodies as one blob, each filled from the same rows in the same
    // steps, so the n-th body is the n-th document's whatever order the aggregates take them in.
    readyIn: db
      .prepare(
        `SELECT json_group_array(seq), json_group_array(event_id), json_group_array(timestamp), json_group_array(recorded_at),
           json_group_array(attempts), json_group_array(octet_length(body)), CAST(group_concat(body, char(10)) AS BLOB)
         FROM (SELECT seq, event_id, timestamp, recorded_at, attempts, body FROM outbox
               WHERE seq >= ? AND seq <= ? AND next_attempt_at <= ? AND ${notLeased} ORDER BY seq LIMIT ?)`,
      )
      .raw(),
    readyHeartbeatAfter: db.prepare(`SELECT 1 FROM outbox WHERE seq > ? AND seq < ? AND next_attempt_at <= ? LIMIT 1`),
    oldestOutbox: db.prepare(`SELECT seq, dataset, bytes, recorded_at FROM outbox WHERE ${ofKind} AND ${notLeased} ORDER BY seq LIMIT 500`),
    oldestDead: db.prepare(`SELECT seq, dataset, bytes, recorded_at FROM dead_letters WHERE priority = ? ORDER BY seq LIMIT 500`),
    deleteOutbox: db.prepare(`DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))`),
    deleteRange: db.prepare(`DELETE FROM outbox WHERE seq >= ? AND seq <= ?`),
    deleteDead: db.prepare(`DELETE FROM dead_letters WHERE seq IN (SELECT value FROM json_each(?))`),
    retry: db.prepare(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?`),
    toDead: db.prepare(
      `INSERT INTO dead_letters (event_id, dataset, priority, timestamp, recorded_at, failed_at, attempts, status_code, error_type, reason, bytes, body)
       SELECT event_id, dataset, seq / ${2 ** 44}, timestamp, recorded_at, ?, attempts + 1, ?, ?, ?, bytes, body FROM outbox WHERE seq = ?`,
    ),
    getState: db.prepare(`SELECT value FROM state WHERE key = ?`),
    setState: db.prepare(`INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
    putUpload: db.prepare(
      `INSERT INTO uploads (path, booking_id, size, mtime_ms, status, attempts, http_status, last_error, next_attempt_at, speed_mb_s, started_at, ended_at, updated_at)
       VALUES (@path, @booking_id, @size, @mtime_ms, @status, @attempts, @http_status, @last_error, @next_attempt_at, @speed_mb_s, @started_at, @ended_at, @updated_at)
       ON CONFLICT (path) DO UPDATE SET booking_id = excluded.booking_id, size = excluded.size, mtime_ms = excluded.mtime_ms,
         status = excluded.status, attempts = excluded.attempts, http_status = excluded.http_status, last_error = excluded.last_error,
         next_attempt_at = excluded.next_attempt_at, speed_mb_s = excluded.speed_mb_s, started_at = excluded.started_at,
         ended_at = excluded.ended_at, updated_at = excluded.updated_at`,
    ),
    getUpload: db.prepare(`SELECT * FROM uploads WHERE path = ?`),
    bookingUploads: db.prepare(`SELECT * FROM uploads WHERE booking_id = ? ORDER BY path`),
    getBooking: db.prepare(`SELECT * FROM bookings WHERE id = ?`),
    putBooking: db.prepare(
      `INSERT INTO bookings (id, first_seen_at, finished_at, summarized_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET first_seen_at = excluded.first_seen_at, finished_at = excluded.finished_at, summarized_at = excluded.summarized_at`,
    ),
    uploadStatusCounts: db.prepare(`SELECT status, count(*) AS n FROM uploads GROUP BY status`),
    uploadedSince: db.prepare(`SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM uploads WHERE status = 'uploaded' AND ended_at >= ?`),
    recentUploads: db.prepare(`SELECT speed_mb_s, ended_at FROM uploads WHERE status = 'uploaded' AND ended_at IS NOT NULL AND speed_mb_s IS NOT NULL ORDER BY ended_at DESC LIMIT ?`),
    lastUploaded: db.prepare(`SELECT path, booking_id, size, speed_mb_s, ended_at FROM uploads WHERE status = 'uploaded' AND ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT 1`),
    stalePending: db.prepare(`SELECT path, updated_at FROM uploads WHERE status = 'pending' AND updated_at < ? ORDER BY updated_at LIMIT ?`),
    // The server's verdicts (failing: 5xx, 429, network; rejected: 4xx) apart from the files' own causes.
    failingCodes: db.prepare(`SELECT http_status AS code, count(*) AS n FROM uploads WHERE status = 'failing' OR (status = 'rejected' AND http_status IS NOT NULL) GROUP BY http_status`),
    notUploaded: db.prepare(`SELECT last_error AS cause, count(*) AS n FROM uploads WHERE status = 'rejected' AND http_status IS NULL GROUP BY last_error ORDER BY n DESC, last_error LIMIT 10`),
    queueCounts: db.prepare(`SELECT priority, queued, dead FROM queue`),
    // Reads every row (length() needs the whole value, overflow pages included) to find damaged pages.
    scanOutbox: db.prepare(`SELECT seq, length(body) AS n FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`),
    scanDead: db.prepare(`SELECT seq, length(body) AS n FROM dead_letters WHERE seq > ? ORDER BY seq LIMIT ?`),
    firstOfPriority: db.prepare(`SELECT recorded_at FROM outbox WHERE ${ofKind} ORDER BY seq LIMIT 1`),
    exportOutbox: db.prepare(`SELECT body FROM outbox WHERE recorded_at >= ? AND (? IS NULL OR dataset = ?) ORDER BY seq`),
    exportDead: db.prepare(`SELECT body, reason, status_code, error_type, failed_at, attempts FROM dead_letters WHERE recorded_at >= ? AND (? IS NULL OR dataset = ?) ORDER BY seq`),
  };
}
