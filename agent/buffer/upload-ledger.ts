// A second, plain record of the files uploaded and the bookings summarized, beside the database:
// if the database is ever damaged and replaced, the agent still knows which photos the server
// already has, and a booth that keeps its photos (after_upload: keep) neither sends the whole event
// again nor summarizes its bookings twice. One JSON line per upload or summary, appended after the
// database committed it; a torn last line (power loss) is skipped
// when read. It is compacted from the database — the authority — when it has grown well past it.
import fs from 'node:fs';
import path from 'node:path';

export const LEDGER_FILE = 'uploaded.jsonl';

export interface LedgerEntry {
  path: string;
  bookingId: string;
  size: number;
  mtimeMs: number;
  endedAt: number | null;
  speedMbS: number | null;
}

export interface LedgerBooking {
  id: string;
  firstSeenAt: number;
  finishedAt: number | null;
  summarizedAt: number;
}

export interface LedgerContents {
  uploads: Map<string, LedgerEntry>;
  bookings: Map<string, LedgerBooking>;
}

/** Bytes a line takes on average, to tell when the file holds many more lines than the database rows. */
const LINE_BYTES_ESTIMATE = 160;
/** Below this the ledger is never compacted: reading it at a reset is instant anyway. */
const COMPACT_FLOOR_BYTES = 1e6;

export class UploadLedger {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, LEDGER_FILE);
  }

  /** Appends entries; never throws — the ledger is a second copy, the database already holds them. */
  append(entries: readonly (LedgerEntry | LedgerBooking)[]): void {
    if (entries.length === 0) return;
    try {
      fs.appendFileSync(this.file, entries.map((e) => `${JSON.stringify(lineOf(e))}\n`).join(''), { mode: 0o600 });
    } catch {
      // A full disk: the database write before this one would have failed first. Nothing to lose here.
    }
  }

  /** Every file and booking recorded, the last line about each winning. */
  read(): LedgerContents {
    const out: LedgerContents = { uploads: new Map(), bookings: new Map() };
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      const entry = parseLine(line);
      if (entry && 'path' in entry) out.uploads.set(entry.path, entry);
      else if (entry) out.bookings.set(entry.id, entry);
    }
    return out;
  }

  /** Whether the file has grown to well beyond `rows` entries (uploads appended, rows updated in place). */
  needsCompaction(rows: number): boolean {
    try {
      const size = fs.statSync(this.file).size;
      return size > COMPACT_FLOOR_BYTES && size > 2 * Math.max(rows, 1) * LINE_BYTES_ESTIMATE;
    } catch {
      return false;
    }
  }

  /** Replaces the file with exactly `entries`, atomically (written aside, flushed, renamed). */
  rewrite(entries: Iterable<LedgerEntry | LedgerBooking>): void {
    const draft = `${this.file}.draft`;
    const fd = fs.openSync(draft, 'w', 0o600);
    try {
      let chunk = '';
      for (const e of entries) {
        chunk += `${JSON.stringify(lineOf(e))}\n`;
        if (chunk.length > 64 * 1024) {
          fs.writeSync(fd, chunk);
          chunk = '';
        }
      }
      fs.writeSync(fd, chunk);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(draft, this.file);
  }
}

// Short keys: a kept outbox of tens of thousands of photos has as many lines.
type UploadLine = { p: string; b: string; s: number; m: number; e: number | null; v: number | null };
type BookingLine = { k: 'booking'; id: string; f: number; d: number | null; s: number };

function lineOf(e: LedgerEntry | LedgerBooking): UploadLine | BookingLine {
  if ('path' in e) return { p: e.path, b: e.bookingId, s: e.size, m: e.mtimeMs, e: e.endedAt, v: e.speedMbS };
  return { k: 'booking', id: e.id, f: e.firstSeenAt, d: e.finishedAt, s: e.summarizedAt };
}

function parseLine(line: string): LedgerEntry | LedgerBooking | undefined {
  if (line.length === 0) return undefined;
  const orNull = (v: unknown) => (typeof v === 'number' ? v : null);
  try {
    const l = JSON.parse(line) as Partial<UploadLine & BookingLine>;
    if (l.k === 'booking') {
      if (typeof l.id !== 'string' || !Number.isInteger(l.f) || !Number.isInteger(l.s)) return undefined;
      return { id: l.id, firstSeenAt: l.f!, finishedAt: orNull(l.d), summarizedAt: l.s! };
    }
    if (typeof l.p !== 'string' || typeof l.b !== 'string' || !Number.isInteger(l.s) || !Number.isInteger(l.m)) return undefined;
    return { path: l.p, bookingId: l.b, size: l.s!, mtimeMs: l.m!, endedAt: orNull(l.e), speedMbS: orNull(l.v) };
  } catch {
    return undefined;
  }
}
