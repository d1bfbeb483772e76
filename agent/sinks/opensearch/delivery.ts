// One request's worth of shipping: POST a leased batch, read what OpenSearch (or Data Prepper) said,
// and settle each document accordingly — delivered (2xx, 409), retried later (429/5xx), held
// (closed index, blocks), or dead-lettered (400 mapping errors), so a poison document never blocks
// the rest. A 413, or a 400 in ingest mode, halves the batch until the culprit is alone. A whole
// request that failed throws RequestFailed: what to do about it is the sink's loop's business.
import type { DocumentBuffer, LeasedDoc, Settlement } from '../../buffer/buffer.ts';
import type { Logger } from '../../log/logger.ts';
import { backoffDelay, retryAfterMs } from '../../backoff.ts';
import type { ClockSkew } from '../clock-skew.ts';
import { classifyBulkItems, classifyStatus, type WholeVerdict } from './classify.ts';
import { bulkPath, encodeBulk, encodeIngest } from './encoder.ts';
import type { Pace } from './pace.ts';
import type { OpenSearchService, Payload } from './service.ts';
import type { SinkSettings } from './settings.ts';

export const HEARTBEAT = 'booth.heartbeat';

/** A whole request failed: what the server or the network said, and the Retry-After it asked for. */
export class RequestFailed extends Error {
  override name = 'RequestFailed';
  readonly verdict: WholeVerdict | { kind: 'network' };
  readonly retryAfter: number | undefined;
  constructor(message: string, verdict: WholeVerdict | { kind: 'network' }, retryAfter?: number) {
    super(message);
    this.verdict = verdict;
    this.retryAfter = retryAfter;
  }
}

/** A 429 of a busy cluster (not a disk-full block): pace, do not back off as from an outage. */
export function isThrottle(err: unknown): boolean {
  return err instanceof RequestFailed && err.verdict.kind === 'retry' && err.verdict.throttle === true;
}

export interface DeliveryContext {
  name: string;
  settings: SinkSettings;
  buffer: DocumentBuffer;
  service: OpenSearchService;
  clock: ClockSkew;
  pace: Pace;
  logger: Logger;
  random: () => number;
  /** Monotonic milliseconds. */
  now: () => number;
  /** Aborts the request in flight (the stop deadline passed). */
  signal: AbortSignal;
}

export class Delivery {
  /** When a request last delivered anything, and a heartbeat (monotonic ms). */
  deliveredAt = Number.NEGATIVE_INFINITY;
  heartbeatDeliveredAt = Number.NEGATIVE_INFINITY;
  private readonly ctx: DeliveryContext;

  constructor(ctx: DeliveryContext) {
    this.ctx = ctx;
  }

  /**
   * Whether OpenSearch stored a heartbeat of this booth within the last two heartbeat intervals:
   * as stale as a lone heartbeat may get while the cluster is busy.
   */
  heardRecently(): boolean {
    return this.ctx.now() - this.heartbeatDeliveredAt < 2 * this.ctx.settings.heartbeatIntervalMs;
  }

  encode(batch: LeasedDoc[]): Buffer {
    const { mode, indexPrefix } = this.ctx.settings;
    return mode === 'bulk' ? encodeBulk(batch, indexPrefix) : encodeIngest(batch);
  }

  /**
   * Sends `batch` and settles what the answer says about each document; `outstanding` loses every
   * seq settled, so what is left in it after a throw is for the caller to hand back.
   */
  async deliver(batch: LeasedDoc[], outstanding: Set<number>, payload?: Payload): Promise<void> {
    const { settings, service, clock, pace, logger, name } = this.ctx;
    const bulk = settings.mode === 'bulk';
    const path = bulk ? bulkPath(settings.pipeline) : settings.ingestPath;
    let response;
    try {
      response = await service.post(path, payload ?? this.encode(batch), bulk ? 'application/x-ndjson' : 'application/json', this.ctx.signal);
    } catch (err) {
      throw new RequestFailed(describeNetworkError(err, settings.url), { kind: 'network' });
    }
    clock.sample(response.date, response.midpointMs, 'the OpenSearch server');
    const verdict = classifyStatus(settings.mode, response.status, response.body);
    if (verdict.kind === 'retry' || verdict.kind === 'auth') {
      throw new RequestFailed(verdict.reason, verdict, retryAfterMs(response.retryAfter));
    }
    if (verdict.kind === 'split') {
      if (batch.length === 1) {
        const d = batch[0]!;
        this.settle({ dead: [{ seq: d.seq, reason: verdict.reason, statusCode: verdict.status }] }, outstanding);
        logger.warn('document refused; kept as a dead letter', { sink: name, event_id: d.eventId, dataset: d.dataset, reason: verdict.reason });
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
      pace.accepted();
      return;
    }
    let items;
    try {
      items = classifyBulkItems(batch, response.body);
    } catch (err) {
      throw new RequestFailed(`unreadable _bulk response: ${(err as Error).message}`, { kind: 'retry', reason: 'unreadable response' });
    }
    const { minDelayMs, maxDelayMs } = settings;
    const attemptsOf = items.retry.length > 0 ? new Map(batch.map((d) => [d.seq, d.attempts])) : undefined;
    this.settle(
      {
        delivered: items.delivered,
        retry: [
          ...items.retry.map((r) => ({ ...r, delayMs: backoffDelay((attemptsOf?.get(r.seq) ?? 0) + 1, minDelayMs, maxDelayMs, this.ctx.random) })),
          ...items.hold.map((r) => ({ ...r, delayMs: maxDelayMs })),
        ],
        dead: items.dead,
      },
      outstanding,
    );
    this.noteDelivered(batch, items.delivered);
    // The cluster pushed back on some items: be polite to all of it, not just to them.
    if (items.throttled) pace.pushback(false, this.heardRecently());
    else pace.accepted();
    if (items.dead.length > 0) logger.warn('documents refused by OpenSearch; kept as dead letters', { sink: name, count: items.dead.length, first: items.dead[0]!.reason });
    if (items.hold.length > 0) logger.warn('OpenSearch refuses documents until an operator acts', { sink: name, count: items.hold.length, first: items.hold[0]!.error });
  }

  private noteDelivered(batch: LeasedDoc[], delivered: readonly number[]): void {
    if (delivered.length === 0) return;
    this.deliveredAt = this.ctx.now();
    // A batch holds at most one heartbeat (the lane keeps only the newest unsent one).
    const heartbeat = batch.find((d) => d.dataset === HEARTBEAT);
    if (heartbeat && delivered.includes(heartbeat.seq)) this.heartbeatDeliveredAt = this.deliveredAt;
  }

  private settle(s: Settlement, outstanding: Set<number>): void {
    this.ctx.buffer.settle(s);
    for (const seq of s.delivered ?? []) outstanding.delete(seq);
    for (const r of s.retry ?? []) outstanding.delete(r.seq);
    for (const d of s.dead ?? []) outstanding.delete(d.seq);
  }
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
