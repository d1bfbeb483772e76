// The size budget of the buffer: how buffer.max_size is split between the main database file and
// its write-ahead log, and when the buffer counts as full.
//
// The main file is capped hard with SQLite's max_page_count; before that cap is reached, record()
// drops the least valuable documents once used pages pass the high-water mark, down to the
// low-water mark, so drops happen in chunks rather than on every insert. Deleted rows free pages
// that SQLite reuses, so the file stays at its high-water size instead of growing.

export interface SizeBudget {
  pageSize: number;
  /** Pages after which the WAL is checkpointed back into the main file. */
  walCheckpointPages: number;
  /** The WAL file is truncated to this after a checkpoint. */
  walLimitBytes: number;
  /** Hard cap of the main file. */
  maxPageCount: number;
  highWaterBytes: number;
  lowWaterBytes: number;
}

const SHM_BYTES = 32 * 1024;

export function sizeBudget(maxSizeBytes: number, pageSize: number): SizeBudget {
  const walCheckpointPages = Math.max(32, Math.min(1000, Math.floor((maxSizeBytes * 0.02) / pageSize)));
  // A WAL can grow past its checkpoint threshold by one transaction before it is reset.
  const walLimitBytes = walCheckpointPages * pageSize * 2;
  const mainBytes = Math.max(pageSize * 64, maxSizeBytes - walLimitBytes - SHM_BYTES);
  return {
    pageSize,
    walCheckpointPages,
    walLimitBytes,
    maxPageCount: Math.floor(mainBytes / pageSize),
    highWaterBytes: Math.floor(mainBytes * 0.95),
    lowWaterBytes: Math.floor(mainBytes * 0.88),
  };
}

/** Space a row of `bodyBytes` takes in the file, with row header, columns and its index entry. */
export function rowCost(bodyBytes: number): number {
  return bodyBytes + 120;
}
