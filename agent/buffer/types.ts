// The shapes the buffer hands out and takes in: its options and notices, leased documents and their
// settlement, upload and booking rows, counts. Kept apart from the class so readers of the buffer's
// API need not read its SQL.
import type { BoothIdentity } from '../../shared/documents/stamp.ts';
import type { Dataset } from '../../shared/documents/schema.ts';
import type { Restored } from './restore.ts';

export interface BufferOptions {
  stateDir: string;
  maxSizeBytes: number;
  maxAgeMs: number;
  booth: BoothIdentity;
  now?: () => number;
  /** quick_check the whole file at open (default true). */
  check?: boolean;
  /** Told about drops, resets and disk trouble, e.g. to log them. */
  onNotice?: (notice: BufferNotice) => void;
  /**
   * Read only, beside a running daemon (`status`): no check, no migration, no repair; the file must
   * exist. Readers never block the daemon's writes (WAL). Any write throws.
   */
  readOnly?: boolean;
}

export type BufferNotice =
  | { kind: 'dropped'; reason: DropReason; dropped: number; byDataset: Partial<Record<Dataset, number>> }
  | { kind: 'reset'; reason: string; quarantinedPath: string; restored: Restored }
  | { kind: 'disk_full'; file: string };

export type DropReason = 'max_size' | 'max_age';

export interface LeasedDoc {
  seq: number;
  eventId: string;
  dataset: Dataset;
  /** The document's @timestamp, which picks its monthly index. */
  timestamp: string;
  /**
   * The document as JSON text (UTF-8), ready to be put into a request body: a view into the one
   * buffer its batch was read into.
   */
  body: Buffer;
  attempts: number;
  recordedAt: number;
}

export interface Settlement {
  delivered?: number[];
  retry?: { seq: number; delayMs: number; error: string }[];
  dead?: { seq: number; reason: string; statusCode?: number; errorType?: string }[];
  /** Handed back untouched (e.g. at shutdown): no attempt is counted. */
  release?: number[];
}

/** Why OpenSearch refused a dead letter, as `export` marks it. */
export interface DeadLetterFacts {
  reason: string;
  status_code?: number;
  error_type?: string;
  failed_at: string;
  attempts: number;
}

export interface UploadRow {
  path: string;
  bookingId: string;
  size: number;
  mtimeMs: number;
  status: 'pending' | 'uploaded' | 'rejected' | 'failing';
  attempts: number;
  httpStatus?: number | null;
  lastError?: string | null;
  nextAttemptAt?: number;
  speedMbS?: number | null;
  startedAt?: number | null;
  endedAt?: number | null;
}

export interface UploadTotals {
  byStatus: Partial<Record<UploadRow['status'], number>>;
  /** HTTP status (or "network") → files failing or rejected with it. */
  failingCodes: Record<string, number>;
  /** Files not uploaded for a cause of their own (empty, gone, a link…), by that cause. */
  notUploaded: Record<string, number>;
  since: { count: number; bytes: number };
  last?: { path: string; bookingId: string; size: number; speedMbS: number | null; endedAt: number };
}

export interface BookingRow {
  id: string;
  firstSeenAt: number;
  finishedAt: number | null;
  summarizedAt: number | null;
}

/** What a record() state change may touch, inside the same transaction as the documents. */
export interface StateWriter {
  setState(key: string, value: unknown): void;
  putUpload(row: UploadRow): void;
  putBooking(row: BookingRow): void;
  /** Counts documents lost before they reached the buffer (e.g. held in memory while the disk was full). */
  countDropped(byDataset: Partial<Record<Dataset, number>>): void;
}

export interface BufferStats {
  queued: number;
  queuedByDataset: Partial<Record<Dataset, number>>;
  /** recorded_at (ms) of the oldest unsent document, or null when empty. */
  oldestRecordedAt: number | null;
  deadLetters: number;
  droppedTotal: number;
  droppedByDataset: Partial<Record<Dataset, number>>;
  deliveredTotal: number;
  /** When a document last reached OpenSearch (ms), or null. */
  lastDeliveredAt: number | null;
  fileBytes: number;
  usedBytes: number;
  maxBytes: number;
  leased: number;
}


/** The last reset, as kept in the state (buffer.last_reset) and shown by status. */
export interface ResetFacts {
  at: number;
  reason: string;
  quarantined_path: string;
  /** Documents the old file's counters say it held, when they could be read. */
  documents_held?: number;
  salvaged: { documents: number; dead_letters: number; uploads: number; bookings: number };
  uploads_from_ledger: number;
  pages?: number;
  unreadable_pages?: number;
  salvage_error?: string;
}

/** What became of the background check of a large buffer file (DocumentBuffer.checkInBackground). */
export type BackgroundCheck =
  | { kind: 'ok' }
  /** The buffer closed before the check was done (the agent stopping): nothing was found or changed. */
  | { kind: 'stopped' }
  /** Damage was found; the file was moved aside and a fresh buffer started, as at open. */
  | { kind: 'replaced'; problem: string };
