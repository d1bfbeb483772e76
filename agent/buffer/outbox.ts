// Reading batches out of the outbox and deleting delivered ones: the buffer's hot path while a
// backlog drains, so it is written for few objects and few statements per document.
//
// A lease reads, per kind, only the stretches of seq between the runs of documents already leased
// (in flight), so the scan never walks over them. Each stretch is one row: the documents' facts as
// JSON arrays and their bodies as one blob (group_concat), each body a view into it — no row object
// and no string per document in the JavaScript heap, and no UTF-8 decoding and re-encoding on the
// way into a request body.
import { DATASET_OF_PRIORITY, SEND_ORDER, seqRange } from './priority.ts';
import type { Statements } from './statements.ts';
import type { LeasedDoc } from './types.ts';

/** Runs of consecutive seqs, [first, last] each, in order; `sorted` ascending without repeats. */
export function seqRuns(sorted: ArrayLike<number>): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const seq = sorted[i]!;
    const last = runs[runs.length - 1];
    if (last && seq === last[1] + 1) last[1] = seq;
    else runs.push([seq, seq]);
  }
  return runs;
}

/**
 * Beyond this many runs of leased documents in one kind (in-flight batches broken up by documents
 * waiting for a retry), one scan that skips them by number is cheaper than a seek per stretch.
 */
const MAX_STRETCHES = 64;

interface Stretch {
  from: number;
  to: number;
  /** Leased seqs inside [from, to] (only when the stretch is not free of them). */
  leased: string;
}

/** Where a lease of kind `priority` reads: between the runs of `leased` (sorted). */
function stretches(priority: number, leased: Float64Array): Stretch[] {
  const [first, end] = seqRange(priority);
  const inKind = leased.subarray(lowerBound(leased, first), lowerBound(leased, end));
  const runs = seqRuns(inKind);
  if (runs.length > MAX_STRETCHES) return [{ from: first, to: end - 1, leased: JSON.stringify(Array.from(inKind)) }];
  const out: Stretch[] = [];
  let from = first;
  for (const [a, b] of runs) {
    if (a > from) out.push({ from, to: a - 1, leased: '[]' });
    from = b + 1;
  }
  if (from < end) out.push({ from, to: end - 1, leased: '[]' });
  return out;
}

function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

type ReadyRow = [seqs: string, eventIds: string, timestamps: string, recordedAt: string, attempts: string, bytes: string, bodies: Buffer | null];

/**
 * The next batch to send, not yet marked leased: the heartbeat lane first, then by priority and
 * age, at most `maxDocs` documents and `maxBytes` of bodies (one document at least).
 */
export function readBatch(stmts: Statements, leased: ReadonlySet<number>, now: number, maxDocs: number, maxBytes: number): LeasedDoc[] {
  const held = Float64Array.from(leased).sort();
  const out: LeasedDoc[] = [];
  let bytes = 0;
  for (const priority of SEND_ORDER) {
    const dataset = DATASET_OF_PRIORITY[priority]!;
    for (const s of stretches(priority, held)) {
      const wanted = maxDocs - out.length;
      const row = stmts.readyIn.get(s.from, s.to, now, s.leased, wanted) as ReadyRow;
      const seqs = JSON.parse(row[0]) as number[];
      if (seqs.length === 0) continue;
      const [eventIds, timestamps, recordedAt, attempts, lengths] = row.slice(1, 6).map((json) => JSON.parse(json as string)) as [string[], string[], number[], number[], number[]];
      const blob = row[6]!;
      let at = 0;
      for (let i = 0; i < seqs.length; i++) {
        const length = lengths[i]!;
        // The bodies past the size limit were read for nothing; the batch ends here.
        if (out.length > 0 && bytes + length > maxBytes) return out;
        bytes += length;
        out.push({ seq: seqs[i]!, eventId: eventIds[i]!, dataset, timestamp: timestamps[i]!, body: blob.subarray(at, at + length), attempts: attempts[i]!, recordedAt: recordedAt[i]! });
        at += length + 1;
      }
      if (at - 1 !== blob.length) throw new Error(`outbox bodies: ${blob.length} bytes read where ${at - 1} were expected`);
      if (seqs.length < wanted) continue;
      return out;
    }
  }
  return out;
}

/** Deletes documents by number: a range delete per run of consecutive seqs (a delivered batch is mostly one). */
export function deleteDocuments(stmts: Statements, seqs: readonly number[]): void {
  const runs = seqRuns(Float64Array.from(seqs).sort());
  if (runs.length > MAX_STRETCHES) {
    stmts.deleteOutbox.run(JSON.stringify(seqs));
    return;
  }
  for (const [first, last] of runs) stmts.deleteRange.run(first, last);
}
