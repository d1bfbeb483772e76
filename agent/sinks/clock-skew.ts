// The booth's clock skew, measured from the Date header of every server response (SPEC §6
// "Clock"). Booths boot without an RTC and venues often have no NTP: a clock hours off would file
// documents under the wrong time, so the skew is reported in the heartbeat (state clock.skew_ms)
// and a clock_skew event is recorded when it passes two minutes or changes by another minute.
import type { DocumentBuffer } from '../buffer/buffer.ts';
import { STATE_KEYS } from '../buffer/state-keys.ts';
import { makeDocument, type BoothIdentity } from '../../shared/documents/stamp.ts';
import { formatDuration } from '../config/units.ts';
import type { Logger } from '../log/logger.ts';

export const SKEW_EVENT_THRESHOLD_MS = 120_000;
const SKEW_CHANGE_MS = 60_000;
const STORE_EVERY_MS = 60_000;


export class ClockSkew {
  private lastStoredAt = 0;
  private lastStored: number | undefined;
  /** The skew last reported with an event (null: none), read from the buffer once, then kept here. */
  private reported: number | null | undefined;
  private readonly buffer: DocumentBuffer;
  private readonly booth: BoothIdentity;
  private readonly logger: Logger;

  constructor(buffer: DocumentBuffer, booth: BoothIdentity, logger: Logger) {
    this.buffer = buffer;
    this.booth = booth;
    this.logger = logger;
  }

  /** `serverDate`: an HTTP Date header; `localMidpointMs`: our wall clock halfway through the request. */
  sample(serverDate: string | undefined, localMidpointMs: number, source: string): void {
    const server = serverDate ? Date.parse(serverDate) : Number.NaN;
    if (Number.isNaN(server)) return;
    // Date has a resolution of one second: its true value lies within [server, server + 1000).
    const skew = Math.round(localMidpointMs - (server + 500));
    try {
      this.store(skew, localMidpointMs);
      this.report(skew, source);
    } catch (err) {
      this.logger.warn('could not record the clock skew', { error: err });
    }
  }

  private store(skew: number, now: number): void {
    const changed = this.lastStored === undefined || Math.abs(skew - this.lastStored) > 2000;
    if (!changed && now - this.lastStoredAt < STORE_EVERY_MS) return;
    this.buffer.setState(STATE_KEYS.clockSkew, { value: skew, at: now });
    this.lastStored = skew;
    this.lastStoredAt = now;
  }

  private report(skew: number, source: string): void {
    // Every response is a sample: keep the buffer read off this path.
    this.reported ??= this.buffer.getState<number | null>(STATE_KEYS.clockSkewReported) ?? null;
    const reported = this.reported;
    const skewed = Math.abs(skew) > SKEW_EVENT_THRESHOLD_MS;
    if (skewed && (reported === null || Math.abs(skew - reported) > SKEW_CHANGE_MS)) {
      const direction = skew > 0 ? 'ahead of' : 'behind';
      this.record(skew, `The booth clock is ${formatDuration(Math.abs(skew))} ${direction} ${source}`);
      this.logger.warn('booth clock is off', { skew_ms: skew, source });
    } else if (!skewed && reported !== null) {
      this.record(skew, `The booth clock is in step with ${source} again (off by ${formatDuration(Math.abs(skew))})`);
      this.logger.info('booth clock in step again', { skew_ms: skew, source });
    } else {
      return;
    }
    this.reported = skewed ? skew : null;
    this.buffer.setState(STATE_KEYS.clockSkewReported, this.reported);
  }

  private record(skew: number, message: string): void {
    this.buffer.record([makeDocument('booth.agent', { message, event: { action: 'clock_skew' }, clock: { skew_ms: skew } }, this.booth)]);
  }
}
