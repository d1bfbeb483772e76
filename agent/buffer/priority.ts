// How valuable each kind of document is. The buffer drops the least valuable first when it is
// full (network samples, then per-image uploads; booking summaries and agent events last, SPEC §6)
// and sends the most valuable first, with the heartbeat ahead of everything.
import type { Dataset } from '../../shared/documents/schema.ts';

export const PRIORITY: Record<Dataset, number> = {
  'booth.network': 0,
  'booth.upload': 1,
  'booth.heartbeat': 2,
  'booth.booking': 3,
  'booth.agent': 4,
};

/** Priorities from least to most valuable: the order documents are dropped in. */
export const DROP_ORDER = [0, 1, 2, 3, 4] as const;

/** The heartbeat lane: only the newest unsent heartbeat is kept, and it is sent before anything else. */
export const HEARTBEAT_PRIORITY = PRIORITY['booth.heartbeat'];

/** Priorities in the order they are sent: the heartbeat lane, then most valuable first. */
export const SEND_ORDER = [HEARTBEAT_PRIORITY, 4, 3, 1, 0] as const;

/** The dataset each priority holds (one each), for counts by dataset read off the priority index. */
export const DATASET_OF_PRIORITY = Object.fromEntries(Object.entries(PRIORITY).map(([d, p]) => [p, d])) as Record<number, Dataset>;

/**
 * Outbox rows are numbered seq = priority * SEQ_SPAN + n, so the table's own order is by kind,
 * then age. 2^44 numbers per kind last 500 years at a million documents a second, and the
 * largest seq stays a safe JavaScript integer.
 */
export const SEQ_SPAN = 2 ** 44;

export function seqRange(priority: number): [from: number, to: number] {
  return [priority * SEQ_SPAN, (priority + 1) * SEQ_SPAN];
}

export function priorityOfSeq(seq: number): number {
  return Math.floor(seq / SEQ_SPAN);
}
