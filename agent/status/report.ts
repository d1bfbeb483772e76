// What `status` knows (SPEC §8): gathered read-only from the state directory — the pid file, the
// buffer (its counts, upload rows and state keys) and the file system — so it works beside a
// running daemon without blocking it, and just as well when the daemon is down. The same object is
// printed by `status --json` (documented in the README) and rendered for the technician.
import fs from 'node:fs';
import path from 'node:path';
import { DocumentBuffer, type ResetFacts } from '../buffer/buffer.ts';
import { STATE_KEYS } from '../buffer/state-keys.ts';
import { DB_FILE } from '../buffer/open.ts';
import type { Config } from '../config/schema.ts';
import { redactor } from '../log/logger.ts';
import { isRunning, readPidFile } from '../pid-file.ts';
import type { NetworkSample } from '../sources/network/source.ts';
import { uploadFacts, type UploadFacts } from '../sources/uploads/facts.ts';
import { SpeedBaseline, usualSpeed, type Baseline } from '../sources/uploads/bookings.ts';

export interface StatusReport {
  at: string;
  booth: { id: string; country: string };
  agent: { running: boolean; pid?: number; since?: string; version?: string };
  shipping: {
    configured: boolean;
    target?: string;
    last_success?: string;
    queued: number;
    oldest_unsent_age_s: number;
    dead_letters: number;
    dropped_total: number;
    last_error?: { at: string; message: string; status?: number };
    auth_problem: boolean;
  };
  heartbeat: { last?: string };
  uploads: UploadFacts & { recent_speeds_mb_s: number[]; baseline_mb_s?: number; slow: boolean };
  network: { online?: boolean; since?: string; sampled_at?: string; interface?: NetworkSample['interface']; wifi?: NetworkSample['wifi']; probes: NetworkSample['probes'] };
  disk: { database_bytes: number; max_bytes: number; free_bytes?: number };
  clock: { skew_ms?: number };
  /** The last time a damaged buffer database was replaced, and what was recovered from it. */
  buffer_reset?: {
    at: string;
    reason: string;
    quarantined_path: string;
    documents_held?: number;
    recovered: { documents: number; dead_letters: number; uploads: number; bookings: number; uploads_from_ledger: number };
  };
}

interface ShipError {
  at: number;
  message: string;
  status?: number;
}

/** Reads the state directory; undefined when there is no database yet (the agent never ran). */
/**
 * The booth's health from its state. `secrets` (the config's secret values) are scrubbed from the
 * stored server messages it shows — also from a database written before the agent scrubbed them.
 */
export function collectStatus(config: Config, now = Date.now(), secrets: Iterable<string> = []): StatusReport | undefined {
  if (!fs.existsSync(path.join(config.state_dir, DB_FILE))) return undefined;
  const buffer = DocumentBuffer.open({ stateDir: config.state_dir, maxSizeBytes: config.buffer.max_size, maxAgeMs: config.buffer.max_age, booth: { id: config.booth.id, country: config.booth.country }, readOnly: true });
  try {
    const iso = (ms: number | null | undefined) => (typeof ms === 'number' ? new Date(ms).toISOString() : undefined);
    const pid = readPidFile(config.state_dir);
    const running = pid !== undefined && isRunning(pid);
    const stats = buffer.stats();
    const { scrubText } = redactor(secrets);
    const lastError = buffer.getState<ShipError | null>(STATE_KEYS.shipLastError);
    const authProblem = buffer.getState<ShipError | null>(STATE_KEYS.shipAuthProblem);
    const baseline = buffer.getState<Baseline>(SpeedBaseline.stateKey);
    const usual = usualSpeed(baseline);
    const degraded = baseline?.degraded ?? false;
    const sample = buffer.getState<NetworkSample>(STATE_KEYS.networkLatest);
    const connectivity = buffer.getState<{ online: boolean; since: number }>(STATE_KEYS.networkConnectivity);
    const skew = buffer.getState<{ value: number }>(STATE_KEYS.clockSkew);
    const heartbeat = buffer.getState<{ at: number }>(STATE_KEYS.heartbeatLast);
    const reset = buffer.getState<ResetFacts>(STATE_KEYS.bufferLastReset);
    const report: StatusReport = {
      at: new Date(now).toISOString(),
      booth: { id: config.booth.id, country: config.booth.country },
      agent: running ? { running, pid: pid.pid, since: iso(pid.startedAt)!, version: pid.version } : { running: false },
      shipping: {
        configured: config.opensearch.url !== undefined,
        ...(config.opensearch.url ? { target: new URL(config.opensearch.url).host } : {}),
        ...(stats.lastDeliveredAt !== null ? { last_success: iso(stats.lastDeliveredAt)! } : {}),
        queued: stats.queued,
        oldest_unsent_age_s: stats.oldestRecordedAt === null ? 0 : Math.max(0, Math.round((now - stats.oldestRecordedAt) / 1000)),
        dead_letters: stats.deadLetters,
        dropped_total: stats.droppedTotal,
        ...(lastError ? { last_error: { at: iso(lastError.at)!, message: scrubText(lastError.message), ...(lastError.status ? { status: lastError.status } : {}) } } : {}),
        auth_problem: Boolean(authProblem),
      },
      heartbeat: heartbeat ? { last: iso(heartbeat.at)! } : {},
      uploads: {
        ...uploadFacts(buffer, new Date(now), 0, config.uploads.stale_after),
        recent_speeds_mb_s: buffer.recentUploadSpeeds(40).map((u) => Math.round(u.speedMbS * 100) / 100),
        ...(usual !== undefined ? { baseline_mb_s: Math.round(usual * 100) / 100 } : {}),
        slow: degraded,
      },
      network: {
        ...(connectivity ? { online: connectivity.online, since: iso(connectivity.since)! } : {}),
        ...(sample ? { sampled_at: iso(sample.at)!, ...(sample.interface ? { interface: sample.interface } : {}), ...(sample.wifi ? { wifi: sample.wifi } : {}) } : {}),
        probes: sample?.probes ?? [],
      },
      disk: { database_bytes: stats.fileBytes, max_bytes: stats.maxBytes, ...freeBytes(config.state_dir) },
      clock: skew ? { skew_ms: skew.value } : {},
      ...(reset
        ? {
            buffer_reset: {
              at: iso(reset.at)!,
              reason: reset.reason,
              quarantined_path: reset.quarantined_path,
              ...(reset.documents_held !== undefined ? { documents_held: reset.documents_held } : {}),
              recovered: { ...reset.salvaged, uploads_from_ledger: reset.uploads_from_ledger },
            },
          }
        : {}),
    };
    return report;
  } finally {
    buffer.close();
  }
}

function freeBytes(dir: string): { free_bytes?: number } {
  try {
    const s = fs.statfsSync(dir);
    return { free_bytes: s.bavail * s.bsize };
  } catch {
    return {};
  }
}
