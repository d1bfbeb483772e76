// The durable outbox between sources and sinks — the only module that speaks SQL.
//
// Sources record() documents, each call one durable transaction (optionally with a state change,
// such as marking a file uploaded). Sinks lease() a batch — the heartbeat lane first, then by
// priority and age — and settle() it: delivered rows are deleted, retryable ones get a next-attempt
// time, poison ones move to dead letters. Leases live in memory: after a crash every unsettled row
// is simply sent again, and OpenSearch's create-by-_id makes that harmless.
import path from 'node:path';
import { makeDocument, type BoothIdentity } from '../../shared/documents/stamp.ts';
import type { BoothDocument, Dataset } from '../../shared/documents/schema.ts';
import { rowCost, sizeBudget, type SizeBudget } from './bounds.ts';
import { DatabaseBusyError, DiskFullError, isBusy, isCorruption, isDiskFull } from './errors.ts';
import { DB_FILE, fileSize, openDatabase, openReadOnly, replaceDatabase, SYNC_CHECK_MAX_BYTES, type Db, type Reset } from './open.ts';
import { DATASET_OF_PRIORITY, DROP_ORDER, HEARTBEAT_PRIORITY, PRIORITY, priorityOfSeq, SEND_ORDER, seqRange } from './priority.ts';

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
  | { kind: 'reset'; reason: string; quarantinedPath: string }
  | { kind: 'disk_full'; file: string };

export type DropReason = 'max_size' | 'max_age';

export interface LeasedDoc {
  seq: number;
  eventId: string;
  dataset: Dataset;
  /** The document's @timestamp, which picks its monthly index. */
  timestamp: string;
  /** The document as JSON text, ready to be put into a request body. */
  body: string;
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

const COUNTERS = {
  droppedTotal: 'buffer.dropped_total',
  droppedByDataset: 'buffer.dropped_by_dataset',
  deliveredTotal: 'ship.delivered_total',
  lastDeliveredAt: 'ship.last_delivered_at',
} as const;

export class DocumentBuffer {
  readonly file: string;
  /** Set when this open started a fresh database because the old one was unusable. */
  readonly reset: Reset | undefined;
  private db: Db;
  private readonly opts: BufferOptions;
  private readonly now: () => number;
  private readonly budget: SizeBudget;
  private readonly leased = new Set<number>();
  private readonly listeners = new Set<() => void>();
  private stmts!: ReturnType<typeof prepare>;

  static open(opts: BufferOptions): DocumentBuffer {
    try {
      return new DocumentBuffer(opts);
    } catch (err) {
      // Another writer's lock past the busy timeout, as every write reports it (see guard).
      if (isBusy(err)) throw new DatabaseBusyError(path.join(opts.stateDir, DB_FILE), err);
      throw err;
    }
  }

  private constructor(opts: BufferOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    const opened = opts.readOnly ? { db: openReadOnly(opts.stateDir), file: path.join(opts.stateDir, DB_FILE), reset: undefined } : openDatabase(opts.stateDir, { check: opts.check ?? true, now: this.now });
    this.db = opened.db;
    this.file = opened.file;
    this.budget = sizeBudget(opts.maxSizeBytes, this.db.pragma('page_size', { simple: true }) as number);
    if (opts.readOnly) this.stmts = prepare(this.db);
    else this.configure();
    this.reset = opened.reset;
    if (opened.reset) this.recordReset(opened.reset);
  }

  /**
   * A large file is not fully checked at open (quick_check reads all of it: ~9 s for a million
   * documents). Instead the small tables are quick_checked now, and the outbox and dead letters
   * are read through in small steps between other work, so a damaged page is found without
   * holding up the start or costing memory (a worker thread would add ~40 MB). A corrupt file is
   * moved aside like one found at open. Resolves to "ok" or what was found.
   */
  async checkInBackground(stepRows = 2000): Promise<string> {
    if ((this.opts.check ?? true) === false || fileSize(this.file) <= SYNC_CHECK_MAX_BYTES) return 'ok';
    try {
      for (const table of ['state', 'queue', 'uploads', 'bookings']) {
        const result = String(this.db.pragma(`quick_check(${table})`, { simple: true }));
        if (result !== 'ok') throw Object.assign(new Error(`quick_check(${table}): ${result}`), { code: 'SQLITE_CORRUPT' });
      }
      for (const stmt of [this.stmts.scanOutbox, this.stmts.scanDead]) {
        let after = -1;
        for (;;) {
          if (!this.db.open) return 'check stopped';
          const rows = stmt.all(after, stepRows) as { seq: number }[];
          if (rows.length === 0) break;
          after = rows[rows.length - 1]!.seq;
          await new Promise((r) => setImmediate(r));
        }
      }
      return 'ok';
    } catch (err) {
      if (!isCorruption(err)) throw err;
      if (this.db.open) this.restartFresh(err);
      return (err as Error).message;
    }
  }

  private configure(): void {
    this.db.pragma(`wal_autocheckpoint = ${this.budget.walCheckpointPages}`);
    this.db.pragma(`journal_size_limit = ${this.budget.walLimitBytes}`);
    this.db.pragma(`max_page_count = ${Math.max(this.budget.maxPageCount, this.pageCount())}`);
    this.stmts = prepare(this.db);
  }

  // ── recording ──────────────────────────────────────────────────────────────────────────────

  /**
   * Stores documents durably: when this returns, they survive a crash or power loss.
   * `change` runs in the same transaction, so e.g. "upload recorded" and "file marked uploaded"
   * happen together or not at all. Throws DiskFullError when the disk itself is full.
   */
  record(docs: readonly BoothDocument[], change?: (tx: StateWriter) => void): void {
    this.guard(() => {
      const rows = docs.map((doc) => toRow(doc));
      const write = this.db.transaction(() => {
        const incoming = rows.reduce((sum, r) => sum + rowCost(r.bytes), 0);
        this.makeRoom(incoming);
        this.insertRows(rows);
        if (change) change(this.stateWriter());
      });
      try {
        write.immediate();
        for (const l of this.listeners) l();
      } catch (err) {
        if (!isDiskFull(err)) throw err;
        if (this.pageCount() < this.budget.maxPageCount - 1) {
          this.opts.onNotice?.({ kind: 'disk_full', file: this.file });
          throw new DiskFullError(this.file, err);
        }
        // Our own hard cap, reached because a transaction was larger than estimated: drop, then retry once.
        this.db.transaction(() => this.dropUntil(this.budget.lowWaterBytes - rows.reduce((s, r) => s + rowCost(r.bytes), 0), 'max_size')).immediate();
        write.immediate();
      }
    });
  }

  /** `listener` runs after every record() in this process commits (sinks use it to wake up). */
  onRecord(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private insertRows(rows: Row[]): void {
    const recordedAt = this.now();
    const counts = new Map<number, number>();
    for (const r of rows) counts.set(r.priority, (counts.get(r.priority) ?? 0) + 1);
    // Numbers for the whole batch in one step per kind; inside the write transaction, so a second
    // process recording at the same time (booth-agent record) gets the next ones.
    const next = new Map<number, number>();
    for (const [priority, n] of counts) {
      const { last_n } = this.stmts.claimSeqs.get(n, priority) as { last_n: number };
      next.set(priority, seqRange(priority)[0] + last_n - n + 1);
    }
    for (const r of rows) {
      if (r.priority === HEARTBEAT_PRIORITY) this.stmts.deleteUnleasedHeartbeats.run(...seqRange(HEARTBEAT_PRIORITY), this.leasedJson());
      const seq = next.get(r.priority)!;
      next.set(r.priority, seq + 1);
      this.stmts.insert.run(seq, r.eventId, r.dataset, r.timestamp, recordedAt, r.bytes, r.body);
    }
  }

  private stateWriter(): StateWriter {
    return {
      setState: (key, value) => this.stmts.setState.run(key, JSON.stringify(value)),
      putUpload: (u) =>
        this.stmts.putUpload.run({
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
          updated_at: this.now(),
        }),
      putBooking: (b) => this.stmts.putBooking.run(b.id, b.firstSeenAt, b.finishedAt, b.summarizedAt),
      countDropped: (byDataset) => this.addDropped(byDataset),
    };
  }

  // ── bounds ─────────────────────────────────────────────────────────────────────────────────

  private usedBytes(): number {
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (this.pageCount() - free) * this.budget.pageSize;
  }

  private pageCount(): number {
    return this.db.pragma('page_count', { simple: true }) as number;
  }

  /** Inside a transaction: drop documents when `incoming` more bytes would pass the high-water mark. */
  private makeRoom(incoming: number): void {
    if (this.usedBytes() + incoming <= this.budget.highWaterBytes) return;
    this.dropUntil(this.budget.lowWaterBytes - incoming, 'max_size');
  }

  /** Drops the oldest documents of the least valuable kind until used space is at most `target`. */
  private dropUntil(target: number, reason: DropReason): void {
    const byDataset: Partial<Record<Dataset, number>> = {};
    let dropped = 0;
    // Freed space is estimated from row sizes, then measured; a few rounds settle it.
    for (let round = 0; round < 50; round++) {
      const excess = this.usedBytes() - target;
      if (excess <= 0) break;
      const n = this.dropOldest(excess, byDataset);
      if (n === 0) break;
      dropped += n;
    }
    if (dropped > 0) this.recordDrop(reason, dropped, byDataset);
  }

  /** Deletes rows in drop order whose sizes add up to `bytes`; returns how many. */
  private dropOldest(bytes: number, byDataset: Partial<Record<Dataset, number>>): number {
    let toFree = bytes;
    let count = 0;
    const leased = this.leasedJson();
    for (const priority of DROP_ORDER) {
      for (const table of ['dead_letters', 'outbox'] as const) {
        while (toFree > 0) {
          const rows = (table === 'outbox' ? this.stmts.oldestOutbox.all(...seqRange(priority), leased) : this.stmts.oldestDead.all(priority)) as { seq: number; dataset: Dataset; bytes: number }[];
          if (rows.length === 0) break;
          const take: number[] = [];
          for (const r of rows) {
            if (toFree <= 0) break;
            take.push(r.seq);
            toFree -= rowCost(r.bytes);
            byDataset[r.dataset] = (byDataset[r.dataset] ?? 0) + 1;
          }
          const json = JSON.stringify(take);
          if (table === 'outbox') this.stmts.deleteOutbox.run(json);
          else this.stmts.deleteDead.run(json);
          count += take.length;
        }
        if (toFree <= 0) return count;
      }
    }
    return count;
  }

  /** Drops documents recorded longer than buffer.max_age ago. Returns how many. */
  pruneExpired(): number {
    return this.guard(() => {
      const cutoff = this.now() - this.opts.maxAgeMs;
      const byDataset: Partial<Record<Dataset, number>> = {};
      let dropped = 0;
      this.db
        .transaction(() => {
          const leased = this.leasedJson();
          for (const priority of DROP_ORDER) {
            for (const table of ['dead_letters', 'outbox'] as const) {
              for (;;) {
                const rows = (table === 'outbox' ? this.stmts.oldestOutbox.all(...seqRange(priority), leased) : this.stmts.oldestDead.all(priority)) as { seq: number; dataset: Dataset; recorded_at: number }[];
                // Rows are in recording order: expired ones form a prefix.
                const expired = rows.filter((r) => r.recorded_at < cutoff);
                if (expired.length === 0) break;
                for (const r of expired) byDataset[r.dataset] = (byDataset[r.dataset] ?? 0) + 1;
                const json = JSON.stringify(expired.map((r) => r.seq));
                if (table === 'outbox') this.stmts.deleteOutbox.run(json);
                else this.stmts.deleteDead.run(json);
                dropped += expired.length;
                if (expired.length < rows.length) break;
              }
            }
          }
          if (dropped > 0) this.recordDrop('max_age', dropped, byDataset);
        })
        .immediate();
      return dropped;
    });
  }

  /** Adds to the drop counters; returns the new total. */
  private addDropped(byDataset: Partial<Record<Dataset, number>>): number {
    const dropped = Object.values(byDataset).reduce((a, b) => a + b, 0);
    const total = (this.getStateIn<number>(COUNTERS.droppedTotal) ?? 0) + dropped;
    const perDataset = this.getStateIn<Partial<Record<Dataset, number>>>(COUNTERS.droppedByDataset) ?? {};
    for (const [d, n] of Object.entries(byDataset) as [Dataset, number][]) perDataset[d] = (perDataset[d] ?? 0) + n;
    this.stmts.setState.run(COUNTERS.droppedTotal, JSON.stringify(total));
    this.stmts.setState.run(COUNTERS.droppedByDataset, JSON.stringify(perDataset));
    return total;
  }

  private recordDrop(reason: DropReason, dropped: number, byDataset: Partial<Record<Dataset, number>>): void {
    const total = this.addDropped(byDataset);
    const why = reason === 'max_size' ? `the buffer reached buffer.max_size (${Math.round(this.opts.maxSizeBytes / 1e6)} MB)` : 'they were older than buffer.max_age';
    const parts = Object.entries(byDataset).map(([d, n]) => `${n} ${d.replace('booth.', '')}`);
    const doc = makeDocument(
      'booth.agent',
      {
        message: `Dropped ${dropped} unsent documents (${parts.join(', ')}) because ${why}`,
        event: { action: 'buffer_dropped', reason },
        buffer: { dropped, dropped_by_dataset: byDataset, dropped_total: total },
      },
      this.opts.booth,
      this.now,
    );
    this.insertRows([toRow(doc)]);
    this.opts.onNotice?.({ kind: 'dropped', reason, dropped, byDataset });
  }

  // ── leasing ────────────────────────────────────────────────────────────────────────────────

  /** The next batch to send: the heartbeat lane first, then by priority and age. */
  lease(maxDocs: number, maxBytes: number): LeasedDoc[] {
    return this.guard(() => {
      const now = this.now();
      const leased = this.leasedJson();
      const out: LeasedDoc[] = [];
      let bytes = 0;
      outer: for (const priority of SEND_ORDER) {
        // all() rather than iterate(): half the time per row, and LIMIT bounds what is read past maxBytes.
        for (const r of this.stmts.ready.all(...seqRange(priority), now, leased, maxDocs - out.length) as OutboxRow[]) {
          if (out.length > 0 && bytes + r.bytes > maxBytes) break outer;
          out.push({ seq: r.seq, eventId: r.event_id, dataset: r.dataset, timestamp: r.timestamp, body: r.body, attempts: r.attempts, recordedAt: r.recorded_at });
          bytes += r.bytes;
          if (out.length >= maxDocs) break outer;
        }
      }
      for (const d of out) this.leased.add(d.seq);
      return out;
    });
  }

  /** Whether the outbox holds a ready heartbeat newer than any in `batch` (any one, if it holds none). */
  heartbeatNewerThan(batch: readonly LeasedDoc[]): boolean {
    const [first, end] = seqRange(HEARTBEAT_PRIORITY);
    let after = first - 1;
    for (const d of batch) if (priorityOfSeq(d.seq) === HEARTBEAT_PRIORITY) after = Math.max(after, d.seq);
    return this.guard(() => this.stmts.readyHeartbeatAfter.get(after, end, this.now()) !== undefined);
  }

  /** Records what happened to leased documents, in one durable transaction. */
  settle(settlement: Settlement): void {
    const s = this.leasedOnly(settlement);
    const all = [...(s.delivered ?? []), ...(s.retry ?? []).map((r) => r.seq), ...(s.dead ?? []).map((d) => d.seq), ...(s.release ?? [])];
    // Handing documents back is only the end of a lease (in memory): no transaction for that.
    const writes = Boolean(s.delivered?.length || s.retry?.length || s.dead?.length);
    try {
      if (writes) this.guard(() =>
        this.db
          .transaction(() => {
            const now = this.now();
            if (s.delivered?.length) {
              this.stmts.deleteOutbox.run(JSON.stringify(s.delivered));
              const total = (this.getStateIn<number>(COUNTERS.deliveredTotal) ?? 0) + s.delivered.length;
              this.stmts.setState.run(COUNTERS.deliveredTotal, JSON.stringify(total));
              this.stmts.setState.run(COUNTERS.lastDeliveredAt, JSON.stringify(now));
            }
            for (const r of s.retry ?? []) this.stmts.retry.run(now + r.delayMs, r.error.slice(0, 1000), r.seq);
            for (const d of s.dead ?? []) {
              this.stmts.toDead.run(now, d.statusCode ?? null, d.errorType ?? null, d.reason.slice(0, 2000), d.seq);
              this.stmts.deleteOutbox.run(JSON.stringify([d.seq]));
            }
          })
          .immediate(),
      );
    } finally {
      for (const seq of all) this.leased.delete(seq);
    }
    // A heartbeat handed back may now sit beside a newer one: keep only the newest unsent heartbeat.
    const handedBack = [...(s.release ?? []), ...(s.retry ?? []).map((r) => r.seq)];
    if (handedBack.some((seq) => priorityOfSeq(seq) === HEARTBEAT_PRIORITY)) {
      this.guard(() => this.stmts.deleteOlderHeartbeats.run(...seqRange(HEARTBEAT_PRIORITY), this.leasedJson(), ...seqRange(HEARTBEAT_PRIORITY)));
    }
  }

  /**
   * The part of a settlement about documents a lease holds. After a corrupt database was replaced
   * (leases dropped), the numbers of documents still in flight may belong to new documents, which
   * an answer about the old ones must not delete.
   */
  private leasedOnly(s: Settlement): Settlement {
    const held = (seq: number) => this.leased.has(seq);
    return {
      ...(s.delivered ? { delivered: s.delivered.filter(held) } : {}),
      ...(s.retry ? { retry: s.retry.filter((r) => held(r.seq)) } : {}),
      ...(s.dead ? { dead: s.dead.filter((d) => held(d.seq)) } : {}),
      ...(s.release ? { release: s.release.filter(held) } : {}),
    };
  }

  // ── state ──────────────────────────────────────────────────────────────────────────────────

  getState<T>(key: string): T | undefined {
    return this.guard(() => this.getStateIn<T>(key));
  }

  setState(key: string, value: unknown): void {
    this.guard(() => this.stmts.setState.run(key, JSON.stringify(value)));
  }

  getUpload(path: string): UploadRow | undefined {
    return this.guard(() => {
      const r = this.stmts.getUpload.get(path) as Record<string, unknown> | undefined;
      return r ? toUploadRow(r) : undefined;
    });
  }

  /** Every upload row of a booking. */
  bookingUploads(bookingId: string): UploadRow[] {
    return this.guard(() => (this.stmts.bookingUploads.all(bookingId) as Record<string, unknown>[]).map(toUploadRow));
  }

  /** Updates a file's upload state on its own (no document), e.g. "pending" when first seen. */
  putUpload(row: UploadRow): void {
    this.putUploads([row]);
  }

  /** Several files' upload state in one transaction: one disk flush for a folder full of new files. */
  putUploads(rows: readonly UploadRow[]): void {
    if (rows.length === 0) return;
    this.guard(() =>
      this.db
        .transaction(() => {
          const w = this.stateWriter();
          for (const row of rows) w.putUpload(row);
        })
        .immediate(),
    );
  }

  getBooking(id: string): BookingRow | undefined {
    return this.guard(() => {
      const r = this.stmts.getBooking.get(id) as { id: string; first_seen_at: number; finished_at: number | null; summarized_at: number | null } | undefined;
      return r ? { id: r.id, firstSeenAt: r.first_seen_at, finishedAt: r.finished_at, summarizedAt: r.summarized_at } : undefined;
    });
  }

  putBooking(row: BookingRow): void {
    this.guard(() => this.stmts.putBooking.run(row.id, row.firstSeenAt, row.finishedAt, row.summarizedAt));
  }

  /**
   * Files by upload status, the HTTP codes of those failing or rejected, the uploads that ended
   * since `sinceMs` (count and bytes) and the last one — what the heartbeat and status show.
   */
  uploadTotals(sinceMs: number): UploadTotals {
    return this.guard(() => {
      const byStatus: Record<string, number> = {};
      for (const r of this.stmts.uploadStatusCounts.all() as { status: string; n: number }[]) byStatus[r.status] = r.n;
      const failingCodes: Record<string, number> = {};
      for (const r of this.stmts.failingCodes.all() as { code: number | null; n: number }[]) failingCodes[String(r.code ?? 'network')] = r.n;
      const notUploaded: Record<string, number> = {};
      for (const r of this.stmts.notUploaded.all() as { cause: string | null; n: number }[]) notUploaded[r.cause ?? 'not uploaded'] = r.n;
      const since = this.stmts.uploadedSince.get(sinceMs) as { n: number; bytes: number };
      const last = this.stmts.lastUploaded.get() as { path: string; booking_id: string; size: number; speed_mb_s: number | null; ended_at: number } | undefined;
      return {
        byStatus,
        failingCodes,
        notUploaded,
        since: { count: since.n, bytes: since.bytes },
        ...(last ? { last: { path: last.path, bookingId: last.booking_id, size: last.size, speedMbS: last.speed_mb_s, endedAt: last.ended_at } } : {}),
      };
    });
  }

  /** Up to `limit` files seen before `before` (ms) and not tried since, oldest first. */
  stalePending(before: number, limit: number): { path: string; since: number }[] {
    return this.guard(() => (this.stmts.stalePending.all(before, limit) as { path: string; updated_at: number }[]).map((r) => ({ path: r.path, since: r.updated_at })));
  }

  /** Speeds of the last `n` successful uploads, oldest first (the status sparkline). */
  recentUploadSpeeds(n: number): { speedMbS: number; endedAt: number }[] {
    return this.guard(() =>
      (this.stmts.recentUploads.all(n) as { speed_mb_s: number; ended_at: number }[]).map((r) => ({ speedMbS: r.speed_mb_s, endedAt: r.ended_at })).reverse(),
    );
  }

  private getStateIn<T>(key: string): T | undefined {
    const row = this.stmts.getState.get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  stats(): BufferStats {
    return this.guard(() => {
      const queuedByDataset: Partial<Record<Dataset, number>> = {};
      let queued = 0;
      let dead = 0;
      let oldest: number | null = null;
      for (const r of this.stmts.queueCounts.all() as { priority: number; queued: number; dead: number }[]) {
        dead += r.dead;
        if (r.queued === 0) continue;
        const dataset = DATASET_OF_PRIORITY[r.priority];
        if (dataset) queuedByDataset[dataset] = r.queued;
        queued += r.queued;
        const first = this.stmts.firstOfPriority.get(...seqRange(r.priority)) as { recorded_at: number } | undefined;
        if (first && (oldest === null || first.recorded_at < oldest)) oldest = first.recorded_at;
      }
      return {
        queued,
        queuedByDataset,
        oldestRecordedAt: oldest,
        deadLetters: dead,
        droppedTotal: this.getStateIn<number>(COUNTERS.droppedTotal) ?? 0,
        droppedByDataset: this.getStateIn(COUNTERS.droppedByDataset) ?? {},
        deliveredTotal: this.getStateIn<number>(COUNTERS.deliveredTotal) ?? 0,
        lastDeliveredAt: this.getStateIn<number>(COUNTERS.lastDeliveredAt) ?? null,
        fileBytes: fileSize(this.file) + fileSize(`${this.file}-wal`),
        usedBytes: this.usedBytes(),
        maxBytes: this.opts.maxSizeBytes,
        leased: this.leased.size,
      };
    });
  }

  /**
   * Every unsent document, then every dead letter with why OpenSearch refused it, as stored (for
   * export): by kind, oldest first within a kind.
   */
  *documents(opts: { sinceMs?: number; dataset?: Dataset; includeDead?: boolean } = {}): Generator<{ body: string; dead: boolean; deadLetter?: DeadLetterFacts }> {
    const since = opts.sinceMs ?? 0;
    const dataset = opts.dataset ?? null;
    for (const r of this.stmts.exportOutbox.iterate(since, dataset, dataset) as Iterable<{ body: string }>) yield { body: r.body, dead: false };
    if (opts.includeDead ?? true) {
      type DeadRow = { body: string; reason: string; status_code: number | null; error_type: string | null; failed_at: number; attempts: number };
      for (const r of this.stmts.exportDead.iterate(since, dataset, dataset) as Iterable<DeadRow>) {
        const deadLetter: DeadLetterFacts = { reason: r.reason, failed_at: new Date(r.failed_at).toISOString(), attempts: r.attempts };
        if (r.status_code !== null) deadLetter.status_code = r.status_code;
        if (r.error_type !== null) deadLetter.error_type = r.error_type;
        yield { body: r.body, dead: true, deadLetter };
      }
    }
  }

  /** Moves the WAL back into the main file and trims it; run when idle. */
  checkpoint(): void {
    this.guard(() => this.db.pragma('wal_checkpoint(TRUNCATE)'));
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  close(): void {
    if (this.db.open) {
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // A busy reader only delays the checkpoint to the next open.
      }
      this.db.close();
    }
  }

  // ── corruption at run time ────────────────────────────────────────────────────────────────

  /**
   * Runs `fn`; a full disk becomes DiskFullError whichever write met it, a lock held past the busy
   * timeout DatabaseBusyError; if SQLite reports corruption, starts a fresh database and tries once more.
   */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isDiskFull(err)) throw new DiskFullError(this.file, err);
      if (isBusy(err)) throw new DatabaseBusyError(this.file, err);
      // A reader (status, export) never changes the state: a damaged file is left for the daemon.
      if (!isCorruption(err) || this.opts.readOnly) throw err;
      this.restartFresh(err);
      return fn();
    }
  }

  private restartFresh(cause: unknown): void {
    try {
      this.db.close();
    } catch {
      // Closing a corrupt database may fail; the file is moved aside either way.
    }
    this.leased.clear();
    const reason = `the database is corrupt (${(cause as Error).message})`;
    const opened = replaceDatabase(this.opts.stateDir, reason, this.now);
    this.db = opened.db;
    this.configure();
    this.recordReset(opened.reset!);
  }

  private recordReset(reset: Reset): void {
    const doc = makeDocument(
      'booth.agent',
      {
        message: `Started a fresh buffer: ${reset.reason}. The old file was kept as ${reset.quarantinedPath}; its unsent documents are lost.`,
        event: { action: 'state_reset', reason: reset.reason.slice(0, 1000) },
        buffer: { quarantined_path: reset.quarantinedPath },
      },
      this.opts.booth,
      this.now,
    );
    this.db.transaction(() => this.insertRows([toRow(doc)])).immediate();
    this.opts.onNotice?.({ kind: 'reset', ...reset });
  }

  private leasedJson(): string {
    return this.leased.size === 0 ? '[]' : JSON.stringify([...this.leased]);
  }
}

interface Row {
  eventId: string;
  dataset: Dataset;
  priority: number;
  timestamp: string;
  bytes: number;
  body: string;
}

interface OutboxRow {
  seq: number;
  event_id: string;
  dataset: Dataset;
  timestamp: string;
  recorded_at: number;
  bytes: number;
  attempts: number;
  body: string;
}

function toUploadRow(r: Record<string, unknown>): UploadRow {
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

function toRow(doc: BoothDocument): Row {
  const body = JSON.stringify(doc);
  const dataset = doc.event.dataset;
  const priority = PRIORITY[dataset];
  if (priority === undefined) throw new Error(`cannot record a document of unknown dataset ${String(dataset)}`);
  return { eventId: doc.event.id, dataset, priority, timestamp: doc['@timestamp'], bytes: Buffer.byteLength(body), body };
}

function prepare(db: Db) {
  const notLeased = 'seq NOT IN (SELECT value FROM json_each(?))';
  // "seq >= ? AND seq < ?" is one kind's range of the primary key (see priority.ts).
  const ofKind = 'seq >= ? AND seq < ?';
  return {
    claimSeqs: db.prepare(`UPDATE queue SET last_n = last_n + ? WHERE priority = ? RETURNING last_n`),
    insert: db.prepare(`INSERT INTO outbox (seq, event_id, dataset, timestamp, recorded_at, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    deleteUnleasedHeartbeats: db.prepare(`DELETE FROM outbox WHERE ${ofKind} AND ${notLeased}`),
    deleteOlderHeartbeats: db.prepare(`DELETE FROM outbox WHERE ${ofKind} AND ${notLeased} AND seq < (SELECT max(seq) FROM outbox WHERE ${ofKind})`),
    ready: db.prepare(
      `SELECT seq, event_id, dataset, timestamp, recorded_at, bytes, attempts, body FROM outbox
       WHERE ${ofKind} AND next_attempt_at <= ? AND ${notLeased} ORDER BY seq LIMIT ?`,
    ),
    readyHeartbeatAfter: db.prepare(`SELECT 1 FROM outbox WHERE seq > ? AND seq < ? AND next_attempt_at <= ? LIMIT 1`),
    oldestOutbox: db.prepare(`SELECT seq, dataset, bytes, recorded_at FROM outbox WHERE ${ofKind} AND ${notLeased} ORDER BY seq LIMIT 500`),
    oldestDead: db.prepare(`SELECT seq, dataset, bytes, recorded_at FROM dead_letters WHERE priority = ? ORDER BY seq LIMIT 500`),
    deleteOutbox: db.prepare(`DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))`),
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
