// The upload totals the heartbeat and `status` show (SPEC §5 "Heartbeat", §8): read from the
// buffer's upload state, so the status command — another process, reading while the daemon
// writes — sees the same figures as the daemon's own heartbeat.
import type { DocumentBuffer } from '../../buffer/buffer.ts';
import { STATE_KEYS } from '../../buffer/state-keys.ts';

export interface UploadFacts {
  /** Files seen but not yet uploaded (queued in memory or waiting in the buffer). */
  pending: number;
  /** Files whose last attempt failed and that will be tried again soon. */
  failing: number;
  /** Files not uploaded: refused by the server (4xx: tried again much later), or for a cause of their own. */
  rejected: number;
  /** HTTP status (or "network") → files failing or refused by the server with it. */
  failing_codes: Record<string, number>;
  /** Cause → files not uploaded for a reason of their own: "empty file", "file disappeared", "a symbolic link"… */
  not_uploaded: Record<string, number>;
  last_file?: string;
  last_speed_mb_s?: number;
  last_at?: string;
  /** Uploads that ended since local midnight on the booth. */
  today_count: number;
  today_bytes: number;
  /** Files the reconciliation scan took in because the folder watcher had not reported them. */
  missed_by_watcher: number;
  /** Files seen longer than uploads.stale_after ago and not tried yet (the oldest few). */
  stale: { file: string; since: string }[];
}

/**
 * An answer by which the upload server refuses the file (4xx but 408 and 429): not retried soon,
 * counted as a rejection — the uploader's rule, and how status tells refusals from failures.
 */
export function isRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export function uploadFacts(buffer: DocumentBuffer, now: Date = new Date(), queued = 0, staleAfterMs = Infinity): UploadFacts {
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  const totals = buffer.uploadTotals(midnight.getTime());
  const facts: UploadFacts = {
    pending: (totals.byStatus.pending ?? 0) + queued,
    failing: totals.byStatus.failing ?? 0,
    rejected: totals.byStatus.rejected ?? 0,
    failing_codes: totals.failingCodes,
    not_uploaded: totals.notUploaded,
    today_count: totals.since.count,
    today_bytes: totals.since.bytes,
    missed_by_watcher: buffer.getState<number>(STATE_KEYS.uploadsMissedByWatcher) ?? 0,
    stale: Number.isFinite(staleAfterMs) ? buffer.stalePending(now.getTime() - staleAfterMs, 5).map((r) => ({ file: r.path, since: new Date(r.since).toISOString() })) : [],
  };
  if (totals.last) {
    facts.last_file = totals.last.path;
    facts.last_at = new Date(totals.last.endedAt).toISOString();
    if (totals.last.speedMbS !== null) facts.last_speed_mb_s = Math.round(totals.last.speedMbS * 1000) / 1000;
  }
  return facts;
}

/** The part of the facts a heartbeat document carries (booth.heartbeat `uploads.*`). */
export function heartbeatUploads(f: UploadFacts): Record<string, number> {
  return {
    pending: f.pending,
    failing: f.failing,
    rejected: f.rejected,
    today_count: f.today_count,
    today_bytes: f.today_bytes,
    missed_by_watcher: f.missed_by_watcher,
    ...(f.last_speed_mb_s !== undefined ? { last_speed_mb_s: f.last_speed_mb_s } : {}),
  };
}
