// The shipping loop for OpenSearch, in both modes: _bulk (mode: bulk) and the Data Prepper /
// OpenSearch Ingestion HTTP source (mode: ingest).
//
//   lease a batch (heartbeat first) → encode → POST → classify → settle (delivery.ts)
//
// A whole-request failure retries (p-retry): after an outage's exponential backoff with full
// jitter (5xx, network errors), or at the pace of a busy cluster (429: see pace.ts), and never
// before the Retry-After the server asked for. After an outage the batch is handed back and leased
// afresh, so the newest heartbeat leads the first request; a batch a busy cluster refused is kept
// and sent again as it is unless a heartbeat has been recorded since.
//
// One loop owns all of that. While the cluster takes every request as fast as the booth sends
// them, up to opensearch.concurrency - 1 more requests go out beside the loop's own (extra lanes,
// lanes.ts), so a backlog drains at the speed of the booth's CPU rather than of one round trip
// at a time. Lanes lease disjoint batches (a leased document is never leased twice) and settle
// their own. Once anything fails or pushes back, a lane sends nothing more after the request it
// has in flight (a failed request's documents go straight back to the buffer), and the loop alone
// carries on at its pace: a struggling cluster never gets more than one request at a time.
import pRetry from 'p-retry';
import type { DocumentBuffer, LeasedDoc } from '../../buffer/buffer.ts';
import { STATE_KEYS } from '../../buffer/state-keys.ts';
import { redactor, type Logger } from '../../log/logger.ts';
import { backoffDelay, sleep } from '../../backoff.ts';
import type { ClockSkew } from '../clock-skew.ts';
import type { Sink } from '../sink.ts';
import { authSecrets } from './auth.ts';
import { Delivery, HEARTBEAT, isThrottle, RequestFailed } from './delivery.ts';
import { Lanes } from './lanes.ts';
import { Pace } from './pace.ts';
import { OpenSearchService, type Payload } from './service.ts';
import type { SinkSettings } from './settings.ts';

const POLL_MS = 1000;

interface Prepared {
  batch: LeasedDoc[];
  payload: Payload;
}

export interface SinkOptions {
  random?: () => number;
  pollMs?: number;
  /** Monotonic milliseconds, for the pace and the heartbeat's freshness. */
  now?: () => number;
}

export class OpenSearchSink implements Sink {
  readonly name: string;
  private readonly settings: SinkSettings;
  private readonly buffer: DocumentBuffer;
  private readonly logger: Logger;
  private readonly service: OpenSearchService;
  private readonly random: () => number;
  private readonly pollMs: number;
  private readonly now: () => number;
  /** A server may echo our credentials (a 401 quoting them): scrubbed from what is stored for `status`. */
  private readonly scrub: (text: string) => string;
  /** Aborts sleeps and the requests in flight when the stop deadline passes. */
  private readonly abort = new AbortController();
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** The pause before each request while the cluster answers 429s (whole requests or items). */
  private readonly pace: Pace;
  private readonly delivery: Delivery;
  private readonly lanes: Lanes;
  /** Consecutive failures other than a busy cluster's 429s: the outage backoff's attempt number. */
  private outageAttempts = 0;
  /** A batch a busy cluster refused, still leased and encoded, to send again as it is. */
  private refused: Prepared | undefined;
  private failing = false;
  private waitMs = 0;
  /** With one request at a time: the next full batch, leased and encoded while the current request is in flight. */
  private next: Promise<Prepared | undefined> | undefined;

  constructor(settings: SinkSettings, buffer: DocumentBuffer, logger: Logger, clock: ClockSkew, opts: SinkOptions = {}) {
    this.name = `opensearch-${settings.mode}`;
    this.settings = settings;
    this.buffer = buffer;
    this.logger = logger;
    this.service = new OpenSearchService(settings);
    this.random = opts.random ?? Math.random;
    this.pollMs = opts.pollMs ?? POLL_MS;
    this.now = opts.now ?? (() => performance.now());
    this.scrub = redactor(authSecrets(settings.auth)).scrubText;
    this.pace = new Pace({ minDelayMs: settings.minDelayMs, maxDelayMs: settings.maxDelayMs, now: this.now, random: this.random });
    this.delivery = new Delivery({ name: this.name, settings, buffer, service: this.service, clock, pace: this.pace, logger, random: this.random, now: this.now, signal: this.abort.signal });
    this.lanes = new Lanes({
      extra: settings.concurrency - 1,
      lease: () => this.leaseFull(),
      send: async (batch, outstanding) => this.delivery.deliver(batch, outstanding, await this.service.payload(this.delivery.encode(batch))),
      release: (seqs) => this.buffer.settle({ release: seqs }),
      keepGoing: () => !this.stopping && !this.abort.signal.aborted && this.keepingUp(),
      failed: (err) => this.laneFailed(err),
    });
  }

  start(): void {
    this.unsubscribe = this.buffer.onRecord(() => this.wake?.());
    this.loop = this.run();
  }

  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const stopped = Promise.all([this.loop, this.lanes.settled()]);
    const finished = await Promise.race([stopped.then(() => true), sleep(deadline - Date.now()).then(() => false)]);
    if (!finished) {
      this.abort.abort();
      await stopped;
    }
    for (const left of [await this.takeNext(), this.refused]) if (left) this.release(left.batch);
    this.refused = undefined;
    this.unsubscribe?.();
    this.service.close();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      let sent = 0;
      try {
        sent = await pRetry(() => this.sendNext(), {
          retries: Number.POSITIVE_INFINITY,
          minTimeout: 0,
          factor: 1,
          signal: this.abort.signal,
          // At shutdown, a failure ends the flush: what is left stays in the buffer for next time.
          shouldRetry: () => !this.stopping,
          onFailedAttempt: async ({ error, attemptNumber }) => {
            const delay = this.afterFailure(error, attemptNumber);
            if (!this.stopping) await sleep(delay, this.abort.signal);
          },
        });
      } catch (err) {
        if (this.stopping || this.abort.signal.aborted) break;
        // Not a delivery failure (those are retried above): e.g. the buffer could not be read.
        this.logger.error('shipping loop error', { sink: this.name, error: err });
        await sleep(this.pollMs, this.abort.signal);
        continue;
      }
      if (sent === 0) {
        if (this.stopping) break;
        await this.idle(this.waitMs || this.pollMs);
      } else if (!this.stopping) {
        // A busy cluster: wait our turn (0 when it has not pushed back lately).
        await sleep(this.pace.waitMs(this.delivery.heardRecently()), this.abort.signal);
      }
    }
  }

  /** Leases and delivers one batch; returns how many documents it settled (0: nothing ready). */
  private async sendNext(): Promise<number> {
    this.waitMs = 0;
    const prepared = this.takeRefused() ?? (await this.takeNext());
    const batch = prepared?.batch ?? this.leaseReady();
    if (!batch) return 0;
    const outstanding = new Set(batch.map((d) => d.seq));
    let payload = prepared?.payload;
    try {
      payload ??= await this.service.payload(this.delivery.encode(batch));
      const delivering = this.delivery.deliver(batch, outstanding, payload);
      // While OpenSearch works on this request, the next ones are leased and encoded (a backlog
      // drains at the speed of the slower side, not of both added up): sent at once by the extra
      // lanes, or, with one request at a time, kept ready for this loop.
      if (!this.stopping && this.keepingUp()) {
        if (this.settings.concurrency > 1) this.lanes.fill();
        else this.next = sleep(2).then(() => this.prepareNext());
      }
      await delivering;
    } catch (err) {
      // Hand back the prepared batch too: the retry leases afresh, newest heartbeat first.
      await this.takeNext().then((p) => p && this.release(p.batch));
      // A busy cluster refused it whole: keep it, lease and all, to send again as it is (reading
      // and encoding it again for every 429 would be most of a booth's work while a fleet waits).
      // A lone heartbeat is handed back: while the cluster is busy it waits (leaseReady).
      if (payload && isThrottle(err) && outstanding.size === batch.length && !batch.every((d) => d.dataset === HEARTBEAT)) {
        this.refused = { batch, payload };
        outstanding.clear();
      }
      throw err;
    } finally {
      if (outstanding.size > 0) this.buffer.settle({ release: [...outstanding] });
    }
    this.outageAttempts = 0;
    if (this.failing) this.recovered();
    return batch.length;
  }

  /** The batch a busy cluster refused, unless a heartbeat has been recorded since: it leads (lease afresh). */
  private takeRefused(): Prepared | undefined {
    const refused = this.refused;
    this.refused = undefined;
    if (!refused) return undefined;
    let keep = false;
    try {
      keep = !this.buffer.heartbeatNewerThan(refused.batch);
    } finally {
      if (!keep) this.release(refused.batch);
    }
    return keep ? refused : undefined;
  }

  /**
   * Whether the cluster takes requests as fast as this booth sends them, so encoding the next
   * batch ahead (or sending it beside this one) is worth it: not before a request has gone through
   * (after a start or a failure, the first request finds out) and not while it pushes back — a
   * refusal wastes the work, and a busy cluster gets one request at a time at the booth's pace.
   */
  private keepingUp(): boolean {
    return !this.failing && this.delivery.deliveredAt > Number.NEGATIVE_INFINITY && !this.pace.throttled();
  }

  /** A batch to send now, or undefined: nothing queued, or a partial batch still within batch.interval. */
  private leaseReady(): LeasedDoc[] | undefined {
    const { maxDocs, maxBytes, intervalMs } = this.settings;
    const batch = this.buffer.lease(maxDocs, maxBytes);
    if (batch.length === 0) return undefined;
    if (!this.stopping && batch.every((d) => d.dataset === HEARTBEAT) && this.pace.throttled()) {
      // While the cluster is busy, a heartbeat alone waits until two heartbeat intervals after
      // the last delivery: one request per booth per interval would be most of a busy cluster's
      // load once a fleet has drained, and "zero booths online" looks at five minutes.
      const due = this.delivery.deliveredAt + 2 * this.settings.heartbeatIntervalMs - this.now();
      if (due > 0) {
        this.release(batch);
        this.waitMs = due;
        return undefined;
      }
    }
    if (!this.stopping && !this.isFull(batch) && batch[0]!.dataset !== HEARTBEAT) {
      // A partial batch waits for batch.interval, counted from its oldest document.
      const age = Date.now() - Math.min(...batch.map((d) => d.recordedAt));
      if (age >= 0 && age < intervalMs) {
        this.release(batch);
        this.waitMs = intervalMs - age;
        return undefined;
      }
    }
    return batch;
  }

  /** A full batch (partial batches wait for their interval, in the loop), or undefined. */
  private leaseFull(): LeasedDoc[] | undefined {
    const batch = this.buffer.lease(this.settings.maxDocs, this.settings.maxBytes);
    if (batch.length > 0 && this.isFull(batch)) return batch;
    if (batch.length > 0) this.release(batch);
    return undefined;
  }

  /** Whether a batch goes out without waiting for batch.interval: as many documents or (nearly) as many bytes as a request holds. */
  private isFull(batch: readonly LeasedDoc[]): boolean {
    const { maxDocs, maxBytes } = this.settings;
    return batch.length >= maxDocs || batch.reduce((s, d) => s + d.body.length, 0) >= maxBytes * 0.9;
  }

  /** Leases and encodes the next batch if it is full. */
  private async prepareNext(): Promise<Prepared | undefined> {
    const batch = this.leaseFull();
    if (!batch) return undefined;
    try {
      return { batch, payload: await this.service.payload(this.delivery.encode(batch)) };
    } catch (err) {
      this.release(batch);
      throw err;
    }
  }

  /** Ends the lease of documents not sent: they are ready for the next lease, no attempt counted. */
  private release(batch: readonly LeasedDoc[]): void {
    this.buffer.settle({ release: batch.map((d) => d.seq) });
  }

  private async takeNext(): Promise<Prepared | undefined> {
    const next = this.next;
    this.next = undefined;
    return next?.catch(() => undefined);
  }

  /**
   * An extra lane's request failed (its documents are handed back already): recorded as the loop
   * records its own, so the lanes stop and the loop finds out at its own pace whether the cluster
   * is back. A failure that is not a request's (the buffer could not be written) is logged.
   */
  private laneFailed(err: unknown): void {
    if (this.stopping || this.abort.signal.aborted) return;
    if (err instanceof RequestFailed) this.afterFailure(err, 1);
    else this.logger.error('shipping loop error', { sink: this.name, error: err });
  }

  /** Records the failure for `status` and returns how long to wait before the next attempt. */
  private afterFailure(error: Error, attempt: number): number {
    const { minDelayMs, maxDelayMs } = this.settings;
    const failed = error instanceof RequestFailed ? error : undefined;
    const auth = failed?.verdict.kind === 'auth';
    const throttle = isThrottle(error);
    const heard = this.delivery.heardRecently();
    if (throttle) this.pace.pushback(true, heard);
    else if (!auth) this.outageAttempts++;
    // 401/403 will not go away by itself: wait long, and say so. A busy cluster: wait our turn.
    const wait = throttle ? this.pace.waitMs(heard) : backoffDelay(this.outageAttempts, minDelayMs, maxDelayMs, this.random);
    const delay = auth ? maxDelayMs : Math.min(maxDelayMs, Math.max(wait, failed?.retryAfter ?? 0));
    const status = failed && 'status' in failed.verdict ? failed.verdict.status : undefined;
    const entry = { at: Date.now(), message: this.scrub(error.message), ...(status ? { status } : {}), retry_in_ms: delay };
    try {
      this.buffer.setState(STATE_KEYS.shipLastError, entry);
      if (auth) this.buffer.setState(STATE_KEYS.shipAuthProblem, entry);
    } catch {
      // The failure is logged below either way.
    }
    this.failing = true;
    const log = attempt === 1 || auth || attempt % 10 === 0 ? 'warn' : 'debug';
    this.logger[log](auth ? 'OpenSearch refuses our credentials' : 'shipping failed; will retry', { sink: this.name, attempt, error: error.message, retry_in_ms: delay });
    return delay;
  }

  private recovered(): void {
    this.failing = false;
    this.buffer.setState(STATE_KEYS.shipAuthProblem, null);
    this.logger.info('shipping works again', { sink: this.name });
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}
