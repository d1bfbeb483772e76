// Which rows go when the buffer must shrink: the oldest of the least valuable kind first (dead
// letters of a kind before its deliverable documents), never a leased one. The buffer decides when
// and records the drop; these only pick and delete, inside its transaction.
import type { Dataset } from '../../shared/documents/schema.ts';
import { rowCost } from './bounds.ts';
import { DROP_ORDER, seqRange } from './priority.ts';
import type { Statements } from './statements.ts';

type ByDataset = Partial<Record<Dataset, number>>;
type Candidate = { seq: number; dataset: Dataset; bytes: number; recorded_at: number };

/** Rows of one kind and table in drop order, 500 at a time. */
function oldest(stmts: Statements, table: 'dead_letters' | 'outbox', priority: number, leased: string): Candidate[] {
  return (table === 'outbox' ? stmts.oldestOutbox.all(...seqRange(priority), leased) : stmts.oldestDead.all(priority)) as Candidate[];
}

function remove(stmts: Statements, table: 'dead_letters' | 'outbox', rows: readonly Candidate[], byDataset: ByDataset): void {
  for (const r of rows) byDataset[r.dataset] = (byDataset[r.dataset] ?? 0) + 1;
  const json = JSON.stringify(rows.map((r) => r.seq));
  if (table === 'outbox') stmts.deleteOutbox.run(json);
  else stmts.deleteDead.run(json);
}

/** Deletes rows in drop order whose sizes add up to `bytes`; returns how many, counted into `byDataset`. */
export function deleteOldest(stmts: Statements, leased: string, bytes: number, byDataset: ByDataset): number {
  let toFree = bytes;
  let count = 0;
  for (const priority of DROP_ORDER) {
    for (const table of ['dead_letters', 'outbox'] as const) {
      while (toFree > 0) {
        const rows = oldest(stmts, table, priority, leased);
        if (rows.length === 0) break;
        const take: Candidate[] = [];
        for (const r of rows) {
          if (toFree <= 0) break;
          take.push(r);
          toFree -= rowCost(r.bytes);
        }
        remove(stmts, table, take, byDataset);
        count += take.length;
      }
      if (toFree <= 0) return count;
    }
  }
  return count;
}

/** Deletes every row recorded before `cutoff` (ms); returns how many, counted into `byDataset`. */
export function deleteExpired(stmts: Statements, leased: string, cutoff: number, byDataset: ByDataset): number {
  let count = 0;
  for (const priority of DROP_ORDER) {
    for (const table of ['dead_letters', 'outbox'] as const) {
      for (;;) {
        const rows = oldest(stmts, table, priority, leased);
        // Rows are in recording order: expired ones form a prefix.
        const expired = rows.filter((r) => r.recorded_at < cutoff);
        if (expired.length === 0) break;
        remove(stmts, table, expired, byDataset);
        count += expired.length;
        if (expired.length < rows.length) break;
      }
    }
  }
  return count;
}
