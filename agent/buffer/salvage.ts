// What can still be read from a database that was moved aside: its unsent documents, its dead
// letters, its upload and booking state — each row recognised by its table's shape (migrations.ts)
// and checked (a document's JSON must carry the row's own event.id and dataset), so a page of
// garbage that happens to parse is not taken for a measurement. Salvaged documents keep their
// event.id: if one had reached OpenSearch after all, its second copy is refused there as a
// duplicate (create by _id), never stored twice.
import { PRIORITY } from './priority.ts';
import { scanPages, type PageRow, type Value } from './sqlite-pages.ts';
import type { Dataset } from '../../shared/documents/schema.ts';
import type { UploadRow } from './types.ts';

export interface SalvagedDoc {
  seq: number;
  eventId: string;
  dataset: Dataset;
  timestamp: string;
  recordedAt: number;
  body: string;
}

export interface SalvagedDead extends SalvagedDoc {
  failedAt: number;
  attempts: number;
  statusCode: number | null;
  errorType: string | null;
  reason: string;
}

/** An upload row as the old file held it: every column, with when it was last written. */
export type SalvagedUpload = { [K in keyof Omit<UploadRow, 'nextAttemptAt'>]-?: Exclude<UploadRow[K], undefined> } & { updatedAt: number };

export interface SalvagedBooking {
  id: string;
  firstSeenAt: number;
  finishedAt: number | null;
  summarizedAt: number | null;
}

/** Takes the documents as they are found: a full buffer holds far more than the agent's heap. */
export interface SalvageSink {
  document(doc: SalvagedDoc): void;
  deadLetter(doc: SalvagedDead): void;
}

export interface Salvage {
  documents: number;
  deadLetters: number;
  uploads: SalvagedUpload[];
  bookings: SalvagedBooking[];
  /** Documents the file's own counters say it held (outbox + dead letters), when those could be read. */
  documentsHeld?: number;
  pages: number;
  unreadablePages: number;
}

const UPLOAD_STATUSES = new Set(['pending', 'uploaded', 'rejected', 'failing']);

/**
 * Reads what it can of `file` (a quarantined buffer database), handing each document to `sink`
 * once (a stale copy of a page may hold it again); never throws for damage, only for I/O.
 */
export function salvage(file: string, sink: SalvageSink): Salvage {
  const documents = new Set<number>();
  const dead = new Set<number>();
  const uploads = new Map<string, SalvagedUpload>();
  const bookings = new Map<string, SalvagedBooking>();
  const queue = new Map<number, number>();
  const scan = scanPages(file, (row) => {
    const doc = asOutboxRow(row);
    if (doc) {
      if (!documents.has(doc.seq)) sink.document(doc);
      return void documents.add(doc.seq);
    }
    const letter = asDeadLetter(row);
    if (letter) {
      if (!dead.has(letter.seq)) sink.deadLetter(letter);
      return void dead.add(letter.seq);
    }
    const counts = asQueueRow(row);
    if (counts) return void queue.set(counts.priority, counts.held);
    const upload = asUpload(row);
    if (upload) {
      const known = uploads.get(upload.path);
      if (!known || known.updatedAt <= upload.updatedAt) uploads.set(upload.path, upload);
      return;
    }
    const booking = asBooking(row);
    if (booking) bookings.set(booking.id, booking);
  });
  return {
    documents: documents.size,
    deadLetters: dead.size,
    uploads: [...uploads.values()],
    bookings: [...bookings.values()],
    ...(queue.size > 0 ? { documentsHeld: [...queue.values()].reduce((a, b) => a + b, 0) } : {}),
    pages: scan.pages,
    unreadablePages: scan.unreadable,
  };
}

type Cell = Value | undefined;
const str = (v: Cell): v is string => typeof v === 'string';
const int = (v: Cell): v is number => typeof v === 'number' && Number.isInteger(v);
const intOrNull = (v: Cell): v is number | null => v === null || int(v);
const strOrNull = (v: Cell): v is string | null => v === null || str(v);
const num = (v: Value | undefined): number | null => (typeof v === 'number' ? v : null);

/** A document body that is what its row says it is. */
function checkedBody(body: Cell, eventId: Cell, dataset: Cell): body is string {
  if (!str(body) || !str(eventId) || !str(dataset) || !(dataset in PRIORITY)) return false;
  try {
    const doc = JSON.parse(body) as { event?: { id?: unknown; dataset?: unknown } };
    return doc.event?.id === eventId && doc.event.dataset === dataset;
  } catch {
    return false;
  }
}

// outbox: seq (the rowid), event_id, dataset, timestamp, recorded_at, bytes, attempts, next_attempt_at, last_error, body
function asOutboxRow(row: PageRow): SalvagedDoc | undefined {
  if (row.kind !== 'table' || row.values.length !== 10) return undefined;
  const [, eventId, dataset, timestamp, recordedAt, , , , lastError, body] = row.values;
  if (!str(timestamp) || !int(recordedAt) || !strOrNull(lastError) || !checkedBody(body, eventId, dataset)) return undefined;
  return { seq: row.rowid, eventId: eventId as string, dataset: dataset as Dataset, timestamp, recordedAt, body };
}

// dead_letters: seq, event_id, dataset, priority, timestamp, recorded_at, failed_at, attempts, status_code, error_type, reason, bytes, body
function asDeadLetter(row: PageRow): SalvagedDead | undefined {
  if (row.kind !== 'table' || row.values.length !== 13) return undefined;
  const [, eventId, dataset, , timestamp, recordedAt, failedAt, attempts, statusCode, errorType, reason, , body] = row.values;
  if (!str(timestamp) || !int(recordedAt) || !int(failedAt) || !int(attempts) || !intOrNull(statusCode) || !strOrNull(errorType) || !str(reason)) return undefined;
  if (!checkedBody(body, eventId, dataset)) return undefined;
  return { seq: row.rowid, eventId: eventId as string, dataset: dataset as Dataset, timestamp, recordedAt, body, failedAt, attempts, statusCode, errorType, reason };
}

// queue: priority (the rowid), queued, dead, last_n
function asQueueRow(row: PageRow): { priority: number; held: number } | undefined {
  if (row.kind !== 'table' || row.values.length !== 4 || row.rowid < 0 || row.rowid > 4) return undefined;
  const [, queued, dead, lastN] = row.values;
  if (!int(queued) || !int(dead) || !int(lastN) || queued < 0 || dead < 0) return undefined;
  return { priority: row.rowid, held: queued + dead };
}

// uploads (WITHOUT ROWID): path, booking_id, size, mtime_ms, status, attempts, http_status, last_error,
// next_attempt_at, speed_mb_s, updated_at, then (schema 2) started_at, ended_at
function asUpload(row: PageRow): SalvagedUpload | undefined {
  if (row.kind !== 'index' || (row.values.length !== 11 && row.values.length !== 13)) return undefined;
  const [path, bookingId, size, mtimeMs, status, attempts, httpStatus, lastError, , speed, updatedAt, startedAt = null, endedAt = null] = row.values;
  if (!str(path) || !str(bookingId) || !int(size) || !int(mtimeMs) || !str(status) || !UPLOAD_STATUSES.has(status) || !int(attempts)) return undefined;
  if (!intOrNull(httpStatus) || !strOrNull(lastError) || !int(updatedAt) || !intOrNull(startedAt) || !intOrNull(endedAt)) return undefined;
  return { path, bookingId, size, mtimeMs, status: status as SalvagedUpload['status'], attempts, httpStatus, lastError, speedMbS: num(speed), updatedAt, startedAt, endedAt };
}

// bookings (WITHOUT ROWID): id, first_seen_at, finished_at, summarized_at, summary
function asBooking(row: PageRow): SalvagedBooking | undefined {
  if (row.kind !== 'index' || row.values.length !== 5) return undefined;
  const [id, firstSeenAt, finishedAt, summarizedAt, summary] = row.values;
  if (!str(id) || !int(firstSeenAt) || !intOrNull(finishedAt) || !intOrNull(summarizedAt) || !strOrNull(summary)) return undefined;
  return { id, firstSeenAt, finishedAt, summarizedAt };
}
