// The upload source (SPEC §5 "Uploads"): takes in the photos of <watch_dir>/<booking_id>/<image>
// once they have stopped growing, queues them and runs `uploads.concurrency` uploads at a time.
//
//   file event (watcher.ts, or the scan of reconcile.ts) → intake (which files may be uploaded:
//   open-file.ts) → queue → FileUploader.process (uploader.ts: attempts through client.ts, each
//   recorded with the file's state) → bookings (booking-tracker.ts: summaries, speed)
import fs from 'node:fs';
import path from 'node:path';
import type { DocumentBuffer, UploadRow } from '../../buffer/buffer.ts';
import { DiskFullError } from '../../buffer/errors.ts';
import type { Config } from '../../config/schema.ts';
import type { TlsMaterial } from '../../config/tls.ts';
import type { Logger } from '../../log/logger.ts';
import type { Recorder } from '../recorder.ts';
import type { Source } from '../source.ts';
import { BookingTracker } from './booking-tracker.ts';
import { SpeedBaseline, type MomentFacts } from './bookings.ts';
import { uploadFacts, type UploadFacts } from './facts.ts';
import { UploadClient } from './client.ts';
import { RefusedFile, refusalOf } from './open-file.ts';
import { Reconciler, type ReconcileTarget } from './reconcile.ts';
import { changedSince, FileUploader, mtimeMsOf, NEVER } from './uploader.ts';
import { PhotoWatcher } from './watcher.ts';

export interface UploadSourceOptions {
  uploads: Config['uploads'];
  boothId: string;
  /** Values of uploads.header_files, by header name. */
  secretHeaders: Record<string, string>;
  tls: TlsMaterial;
}

/** What other sources tell uploads: the network of the moment, for upload documents (the interface used) and speed events. */
export interface UploadContext {
  moment?: MomentFacts;
}

const CHECK_INTERVAL_MS = 1000;

export class UploadSource implements Source, ReconcileTarget {
  readonly name = 'uploads';
  private readonly watcher: PhotoWatcher;
  private readonly reconciler: Reconciler;
  private timer: NodeJS.Timeout | undefined;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  /** Files the watcher reported that could not be taken in (a full disk): tried again on every check. */
  private readonly unseen = new Set<string>();
  private readonly pendingRows: UploadRow[] = [];
  private readonly inFlight = new Set<string>();
  private readonly bookings: BookingTracker;
  private readonly uploader: FileUploader;
  /** Files waiting for their next attempt (rejected, out of retries, or disk full). */
  private readonly parked = new Map<string, NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private readonly client: UploadClient;
  private readonly watchDir: string;
  /** The watch folder's file system: files on others are not uploaded. */
  private readonly watchDev: bigint;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly opts: UploadSourceOptions;
  private readonly buffer: DocumentBuffer;
  private readonly logger: Logger;

  constructor(opts: UploadSourceOptions, recorder: Recorder, buffer: DocumentBuffer, logger: Logger, context: UploadContext = {}) {
    this.opts = opts;
    this.buffer = buffer;
    this.logger = logger;
    this.watchDir = fs.realpathSync(opts.uploads.watch_dir);
    this.watchDev = fs.statSync(this.watchDir, { bigint: true }).dev;
    const u = opts.uploads;
    this.client = new UploadClient({
      method: u.method,
      headers: { ...u.headers, ...opts.secretHeaders },
      connectTimeoutMs: u.connect_timeout,
      idleTimeoutMs: u.idle_timeout,
      tls: opts.tls,
    });
    const moment = () => context.moment?.();
    this.bookings = new BookingTracker(u, buffer, recorder, new SpeedBaseline(buffer, recorder, logger, moment), logger);
    this.uploader = new FileUploader({
      uploads: u,
      boothId: opts.boothId,
      client: this.client,
      buffer,
      recorder,
      logger,
      bookings: this.bookings,
      watchDir: this.watchDir,
      watchDev: this.watchDev,
      moment,
      signal: this.abort.signal,
      stopping: () => this.stopping,
      inspect: (rel) => this.inspect(rel),
      park: (rel, at) => this.park(rel, at),
    });
    const watching = { watchDir: this.watchDir, extensions: new Set(u.extensions.map((e) => e.toLowerCase())), marker: u.complete_marker, settleTimeMs: u.settle_time };
    this.watcher = new PhotoWatcher(watching, (abs) => this.onFile(abs), logger);
    this.reconciler = new Reconciler({ ...watching, intervalMs: u.reconcile_interval }, this, this.watcher, recorder, buffer, logger);
  }

  start(): void {
    this.watcher.start();
    this.reconciler.start();
    this.timer = setInterval(() => this.tick(), CHECK_INTERVAL_MS);
  }

  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.reconciler.stop();
    await this.watcher.close();
    // Let uploads in flight finish until the deadline; then abandon them (they are not marked,
    // so they are uploaded again next time — the server may see them twice, never zero times).
    if (this.inFlight.size > 0) {
      const idle = new Promise<void>((r) => this.idleWaiters.push(r));
      const timeout = new Promise<void>((r) => setTimeout(r, Math.max(0, deadline - Date.now() - 500)).unref());
      await Promise.race([idle, timeout]);
      this.abort.abort();
    }
  }

  /** Pending, failing (with codes), rejected, the last upload and today's totals. */
  facts(now = new Date()): UploadFacts {
    // Files in the queue have no row yet, or a pending one: count each once.
    const unrecorded = this.queue.filter((rel) => this.buffer.getUpload(rel) === undefined).length;
    return uploadFacts(this.buffer, now, unrecorded);
  }

  /** For the reconciliation scan: whether this file, as it is now, is in the source's hands. */
  hasInHand(rel: string, stat: fs.BigIntStats): boolean {
    const [booking, file] = rel.split(path.sep) as [string, string];
    if (file === this.opts.uploads.complete_marker) return this.bookings.knowsFinished(booking);
    if (this.queued.has(rel) || this.inFlight.has(rel) || this.parked.has(rel)) return true;
    const row = this.buffer.getUpload(rel);
    // Uploaded, or refused for good (empty, a link…) — and unchanged since.
    const settled = row?.status === 'uploaded' || (row?.status === 'rejected' && row.nextAttemptAt === NEVER);
    return settled && !changedSince(row, stat);
  }

  /** For the reconciliation scan: records a file whose name cannot be used (`rel` names it printably) as not uploaded. */
  refuseName(rel: string, stat: fs.BigIntStats): void {
    try {
      this.uploader.refuseAtIntake(rel, new RefusedFile(rel, 'bad_name'), stat);
    } catch (err) {
      this.logger.error('could not record a file that is not uploaded', { file: rel, error: err });
    }
  }

  /** For the reconciliation scan: takes a file in as a watcher event does (never throws). */
  takeIn(abs: string): void {
    this.onFile(abs);
  }

  /** A file event: never throws — it runs in the watcher's event handler. */
  private onFile(abs: string): void {
    try {
      this.intake(abs);
      this.unseen.delete(abs);
    } catch (err) {
      // The booking's row could not be written (a full disk): the file is taken in on a later check.
      this.unseen.add(abs);
      if (!(err instanceof DiskFullError)) this.logger.error('could not take in a new file', { file: abs, error: err });
    }
  }

  private intake(abs: string): void {
    const rel = path.relative(this.watchDir, abs);
    const parts = rel.split(path.sep);
    // Only <booking>/<file>; the watcher turns a backslash in a name into a separator, and such a
    // path names no file (the reconciliation scan takes the real one in).
    if (parts.length !== 2) return;
    const [booking, file] = parts as [string, string];
    if (!booking || !file) return;
    if (file === this.opts.uploads.complete_marker) return this.bookings.marked(booking);
    this.bookings.touch(booking);
    this.enqueue(rel);
  }

  /**
   * Queues a file. A file seen for the first time gets a pending row at once, so that `status`
   * (another process) counts it and a booking is not summarized without it; a file whose success
   * is recorded is not queued again — the reconciliation of the files found at start.
   */
  private enqueue(rel: string): void {
    if (this.stopping || this.queued.has(rel) || this.inFlight.has(rel)) return;
    const row = this.buffer.getUpload(rel);
    if (row?.status === 'uploaded' && !this.changedAfterUpload(rel, row)) return;
    if (!row) {
      const checked = this.inspect(rel);
      if (!('stat' in checked)) {
        // A link, a FIFO, a second name…: recorded once, so status shows it and no scan takes it in again.
        if (checked.refused && checked.linkStat) this.uploader.refuseAtIntake(rel, checked.refused, checked.linkStat);
        return;
      }
      const [booking] = rel.split(path.sep) as [string];
      this.notePending({ path: rel, bookingId: booking, size: Number(checked.stat.size), mtimeMs: mtimeMsOf(checked.stat), status: 'pending', attempts: 0 });
    }
    this.queued.add(rel);
    this.queue.push(rel);
    this.pump();
  }

  /** An uploaded file written again since (its size or time differs); one that is gone is not. */
  private changedAfterUpload(rel: string, row: UploadRow): boolean {
    const stat = safeLstat(path.join(this.watchDir, rel));
    return stat !== undefined && stat.isFile() && changedSince(row, stat);
  }

  /**
   * Pending rows are written together, a moment later: at start the watcher may report thousands of
   * files at once, and one durable commit each would hold the event loop for as many disk flushes.
   */
  private notePending(row: UploadRow): void {
    this.pendingRows.push(row);
    if (this.pendingRows.length === 1) setImmediate(() => this.flushPending());
  }

  private flushPending(): void {
    const rows = this.pendingRows.splice(0);
    try {
      // A file whose upload already has a row (it raced ahead) keeps it.
      this.buffer.putUploads(rows.filter((r) => this.buffer.getUpload(r.path) === undefined));
    } catch (err) {
      // Disk full: the files are still queued and get their rows with their first result.
      if (!(err instanceof DiskFullError)) this.logger.error('could not note new files as pending', { files: rows.length, error: err });
    }
  }

  /**
   * The file's stats if it may be uploaded (open-file.ts says which may); else why not, logged, or
   * no reason when it is gone.
   */
  private inspect(rel: string): { stat: fs.BigIntStats } | { refused: RefusedFile | undefined; linkStat?: fs.BigIntStats } {
    const abs = path.join(this.watchDir, rel);
    const stat = safeLstat(abs);
    if (!stat) return { refused: undefined };
    let refusal = refusalOf(stat, this.watchDev);
    if (!refusal && !isInside(this.watchDir, safeRealpath(abs))) refusal = 'outside';
    if (!refusal) return { stat };
    return { refused: new RefusedFile(rel, refusal), linkStat: stat };
  }

  private pump(): void {
    while (!this.stopping && this.inFlight.size < this.opts.uploads.concurrency && this.queue.length > 0) {
      const rel = this.queue.shift()!;
      this.queued.delete(rel);
      this.inFlight.add(rel);
      void this.uploader.process(rel)
        .catch((err) => this.logger.error('upload failed unexpectedly', { file: rel, error: err }))
        .finally(() => {
          this.inFlight.delete(rel);
          if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
          this.pump();
        });
    }
  }

  /** Summarizes finished bookings (held documents are flushed by the daemon). */
  private tick(): void {
    for (const abs of [...this.unseen]) this.onFile(abs);
    try {
      this.bookings.summarizeFinished((id) => [...this.queued, ...this.inFlight].some((rel) => rel.startsWith(`${id}${path.sep}`)));
    } catch (err) {
      this.logger.error('upload housekeeping failed', { error: err });
    }
  }

  private park(rel: string, at: number): void {
    clearTimeout(this.parked.get(rel));
    const t = setTimeout(() => {
      this.parked.delete(rel);
      this.enqueue(rel);
    }, Math.min(2 ** 31 - 1, Math.max(0, at - Date.now())));
    t.unref();
    this.parked.set(rel, t);
  }


}

function safeLstat(p: string): fs.BigIntStats | undefined {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch {
    return undefined;
  }
}

function safeRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

/** Whether `p` lies inside `dir` (a name starting with two dots, `..foo`, is inside). */
function isInside(dir: string, p: string | undefined): boolean {
  if (p === undefined) return false;
  const rel = path.relative(dir, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}
