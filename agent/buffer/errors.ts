// Errors the buffer raises to its callers. Anything else from SQLite is handled inside.

/** The disk (not the buffer's own bound) has no room: nothing was written; try again later. */
export class DiskFullError extends Error {
  override name = 'DiskFullError';
  readonly file: string;
  constructor(file: string, cause: unknown) {
    super(`no space left on the disk holding ${file}`, { cause });
    this.file = file;
  }
}

/** Another process holds the database's write lock for longer than the busy timeout: nothing was written; try again. */
export class DatabaseBusyError extends Error {
  override name = 'DatabaseBusyError';
  constructor(file: string, cause: unknown) {
    super(`${file} is locked by another process that is writing to it`, { cause });
  }
}

export function isBusy(err: unknown): boolean {
  return sqliteCode(err)?.startsWith('SQLITE_BUSY') ?? false;
}

/** The database was written by a newer agent that changed it in a way this one cannot read. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
  constructor(file: string, found: number, known: number) {
    super(`${file} has schema version ${found}, newer than this agent understands (${known}); upgrade the agent`);
  }
}

const CORRUPT_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_VTAB']);

export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isCorruption(err: unknown): boolean {
  const code = sqliteCode(err);
  return code !== undefined && CORRUPT_CODES.has(code);
}

export function isDiskFull(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_FSYNC';
}
