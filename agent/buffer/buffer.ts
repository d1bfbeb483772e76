// The durable outbox between sources and sinks — the only module that speaks SQL.
//
// Sources record() documents, each call one durable transaction (optionally with a state change,
// such as marking a file uploaded). Sinks lease() a batch — the heartbeat lane first, then by
// priority and age — and settle() it: delivered rows are deleted, retryable ones get a next-attempt
// time, poison ones move to dead letters. Leases live in memory: after a crash every unsettled row
// is simply sent again, and OpenSearch's create-by-_id makes that harmless.
import fs from 'node:fs';
import path from 'node:path';
import { makeDocument, type BoothIdentity } from '../../shared/documents/stamp.ts';
import type { BoothDocument, Dataset } from '../../shared/documents/schema.ts';
import { rowCost, sizeBudget, type SizeBudget } from './bounds.ts';
import { DatabaseBusyError, DiskFullError, isBusy, isCorruption, isDiskFull } from './errors.ts';
import { DB_FILE, fileSize, openDatabase, openReadOnly, replaceDatabase, SYNC_CHECK_MAX_BYTES, type Db, type Reset } from './open.ts';
import { deleteExpired, deleteOldest } from './drops.ts';
import { DATASET_OF_PRIORITY, HEARTBEAT_PRIORITY, priorityOfSeq, seqRange } from './priority.ts';
import { restore } from './restore.ts';
import { STATE_KEYS } from './state-keys.ts';
import { UploadLedger, type LedgerBooking, type LedgerEntry } from './upload-ledger.ts';
import { claimSeqs, prepare, toRow, toUploadRow, type Row, type Statements, uploadParams } from './statements.ts';
import { deleteDocuments, readBatch } from './outbox.ts';
import { checkInSteps, type CheckSteps } from './check.ts';
import type { BackgroundCheck, BookingRow, BufferOptions, BufferStats, DeadLetterFacts, DropReason, LeasedDoc, ResetFacts, Settlement, StateWriter, UploadRow, UploadTotals } from './types.ts';

export type * from './types.ts';

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
  private stmts!: Statements;
  /** A second record of the files uploaded, for a reset (none for a reader). */
  private readonly ledger: UploadLedger | undefined;

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
    this.ledger = opts.readOnly ? undefined : new UploadLedger(opts.stateDir);
    if (opened.reset) this.afterReset(opened.reset);
    else this.keepLedgerInStep();
  }

  /**
   * A large file is not fully checked at open (quick_check reads all of it: ~9 s for a million
   * documents). Instead the small tables are quick_checked, and the outbox and dead letters are
   * read through in small steps between other work, after a drain in progress (check.ts), so a
   * damaged page is found without holding up the start or costing memory (a worker thread would
   * add ~40 MB). A corrupt file is moved aside like one found at open. Resolves to what became of
   * the check: done and sound, stopped because the buffer closed first, or the file replaced.
   */
  async checkInBackground(steps: CheckSteps = {}): Promise<BackgroundCheck> {
    if ((this.opts.check ?? true) === false || fileSize(this.file) <= SYNC_CHECK_MAX_BYTES) return { kind: 'ok' };
    try {
      return (await checkInSteps(this.db, this.stmts, () => this.leased.size > 0, steps)) ? { kind: 'ok' } : { kind: 'stopped' };
    } catch (err) {
      if (!isCorruption(err)) throw err;
      // Closed meanwhile (the agent stopping): the next open checks the file again.
      if (!this.db.open) return { kind: 'stopped' };
      this.restartFresh(err);
      return { kind: 'replaced', problem: (err as Error).message };
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
      let uploaded: (LedgerEntry | LedgerBooking)[] = [];
      const write = this.db.transaction(() => {
        uploaded = [];
        const incoming = rows.reduce((sum, r) => sum + rowCost(r.bytes), 0);
        this.makeRoom(incoming);
        this.insertRows(rows);
        if (change) change(this.stateWriter(uploaded));
      });
      try {
        write.immediate();
        this.ledger?.append(uploaded);
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
        this.ledger?.append(uploaded);
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
    const seqs = claimSeqs(this.stmts, rows.map((r) => r.priority));
    rows.forEach((r, i) => {
      if (r.priority === HEARTBEAT_PRIORITY) this.stmts.deleteUnleasedHeartbeats.run(...seqRange(HEARTBEAT_PRIORITY), this.leasedJson());
      this.stmts.insert.run(seqs[i]!, r.eventId, r.dataset, r.timestamp, recordedAt, r.bytes, r.body);
    });
  }

  /** Writes state inside a transaction; uploads marked uploaded are added to `uploaded`, for the ledger once committed. */
  private stateWriter(uploaded: (LedgerEntry | LedgerBooking)[]): StateWriter {
    return {
      setState: (key, value) => this.stmts.setState.run(key, JSON.stringify(value)),
      putUpload: (u) => {
        if (u.status === 'uploaded') uploaded.push({ path: u.path, bookingId: u.bookingId, size: u.size, mtimeMs: u.mtimeMs, endedAt: u.endedAt ?? null, speedMbS: u.speedMbS ?? null });
        this.stmts.putUpload.run(uploadParams(u, this.now()));
      },
      putBooking: (b) => {
        if (b.summarizedAt !== null) uploaded.push({ id: b.id, firstSeenAt: b.firstSeenAt, finishedAt: b.finishedAt, summarizedAt: b.summarizedAt });
        this.stmts.putBooking.run(b.id, b.firstSeenAt, b.finishedAt, b.summarizedAt);
      },
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
      const n = deleteOldest(this.stmts, this.leasedJson(), excess, byDataset);
      if (n === 0) break;
      dropped += n;
    }
    if (dropped > 0) this.recordDrop(reason, dropped, byDataset);
  }

  /** Drops documents recorded longer than buffer.max_age ago. Returns how many. */
  pruneExpired(): number {
    return this.guard(() => {
      const cutoff = this.now() - this.opts.maxAgeMs;
      const byDataset: Partial<Record<Dataset, number>> = {};
      let dropped = 0;
      this.db
        .transaction(() => {
          dropped = deleteExpired(this.stmts, this.leasedJson(), cutoff, byDataset);
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

  /** The next batch to send: the heartbeat lane first, then by priority and age (outbox.ts). */
  lease(maxDocs: number, maxBytes: number): LeasedDoc[] {
    return this.guard(() => {
      const out = readBatch(this.stmts, this.leased, this.now(), maxDocs, maxBytes);
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
    try {
      // What the lease holds is judged again inside guard: if the database is found corrupt and
      // replaced on the way, the leases are gone and the retry must touch nothing in the fresh file.
      this.guard(() => this.writeSettlement(this.leasedOnly(settlement)));
    } finally {
      // Every number named ends its lease (ending one that is not held changes nothing).
      for (const seq of settlement.delivered ?? []) this.leased.delete(seq);
      for (const r of settlement.retry ?? []) this.leased.delete(r.seq);
      for (const d of settlement.dead ?? []) this.leased.delete(d.seq);
      for (const seq of settlement.release ?? []) this.leased.delete(seq);
    }
    // A heartbeat handed back may now sit beside a newer one: keep only the newest unsent heartbeat.
    const handedBack = [...(settlement.release ?? []), ...(settlement.retry ?? []).map((r) => r.seq)];
    if (handedBack.some((seq) => priorityOfSeq(seq) === HEARTBEAT_PRIORITY)) {
      this.guard(() => this.stmts.deleteOlderHeartbeats.run(...seqRange(HEARTBEAT_PRIORITY), this.leasedJson(), ...seqRange(HEARTBEAT_PRIORITY)));
    }
  }

  private writeSettlement(s: Settlement): void {
    // Handing documents back is only the end of a lease (in memory): no transaction for that.
    if (!s.delivered?.length && !s.retry?.length && !s.dead?.length) return;
    this.db
      .transaction(() => {
        const now = this.now();
        if (s.delivered?.length) {
          deleteDocuments(this.stmts, s.delivered);
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
      .immediate();
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
    this.guard(() => {
      const uploaded: (LedgerEntry | LedgerBooking)[] = [];
      this.db
        .transaction(() => {
          uploaded.length = 0;
          const w = this.stateWriter(uploaded);
          for (const row of rows) w.putUpload(row);
        })
        .immediate();
      this.ledger?.append(uploaded);
    });
  }

  getBooking(id: string): BookingRow | undefined {
    return this.guard(() => {
      const r = this.stmts.getBooking.get(id) as { id: string; first_seen_at: number; finished_at: number | null; summarized_at: number | null } | undefined;
      return r ? { id: r.id, firstSeenAt: r.first_seen_at, finishedAt: r.finished_at, summarizedAt: r.summarized_at } : undefined;
    });
  }

  putBooking(row: BookingRow): void {
    this.guard(() => {
      const summarized: (LedgerEntry | LedgerBooking)[] = [];
      this.stateWriter(summarized).putBooking(row);
      this.ledger?.append(summarized);
    });
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
    // Batches still in flight keep their numbers; the fresh file numbers past them, so their
    // answers, when they come, can never settle a new document.
    const inFlight = [...this.leased];
    this.leased.clear();
    const reason = `the database is corrupt (${(cause as Error).message})`;
    const opened = replaceDatabase(this.opts.stateDir, reason, this.now);
    this.db = opened.db;
    this.configure();
    for (const seq of inFlight) {
      const [first] = seqRange(priorityOfSeq(seq));
      this.stmts.skipSeqsTo.run(seq - first, priorityOfSeq(seq));
    }
    this.afterReset(opened.reset!);
  }

  /**
   * Fills the fresh database with what the old one still holds and what the ledger knows, then
   * records the reset — as a state_reset event (with how much came back) and in the state, for status.
   */
  private afterReset(reset: Reset): void {
    const restored = restore(this.db, this.stmts, reset.quarantinedPath, this.ledger?.read() ?? { uploads: new Map(), bookings: new Map() }, this.now());
    const found = restored.salvage;
    const facts: ResetFacts = {
      at: this.now(),
      reason: reset.reason.slice(0, 1000),
      quarantined_path: reset.quarantinedPath,
      ...(found?.documentsHeld !== undefined ? { documents_held: found.documentsHeld } : {}),
      salvaged: { documents: restored.documents, dead_letters: restored.deadLetters, uploads: restored.uploads, bookings: restored.bookings },
      uploads_from_ledger: restored.fromLedger,
      ...(found ? { pages: found.pages, unreadable_pages: found.unreadablePages } : {}),
      ...(restored.error ? { salvage_error: restored.error } : {}),
    };
    const held = facts.documents_held !== undefined ? ` of the ${facts.documents_held} it held` : '';
    const doc = makeDocument(
      'booth.agent',
      {
        message: `Started a fresh buffer: ${reset.reason}. The old file was kept as ${reset.quarantinedPath}; ${restored.documents} unsent documents${held} were recovered from it (${restored.deadLetters} dead letters, ${restored.uploads + restored.fromLedger} uploaded files remembered).`,
        event: { action: 'state_reset', reason: facts.reason },
        buffer: {
          quarantined_path: reset.quarantinedPath,
          salvaged_documents: restored.documents,
          ...(facts.documents_held !== undefined ? { quarantined_documents: facts.documents_held } : {}),
        },
      },
      this.opts.booth,
      this.now,
    );
    this.db
      .transaction(() => {
        this.insertRows([toRow(doc)]);
        this.stmts.setState.run(STATE_KEYS.bufferLastReset, JSON.stringify(facts));
      })
      .immediate();
    this.opts.onNotice?.({ kind: 'reset', ...reset, restored });
  }

  /** An upgraded agent writes its first ledger from the database; a ledger grown far past the database is rewritten. */
  private keepLedgerInStep(): void {
    if (!this.ledger) return;
    const uploaded = (this.stmts.uploadStatusCounts.all() as { status: string; n: number }[]).find((r) => r.status === 'uploaded')?.n ?? 0;
    const missing = uploaded > 0 && !fs.existsSync(this.ledger.file);
    if (!missing && !this.ledger.needsCompaction(uploaded)) return;
    const stmts = this.stmts;
    try {
      this.ledger.rewrite(
        (function* (): Generator<LedgerEntry | LedgerBooking> {
          for (const r of stmts.uploadedFiles.iterate() as Iterable<{ path: string; booking_id: string; size: number; mtime_ms: number; ended_at: number | null; speed_mb_s: number | null }>) {
            yield { path: r.path, bookingId: r.booking_id, size: r.size, mtimeMs: r.mtime_ms, endedAt: r.ended_at, speedMbS: r.speed_mb_s };
          }
          for (const b of stmts.summarizedBookings.iterate() as Iterable<{ id: string; first_seen_at: number; finished_at: number | null; summarized_at: number }>) {
            yield { id: b.id, firstSeenAt: b.first_seen_at, finishedAt: b.finished_at, summarizedAt: b.summarized_at };
          }
        })(),
      );
    } catch {
      // A full disk or a read-only state dir: the ledger is a second copy, the agent works without it.
    }
  }

  private leasedJson(): string {
    return this.leased.size === 0 ? '[]' : JSON.stringify([...this.leased]);
  }
}

