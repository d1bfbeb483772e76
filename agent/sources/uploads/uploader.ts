// Uploading one file (SPEC §5 "Uploads"): looked at afresh, then attempted until it is settled —
// every attempt timed and recorded (success, failure, rejection) in the same transaction as the
// file's upload state, so a file whose success was recorded is never sent again, across restarts.
// Retries follow the config (p-retry, with Retry-After); a file that changed or was swapped under
// an attempt is looked at afresh once it has settled.
import fs from 'node:fs';
import path from 'node:path';
import pRetry, { AbortError } from 'p-retry';
import { backoffDelay, retryAfterMs, sleep } from '../../backoff.ts';
import type { DocumentBuffer, UploadRow } from '../../buffer/buffer.ts';
import { DiskFullError } from '../../buffer/errors.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../log/logger.ts';
import type { BoothDocument } from '../../../shared/documents/schema.ts';
import type { Recorder } from '../recorder.ts';
import type { BookingTracker } from './booking-tracker.ts';
import type { MomentFacts } from './bookings.ts';
import type { AttemptResult, UploadClient } from './client.ts';
import { isRefusal } from './facts.ts';
import { openTakenIn, type FileIdentity, type RefusedFile } from './open-file.ts';
import { uploadUrl } from './url.ts';

/** A verdict that stands until the file changes. */
export const NEVER = 8.64e15;

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

export interface UploaderDeps {
  uploads: Config['uploads'];
  boothId: string;
  client: UploadClient;
  buffer: DocumentBuffer;
  recorder: Recorder;
  logger: Logger;
  bookings: BookingTracker;
  watchDir: string;
  watchDev: bigint;
  /** The network of the moment, for the documents (the interface used). */
  moment: MomentFacts;
  signal: AbortSignal;
  stopping: () => boolean;
  /** The file's stats if it may be uploaded, else why not (none: it is gone). */
  inspect: (rel: string) => { stat: fs.BigIntStats } | { refused: RefusedFile | undefined };
  /** Queues the file again at `at`. */
  park: (rel: string, at: number) => void;
}

export class FileUploader {
  private readonly uploads: Config['uploads'];
  private readonly boothId: string;
  private readonly client: UploadClient;
  private readonly buffer: DocumentBuffer;
  private readonly recorder: Recorder;
  private readonly logger: Logger;
  private readonly bookings: BookingTracker;
  private readonly watchDir: string;
  private readonly watchDev: bigint;
  private readonly moment: UploaderDeps['moment'];
  private readonly signal: AbortSignal;
  private readonly stopping: () => boolean;
  private readonly inspect: UploaderDeps['inspect'];
  private readonly park: UploaderDeps['park'];

  constructor(deps: UploaderDeps) {
    this.uploads = deps.uploads;
    this.boothId = deps.boothId;
    this.client = deps.client;
    this.buffer = deps.buffer;
    this.recorder = deps.recorder;
    this.logger = deps.logger;
    this.bookings = deps.bookings;
    this.watchDir = deps.watchDir;
    this.watchDev = deps.watchDev;
    this.moment = deps.moment;
    this.signal = deps.signal;
    this.stopping = deps.stopping;
    this.inspect = deps.inspect;
    this.park = deps.park;
  }

  /** One round of uploading a queued file: looked at afresh, then attempted until it is settled. */
  async process(rel: string): Promise<void> {
    const abs = path.join(this.watchDir, rel);
    const [booking, file] = rel.split(path.sep) as [string, string];
    const row = this.buffer.getUpload(rel);
    const checked = this.inspect(rel);
    if (row?.status === 'uploaded') {
      // Gone (deleted or moved after its upload), or as it was uploaded: nothing to do.
      if (!('stat' in checked) || !changedSince(row, checked.stat)) return;
      // Written again after its upload (a file that grew with long pauses, a photo replaced): the
      // new version is uploaded too — the server gets the file as it is now, not a beginning of it.
      this.logger.warn('a file changed after its upload; uploading the new version', { file: rel, uploaded_bytes: row.size, now_bytes: Number(checked.stat.size) });
    }
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
    const base: UploadRow = { path: rel, bookingId: booking, size, mtimeMs, status: 'pending', attempts: row?.status === 'uploaded' ? 0 : (row?.attempts ?? 0) };
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

  /** A file refused as it is taken in (not a regular file of its own in the watch folder). */
  refuseAtIntake(rel: string, refused: RefusedFile, stat: fs.BigIntStats): void {
    const [booking, file] = rel.split(path.sep) as [string, string];
    this.refuse(rel, booking, file, { path: rel, bookingId: booking, size: Number(stat.size), mtimeMs: mtimeMsOf(stat), status: 'pending', attempts: 0 }, refused);
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
      lastError: refused ? refused.brief : 'file disappeared',
      nextAttemptAt: NEVER,
    });
    this.logger.warn(error.message, { file: rel });
  }

  /** Uploads the file taken in as `takenIn`: each attempt streams from that file, or from nothing. */
  private async upload(rel: string, booking: string, file: string, abs: string, base: UploadRow, takenIn: FileIdentity): Promise<void> {
    const u = this.uploads;
    const url = uploadUrl(u.url, this.boothId, booking, file);
    let attempts = base.attempts;
    try {
      await pRetry(
        async () => {
          attempts++;
          const body = { name: rel, size: base.size, open: () => openTakenIn(abs, rel, takenIn, this.watchDev) };
          const r = await this.client.attempt(url, body, this.signal);
          if (r.ok) return this.succeeded(rel, booking, file, base, r, attempts);
          if (r.status !== undefined && isRefusal(r.status)) {
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
          signal: this.signal,
          shouldRetry: () => !this.stopping(),
          onFailedAttempt: async ({ error, attemptNumber }) => {
            const r = error instanceof RetryableUpload ? error.result : undefined;
            const delay = Math.min(u.retry.max_delay, Math.max(backoffDelay(attemptNumber, u.retry.min_delay, u.retry.max_delay), retryAfterMs(r?.retryAfter) ?? 0));
            this.logger.warn('upload failed; will retry', { file: rel, attempt: attemptNumber, error: error.message, retry_in_ms: delay });
            await sleep(delay, this.signal);
          },
        },
      );
    } catch (err) {
      if (this.stopping()) return;
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
    const next = Date.now() + this.uploads.rejected_retry;
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

  private afterUpload(rel: string, booking: string, file: string): void {
    const u = this.uploads;
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
      url_host: new URL(this.uploads.url.replace(/\{[^}]*\}/g, 'x')).host,
    };
    if (r.serverAddress) upload['server_address'] = r.serverAddress;
    const extra: Record<string, unknown> = {};
    if (r.status !== undefined) extra['http'] = { response: { status_code: r.status } };
    const iface = this.moment()?.network?.interface;
    if (iface) extra['network'] = { interface: iface };
    if (r.error) extra['error'] = r.error;
    else if (!r.ok) extra['error'] = { type: 'http_error', message: `HTTP ${r.status}` };
    return this.uploadDoc(booking, file, size, upload, extra);
  }
}

/** Whether the file's size or modification time differs from what its row says was uploaded. */
export function changedSince(row: Pick<UploadRow, 'size' | 'mtimeMs'>, stat: fs.BigIntStats): boolean {
  return row.size !== Number(stat.size) || row.mtimeMs !== mtimeMsOf(stat);
}

/** Modification time in whole milliseconds, as upload rows keep it. */
export function mtimeMsOf(stat: fs.BigIntStats): number {
  return Math.round(Number(stat.mtimeNs) / 1e6);
}
