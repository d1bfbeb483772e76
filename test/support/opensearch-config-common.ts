// Shared pieces of the OpenSearch stand-in's configuration APIs (see opensearch-config.ts):
// replies and OpenSearch error envelopes, request bodies and parameters, index-pattern globs, and a
// tiny "system index" that numbers writes the way a one-shard index does (_version, _seq_no).

export interface ErrorCause {
  type: string;
  reason?: string;
  caused_by?: ErrorCause;
  [meta: string]: unknown;
}

export interface ConfigReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Thrown by a handler: `reply` is sent as it is. */
export class ReplyError extends Error {
  readonly reply: ConfigReply;
  constructor(reply: ConfigReply) {
    super(`HTTP ${reply.status}: ${JSON.stringify(reply.body)}`);
    this.reply = reply;
  }
}

/** What every handler gets. */
export interface ConfigRequest {
  method: string;
  params: URLSearchParams;
  /** Body text, '' when there is none. */
  text: string;
  now: Date;
}

/** The stand-in's services a handler may use. */
export interface ConfigEnv {
  now(): Date;
  /** A 20-character id like UUIDs.base64UUID(), from the stand-in's seeded PRNG. */
  randomId(): string;
}

/**
 * OpenSearch's error body. `root` is what OpenSearchException.guessRootCauses finds: the deepest
 * OpenSearchException of the chain, or the top exception when that is a plain Java exception
 * (an IllegalArgumentException wrapping a mapper error keeps itself as root cause).
 */
export function errorReply(status: number, cause: ErrorCause, root: ErrorCause = cause): ReplyError {
  const { caused_by: _c, ...rootFields } = root;
  return new ReplyError({ status, body: { error: { root_cause: [rootFields], ...cause }, status } });
}

export const illegalArgument = (reason: string): ReplyError => errorReply(400, { type: 'illegal_argument_exception', reason });

/** OpenSearchStatusException as rendered by the REST layer (type `status_exception`). */
export const statusException = (status: number, reason: string): ReplyError => errorReply(status, { type: 'status_exception', reason });

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Parses a JSON body. The real node reads bodies with Jackson (comments allowed, duplicate keys
 * refused); the configuration APIs here use JSON.parse, so those two corner cases differ and the
 * error reason is JavaScript's, not Jackson's. Clients that send JSON.stringify output never notice.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw errorReply(400, { type: 'json_parse_exception', reason: (e as Error).message });
  }
}

/** A required JSON object body; `missing` is the reason used when there is no body at all. */
export function objectBody(text: string, missing = 'request body is required'): Record<string, unknown> {
  if (text.trim() === '') throw errorReply(400, { type: 'parse_exception', reason: missing });
  const value = parseJson(text);
  if (!isObject(value)) throw errorReply(400, { type: 'parse_exception', reason: `request body must be a JSON object, got ${JSON.stringify(value)}` });
  return value;
}

/** RestRequest.paramAsLong. */
export function longParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!/^[+-]?\d+$/.test(raw)) throw illegalArgument(`Failed to parse long parameter [${name}] with value [${raw}]`);
  return Number(raw);
}

/** Regex.simpleMatch: `*` matches any run of characters. */
export function globMatch(pattern: string, s: string): boolean {
  if (!pattern.includes('*')) return pattern === s;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(s);
}

/** Whether some name matches both `*`-globs (what OpenSearch decides by intersecting automatons). */
export function globsOverlap(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const walk = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === a.length && j === b.length) r = true;
    else if (a[i] === '*') r = walk(i + 1, j) || (j < b.length && walk(i, j + 1));
    else if (b[j] === '*') r = walk(i, j + 1) || (i < a.length && walk(i + 1, j));
    else r = i < a.length && j < b.length && a[i] === b[j] && walk(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return walk(0, 0);
}

/** A comma list of names and globs matching `name` (`_all` and `*` match everything). */
export function namesMatch(expression: string, name: string): boolean {
  return expression.split(',').some((p) => p === '_all' || globMatch(p.trim(), name));
}

export const hasWildcard = (expression: string): boolean => expression.includes('*') || expression.includes(',') || expression === '_all';

/** Java's List.toString: `[a, b]`. */
export const javaList = (items: readonly unknown[]): string => `[${items.map(String).join(', ')}]`;

// ---------------------------------------------------------------------------------------------
// System indices (.opendistro-ism-config, .opendistro-alerting-config, ...)

export interface StoredDoc<T> {
  id: string;
  version: number;
  seqNo: number;
  source: T;
}

/** A version conflict as VersionConflictEngineException words it; plugins wrap it their own way. */
export class VersionConflict extends Error {
  readonly error: ErrorCause;
  constructor(error: ErrorCause) {
    super(error.reason);
    this.error = error;
  }
}

/**
 * One-shard system index: documents with _version and _seq_no, IndexRequest's optimistic
 * concurrency (op_type create, if_seq_no/if_primary_term), and whether the index exists yet (the
 * plugins create theirs on the first write, so reads before that hit index_not_found_exception).
 */
export class SystemIndex<T> {
  readonly name: string;
  readonly uuid: string;
  private readonly docs = new Map<string, StoredDoc<T>>();
  private readonly tombstones = new Map<string, number>();
  private seqNo = -1;
  private created = false;

  constructor(name: string, uuid: string) {
    this.name = name;
    this.uuid = uuid;
  }

  get exists(): boolean {
    return this.created;
  }

  get(id: string): StoredDoc<T> | undefined {
    return this.docs.get(id);
  }

  all(): StoredDoc<T>[] {
    return [...this.docs.values()];
  }

  write(id: string, source: T, opts: { create?: boolean; ifSeqNo?: number; ifPrimaryTerm?: number } = {}): StoredDoc<T> & { created: boolean } {
    this.created = true;
    const existing = this.docs.get(id);
    if (opts.create && existing) this.conflict(id, `document already exists (current version [${existing.version}])`);
    if (opts.ifSeqNo !== undefined || opts.ifPrimaryTerm !== undefined) {
      const want = `required seqNo [${opts.ifSeqNo ?? -2}], primary term [${opts.ifPrimaryTerm ?? 0}]`;
      if (!existing) this.conflict(id, `${want}. but no document was found`);
      if (existing.seqNo !== opts.ifSeqNo || opts.ifPrimaryTerm !== 1) this.conflict(id, `${want}. current document has seqNo [${existing.seqNo}] and primary term [1]`);
    }
    const version = existing ? existing.version + 1 : (this.tombstones.get(id) ?? 0) + 1;
    this.tombstones.delete(id);
    const doc = { id, version, seqNo: ++this.seqNo, source };
    this.docs.set(id, doc);
    return { ...doc, created: !existing };
  }

  delete(id: string): { found: boolean; version: number; seqNo: number } {
    this.created = true;
    const existing = this.docs.get(id);
    const version = existing ? existing.version + 1 : (this.tombstones.get(id) ?? 0) + 1;
    this.docs.delete(id);
    this.tombstones.set(id, version);
    return { found: existing !== undefined, version, seqNo: ++this.seqNo };
  }

  /** `no such index [name]` as a GetRequest on the missing index throws it. */
  notFound(): ErrorCause {
    return { type: 'index_not_found_exception', reason: `no such index [${this.name}]`, index: this.name, 'resource.id': this.name, 'resource.type': 'index_expression', index_uuid: '_na_' };
  }

  private conflict(id: string, detail: string): never {
    throw new VersionConflict({ type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, ${detail}`, index: this.name, shard: '0', index_uuid: this.uuid });
  }
}

/** Where a top-level key of a JSON object text starts, as `line:column` (1-based, like XContentLocation). */
export function topLevelKeyLocation(text: string, key: string): string {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && /^\s*:/.test(text.slice(j + 1)) && JSON.parse(text.slice(i, j + 1)) === key) return `${line}:${i - lineStart + 1}`;
      i = j;
    }
  }
  return '1:1';
}
