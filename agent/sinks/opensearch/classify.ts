// What a response means for the batch that was sent: the whole request (retry, auth problem,
// split) and, for _bulk, each item (delivered, retry, hold, dead letter). The tables follow
// ../shared/reference/opensearch.md §1.7 and §5.1.
import type { LeasedDoc } from '../../buffer/buffer.ts';

export type WholeVerdict =
  | { kind: 'ok' }
  /**
   * Transient: the cluster or the network will recover (408, 429, 5xx, connection errors).
   * `throttle`: a 429 of back-pressure — the cluster is up but busy, so the sink paces itself
   * rather than backing off as from an outage (a disk-full block is no such thing).
   */
  | { kind: 'retry'; reason: string; status?: number; throttle?: boolean }
  /** 401/403: nothing will change until someone fixes credentials or permissions. */
  | { kind: 'auth'; reason: string; status: number }
  /** The batch as a whole cannot be accepted (413, or 400 in ingest mode): bisect it to find the culprit. */
  | { kind: 'split'; reason: string; status: number };

export function classifyStatus(mode: 'bulk' | 'ingest', status: number, body: string): WholeVerdict {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const reason = `HTTP ${status}${describeErrorBody(body)}`;
  if (status === 401 || status === 403) return { kind: 'auth', reason, status };
  if (status === 413) return { kind: 'split', reason, status };
  if (status === 429) return { kind: 'retry', reason, status, throttle: !body.includes('cluster_block_exception') };
  if (status === 408 || status >= 500) return { kind: 'retry', reason, status };
  // A whole-request 400 from the cluster itself: in ingest mode one bad document spoils the
  // array; in bulk mode our NDJSON was refused (never expected) — either way, halving the batch
  // isolates the cause. A 400 that is not the cluster's (a proxy's page: "plain HTTP sent to the
  // HTTPS port") says nothing about the documents: retried, never a reason for a dead letter.
  if (status === 400 && fromTheCluster(mode, body)) return { kind: 'split', reason, status };
  if (status === 400) return { kind: 'retry', reason: `${reason} — not an answer of ${mode === 'bulk' ? 'OpenSearch' : 'Data Prepper'} (a proxy in between?)`, status };
  return { kind: 'retry', reason, status };
}

/** Whether a 400's body has the shape the cluster gives: OpenSearch's JSON error with a type, Data Prepper's own words. */
function fromTheCluster(mode: 'bulk' | 'ingest', body: string): boolean {
  if (mode === 'ingest' && body.startsWith('Bad request data format')) return true;
  try {
    const parsed = JSON.parse(body) as { error?: { type?: unknown } };
    return typeof parsed?.error?.type === 'string';
  } catch {
    return false;
  }
}

export interface ItemVerdicts {
  delivered: number[];
  /** Retry with backoff: back-pressure (429) and server errors. */
  retry: { seq: number; error: string }[];
  /** Retry much later: the cluster refuses for a reason an operator must fix (closed or missing index, blocks). */
  hold: { seq: number; error: string }[];
  dead: { seq: number; reason: string; statusCode: number; errorType?: string }[];
  /** Any item said 429: the sink slows down as a whole, not just for those items. */
  throttled: boolean;
}

interface BulkItem {
  _id?: unknown;
  status?: unknown;
  error?: { type?: unknown; reason?: unknown };
}

const BULK_ACTIONS = new Set(['create', 'index', 'update', 'delete']);

/** The item of `wrapper` if it can be a verdict on the document sent as `sentId`, else why it cannot. */
function itemOf(wrapper: unknown, sentId: string): BulkItem | string {
  if (typeof wrapper !== 'object' || wrapper === null || Array.isArray(wrapper)) return 'an item that is not an object';
  // One key, an action's: counted without an array of keys per item (the common case).
  let action: string | undefined;
  let keys = 0;
  for (const key in wrapper) if (Object.hasOwn(wrapper, key) && keys++ === 0) action = key;
  if (keys !== 1 || !BULK_ACTIONS.has(action!)) return `an item keyed ${JSON.stringify(Object.keys(wrapper)).slice(0, 80)}, not one of create, index, update, delete`;
  const item = (wrapper as Record<string, unknown>)[action!] as BulkItem | null;
  if (typeof item !== 'object' || item === null) return 'an item without a body';
  const { status } = item;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || (status >= 300 && status < 400) || status > 599) return `an item with status ${JSON.stringify(status)?.slice(0, 40)}`;
  if (item._id !== undefined && item._id !== sentId) return `an item for _id ${JSON.stringify(item._id).slice(0, 80)} where ${sentId} was sent`;
  // A refusal names its cause; one that does not is no reason to give a document up.
  if (status >= 400 && status !== 429 && status < 500 && (typeof item.error !== 'object' || item.error === null || typeof item.error.type !== 'string')) {
    return `an item with status ${status} and no error type`;
  }
  return item;
}

/**
 * Per-item verdicts of a 200 _bulk response. Throws when the response cannot be a verdict on this
 * batch — not JSON, another number of items, an item without a status, for another _id, or a
 * refusal without a cause: such an answer says nothing about the documents, so the request failed
 * and is sent again; a document becomes a dead letter only when its own item refuses it.
 */
export function classifyBulkItems(batch: readonly LeasedDoc[], responseBody: string): ItemVerdicts {
  const parsed = JSON.parse(responseBody) as { items?: unknown };
  const items = parsed?.items;
  if (!Array.isArray(items) || items.length !== batch.length) {
    throw new Error(`_bulk answered ${Array.isArray(items) ? items.length : 'no'} items for ${batch.length} documents`);
  }
  // Every item is checked before any verdict counts: one that is not a verdict voids the answer.
  const checked = new Array<BulkItem>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = itemOf(items[i], batch[i]!.eventId);
    if (typeof item === 'string') throw new Error(`_bulk answered ${item} (item ${i + 1} of ${items.length})`);
    checked[i] = item;
  }
  const v: ItemVerdicts = { delivered: [], retry: [], hold: [], dead: [], throttled: false };
  for (let i = 0; i < checked.length; i++) {
    const item = checked[i]!;
    const seq = batch[i]!.seq;
    const status = item.status as number;
    const type = typeof item.error?.type === 'string' ? item.error.type : undefined;
    if ((status >= 200 && status < 300) || (status === 409 && type === 'version_conflict_engine_exception')) {
      v.delivered.push(seq);
      continue;
    }
    const reason = typeof item.error?.reason === 'string' ? item.error.reason : '';
    const error = `${status} ${type ?? ''}: ${reason}`.trim();
    if (status === 429 && type === 'cluster_block_exception') {
      v.throttled = true;
      v.hold.push({ seq, error });
    } else if (status === 429 || status >= 500) {
      v.throttled ||= status === 429;
      v.retry.push({ seq, error });
    } else if ((status === 400 && type === 'index_closed_exception') || status === 404 || status === 403) {
      v.hold.push({ seq, error });
    } else {
      v.dead.push({ seq, reason: error.slice(0, 2000), statusCode: status, ...(type ? { errorType: type } : {}) });
    }
  }
  return v;
}

/** A short reason from an error body: OpenSearch's error.type/reason, Data Prepper's text, or nothing. */
export function describeErrorBody(body: string): string {
  const text = body.trim();
  if (!text) return '';
  try {
    const json = JSON.parse(text) as { error?: { type?: string; reason?: string } | string; message?: string; Message?: string };
    if (typeof json.error === 'object' && json.error) return `: ${json.error.type ?? ''} ${json.error.reason ?? ''}`.trimEnd().slice(0, 300);
    const msg = typeof json.error === 'string' ? json.error : (json.message ?? json.Message);
    if (msg) return `: ${msg.slice(0, 300)}`;
  } catch {
    // Not JSON: plain text (Data Prepper) or an HTML error page from a proxy.
  }
  return `: ${text.replace(/\s+/g, ' ').slice(0, 200)}`;
}
