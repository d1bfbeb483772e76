// The shipping loop for OpenSearch, in both modes: _bulk (mode: bulk) and the Data Prepper /
// OpenSearch Ingestion HTTP source (mode: ingest).
//
//   lease a batch (heartbeat first) → encode → POST → classify → settle
//
// One request in flight. A whole-request failure retries (p-retry): after an outage's exponential
// backoff with full jitter (5xx, network errors), or at the pace of a busy cluster (429: see
// pace.ts), and never before the Retry-After the server asked for. After an outage the batch is
// handed back and leased afresh, so the newest heartbeat leads the first request; a batch a busy
// cluster refused is kept and sent again as it is unless a heartbeat has been recorded since.
// Item-level outcomes are settled one by one: delivered (2xx, 409), retried later (429/5xx),
// held (closed index, blocks), or dead-lettered (400 mapping errors) — a poison document never
// blocks the rest. A 413, or a 400 in ingest mode, halves the batch until the culprit is alone.
import pRetry from 'p-retry';
import type { DocumentBuffer, LeasedDoc, Settlement } from '../../buffer/buffer.ts';
import { STATE_KEYS } from '../../buffer/state-keys.ts';
import { redactor, type Logger } from '../../log/logger.ts';
import { backoffDelay, retryAfterMs, sleep } from '../../backoff.ts';
import type { ClockSkew } from '../clock-skew.ts';
import type { Sink } from '../sink.ts';
import { authSecrets } from './auth.ts';
import { classifyBulkItems, classifyStatus, type WholeVerdict } from './classify.ts';
import { bulkPath, encodeBulk, encodeIngest } from './encoder.ts';
import { Pace } from './pace.ts';
import { OpenSearchService, type Payload } from './service.ts';
import type { SinkSettings } from './settings.ts';


const POLL_MS = 1000;

interface Prepared {
  batch: LeasedDoc[];
  payload: Payload;
}

/** A whole request failed: what the server or the network said, and the Retry-After it asked for. */
class RequestFailed extends Error {
  override name = 'RequestFailed';
  readonly verdict: WholeVerdict | { kind: 'network' };
  readonly retryAfter: number | undefined;
  constructor(message: string, verdict: WholeVerdict | { kind: 'network' }, retryAfter?: number) {
    super(message);
    this.verdict = verdict;
    this.retryAfter = retryAfter;
  }
}

export interface SinkOptions {
  random?: () => number;
  pollMs?: number;
  /** Monotonic milliseconds, for the pace and the heartbeat's freshness. */
  now?: () => number;
}

const HEARTBEAT = 'booth.heartbeat';

export class OpenSearchSink implements Sink {
  readonly name: string;
  private readonly settings: SinkSettings;
  private readonly buffer: DocumentBuffer;
  private readonly logger: Logger;
  private readonly clock: ClockSkew;
  private readonly service: OpenSearchService;
  private readonly random: () => number;
  private readonly pollMs: number;
  private readonly now: () => number;
  /** A server may echo our credentials (a 401 quoting them): scrubbed from what is stored for `status`. */
  private readonly scrub: (text: string) => string;
  /** Aborts sleeps and the request in flight when the stop deadline passes. */
  private readonly abort = new AbortController();
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** The pause before each request while the cluster answers 429s (whole requests or items). */
  private readonly pace: Pace;
  /** Consecutive failures other than a busy cluster's 429s: the outage backoff's attempt number. */
  private outageAttempts = 0;
  /** When a request last delivered anything, and a heartbeat (monotonic ms). */
  private deliveredAt = Number.NEGATIVE_INFINITY;
  private heartbeatDeliveredAt = Number.NEGATIVE_INFINITY;
  /** A batch a busy cluster refused, still leased and encoded, to send again as it is. */
  private refused: Prepared | undefined;
  private failing = false;
  private waitMs = 0;
  /** The next full batch, leased and encoded while the current request is in flight. */
  private next: Promise<Prepared | undefined> | undefined;

  constructor(settings: SinkSettings, buffer: DocumentBuffer, logger: Logger, clock: ClockSkew, opts: SinkOptions = {}) {
    this.name = `opensearch-${settings.mode}`;
    this.settings = settings;
    this.buffer = buffer;
    this.logger = logger;
    this.clock = clock;
    this.service = new OpenSearchService(settings);
    this.random = opts.random ?? Math.random;
    this.pollMs = opts.pollMs ?? POLL_MS;
    this.now = opts.now ?? (() => performance.now());
    this.scrub = redactor(authSecrets(settings.auth)).scrubText;
    this.pace = new Pace({ minDelayMs: settings.minDelayMs, maxDelayMs: settings.maxDelayMs, now: this.now, random: this.random });
  }

  start(): void {
    this.unsubscribe = this.buffer.onRecord(() => this.wake?.());
    this.loop = this.run();
  }

  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const finished = await Promise.race([this.loop?.then(() => true), sleep(deadline - Date.now()).then(() => false)]);
    if (!finished) {
      this.abort.abort();
      await this.loop;
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
        await sleep(this.pace.waitMs(this.heardRecently()), this.abort.signal);
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
      payload ??= await this.service.payload(this.encode(batch));
      const delivering = this.deliver(batch, outstanding, payload);
      // While OpenSearch works on this request, lease and encode the next one (a backlog drains
      // at the speed of the slower side, not of both added up). Still one request in flight.
      if (!this.stopping && this.keepingUp()) this.next = sleep(2).then(() => this.prepareNext());
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
   * batch ahead is worth it: not before a request has gone through (after a start or a failure,
   * the first request finds out) and not while it pushes back — a refusal wastes the work.
   */
  private keepingUp(): boolean {
    return !this.failing && this.deliveredAt > Number.NEGATIVE_INFINITY && !this.pace.throttled();
  }

  /**
   * Whether OpenSearch stored a heartbeat of this booth within the last two heartbeat intervals:
   * as stale as a lone heartbeat may get while the cluster is busy (leaseReady).
   */
  private heardRecently(): boolean {
    return this.now() - this.heartbeatDeliveredAt < 2 * this.settings.heartbeatIntervalMs;
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
      const due = this.deliveredAt + 2 * this.settings.heartbeatIntervalMs - this.now();
      if (due > 0) {
        this.release(batch);
        this.waitMs = due;
        return undefined;
      }
    }
    if (!this.stopping && batch.length < maxDocs && batch[0]!.dataset !== HEARTBEAT) {
      // A partial batch waits for batch.interval, counted from its oldest document.
      const age = Date.now() - Math.min(...batch.map((d) => d.recordedAt));
      const bytes = batch.reduce((s, d) => s + d.body.length, 0);
      if (age >= 0 && age < intervalMs && bytes < maxBytes * 0.9) {
        this.release(batch);
        this.waitMs = intervalMs - age;
        return undefined;
      }
    }
    return batch;
  }

  /** Leases and encodes the next batch if it is full (partial batches wait for their interval). */
  private async prepareNext(): Promise<Prepared | undefined> {
    const { maxDocs, maxBytes } = this.settings;
    const batch = this.buffer.lease(maxDocs, maxBytes);
    const bytes = batch.reduce((s, d) => s + d.body.length, 0);
    if (batch.length === 0 || (batch.length < maxDocs && bytes < maxBytes * 0.9)) {
      if (batch.length > 0) this.release(batch);
      return undefined;
    }
    try {
      return { batch, payload: await this.service.payload(this.encode(batch)) };
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

  private encode(batch: LeasedDoc[]): Buffer {
    return this.settings.mode === 'bulk' ? encodeBulk(batch, this.settings.indexPrefix) : encodeIngest(batch);
  }

  private async deliver(batch: LeasedDoc[], outstanding: Set<number>, payload?: Payload): Promise<void> {
    const bulk = this.settings.mode === 'bulk';
    const path = bulk ? bulkPath(this.settings.pipeline) : this.settings.ingestPath;
    let response;
    try {
      response = await this.service.post(path, payload ?? this.encode(batch), bulk ? 'application/x-ndjson' : 'application/json', this.abort.signal);
    } catch (err) {
      throw new RequestFailed(describeNetworkError(err, this.settings.url), { kind: 'network' });
    }
    this.clock.sample(response.date, response.midpointMs, 'the OpenSearch server');
    const verdict = classifyStatus(this.settings.mode, response.status, response.body);
    if (verdict.kind === 'retry' || verdict.kind === 'auth') {
      throw new RequestFailed(verdict.reason, verdict, retryAfterMs(response.retryAfter));
    }
    if (verdict.kind === 'split') {
      if (batch.length === 1) {
        const d = batch[0]!;
        this.settle({ dead: [{ seq: d.seq, reason: verdict.reason, statusCode: verdict.status }] }, outstanding);
        this.logger.warn('document refused; kept as a dead letter', { sink: this.name, event_id: d.eventId, dataset: d.dataset, reason: verdict.reason });
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.deliver(batch.slice(0, half), outstanding);
      await this.deliver(batch.slice(half), outstanding);
      return;
    }
    if (!bulk) {
      this.settle({ delivered: batch.map((d) => d.seq) }, outstanding);
      this.noteDelivered(batch, batch.map((d) => d.seq));
      this.pace.accepted();
      return;
    }
    let items;
    try {
      items = classifyBulkItems(batch, response.body);
    } catch (err) {
      throw new RequestFailed(`unreadable _bulk response: ${(err as Error).message}`, { kind: 'retry', reason: 'unreadable response' });
    }
    const attemptsOf = new Map(batch.map((d) => [d.seq, d.attempts]));
    const { minDelayMs, maxDelayMs } = this.settings;
    this.settle(
      {
        delivered: items.delivered,
        retry: [
          ...items.retry.map((r) => ({ ...r, delayMs: backoffDelay((attemptsOf.get(r.seq) ?? 0) + 1, minDelayMs, maxDelayMs, this.random) })),
          ...items.hold.map((r) => ({ ...r, delayMs: maxDelayMs })),
        ],
        dead: items.dead,
      },
      outstanding,
    );
    this.noteDelivered(batch, items.delivered);
    // The cluster pushed back on some items: be polite to all of it, not just to them.
    if (items.throttled) this.pace.pushback(false, this.heardRecently());
    else this.pace.accepted();
    if (items.dead.length > 0) this.logger.warn('documents refused by OpenSearch; kept as dead letters', { sink: this.name, count: items.dead.length, first: items.dead[0]!.reason });
    if (items.hold.length > 0) this.logger.warn('OpenSearch refuses documents until an operator acts', { sink: this.name, count: items.hold.length, first: items.hold[0]!.error });
  }

  private noteDelivered(batch: LeasedDoc[], delivered: readonly number[]): void {
    if (delivered.length === 0) return;
    this.deliveredAt = this.now();
    // A batch holds at most one heartbeat (the lane keeps only the newest unsent one).
    const heartbeat = batch.find((d) => d.dataset === HEARTBEAT);
    if (heartbeat && delivered.includes(heartbeat.seq)) this.heartbeatDeliveredAt = this.deliveredAt;
  }

  private settle(s: Settlement, outstanding: Set<number>): void {
    this.buffer.settle(s);
    for (const seq of [...(s.delivered ?? []), ...(s.retry ?? []).map((r) => r.seq), ...(s.dead ?? []).map((d) => d.seq)]) outstanding.delete(seq);
  }

  /** Records the failure for `status` and returns how long to wait before the next attempt. */
  private afterFailure(error: Error, attempt: number): number {
    const { minDelayMs, maxDelayMs } = this.settings;
    const failed = error instanceof RequestFailed ? error : undefined;
    const auth = failed?.verdict.kind === 'auth';
    const throttle = isThrottle(error);
    const heard = this.heardRecently();
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

/** A 429 of a busy cluster (not a disk-full block): pace, do not back off as from an outage. */
function isThrottle(err: unknown): boolean {
  return err instanceof RequestFailed && err.verdict.kind === 'retry' && err.verdict.throttle === true;
}

function describeNetworkError(err: unknown, url: URL): string {
  const e = err as { code?: string; message?: string; name?: string };
  const where = `${url.protocol}//${url.host}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `${where} refused the connection (is OpenSearch running?)`;
    case 'ECONNRESET':
      return `${where} closed the connection mid-request`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${url.hostname}`;
    case 'ETIMEDOUT':
      return `${where} did not answer in time`;
    default:
      return `${where}: ${e.code ? `${e.code} ` : ''}${e.message ?? String(err)}`;
  }
}
