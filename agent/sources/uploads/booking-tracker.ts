// The bookings in progress (SPEC §5 "Bookings", "Speed regression"): which booking each file
// belongs to, when a booking is finished (its marker file, or nothing new for
// booking_idle_timeout) and fully uploaded, its one summary, and the rolling speed of a long
// booking judged against the booth's own baseline while it runs.
import type { DocumentBuffer } from '../../buffer/buffer.ts';
import { DiskFullError } from '../../buffer/errors.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../log/logger.ts';
import type { Recorder } from '../recorder.ts';
import { SpeedBaseline, summarize, summaryLine } from './bookings.ts';

/** A successful upload of the booking in progress, for its rolling speed. */
export interface Done {
  startedAt: number;
  endedAt: number;
  bytes: number;
}

interface BookingTrack {
  lastActivity: number;
  marker: boolean;
  /** Successful uploads ending within the last speed_window. */
  recent: Done[];
  firstStartedAt?: number;
  /** The last rolling speed measured in this booking (MB/s). */
  rolling?: number;
}

/** A rolling speed needs this many uploads in its window to say anything. */
const ROLLING_MIN_UPLOADS = 5;

export class BookingTracker {
  private readonly bookings = new Map<string, BookingTrack>();
  private readonly uploads: Config['uploads'];
  private readonly buffer: DocumentBuffer;
  private readonly recorder: Recorder;
  private readonly baseline: SpeedBaseline;
  private readonly logger: Logger;

  constructor(uploads: Config['uploads'], buffer: DocumentBuffer, recorder: Recorder, baseline: SpeedBaseline, logger: Logger) {
    this.uploads = uploads;
    this.buffer = buffer;
    this.recorder = recorder;
    this.baseline = baseline;
    this.logger = logger;
  }

  /** Something happened in the booking (a file, its marker): it is not idle. Throws on a full disk (its row comes first). */
  touch(booking: string): BookingTrack {
    let t = this.bookings.get(booking);
    if (!t) {
      // The row first: if it cannot be written, the booking is not tracked yet and the next try writes it.
      if (!this.buffer.getBooking(booking)) this.buffer.putBooking({ id: booking, firstSeenAt: Date.now(), finishedAt: null, summarizedAt: null });
      t = { lastActivity: Date.now(), marker: false, recent: [] };
      this.bookings.set(booking, t);
    }
    t.lastActivity = Date.now();
    return t;
  }

  /** Whether the booking's end is known: its marker was seen, or its summary is recorded. */
  knowsFinished(booking: string): boolean {
    return this.bookings.get(booking)?.marker === true || Boolean(this.buffer.getBooking(booking)?.summarizedAt);
  }

  /** The booking software says the booking is finished. */
  marked(booking: string): void {
    this.touch(booking).marker = true;
  }

  /**
   * The rolling speed of a long booking: bytes over wall time of the uploads that ended in the
   * last speed_window, once the booking has run for a whole window. A slowdown that starts an hour
   * into a three-hour event is recorded minutes later, not when the event ends.
   */
  uploaded(booking: string, done: Done): void {
    const track = this.touch(booking);
    const window = this.uploads.speed_window;
    track.firstStartedAt = Math.min(track.firstStartedAt ?? done.startedAt, done.startedAt);
    track.recent.push(done);
    const from = done.endedAt - window;
    while (track.recent.length > 0 && track.recent[0]!.endedAt < from) track.recent.shift();
    if (done.endedAt - track.firstStartedAt < window || track.recent.length < ROLLING_MIN_UPLOADS) return;
    // Over the wall time those uploads span, as a booking's speed is: with concurrent uploads the
    // sum of their own speeds would overstate it.
    const start = Math.min(...track.recent.map((d) => d.startedAt));
    const bytes = track.recent.reduce((sum, d) => sum + d.bytes, 0);
    const end = Math.max(...track.recent.map((d) => d.endedAt));
    const speed = bytes / 1e6 / Math.max(0.001, (end - start) / 1000);
    track.rolling = speed;
    const judged = this.baseline.judgeRolling(booking, speed, Math.round(window / 1000));
    if (!judged.event) return;
    try {
      this.recorder.record([judged.event], (tx) => tx.setState(SpeedBaseline.stateKey, judged.next));
    } catch (err) {
      // Judged again with the next upload.
      if (!(err instanceof DiskFullError)) throw err;
    }
  }

  /** Summarizes every booking that is finished, has no file `busy` and no file left to try. */
  summarizeFinished(busy: (booking: string) => boolean): void {
    const now = Date.now();
    for (const [id, t] of this.bookings) {
      const finished = t.marker || now - t.lastActivity >= this.uploads.booking_idle_timeout;
      if (!finished || busy(id)) continue;
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
      const judged = summary.count_images > 0 ? this.baseline.judgeBooking(id, summary.speed_in_mb_s, t.rolling) : undefined;
      try {
        this.recorder.record(judged?.event ? [...docs, judged.event] : docs, (tx) => {
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
}
