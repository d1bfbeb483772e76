// The background check of a large buffer file (see DocumentBuffer.checkInBackground): the small
// tables quick_checked at once, the outbox and dead letters read through in small steps between
// other work. While a sink is draining a backlog the reading waits: it would take the drain's CPU
// and push the drain's pages out of SQLite's cache, and the drain reads the outbox itself. It
// waits at most CHECK_DEFER_MS in all, then goes on beside whatever runs.
import type { Db } from './open.ts';
import type { Statements } from './statements.ts';

/** The longest the check waits for a drain to end, over the whole check. */
export const CHECK_DEFER_MS = 10 * 60_000;
/** How often a waiting check looks again. */
const DEFER_POLL_MS = 250;

export interface CheckSteps {
  /** Rows read per step. */
  stepRows?: number;
  /** How long the check may wait for drains, in all (default CHECK_DEFER_MS; 0: never). */
  deferMs?: number;
}

/**
 * Checks the tables of `db`; throws SQLite's corruption error when a page is damaged. Resolves to
 * false when the database was closed before the check was done. `draining` says whether a sink
 * holds a lease now.
 */
export async function checkInSteps(db: Db, stmts: Statements, draining: () => boolean, opts: CheckSteps = {}): Promise<boolean> {
  const stepRows = opts.stepRows ?? 2000;
  const deferUntil = performance.now() + (opts.deferMs ?? CHECK_DEFER_MS);
  const drainEnded = async (): Promise<void> => {
    // unref: a check waiting on a drain never keeps the process alive by itself.
    while (db.open && draining() && performance.now() < deferUntil) await new Promise((r) => setTimeout(r, DEFER_POLL_MS).unref());
  };
  await drainEnded();
  for (const table of ['state', 'queue', 'uploads', 'bookings']) {
    if (!db.open) return false;
    const result = String(db.pragma(`quick_check(${table})`, { simple: true }));
    if (result !== 'ok') throw Object.assign(new Error(`quick_check(${table}): ${result}`), { code: 'SQLITE_CORRUPT' });
  }
  for (const stmt of [stmts.scanOutbox, stmts.scanDead]) {
    let after = -1;
    for (;;) {
      await drainEnded();
      if (!db.open) return false;
      const rows = stmt.all(after, stepRows) as { seq: number }[];
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.seq;
      await new Promise((r) => setImmediate(r));
    }
  }
  return true;
}
