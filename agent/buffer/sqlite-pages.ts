// Reads the rows of a damaged SQLite file page by page, without SQLite: a database whose B-tree is
// broken (a root page overwritten) cannot be queried at all, yet most of its leaf pages still hold
// intact rows. This follows the documented file format (sqlite.org/fileformat2.html): the header,
// the WAL's committed frames laid over the main file, table and index B-tree cells, overflow
// chains and the record format. Everything read is bounds-checked; a cell that does not parse is
// skipped, never trusted. better-sqlite3 is built without the sqlite_dbpage table and the recover
// extension, which would otherwise do this.
import fs from 'node:fs';

/** One row found on a page: a table row (with its rowid) or an index/WITHOUT ROWID entry. */
export type PageRow = { kind: 'table'; rowid: number; values: Value[] } | { kind: 'index'; values: Value[] };
export type Value = null | number | string | Buffer;

export interface PageScan {
  pageSize: number;
  /** Pages read, and pages that were no B-tree page we could parse (overwritten, free, overflow). */
  pages: number;
  unreadable: number;
}

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const TABLE_LEAF = 0x0d;
const INDEX_LEAF = 0x0a;
const INDEX_INTERIOR = 0x02;
const TABLE_INTERIOR = 0x05;

/** Calls `onRow` for every row readable in `file` (and its `-wal`, when present); returns what was read. */
export function scanPages(file: string, onRow: (row: PageRow) => void): PageScan {
  const source = PageSource.open(file);
  try {
    const free = source.freePages();
    let unreadable = 0;
    for (let n = 1; n <= source.pageCount; n++) {
      const page = free.has(n) ? undefined : source.page(n);
      if (!page || !readPage(source, n, page, onRow)) unreadable++;
    }
    return { pageSize: source.pageSize, pages: source.pageCount, unreadable };
  } finally {
    source.close();
  }
}

/** The latest committed version of each page: the WAL's, else the main file's. */
class PageSource {
  private readonly walFrames = new Map<number, number>();
  private readonly fd: number;
  private readonly walFd: number | undefined;
  readonly pageSize: number;
  readonly usable: number;
  pageCount: number;
  private readonly header: Buffer;

  private constructor(fd: number, walFd: number | undefined, pageSize: number, usable: number, pageCount: number, header: Buffer) {
    this.fd = fd;
    this.walFd = walFd;
    this.pageSize = pageSize;
    this.usable = usable;
    this.pageCount = pageCount;
    this.header = header;
  }

  static open(file: string): PageSource {
    const fd = fs.openSync(file, 'r');
    let walFd: number | undefined;
    try {
      walFd = fs.openSync(`${file}-wal`, 'r');
    } catch {
      walFd = undefined;
    }
    const header = Buffer.alloc(100);
    fs.readSync(fd, header, 0, 100, 0);
    const wal = walFd === undefined ? undefined : readWalHeader(walFd);
    const headerOk = header.subarray(0, 16).equals(MAGIC);
    const pageSize = (headerOk ? pageSizeOf(header.readUInt16BE(16)) : undefined) ?? wal?.pageSize ?? 4096;
    const reserved = headerOk ? header[20]! : 0;
    const mainPages = Math.floor(fs.fstatSync(fd).size / pageSize);
    const source = new PageSource(fd, walFd, pageSize, pageSize - reserved, mainPages, header);
    if (wal && wal.pageSize === pageSize) source.indexWal(wal);
    return source;
  }

  /** Frames of the last committed transaction and before, whose salts match the WAL header. */
  private indexWal(wal: { salt1: number; salt2: number }): void {
    const frameHeader = Buffer.alloc(24);
    const pending = new Map<number, number>();
    let pageCount = this.pageCount;
    const walSize = fs.fstatSync(this.walFd!).size;
    for (let at = 32; at + 24 + this.pageSize <= walSize; at += 24 + this.pageSize) {
      fs.readSync(this.walFd!, frameHeader, 0, 24, at);
      if (frameHeader.readUInt32BE(8) !== wal.salt1 || frameHeader.readUInt32BE(12) !== wal.salt2) break;
      const pageNo = frameHeader.readUInt32BE(0);
      pending.set(pageNo, at + 24);
      const commitSize = frameHeader.readUInt32BE(4);
      if (commitSize > 0) {
        for (const [n, offset] of pending) this.walFrames.set(n, offset);
        pending.clear();
        pageCount = commitSize;
      }
    }
    this.pageCount = Math.max(this.pageCount, pageCount);
  }

  page(n: number): Buffer | undefined {
    if (n < 1 || n > this.pageCount) return undefined;
    const buf = Buffer.alloc(this.pageSize);
    const walOffset = this.walFrames.get(n);
    const read = walOffset !== undefined ? fs.readSync(this.walFd!, buf, 0, this.pageSize, walOffset) : fs.readSync(this.fd, buf, 0, this.pageSize, (n - 1) * this.pageSize);
    return read === this.pageSize ? buf : undefined;
  }

  /** Pages on the freelist (stale copies of deleted rows), as far as the header and trunk pages can be read. */
  freePages(): Set<number> {
    const free = new Set<number>();
    const page1 = this.page(1);
    const header = page1 && page1.subarray(0, 16).equals(MAGIC) ? page1 : this.header;
    if (!header.subarray(0, 16).equals(MAGIC)) return free;
    let trunk = header.readUInt32BE(32);
    const seen = new Set<number>();
    while (trunk > 0 && trunk <= this.pageCount && !seen.has(trunk)) {
      seen.add(trunk);
      free.add(trunk);
      const page = this.page(trunk);
      if (!page) break;
      const leaves = page.readUInt32BE(4);
      if (leaves > (this.usable - 8) / 4) break;
      for (let i = 0; i < leaves; i++) free.add(page.readUInt32BE(8 + 4 * i));
      trunk = page.readUInt32BE(0);
    }
    return free;
  }

  close(): void {
    fs.closeSync(this.fd);
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
  }
}

function readWalHeader(fd: number): { pageSize: number; salt1: number; salt2: number } | undefined {
  const h = Buffer.alloc(32);
  if (fs.readSync(fd, h, 0, 32, 0) !== 32) return undefined;
  const magic = h.readUInt32BE(0);
  if (magic !== 0x377f0682 && magic !== 0x377f0683) return undefined;
  const pageSize = pageSizeOf(h.readUInt32BE(8));
  return pageSize ? { pageSize, salt1: h.readUInt32BE(16), salt2: h.readUInt32BE(20) } : undefined;
}

function pageSizeOf(raw: number): number | undefined {
  const size = raw === 1 ? 65536 : raw;
  return size >= 512 && size <= 65536 && (size & (size - 1)) === 0 ? size : undefined;
}

/** Emits the rows of one B-tree page; false if it is no page we can read. */
function readPage(source: PageSource, n: number, page: Buffer, onRow: (row: PageRow) => void): boolean {
  const at = n === 1 ? 100 : 0;
  const type = page[at]!;
  if (type !== TABLE_LEAF && type !== INDEX_LEAF && type !== INDEX_INTERIOR && type !== TABLE_INTERIOR) return false;
  if (type === TABLE_INTERIOR) return true; // only child pointers and keys copied from the leaves
  const interior = type === INDEX_INTERIOR;
  const cells = page.readUInt16BE(at + 3);
  const pointers = at + (interior ? 12 : 8);
  if (pointers + 2 * cells > source.usable) return false;
  for (let i = 0; i < cells; i++) {
    const offset = page.readUInt16BE(pointers + 2 * i);
    try {
      const row = readCell(source, page, offset, type);
      if (row) onRow(row);
    } catch {
      // A damaged cell: skip it, keep the rest of the page.
    }
  }
  return true;
}

function readCell(source: PageSource, page: Buffer, offset: number, type: number): PageRow | undefined {
  const U = source.usable;
  let at = offset + (type === INDEX_INTERIOR ? 4 : 0);
  const [payloadSize, a] = varint(page, at, U);
  at = a;
  let rowid = 0;
  if (type === TABLE_LEAF) [rowid, at] = varint(page, at, U);
  const maxLocal = type === TABLE_LEAF ? U - 35 : Math.floor(((U - 12) * 64) / 255) - 23;
  const minLocal = Math.floor(((U - 12) * 32) / 255) - 23;
  let local = payloadSize;
  if (payloadSize > maxLocal) {
    const k = minLocal + ((payloadSize - minLocal) % (U - 4));
    local = k <= maxLocal ? k : minLocal;
  }
  if (payloadSize > 1e9 || at + local > U) return undefined;
  const payload = Buffer.alloc(payloadSize);
  page.copy(payload, 0, at, at + local);
  if (local < payloadSize) {
    // The rest of the payload is in a chain of overflow pages: 4 bytes to the next, then data.
    let next = page.readUInt32BE(at + local);
    let filled = local;
    const seen = new Set<number>();
    while (filled < payloadSize) {
      if (next === 0 || seen.has(next)) return undefined;
      seen.add(next);
      const overflow = source.page(next);
      if (!overflow) return undefined;
      const take = Math.min(U - 4, payloadSize - filled);
      overflow.copy(payload, filled, 4, 4 + take);
      filled += take;
      next = overflow.readUInt32BE(0);
    }
  }
  const values = decodeRecord(payload);
  if (!values) return undefined;
  return type === TABLE_LEAF ? { kind: 'table', rowid, values } : { kind: 'index', values };
}

/** A record: a header of serial types, then the values. Undefined when it does not add up. */
export function decodeRecord(payload: Buffer): Value[] | undefined {
  const [headerSize, first] = varint(payload, 0, payload.length);
  if (headerSize < 1 || headerSize > payload.length) return undefined;
  const types: number[] = [];
  for (let at = first; at < headerSize; ) {
    const [t, next] = varint(payload, at, headerSize);
    types.push(t);
    at = next;
  }
  const values: Value[] = [];
  let at = headerSize;
  for (const t of types) {
    const size = serialSize(t);
    if (size === undefined || at + size > payload.length) return undefined;
    values.push(readValue(payload, at, t, size));
    at += size;
  }
  return at === payload.length ? values : undefined;
}

function serialSize(t: number): number | undefined {
  if (t <= 4) return t;
  if (t === 5) return 6;
  if (t === 6 || t === 7) return 8;
  if (t === 8 || t === 9) return 0;
  if (t >= 12) return Math.floor((t - 12) / 2);
  return undefined; // 10, 11: reserved
}

function readValue(b: Buffer, at: number, t: number, size: number): Value {
  switch (t) {
    case 0:
      return null;
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
      return b.readIntBE(at, size);
    case 6:
      return Number(b.readBigInt64BE(at));
    case 7:
      return b.readDoubleBE(at);
    case 8:
      return 0;
    case 9:
      return 1;
    default:
      return t % 2 === 0 ? Buffer.from(b.subarray(at, at + size)) : b.toString('utf8', at, at + size);
  }
}

/** SQLite's varint: 1–9 bytes, big-endian, seven bits a byte, all eight in the ninth (exact below 2^53, all ours are). */
function varint(b: Buffer, at: number, end: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    if (at + i >= end) throw new RangeError('varint runs past its page');
    const byte = b[at + i]!;
    if (i === 8) return [value * 256 + byte, at + 9];
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) return [value, at + i + 1];
  }
  throw new RangeError('unreachable');
}
