// Fills a fresh database after a reset with what survived: the documents, dead letters, upload and
// booking state read from the quarantined file (salvage.ts), and the files and summarized bookings
// the upload ledger knows. In one transaction, before anything new is recorded. Documents are
// inserted as they are read, a batch at a time in their old order, never all held in memory.
import type { Db } from './open.ts';
import { HEARTBEAT_PRIORITY, PRIORITY } from './priority.ts';
import { salvage, type Salvage, type SalvagedDoc } from './salvage.ts';
import { claimSeqs, uploadParams, type Statements } from './statements.ts';
import type { LedgerContents } from './upload-ledger.ts';

export interface Restored {
  documents: number;
  deadLetters: number;
  /** Upload rows read from the old file, and files known as uploaded only from the ledger. */
  uploads: number;
  fromLedger: number;
  bookings: number;
  /** What the page scan found (absent when the old file could not be read at all). */
  salvage?: Salvage;
  /** Why the old file could not be read at all. */
  error?: string;
}

const BATCH = 1000;

export function restore(db: Db, stmts: Statements, quarantined: string, ledger: LedgerContents, now: number): Restored {
  const restored: Restored = { documents: 0, deadLetters: 0, uploads: 0, fromLedger: 0, bookings: 0 };
  try {
    db.transaction(() => fromOldFile(stmts, quarantined, restored)).immediate();
  } catch (err) {
    // Unreadable as a whole (gone, no permission): the ledger below is all there is.
    Object.assign(restored, { documents: 0, deadLetters: 0, uploads: 0, bookings: 0, error: (err as Error).message });
  }
  db.transaction(() => fromLedger(stmts, ledger, now, restored)).immediate();
  return restored;
}

function fromOldFile(stmts: Statements, quarantined: string, restored: Restored): void {
  let batch: SalvagedDoc[] = [];
  let newestHeartbeat: SalvagedDoc | undefined;
  const flush = () => {
    restored.documents += insertDocuments(stmts, batch.sort((a, b) => a.seq - b.seq));
    batch = [];
  };
  const found = salvage(quarantined, {
    document: (doc) => {
      // The heartbeat lane keeps only the newest.
      if (PRIORITY[doc.dataset] === HEARTBEAT_PRIORITY) {
        if (!newestHeartbeat || newestHeartbeat.seq < doc.seq) newestHeartbeat = doc;
        return;
      }
      batch.push(doc);
      if (batch.length >= BATCH) flush();
    },
    deadLetter: (d) => {
      stmts.insertDead.run(d.eventId, d.dataset, PRIORITY[d.dataset], d.timestamp, d.recordedAt, d.failedAt, d.attempts, d.statusCode, d.errorType, d.reason, Buffer.byteLength(d.body), d.body);
      restored.deadLetters++;
    },
  });
  if (newestHeartbeat) batch.push(newestHeartbeat);
  flush();
  for (const u of found.uploads) {
    stmts.putUpload.run(uploadParams(u, u.updatedAt));
  }
  restored.uploads = found.uploads.length;
  for (const b of found.bookings) stmts.putBooking.run(b.id, b.firstSeenAt, b.finishedAt, b.summarizedAt);
  restored.bookings = found.bookings.length;
  restored.salvage = found;
}

/** The ledger knows uploads the old file no longer shows (its pages lost) — or shows as older. */
function fromLedger(stmts: Statements, ledger: LedgerContents, now: number, restored: Restored): void {
  for (const e of ledger.uploads.values()) {
    const row = stmts.getUpload.get(e.path) as { status: string; size: number; mtime_ms: number } | undefined;
    if (row?.status === 'uploaded' && row.size === e.size && row.mtime_ms === e.mtimeMs) continue;
    stmts.putUpload.run(uploadParams({ ...e, status: 'uploaded', attempts: 1 }, now));
    restored.fromLedger++;
  }
  for (const b of ledger.bookings.values()) {
    const row = stmts.getBooking.get(b.id) as { summarized_at: number | null } | undefined;
    if (row?.summarized_at == null) stmts.putBooking.run(b.id, b.firstSeenAt, b.finishedAt, b.summarizedAt);
  }
}

/** Documents renumbered in the order given, as the next numbers of their kind. */
function insertDocuments(stmts: Statements, docs: readonly SalvagedDoc[]): number {
  const seqs = claimSeqs(stmts, docs.map((d) => PRIORITY[d.dataset]));
  docs.forEach((d, i) => stmts.insert.run(seqs[i]!, d.eventId, d.dataset, d.timestamp, d.recordedAt, Buffer.byteLength(d.body), d.body));
  return docs.length;
}
