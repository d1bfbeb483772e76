// The upload source (SPEC §5 "Uploads"): watches <watch_dir>/<booking_id>/<image>, uploads each
// image once it has stopped growing, times it, and records what happened — success, each failed
// attempt, or a rejection — in the same transaction as the file's upload state, so a file whose
// success was recorded is never sent again, across restarts.
//
//   file event (watcher.ts, or the scan of reconcile.ts) → queue → UploadClient.attempt (p-retry,
//   the file opened by open-file.ts) → record doc + state → bookings
import fs from 'node:fs';
import path from 'node:path';
import pRetry, { AbortError } from 'p-retry';
import { backoffDelay, retryAfterMs, sleep } from '../../backoff.ts';
import type { DocumentBuffer, UploadRow } from '../../buffer/buffer.ts';
import { DiskFullError } from '../../buffer/errors.ts';
import type { Config } from '../../config/schema.ts';
import type { TlsMaterial } from '../../config/tls.ts';
import type { Logger } from '../../log/logger.ts';
import type { BoothDocument } from '../../../shared/documents/schema.ts';
import type { Recorder } from '../recorder.ts';
import type { Source } from '../source.ts';
import { BookingTracker } from './booking-tracker.ts';
import { SpeedBaseline, type MomentFacts } from './bookings.ts';
import { uploadFacts, type UploadFacts } from './facts.ts';
import { UploadClient, type AttemptResult } from './client.ts';
import { openTakenIn, RefusedFile, refusalOf, type FileIdentity } from './open-file.ts';
import { Reconciler, type ReconcileTarget } from './reconcile.ts';
import { PhotoWatcher } from './watcher.ts';
import { uploadUrl } from './url.ts';

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
const NEVER = 8.64e15;

class RetryableUpload extends Error {
  override name = 'RetryableUpload';
  readonly result: AttemptResult;
  constructor(result: AttemptResult) {
    super(result.error?.message ?? `HTTP ${result.status}`);
    this.result = result;
  }
}

/** Attempt errors that are about the file, not the server: ENOENT/EACCES on open, a file that shrank while read. */
const FILE_PROBLEMS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ESHRUNK']);

class FileChanged extends Error {
  override name = 'FileChanged';
  readonly retryAt: number;
  constructor(retryAt: number, message: string) {
    super(message);
    this.retryAt = retryAt;
  }
}

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
  private readonly recorder: Recorder;
  private readonly buffer: DocumentBuffer;
  private readonly logger: Logger;

  private readonly context: UploadContext;

  constructor(opts: UploadSourceOptions, recorder: Recorder, buffer: DocumentBuffer, logger: Logger, context: UploadContext = {}) {
    this.opts = opts;
    this.context = context;
    this.recorder = recorder;
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
    this.bookings = new BookingTracker(u, buffer, recorder, new SpeedBaseline(buffer, recorder, logger, () => context.moment?.()), logger);
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
  hasInHand(rel: string, size: number, mtimeMs: number): boolean {
    if (this.queued.has(rel) || this.inFlight.has(rel) || this.parked.has(rel)) return true;
    const row = this.buffer.getUpload(rel);
    if (row?.status === 'uploaded') return true;
    // Refused for good (empty, a link…) and unchanged since.
    return row?.status === 'rejected' && row.nextAttemptAt === NEVER && row.size === size && row.mtimeMs === mtimeMs;
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
    if (row?.status === 'uploaded') return;
    if (!row) {
      const checked = this.inspect(rel);
      if (!('stat' in checked)) return;
      const [booking] = rel.split(path.sep) as [string];
      this.notePending({ path: rel, bookingId: booking, size: Number(checked.stat.size), mtimeMs: mtimeMsOf(checked.stat), status: 'pending', attempts: 0 });
    }
    this.queued.add(rel);
    this.queue.push(rel);
    this.pump();
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
  private inspect(rel: string): { stat: fs.BigIntStats } | { refused: RefusedFile | undefined } {
    const abs = path.join(this.watchDir, rel);
    const stat = safeLstat(abs);
    if (!stat) return { refused: undefined };
    let refusal = refusalOf(stat, this.watchDev);
    if (!refusal && !isInside(this.watchDir, safeRealpath(abs))) refusal = 'outside';
    if (!refusal) return { stat };
    const refused = new RefusedFile(rel, refusal);
    this.logger.warn(refused.message, { file: rel });
    return { refused };
  }

  private pump(): void {
    while (!this.stopping && this.inFlight.size < this.opts.uploads.concurrency && this.queue.length > 0) {
      const rel = this.queue.shift()!;
      this.queued.delete(rel);
      this.inFlight.add(rel);
      void this.process(rel)
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

  private async process(rel: string): Promise<void> {
    const abs = path.join(this.watchDir, rel);
    const [booking, file] = rel.split(path.sep) as [string, string];
    const row = this.buffer.getUpload(rel);
    if (row?.status === 'uploaded') return;
    const checked = this.inspect(rel);
    if (!('stat' in checked)) {
      if (row && !(row.status === 'rejected' && row.nextAttemptAt === NEVER)) this.refuse(rel, booking, file, row, checked.refused);
      return;
    }
    const { stat } = checked;
    const size = Number(stat.size);
    const mtimeMs = mtimeMsOf(stat);
    const now = Date.now();
    // A file that changed since its last attempt (an empty file that got its content, a vanished one
    // written again) is a new file: it does not wait out the old verdict.
    const changed = row !== undefined && (row.size !== size || row.mtimeMs !== mtimeMs);
    if (row && !changed && row.status !== 'pending' && (row.nextAttemptAt ?? 0) > now) {
      this.park(rel, row.nextAttemptAt!);
      return;
    }
    const base: UploadRow = { path: rel, bookingId: booking, size, mtimeMs, status: 'pending', attempts: row?.attempts ?? 0 };
    if (size === 0) {
      this.record(
        [this.uploadDoc(booking, file, size, { outcome: 'failure' }, { error: { type: 'empty_file', message: `${rel} is empty (0 bytes): not uploaded` } })],
        { ...base, status: 'rejected', lastError: 'empty file', nextAttemptAt: NEVER },
      );
      this.logger.warn('not uploading an empty file', { file: rel });
      return;
    }
    await this.upload(rel, booking, file, abs, base, { dev: stat.dev, ino: stat.ino });
  }

  /**
   * A file that was seen, but is gone, or replaced by something that is not uploaded (`refused`),
   * before its upload: a failure on record, and its booking can finish. Written anew, it is a new file.
   */
  private refuse(rel: string, booking: string, file: string, row: UploadRow, refused: RefusedFile | undefined): void {
    const error = refused ? { type: refused.type, message: refused.message } : { type: 'file_vanished', message: `${rel} disappeared before it was uploaded` };
    this.record([this.uploadDoc(booking, file, row.size, { outcome: 'failure' }, { error })], {
      ...row,
      status: 'rejected',
      lastError: refused ? refused.message : 'file disappeared',
      nextAttemptAt: NEVER,
    });
    this.logger.warn(error.message, { file: rel });
  }

  /** Uploads the file taken in as `takenIn`: each attempt streams from that file, or from nothing. */
  private async upload(rel: string, booking: string, file: string, abs: string, base: UploadRow, takenIn: FileIdentity): Promise<void> {
    const u = this.opts.uploads;
    const url = uploadUrl(u.url, this.opts.boothId, booking, file);
    let attempts = base.attempts;
    try {
      await pRetry(
        async () => {
          attempts++;
          const body = { name: rel, size: base.size, open: () => openTakenIn(abs, rel, takenIn, this.watchDev) };
          const r = await this.client.attempt(url, body, this.abort.signal);
          if (r.ok) return this.succeeded(rel, booking, file, base, r, attempts);
          if (r.status !== undefined && r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
            return this.rejected(rel, booking, file, base, r, attempts);
          }
          // A file refused at opening (a link or another file swapped in) is looked at afresh too:
          // a photo rewritten by rename is uploaded as the new file, a link is refused for good.
          const fileProblem = r.refused !== undefined || (r.error !== undefined && FILE_PROBLEMS.has(r.error.type));
          const retryAt = fileProblem ? Date.now() + u.settle_time : undefined;
          this.record([this.attemptDoc(booking, file, base.size, r, attempts, 'failure')], {
            ...base,
            status: 'failing',
            attempts,
            httpStatus: r.status ?? null,
            lastError: r.error?.message ?? `HTTP ${r.status}`,
            ...(retryAt !== undefined ? { nextAttemptAt: retryAt } : {}),
          });
          // The file changed or went away under the upload: look at it afresh once it has settled
          // rather than send the old length again.
          if (retryAt !== undefined) throw new AbortError(new FileChanged(retryAt, r.error!.message));
          throw new RetryableUpload(r);
        },
        {
          retries: Math.max(0, u.retry.attempts - 1),
          minTimeout: 0,
          factor: 1,
          signal: this.abort.signal,
          shouldRetry: () => !this.stopping,
          onFailedAttempt: async ({ error, attemptNumber }) => {
            const r = error instanceof RetryableUpload ? error.result : undefined;
            const delay = Math.min(u.retry.max_delay, Math.max(backoffDelay(attemptNumber, u.retry.min_delay, u.retry.max_delay), retryAfterMs(r?.retryAfter) ?? 0));
            this.logger.warn('upload failed; will retry', { file: rel, attempt: attemptNumber, error: error.message, retry_in_ms: delay });
            await sleep(delay, this.abort.signal);
          },
        },
      );
    } catch (err) {
      if (this.stopping) return;
      if (err instanceof FileChanged) {
        this.logger.warn('the file changed while it was uploaded; it is uploaded afresh once it has settled', { file: rel, error: err.message });
        return this.park(rel, err.retryAt);
      }
      // Out of attempts for this round: the file waits for the next one.
      const next = Date.now() + u.retry.max_delay;
      this.buffer.putUpload({ ...base, status: 'failing', attempts, lastError: (err as Error).message, nextAttemptAt: next });
      this.park(rel, next);
    }
  }

  private succeeded(rel: string, booking: string, file: string, base: UploadRow, r: AttemptResult, attempts: number): void {
    this.record([this.attemptDoc(booking, file, base.size, r, attempts, 'success')], {
      ...base,
      status: 'uploaded',
      attempts,
      httpStatus: r.status ?? null,
      lastError: null,
      speedMbS: r.speedMbS,
      startedAt: r.startedAt,
      endedAt: r.endedAt,
    });
    this.afterUpload(rel, booking, file);
    this.bookings.uploaded(booking, { startedAt: r.startedAt, endedAt: r.endedAt, bytes: r.bytes });
  }

  private rejected(rel: string, booking: string, file: string, base: UploadRow, r: AttemptResult, attempts: number): void {
    const next = Date.now() + this.opts.uploads.rejected_retry;
    const message = `The upload server refused ${file} of booking ${booking} with HTTP ${r.status}`;
    this.record(
      [
        this.attemptDoc(booking, file, base.size, r, attempts, 'rejected'),
        this.recorder.event('upload_rejected', message, { booking: { id: booking }, file: { name: file }, http: { response: { status_code: r.status } } }),
      ],
      { ...base, status: 'rejected', attempts, httpStatus: r.status ?? null, lastError: `HTTP ${r.status}`, nextAttemptAt: next },
    );
    this.logger.warn(message, { file: rel, status: r.status, retry_at: new Date(next).toISOString() });
    this.park(rel, next);
  }

  /**
   * Records documents with the file's new state in one transaction. On a full disk nothing is
   * recorded and the file is processed again in 5 s — uploaded again if its success could not be
   * recorded (the documented at-least-once window), never lost.
   */
  private record(docs: BoothDocument[], state: UploadRow): void {
    try {
      this.recorder.record(docs, (tx) => tx.putUpload(state));
    } catch (err) {
      if (!(err instanceof DiskFullError)) throw err;
      this.logger.error('disk full: upload result not recorded yet', { file: state.path });
      this.park(state.path, Date.now() + 5000);
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

  private afterUpload(rel: string, booking: string, file: string): void {
    const u = this.opts.uploads;
    const abs = path.join(this.watchDir, rel);
    try {
      if (u.after_upload === 'delete') fs.rmSync(abs);
      else if (u.after_upload === 'move' && u.move_to) {
        const dir = path.join(u.move_to, booking);
        fs.mkdirSync(dir, { recursive: true });
        fs.renameSync(abs, path.join(dir, file));
      }
    } catch (err) {
      this.logger.error(`could not ${u.after_upload} an uploaded file`, { file: rel, error: err });
    }
  }

  private uploadDoc(booking: string, file: string, size: number, upload: Record<string, unknown>, extra: Record<string, unknown> = {}): BoothDocument {
    return this.recorder.make('booth.upload', { booking: { id: booking }, file: { name: file, size }, upload, ...extra });
  }

  private attemptDoc(booking: string, file: string, size: number, r: AttemptResult, attempt: number, outcome: 'success' | 'failure' | 'rejected'): BoothDocument {
    const timings = Object.fromEntries(Object.entries(r.timings).filter(([, v]) => typeof v === 'number').map(([k, v]) => [k, Math.round((v as number) * 10) / 10]));
    const upload: Record<string, unknown> = {
      outcome,
      bytes: r.bytes,
      duration_ms: Math.round(r.durationMs * 10) / 10,
      speed_mb_s: Math.round(r.speedMbS * 1000) / 1000,
      attempt,
      timings,
      url_host: new URL(this.opts.uploads.url.replace(/\{[^}]*\}/g, 'x')).host,
    };
    const extra: Record<string, unknown> = {};
    if (r.status !== undefined) extra['http'] = { response: { status_code: r.status } };
    const iface = this.context.moment?.()?.network?.interface;
    if (iface) extra['network'] = { interface: iface };
    if (r.error) extra['error'] = r.error;
    else if (!r.ok) extra['error'] = { type: 'http_error', message: `HTTP ${r.status}` };
    return this.uploadDoc(booking, file, size, upload, extra);
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

/** Modification time in whole milliseconds, as upload rows keep it. */
function mtimeMsOf(stat: fs.BigIntStats): number {
  return Math.round(Number(stat.mtimeNs) / 1e6);
}
