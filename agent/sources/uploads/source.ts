// The upload source (SPEC §5 "Uploads"): watches <watch_dir>/<booking_id>/<image>, uploads each
// image once it has stopped growing, times it, and records what happened — success, each failed
// attempt, or a rejection — in the same transaction as the file's upload state, so a file whose
// success was recorded is never sent again, across restarts.
//
//   file event (chokidar) → queue → UploadClient.attempt (p-retry) → record doc + state → bookings
import fs from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import pRetry from 'p-retry';
import { backoffDelay, retryAfterMs, sleep } from '../../backoff.ts';
import type { DocumentBuffer, UploadRow } from '../../buffer/buffer.ts';
import { DiskFullError } from '../../buffer/errors.ts';
import type { Config } from '../../config/schema.ts';
import type { TlsMaterial } from '../../config/tls.ts';
import type { Logger } from '../../log/logger.ts';
import type { BoothDocument } from '../../../shared/documents/schema.ts';
import type { Recorder } from '../recorder.ts';
import type { Source } from '../source.ts';
import { SpeedBaseline, summarize, summaryLine } from './bookings.ts';
import { UploadClient, type AttemptResult } from './client.ts';
import { uploadUrl } from './url.ts';

export interface UploadSourceOptions {
  uploads: Config['uploads'];
  boothId: string;
  /** Values of uploads.header_files, by header name. */
  secretHeaders: Record<string, string>;
  tls: TlsMaterial;
}

/** What the heartbeat and status learn about uploads. */
export interface UploadFacts {
  pending: number;
  failing: number;
  last_speed_mb_s?: number;
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

interface BookingTrack {
  lastActivity: number;
  marker: boolean;
}

export class UploadSource implements Source {
  readonly name = 'uploads';
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly bookings = new Map<string, BookingTrack>();
  /** Files waiting for their next attempt (rejected, out of retries, or disk full). */
  private readonly parked = new Map<string, NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private readonly client: UploadClient;
  private readonly baseline: SpeedBaseline;
  private readonly watchDir: string;
  private lastSpeed: number | undefined;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly opts: UploadSourceOptions;
  private readonly recorder: Recorder;
  private readonly buffer: DocumentBuffer;
  private readonly logger: Logger;

  constructor(opts: UploadSourceOptions, recorder: Recorder, buffer: DocumentBuffer, logger: Logger) {
    this.opts = opts;
    this.recorder = recorder;
    this.buffer = buffer;
    this.logger = logger;
    this.watchDir = fs.realpathSync(opts.uploads.watch_dir);
    const u = opts.uploads;
    this.client = new UploadClient({
      method: u.method,
      headers: { ...u.headers, ...opts.secretHeaders },
      connectTimeoutMs: u.connect_timeout,
      idleTimeoutMs: u.idle_timeout,
      tls: opts.tls,
    });
    this.baseline = new SpeedBaseline(buffer, recorder, logger);
  }

  start(): void {
    const exts = new Set(this.opts.uploads.extensions.map((e) => e.toLowerCase()));
    const marker = this.opts.uploads.complete_marker;
    this.watcher = chokidar.watch(this.watchDir, {
      depth: 1,
      ignoreInitial: false,
      followSymlinks: false,
      awaitWriteFinish: { stabilityThreshold: this.opts.uploads.settle_time, pollInterval: Math.min(250, this.opts.uploads.settle_time / 2) },
      // Only <watch_dir>/<booking>/<file>: an image of a configured kind, or the booking's marker.
      ignored: (p, stats) => {
        const rel = path.relative(this.watchDir, p);
        if (rel === '') return false;
        const depth = rel.split(path.sep).length;
        if (depth === 1) return stats ? !stats.isDirectory() : false;
        if (depth !== 2) return true;
        const name = path.basename(p);
        if (name === marker) return false;
        return !exts.has(path.extname(name).slice(1).toLowerCase());
      },
    });
    this.watcher.on('add', (p) => this.onFile(p));
    this.watcher.on('error', (err) => this.logger.error('watching the photo folder failed', { watch_dir: this.watchDir, error: err }));
    this.timer = setInterval(() => this.tick(), CHECK_INTERVAL_MS);
  }

  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.watcher?.close();
    // Let uploads in flight finish until the deadline; then abandon them (they are not marked,
    // so they are uploaded again next time — the server may see them twice, never zero times).
    if (this.inFlight.size > 0) {
      const idle = new Promise<void>((r) => this.idleWaiters.push(r));
      const timeout = new Promise<void>((r) => setTimeout(r, Math.max(0, deadline - Date.now() - 500)).unref());
      await Promise.race([idle, timeout]);
      this.abort.abort();
    }
  }

  facts(): UploadFacts {
    const { byStatus } = this.buffer.uploadCounts();
    return {
      pending: (byStatus['pending'] ?? 0) + this.queue.length,
      failing: (byStatus['failing'] ?? 0) + (byStatus['rejected'] ?? 0),
      ...(this.lastSpeed !== undefined ? { last_speed_mb_s: Math.round(this.lastSpeed * 1000) / 1000 } : {}),
    };
  }

  private onFile(abs: string): void {
    const rel = path.relative(this.watchDir, abs);
    const [booking, file] = rel.split(path.sep);
    if (!booking || !file) return;
    const track = this.track(booking);
    if (file === this.opts.uploads.complete_marker) {
      track.marker = true;
      return;
    }
    this.enqueue(rel);
  }

  private track(booking: string): BookingTrack {
    let t = this.bookings.get(booking);
    if (!t) {
      t = { lastActivity: Date.now(), marker: false };
      this.bookings.set(booking, t);
      if (!this.buffer.getBooking(booking)) this.buffer.putBooking({ id: booking, firstSeenAt: Date.now(), finishedAt: null, summarizedAt: null });
    }
    t.lastActivity = Date.now();
    return t;
  }

  private enqueue(rel: string): void {
    if (this.stopping || this.queued.has(rel) || this.inFlight.has(rel)) return;
    this.queued.add(rel);
    this.queue.push(rel);
    this.pump();
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
    try {
      this.checkBookings();
    } catch (err) {
      this.logger.error('upload housekeeping failed', { error: err });
    }
  }

  private async process(rel: string): Promise<void> {
    const abs = path.join(this.watchDir, rel);
    const [booking, file] = rel.split(path.sep) as [string, string];
    const stat = safeLstat(abs);
    if (!stat) return;
    if (stat.isSymbolicLink() || !stat.isFile()) {
      this.logger.warn('not uploading: not a regular file', { file: rel });
      return;
    }
    const real = fs.realpathSync(abs);
    if (path.relative(this.watchDir, real).startsWith('..')) {
      this.logger.warn('not uploading: outside the watch folder', { file: rel });
      return;
    }
    const row = this.buffer.getUpload(rel);
    if (row?.status === 'uploaded') return;
    const now = Date.now();
    if (row && row.status !== 'pending' && (row.nextAttemptAt ?? 0) > now) {
      this.park(rel, row.nextAttemptAt!);
      return;
    }
    const base: UploadRow = { path: rel, bookingId: booking, size: stat.size, mtimeMs: Math.round(stat.mtimeMs), status: 'pending', attempts: row?.attempts ?? 0 };
    if (stat.size === 0) {
      this.record(
        [this.uploadDoc(booking, file, stat.size, { outcome: 'failure' }, { error: { type: 'empty_file', message: `${rel} is empty (0 bytes): not uploaded` } })],
        { ...base, status: 'rejected', lastError: 'empty file', nextAttemptAt: NEVER },
      );
      this.logger.warn('not uploading an empty file', { file: rel });
      return;
    }
    await this.upload(rel, booking, file, abs, base);
  }

  private async upload(rel: string, booking: string, file: string, abs: string, base: UploadRow): Promise<void> {
    const u = this.opts.uploads;
    const url = uploadUrl(u.url, this.opts.boothId, booking, file);
    let attempts = base.attempts;
    try {
      await pRetry(
        async () => {
          attempts++;
          const r = await this.client.attempt(url, abs, base.size, this.abort.signal);
          if (r.ok) return this.succeeded(rel, booking, file, base, r, attempts);
          if (r.status !== undefined && r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
            return this.rejected(rel, booking, file, base, r, attempts);
          }
          this.record([this.attemptDoc(booking, file, base.size, r, attempts, 'failure')], { ...base, status: 'failing', attempts, httpStatus: r.status ?? null, lastError: r.error?.message ?? `HTTP ${r.status}` });
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
      // Out of attempts for this round: the file waits for the next one.
      const next = Date.now() + u.retry.max_delay;
      this.buffer.putUpload({ ...base, status: 'failing', attempts, lastError: (err as Error).message, nextAttemptAt: next });
      this.park(rel, next);
    }
  }

  private succeeded(rel: string, booking: string, file: string, base: UploadRow, r: AttemptResult, attempts: number): void {
    this.lastSpeed = r.speedMbS;
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
    this.track(booking);
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

  private checkBookings(): void {
    const now = Date.now();
    for (const [id, t] of this.bookings) {
      const finished = t.marker || now - t.lastActivity >= this.opts.uploads.booking_idle_timeout;
      if (!finished) continue;
      const busy = [...this.queued, ...this.inFlight].some((rel) => rel.startsWith(`${id}${path.sep}`));
      if (busy) continue;
      const files = this.buffer.bookingUploads(id);
      if (files.length === 0 || files.some((f) => f.status === 'pending' || f.status === 'failing')) continue;
      const row = this.buffer.getBooking(id);
      if (row?.summarizedAt) {
        this.bookings.delete(id);
        continue;
      }
      const summary = summarize(id, files);
      const line = summaryLine(summary);
      const { id: bookingId, ...fields } = summary;
      const docs = [this.recorder.make('booth.booking', { message: line, booking: { id: bookingId, ...fields } })];
      const judged = summary.count_images > 0 ? this.baseline.judge(id, summary.speed_in_mb_s) : undefined;
      if (judged?.event) docs.push(judged.event);
      try {
        this.recorder.record(docs, (tx) => {
          tx.putBooking({ id, firstSeenAt: row?.firstSeenAt ?? now, finishedAt: now, summarizedAt: now });
          if (judged) tx.setState(SpeedBaseline.stateKey, judged.next);
        });
      } catch (err) {
        if (err instanceof DiskFullError) continue;
        throw err;
      }
      this.logger.info(line, { booking: id, images: summary.count_images, bytes: summary.size_bytes, speed_mb_s: summary.speed_in_mb_s });
      this.bookings.delete(id);
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
    if (r.error) extra['error'] = r.error;
    else if (!r.ok) extra['error'] = { type: 'http_error', message: `HTTP ${r.status}` };
    return this.uploadDoc(booking, file, size, upload, extra);
  }
}

function safeLstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}
