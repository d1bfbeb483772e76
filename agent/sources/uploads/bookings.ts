// Booking summaries (SPEC §5 "Bookings") and the booth's own speed baseline ("Speed regression").
// A booking is finished when its marker file appears or nothing new arrived for
// booking_idle_timeout; once every file is uploaded or rejected, one booth.booking summary is
// recorded — the line an operator reads as "Saved 389 images (1.3 GB) of booking 4711 in 1m 56s".
import type { DocumentBuffer, UploadRow } from '../../buffer/buffer.ts';
import { formatBytes, formatDuration } from '../../config/units.ts';
import type { Logger } from '../../log/logger.ts';
import type { Recorder } from '../recorder.ts';

export interface BookingSummary {
  id: string;
  count_images: number;
  size_bytes: number;
  size_in_kb: number;
  duration_in_seconds: number;
  speed_in_mb_s: number;
  failed_images: number;
  rejected_images: number;
  image_speed_p50_mb_s?: number;
  image_speed_p10_mb_s?: number;
}

/** The summary of a booking from the upload state of its files. */
export function summarize(id: string, files: readonly UploadRow[]): BookingSummary {
  const done = files.filter((f) => f.status === 'uploaded');
  const bytes = done.reduce((s, f) => s + f.size, 0);
  const starts = done.map((f) => f.startedAt).filter((t): t is number => typeof t === 'number');
  const ends = done.map((f) => f.endedAt).filter((t): t is number => typeof t === 'number');
  const seconds = starts.length && ends.length ? Math.max(0.001, (Math.max(...ends) - Math.min(...starts)) / 1000) : 0;
  const speeds = done.map((f) => f.speedMbS).filter((s): s is number => typeof s === 'number').sort((a, b) => a - b);
  const summary: BookingSummary = {
    id,
    count_images: done.length,
    size_bytes: bytes,
    size_in_kb: Math.round(bytes / 1000),
    duration_in_seconds: round(seconds, 3),
    speed_in_mb_s: seconds > 0 ? round(bytes / 1e6 / seconds, 3) : 0,
    failed_images: files.filter((f) => f.status === 'failing').length,
    rejected_images: files.filter((f) => f.status === 'rejected').length,
  };
  if (speeds.length > 0) {
    summary.image_speed_p50_mb_s = round(percentile(speeds, 50), 3);
    summary.image_speed_p10_mb_s = round(percentile(speeds, 10), 3);
  }
  return summary;
}

/** "Saved 389 images (1.3 GB) of booking 4711 in 1m 56s (11.2 MB/s)" */
export function summaryLine(s: BookingSummary): string {
  const failed = s.failed_images + s.rejected_images;
  const tail = failed > 0 ? `; ${failed} not uploaded` : '';
  return `Saved ${s.count_images} ${s.count_images === 1 ? 'image' : 'images'} (${formatBytes(s.size_bytes)}) of booking ${s.id} in ${formatDuration(s.duration_in_seconds * 1000)} (${s.speed_in_mb_s.toFixed(1)} MB/s)${tail}`;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

const BASELINE_STATE = 'uploads.baseline';
const BASELINE_SIZE = 10;
const BASELINE_MIN = 3;

/** The median of the baseline's speeds, once there are enough of them (also read by `status`). */
export function usualSpeed(base: Baseline | undefined): number | undefined {
  return base && base.speeds.length >= BASELINE_MIN ? percentile([...base.speeds].sort((a, b) => a - b), 50) : undefined;
}

export interface Baseline {
  /** Speeds (MB/s) of recent healthy bookings, newest last. */
  speeds: number[];
  degraded: boolean;
}

/** The network at a moment (from the network source): written into upload documents and speed events. */
export interface Moment {
  network?: { online?: boolean; interface?: { name?: string; type?: string; speed_mbps?: number; mtu?: number; duplex?: string; dhcp?: boolean } };
}
export type MomentFacts = () => Moment | undefined;

export interface Judgement {
  event?: ReturnType<Recorder['event']>;
  next: Baseline;
}

/**
 * The booth's own speed baseline: the median of its last healthy bookings. A booking — or the
 * rolling speed of the last few minutes of a long one — below half of it records speed_degraded
 * (with the facts of that moment), and the first speed back above half speed_recovered — so "when
 * did it start?" is answered by one event, minutes after it started rather than hours later when a
 * long booking ends. Degraded bookings do not enter the baseline, so a lasting slowdown stays
 * visible instead of becoming the new normal.
 */
export class SpeedBaseline {
  private readonly buffer: DocumentBuffer;
  private readonly recorder: Recorder;
  private readonly logger: Logger;
  private readonly moment: MomentFacts;

  constructor(buffer: DocumentBuffer, recorder: Recorder, logger: Logger, moment: MomentFacts = () => undefined) {
    this.buffer = buffer;
    this.recorder = recorder;
    this.logger = logger;
    this.moment = moment;
  }

  /** The booth's usual speed (MB/s), once it has seen enough bookings. */
  usual(): number | undefined {
    return usualSpeed(this.load());
  }

  /**
   * A finished booking of `speed` MB/s. `recent` is the last rolling speed measured in it, if it
   * was long enough to have one: then that is the current state of the link (a booking that ended
   * slow is no recovery, one that recovered late is no new slowdown). Only a healthy booking's
   * speed enters the baseline.
   */
  judgeBooking(bookingId: string, speed: number, recent?: number): Judgement {
    const base = this.load();
    const usual = this.usual();
    const current = recent ?? speed;
    const slow = usual !== undefined && current < usual / 2;
    const healthy = usual === undefined || (!slow && speed >= usual / 2);
    const next: Baseline = { speeds: healthy ? [...base.speeds, speed].slice(-BASELINE_SIZE) : base.speeds, degraded: slow };
    return { next, ...this.transition(base.degraded, slow, bookingId, current, usual) };
  }

  /** The rolling speed over the last `windowS` seconds of a booking still in progress. */
  judgeRolling(bookingId: string, speed: number, windowS: number): Judgement {
    const base = this.load();
    const usual = this.usual();
    const slow = usual !== undefined && speed < usual / 2;
    return { next: { speeds: base.speeds, degraded: slow }, ...this.transition(base.degraded, slow, bookingId, speed, usual, windowS) };
  }

  private transition(wasDegraded: boolean, slow: boolean, bookingId: string, speed: number, usual: number | undefined, windowS?: number): Pick<Judgement, 'event'> {
    if (usual === undefined || slow === wasDegraded) return {};
    const over = windowS !== undefined ? ` over the last ${formatDuration(windowS * 1000)}` : '';
    const facts = {
      ...this.moment(),
      booking: { id: bookingId },
      speed: { current_mb_s: round(speed, 3), baseline_mb_s: round(usual, 3), ...(windowS !== undefined ? { window_s: windowS } : {}) },
    };
    const log = { booking: bookingId, speed_mb_s: speed, baseline_mb_s: usual, ...(windowS !== undefined ? { window_s: windowS } : {}) };
    if (slow) {
      const message = `Upload speed fell to ${speed.toFixed(2)} MB/s${over} in booking ${bookingId}, below half of this booth's usual ${usual.toFixed(1)} MB/s`;
      this.logger.warn(message, log);
      return { event: this.recorder.event('speed_degraded', message, facts) };
    }
    const message = `Upload speed is back to ${speed.toFixed(1)} MB/s${over} in booking ${bookingId} (usual ${usual.toFixed(1)} MB/s)`;
    this.logger.info(message, log);
    return { event: this.recorder.event('speed_recovered', message, facts) };
  }

  private load(): Baseline {
    return this.buffer.getState<Baseline>(BASELINE_STATE) ?? { speeds: [], degraded: false };
  }

  static readonly stateKey = BASELINE_STATE;
}
