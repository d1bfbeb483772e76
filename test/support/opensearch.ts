// A local OpenSearch 2.x node and Data Prepper `http` source stand-in for tests, on loopback.
// Behaviour follows /work/shared/reference/opensearch.md: §1 `_bulk` (BulkRequestParser line by
// line, item results and error strings), §5.1 the Data Prepper http source, §7 `GET /` and
// `_cluster/health`. Documents get a small dynamic mapping per index (first value fixes a field's
// type), so type conflicts fail the way a real index does. Faults are drawn from a seeded PRNG.
// The configuration APIs (ingest pipelines, index templates, ISM, security roles, notifications,
// alerting monitors) live in opensearch-config.ts; a new index takes the mapping and settings of
// its index template, and `_bulk` runs documents through their ingest pipeline.
import http from 'node:http';
import https from 'node:https';
import { isIPv6, type AddressInfo, type Socket } from 'node:net';
import zlib from 'node:zlib';
import { mulberry32, SeededStreams } from './random.ts';
import { Connections, resetSocket } from './connections.ts';
import { answerHostile, hostileAnswerFor, type HostileFault } from './hostile.ts';
import { ConfigApis, matchConfigRoute, type ConfigRoute, type PipelineRegistry, type SetProcessor } from './opensearch-config.ts';

// ---------------------------------------------------------------------------------------------
// Public types

/**
 * The field types the stand-in checks values against. Index templates map OpenSearch's types onto
 * these (opensearch-templates.ts); `unchecked` stands for a real type the stand-in does not model
 * (geo_shape, binary, knn_vector, ...): any value is accepted.
 */
export type FieldType = 'long' | 'integer' | 'float' | 'double' | 'boolean' | 'text' | 'keyword' | 'date' | 'ip' | 'geo_point' | 'flat_object' | 'unchecked' | 'object';
type LeafType = Exclude<FieldType, 'object'>;
/** An object mapper's `dynamic`: map new fields (true), keep them in _source only (false), refuse them (strict). */
export type Dynamic = 'true' | 'false' | 'strict';

export interface StandInTls {
  key: string | Buffer;
  cert: string | Buffer;
  ca?: string | Buffer;
  /** Ask for (and require) a client certificate signed by `ca`. */
  requestCert?: boolean;
}

export type StandInAuth = { username: string; password: string } | { bearer: string };

export interface StandInOptions {
  tls?: StandInTls;
  auth?: StandInAuth;
  /** Requests whose body is larger than this after gunzip get 413; default 100 MB (`http.max_content_length`). */
  maxBodyBytes?: number;
  /** Path of the Data Prepper http source; default '/log/ingest'. */
  ingestPath?: string;
  /** Ingest mode routes documents to `${indexPrefix}-${kind}-YYYY.MM`; default 'booth'. */
  indexPrefix?: string;
  /** Seed of the PRNG behind faults and generated ids; default 1. */
  seed?: number;
  /** gzip responses for clients that accept it (OpenSearch `http.compression`: on for HTTP, off for HTTPS). */
  compressResponses?: boolean;
  /**
   * Start with the `booth-ingest` pipeline registered (a `set` of `event.ingested` to the ingest
   * time), as `booth-agent fleet-setup` leaves a cluster; default true. false: a fresh cluster
   * without pipelines, for tests of fleet-setup itself.
   */
  boothPipeline?: boolean;
  /**
   * Serve under this path, as a cluster behind a path-routing proxy is reached
   * (`https://gateway/opensearch/_bulk`): e.g. '/opensearch'. Requests outside it get the "no
   * handler" 400, as the proxy would pass them to something else.
   */
  pathPrefix?: string;
}

/** Settable at any time; each ratio is a probability in [0, 1] decided per request or per item. */
export interface Faults {
  /** `_bulk` items answered 429 `rejected_execution_exception` (not stored). */
  itemRejectRatio?: number;
  /** Whole `_bulk` requests answered 429 `rejected_execution_exception`. */
  whole429Ratio?: number;
  /** Whole `_bulk` and ingest requests answered 503. */
  whole503Ratio?: number;
  /** Adds `Retry-After` to the whole-request 429s and 503s. */
  retryAfterSeconds?: number;
  /** `_bulk` and ingest requests whose socket is reset without an answer (half before, half after the body). */
  resetRatio?: number;
  /** Delay before answering any request. */
  latencyMs?: number;
  /** `_bulk` and ingest requests are answered only once this settles (after their body is read): requests held in flight. */
  hold?: Promise<unknown>;
  /** While true, connections are closed as soon as they arrive (and requests on open ones). */
  down?: boolean;
  /** While true, every request gets 401. */
  unauthorized?: boolean;
  /** Ingest requests answered 408 (buffer write timeout). */
  ingest408Ratio?: number;
  /** Ingest requests answered 429 (work queue full). */
  ingest429Ratio?: number;
  /**
   * A cluster that takes at most this many `_bulk` and ingest requests in any one second (a sliding
   * window; below 1, one request per 1/rate seconds): requests beyond it are answered as a whole
   * with 429 (`rejected_execution_exception`; Data Prepper's 429 in ingest mode), with `Retry-After`
   * when `retryAfterSeconds` is set, before their body is parsed. Refused requests do not count.
   */
  maxRequestsPerSecond?: number;
  /** `_bulk` and ingest requests answered so (after their body is read), or as a script picks per request: see hostile.ts. Not stored. */
  hostile?: HostileFault;
}

export interface StoredDocument {
  index: string;
  id: string;
  source: Record<string, unknown>;
  version: number;
  seqNo: number;
}

export interface RequestRecord {
  /** Arrival time, Date.now() (not shifted by clockOffsetMs). */
  at: number;
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  /** 0 when the request got no answer (reset, down, client gone). */
  status: number;
  /** Documents in the request: `_bulk` items or ingest array elements (0 if the body did not parse). */
  docs: number;
  /** `_id` of the first `_bulk` item, or `event.id` of the first ingest document. */
  firstId?: string;
  /** reset-before-body, reset-after-body, down, unauthorized, whole429, whole503, item429, ingest408, ingest429, rate429 */
  fault?: string;
  /** Items answered 429 by itemRejectRatio. */
  rejected?: number;
  /** Request body size after decompression. */
  bytes: number;
  /**
   * The request body of every request but `_bulk` and Data Prepper ingest (the configuration APIs'
   * PUT/POST bodies): parsed JSON, or the text when it is not JSON. Absent when there was no body.
   */
  body?: unknown;
}

// ---------------------------------------------------------------------------------------------
// Constants

const NODE_NAME = 'booth-standin-node';
const CLUSTER_NAME = 'booth-standin';
const VERSION_INFO = {
  distribution: 'opensearch',
  number: '2.19.1',
  build_type: 'tar',
  build_hash: '2e4741fb45d1b150aaeeadf66d41445b23ff5982',
  build_date: '2025-02-27T01:16:47.726162386Z',
  build_snapshot: false,
  lucene_version: '9.12.1',
  minimum_wire_compatibility_version: '7.10.0',
  minimum_index_compatibility_version: '7.0.0',
};
const TAGLINE = 'The OpenSearch Project: https://opensearch.org/';
const DATE_FORMAT = 'strict_date_optional_time||epoch_millis';
const SLASH_DATE_FORMAT = 'yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis';
const TOTAL_FIELDS_LIMIT = 1000;
const MAX_ID_BYTES = 512;
const SHARDS_OK = { total: 1, successful: 1, failed: 0 };
const JSON_TYPE = 'application/json; charset=UTF-8';
const TEXT_TYPE = 'text/plain; charset=UTF-8';
const DP_TEXT_TYPE = 'text/plain; charset=utf-8';
const VALID_ACTIONS = new Set(['create', 'delete', 'index', 'update']);
const METADATA_FIELDS = new Set(['_id', '_index', '_routing', '_source', '_field_names', '_ignored', '_seq_no', '_version', '_primary_term', '_type', '_data_stream_timestamp', '_nested_path']);
const BULK_PARAMS = ['_source', '_source_excludes', '_source_includes', 'index', 'pipeline', 'refresh', 'require_alias', 'routing', 'timeout', 'wait_for_active_shards'];
const GLOBAL_PARAMS = ['error_trace', 'filter_path', 'human', 'pretty', 'source', 'source_content_type'];
const DP_BAD_REQUEST = 'Bad request data format. Needs to be json array.';
const DP_TOO_MANY = 'The number of pending requests in the work queue reaches max_pending_requests:1024. Please retry later';

// ---------------------------------------------------------------------------------------------
// Errors

interface ErrorCause {
  type: string;
  reason?: string;
  caused_by?: ErrorCause;
  [meta: string]: unknown;
}

/** A whole-request error: `{"error": {...}, "status": N}`. */
class RequestError extends Error {
  readonly status: number;
  readonly body: ErrorCause;
  constructor(status: number, body: ErrorCause) {
    super(body.reason ?? body.type);
    this.status = status;
    this.body = body;
  }
}

/** An item failure inside a `_bulk` response. */
/** The parts of a source at these dotted paths (`_source_includes`), objects kept around them. */
function pickPaths(source: unknown, paths: string[]): unknown {
  const out: Record<string, unknown> = {};
  for (const p of paths) {
    const keys = p.trim().split('.');
    let from: unknown = source;
    for (const k of keys) from = from !== null && typeof from === 'object' ? (from as Record<string, unknown>)[k] : undefined;
    if (from === undefined) continue;
    let to = out;
    for (const k of keys.slice(0, -1)) to = (to[k] ??= {}) as Record<string, unknown>;
    to[keys[keys.length - 1]!] = from;
  }
  return out;
}

class ItemError extends Error {
  readonly status: number;
  readonly body: ErrorCause;
  /** Time its pipelines took when the item failed after them: still reported as the request's ingest_took. */
  ingestMs?: number;
  constructor(status: number, body: ErrorCause) {
    super(body.reason ?? body.type);
    this.status = status;
    this.body = body;
  }
}

/** A Jackson parse error; its message carries Jackson's location suffix. */
class JsonSyntaxError extends Error {}

const illegalArgument = (reason: string): RequestError => new RequestError(400, { type: 'illegal_argument_exception', reason });

function errorEnvelope(status: number, e: ErrorCause): { error: Record<string, unknown>; status: number } {
  const { caused_by: _c, stack_trace: _s, ...root } = e;
  return { error: { root_cause: [root], ...e }, status };
}

// ---------------------------------------------------------------------------------------------
// Seeded PRNG: see random.ts.

// ---------------------------------------------------------------------------------------------
// JSON pull parser with Jackson's behaviour as configured by OpenSearch (comments allowed, strict
// duplicate detection, numbers kept as written) and Jackson-style error messages.

type Tok = 'START_OBJECT' | 'END_OBJECT' | 'START_ARRAY' | 'END_ARRAY' | 'FIELD_NAME' | 'VALUE_STRING' | 'VALUE_NUMBER' | 'VALUE_BOOLEAN' | 'VALUE_NULL';

type JNode =
  | { t: 'obj'; entries: Array<[string, JNode]>; at: number }
  | { t: 'arr'; items: JNode[]; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'num'; raw: string; int: boolean; at: number }
  | { t: 'bool'; v: boolean; at: number }
  | { t: 'null'; at: number };
type JObj = Extract<JNode, { t: 'obj' }>;

interface Frame {
  obj: boolean;
  state: 0 | 1 | 2; // 0: just opened, 1: value expected (objects), 2: after a value
  names: Set<string>;
  at: number;
}

const SOURCE_REDACTED = 'REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled)';
const MAX_NESTING = 1000;

function describeChar(ch: string | undefined): string {
  if (ch === undefined) return 'EOF';
  const code = ch.codePointAt(0) ?? 0;
  return code < 32 ? `(CTRL-CHAR, code ${code})` : `'${ch}' (code ${code}${code > 127 ? ` / 0x${code.toString(16)}` : ''})`;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

class JsonPull {
  private readonly s: string;
  private i = 0;
  private readonly stack: Frame[] = [];
  name = '';
  str = '';
  raw = '';
  isInt = false;
  bool = false;
  tokenAt = 0;

  constructor(s: string) {
    this.s = s;
  }

  location(at: number): { line: number; column: number } {
    let line = 1;
    let lineStart = 0;
    for (let k = this.s.indexOf('\n'); k !== -1 && k < at; k = this.s.indexOf('\n', k + 1)) {
      line++;
      lineStart = k + 1;
    }
    return { line, column: at - lineStart + 1 };
  }

  private where(at: number): string {
    const { line, column } = this.location(at);
    return `[Source: ${SOURCE_REDACTED}; line: ${line}, column: ${column}]`;
  }

  private fail(msg: string, at = this.i): never {
    throw new JsonSyntaxError(`${msg}\n at ${this.where(at + 1)}`);
  }

  private eofIn(frame: Frame): never {
    this.fail(`Unexpected end-of-input: expected close marker for ${frame.obj ? 'Object' : 'Array'} (start marker at ${this.where(frame.at + 1)})`);
  }

  private ws(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) {
        this.i++;
      } else if (c === 47) {
        const d = s[this.i + 1];
        if (d === '*') {
          const end = s.indexOf('*/', this.i + 2);
          if (end < 0) this.fail('Unexpected end-of-input in a comment', s.length);
          this.i = end + 2;
        } else if (d === '/') {
          const end = s.indexOf('\n', this.i + 2);
          this.i = end < 0 ? s.length : end + 1;
        } else {
          this.fail(`Unexpected character (${describeChar(d)}): was expecting either '*' or '/' for a comment`, this.i + 1);
        }
      } else if (c < 32) {
        this.fail(`Illegal character ((CTRL-CHAR, code ${c})): only regular white space (\\r, \\n, \\t) is allowed between tokens`);
      } else {
        return;
      }
    }
  }

  /** The next token, or null at the end of the input (between root values only). */
  next(): Tok | null {
    this.ws();
    const s = this.s;
    const top = this.stack[this.stack.length - 1];
    if (!top) return this.i >= s.length ? null : this.value();
    if (top.obj) {
      if (top.state === 1) return this.value();
      let c = s[this.i];
      if (c === '}') {
        this.tokenAt = this.i++;
        this.stack.pop();
        return 'END_OBJECT';
      }
      if (top.state === 2) {
        if (c === undefined) this.eofIn(top);
        if (c !== ',') this.fail(`Unexpected character (${describeChar(c)}): was expecting comma to separate Object entries`);
        this.i++;
        this.ws();
        c = s[this.i];
      }
      if (c === undefined) this.eofIn(top);
      if (c !== '"') this.fail(`Unexpected character (${describeChar(c)}): was expecting double-quote to start field name`);
      this.tokenAt = this.i;
      const name = this.string();
      if (top.names.has(name)) this.fail(`Duplicate field '${name}'`, this.tokenAt);
      top.names.add(name);
      this.ws();
      const d = s[this.i];
      if (d === undefined) this.eofIn(top);
      if (d !== ':') this.fail(`Unexpected character (${describeChar(d)}): was expecting a colon to separate field name and value`);
      this.i++;
      top.state = 1;
      this.name = name;
      return 'FIELD_NAME';
    }
    const c = s[this.i];
    if (c === ']') {
      this.tokenAt = this.i++;
      this.stack.pop();
      return 'END_ARRAY';
    }
    if (c === undefined) this.eofIn(top);
    if (top.state === 2) {
      if (c !== ',') this.fail(`Unexpected character (${describeChar(c)}): was expecting comma to separate Array entries`);
      this.i++;
      this.ws();
      if (this.i >= s.length) this.eofIn(top);
    }
    return this.value();
  }

  private push(obj: boolean): void {
    if (this.stack.length >= MAX_NESTING) {
      this.fail(`Document nesting depth (${MAX_NESTING + 1}) exceeds the maximum allowed (${MAX_NESTING}, from \`StreamReadConstraints.getMaxNestingDepth()\`)`);
    }
    this.stack.push({ obj, state: 0, names: new Set(), at: this.i });
  }

  private value(): Tok {
    const s = this.s;
    const top = this.stack[this.stack.length - 1];
    if (top) top.state = 2;
    const c = s[this.i];
    this.tokenAt = this.i;
    if (c === undefined) {
      if (top) this.eofIn(top);
      this.fail('No content to map due to end-of-input');
    }
    switch (c) {
      case '{':
        this.push(true);
        this.i++;
        return 'START_OBJECT';
      case '[':
        this.push(false);
        this.i++;
        return 'START_ARRAY';
      case '"':
        this.str = this.string();
        return 'VALUE_STRING';
      case ']':
      case '}':
        return this.fail(`Unexpected character (${describeChar(c)}): expected a value`);
      default:
        break;
    }
    if (c === '-' || isDigit(c)) return this.number();
    const word = /[\p{L}\p{N}_$]*/uy;
    word.lastIndex = this.i;
    const w = word.exec(s)?.[0] ?? '';
    if (w === 'true' || w === 'false') {
      this.i += w.length;
      this.bool = w === 'true';
      return 'VALUE_BOOLEAN';
    }
    if (w === 'null') {
      this.i += 4;
      return 'VALUE_NULL';
    }
    if (w.length > 0) this.fail(`Unrecognized token '${w.slice(0, 256)}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')`, this.i + w.length - 1);
    return this.fail(`Unexpected character (${describeChar(c)}): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')`);
  }

  private string(): string {
    const s = this.s;
    let i = this.i + 1;
    let start = i;
    let out = '';
    for (;;) {
      const ch = s.charCodeAt(i);
      if (Number.isNaN(ch)) this.fail('Unexpected end-of-input: was expecting closing quote for a string value', s.length);
      if (ch === 34) {
        out += s.slice(start, i);
        this.i = i + 1;
        return out;
      }
      if (ch === 92) {
        out += s.slice(start, i);
        const e = s[i + 1];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            for (let k = 2; k < 6; k++) {
              const h = s[i + k];
              if (h === undefined) this.fail('Unexpected end-of-input in character escape sequence', s.length);
              if (!/[0-9a-fA-F]/.test(h)) this.fail(`Unexpected character (${describeChar(h)}): expected a hex-digit for character escape sequence`, i + k);
            }
            out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
            i += 4;
            break;
          }
          case undefined:
            this.fail('Unexpected end-of-input in character escape sequence', s.length);
            break;
          default:
            this.fail(`Unrecognized character escape ${describeChar(e)}`, i + 1);
        }
        i += 2;
        start = i;
        continue;
      }
      if (ch < 32) this.fail(`Illegal unquoted character (${describeChar(s[i])}): has to be escaped using backslash to be included in string value`, i);
      i++;
    }
  }

  private number(): Tok {
    const s = this.s;
    const start = this.i;
    let i = start;
    const bad = (what: string): never => {
      if (s[i] === undefined) this.fail('Unexpected end-of-input in a Number value', i);
      return this.fail(`Unexpected character (${describeChar(s[i])}) in numeric value: ${what}`, i);
    };
    if (s[i] === '-') {
      i++;
      if (!isDigit(s[i])) bad('expected digit (0-9) to follow minus sign, for valid numeric value');
    }
    if (s[i] === '0' && isDigit(s[i + 1])) this.fail('Invalid numeric value: Leading zeroes not allowed', i + 1);
    while (isDigit(s[i])) i++;
    let int = true;
    if (s[i] === '.') {
      int = false;
      i++;
      if (!isDigit(s[i])) bad('Decimal point not followed by a digit');
      while (isDigit(s[i])) i++;
    }
    if (s[i] === 'e' || s[i] === 'E') {
      int = false;
      i++;
      if (s[i] === '+' || s[i] === '-') i++;
      if (!isDigit(s[i])) bad('Exponent indicator not followed by a digit');
      while (isDigit(s[i])) i++;
    }
    this.raw = s.slice(start, i);
    this.isInt = int;
    this.i = i;
    return 'VALUE_NUMBER';
  }
}

/** Reads the value that starts with `tok` (already consumed) into a tree. */
function readTree(p: JsonPull, tok: Tok): JNode {
  const at = p.tokenAt;
  switch (tok) {
    case 'START_OBJECT': {
      const entries: Array<[string, JNode]> = [];
      for (;;) {
        const t = p.next();
        if (t === 'END_OBJECT') return { t: 'obj', entries, at };
        if (t !== 'FIELD_NAME') throw new Error(`unexpected ${t} in object`);
        const name = p.name;
        const vt = p.next();
        if (vt === null) throw new Error('unexpected end of object');
        entries.push([name, readTree(p, vt)]);
      }
    }
    case 'START_ARRAY': {
      const items: JNode[] = [];
      for (;;) {
        const t = p.next();
        if (t === 'END_ARRAY') return { t: 'arr', items, at };
        if (t === null) throw new Error('unexpected end of array');
        items.push(readTree(p, t));
      }
    }
    case 'VALUE_STRING':
      return { t: 'str', v: p.str, at };
    case 'VALUE_NUMBER':
      return { t: 'num', raw: p.raw, int: p.isInt, at };
    case 'VALUE_BOOLEAN':
      return { t: 'bool', v: p.bool, at };
    case 'VALUE_NULL':
      return { t: 'null', at };
    default:
      throw new Error(`unexpected ${tok}`);
  }
}

function toJs(n: JNode): unknown {
  switch (n.t) {
    case 'obj':
      return Object.fromEntries(n.entries.map(([k, v]) => [k, toJs(v)]));
    case 'arr':
      return n.items.map(toJs);
    case 'str':
    case 'bool':
      return n.v;
    case 'num':
      return Number(n.raw);
    case 'null':
      return null;
  }
}

function fromJs(v: unknown): JNode {
  if (v === null || v === undefined) return { t: 'null', at: 0 };
  if (typeof v === 'string') return { t: 'str', v, at: 0 };
  if (typeof v === 'boolean') return { t: 'bool', v, at: 0 };
  if (typeof v === 'number') return { t: 'num', raw: String(v), int: Number.isInteger(v) && !String(v).includes('e'), at: 0 };
  if (Array.isArray(v)) return { t: 'arr', items: v.map(fromJs), at: 0 };
  return { t: 'obj', entries: Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromJs(x)]), at: 0 };
}

const tokenName = (n: JNode): string =>
  n.t === 'obj' ? 'START_OBJECT' : n.t === 'arr' ? 'START_ARRAY' : n.t === 'str' ? 'VALUE_STRING' : n.t === 'num' ? (n.int ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT') : n.t === 'bool' ? (n.v ? 'VALUE_TRUE' : 'VALUE_FALSE') : 'VALUE_NULL';

/** Java's Double.toString. */
function javaDouble(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e7) {
    const s = String(v);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mant = '0', exp = '0'] = v.toExponential().split('e');
  return `${mant.includes('.') ? mant : `${mant}.0`}E${Number(exp)}`;
}

/** What OpenSearch prints as "Preview of field's value" (a Java Map/List toString). */
function preview(n: JNode): string {
  switch (n.t) {
    case 'str':
      return n.v;
    case 'num':
      return n.int ? BigInt(n.raw).toString() : javaDouble(Number(n.raw));
    case 'bool':
      return String(n.v);
    case 'null':
      return 'null';
    case 'arr':
      return `[${n.items.map(preview).join(', ')}]`;
    case 'obj':
      return `{${n.entries.map(([k, v]) => `${k}=${preview(v)}`).join(', ')}}`;
  }
}

const JAVA_TYPES: Record<JNode['t'], string> = { obj: 'java.util.HashMap', arr: 'java.util.ArrayList', str: 'java.lang.String', num: 'java.lang.Integer', bool: 'java.lang.Boolean', null: 'null' };

// ---------------------------------------------------------------------------------------------
// Dynamic mapping

export interface ObjectMapper {
  type: 'object';
  props: Map<string, Mapper>;
  /** Effective `dynamic` (inherited from the parent when the mapping did not set it); absent means true. */
  dynamic?: Dynamic;
  /** `enabled: false`: the object is kept in _source and not parsed at all. */
  enabled?: boolean;
}
export interface LeafMapper {
  type: LeafType;
  /** Date fields: the format they were detected (or mapped) with. */
  format?: string;
}
export type Mapper = ObjectMapper | LeafMapper;

export function cloneMapper(m: ObjectMapper): ObjectMapper {
  const props = new Map<string, Mapper>();
  for (const [k, v] of m.props) props.set(k, v.type === 'object' ? cloneMapper(v) : v);
  const copy: ObjectMapper = { type: 'object', props };
  if (m.dynamic !== undefined) copy.dynamic = m.dynamic;
  if (m.enabled !== undefined) copy.enabled = m.enabled;
  return copy;
}

function countFields(m: ObjectMapper): number {
  let n = 0;
  for (const v of m.props.values()) n += v.type === 'object' ? 1 + countFields(v) : v.type === 'text' ? 2 : 1;
  return n;
}

function flattenMapping(m: ObjectMapper, prefix = '', out: Record<string, FieldType> = {}): Record<string, FieldType> {
  for (const [k, v] of m.props) {
    const path = prefix ? `${prefix}.${k}` : k;
    out[path] = v.type;
    if (v.type === 'object') flattenMapping(v, path, out);
  }
  return out;
}

const ISO_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$/;

function parsesAsIsoDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (!m) return false;
  const [, y, mo, d, h, mi, se] = m;
  const month = mo === undefined ? 1 : Number(mo);
  if (month < 1 || month > 12) return false;
  if (d !== undefined) {
    const days = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
    if (Number(d) < 1 || Number(d) > days) return false;
  }
  if (h !== undefined && Number(h) > 23) return false;
  if (mi !== undefined && Number(mi) > 59) return false;
  if (se !== undefined && Number(se) > 59) return false;
  return true;
}

const SLASH_DATE = /^(\d{4})\/(\d{2})\/(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?$/;

function parsesAsSlashDate(s: string): boolean {
  const m = SLASH_DATE.exec(s);
  if (!m) return false;
  const [, y, mo, d, h, mi, se] = m;
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate()) return false;
  return h === undefined || (Number(h) <= 23 && Number(mi) <= 59 && Number(se) <= 59);
}

function parsesAsDate(s: string, format: string): boolean {
  return (format === SLASH_DATE_FORMAT ? parsesAsSlashDate(s) : parsesAsIsoDate(s)) || /^-?\d+(\.\d+)?$/.test(s);
}

/**
 * OpenSearch's dynamic date detection: only strings with more than one ':', '-' or '/' are tried,
 * against the default dynamic_date_formats (strict_date_optional_time, then yyyy/MM/dd[ HH:mm:ss]).
 */
function detectDateFormat(s: string): string | undefined {
  const count = (ch: string) => s.split(ch).length - 1;
  if (!(count(':') > 1 || count('-') > 1 || count('/') > 1)) return undefined;
  if (parsesAsIsoDate(s)) return DATE_FORMAT;
  if (parsesAsSlashDate(s)) return SLASH_DATE_FORMAT;
  return undefined;
}

function dynamicMapper(n: JNode): LeafMapper {
  if (n.t === 'num') return { type: n.int ? 'long' : 'float' };
  if (n.t === 'bool') return { type: 'boolean' };
  if (n.t === 'str') {
    const format = detectDateFormat(n.v);
    return format ? { type: 'date', format } : { type: 'text' };
  }
  throw new Error(`no dynamic type for ${n.t}`);
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** Numbers.toLong(text, coerce=true): Long.parseLong, then BigDecimal. */
function stringToLongCause(text: string): ErrorCause | null {
  let big: bigint;
  if (/^[+-]?\d+$/.test(text)) {
    big = BigInt(text);
  } else {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
    if (!m || ((m[2] ?? '') === '' && (m[3] ?? '') === '')) return { type: 'illegal_argument_exception', reason: `For input string: "${text}"` };
    const exp = Number(m[4] ?? 0);
    const digits = (m[2] ?? '') + (m[3] ?? '');
    const scale = (m[3] ?? '').length - exp;
    big = scale <= 0 ? BigInt(digits || '0') * 10n ** BigInt(-scale) : scale >= digits.length ? 0n : BigInt(digits.slice(0, digits.length - scale) || '0');
    if (m[1] === '-') big = -big;
  }
  if (big < LONG_MIN || big > LONG_MAX) return { type: 'illegal_argument_exception', reason: `Value [${text}] is out of range for a long` };
  return null;
}

function javaNonFinite(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

interface DocContext {
  id: string;
  parser: JsonPull | undefined;
  changed: boolean;
  /** Check against the live mapping without changing it; a new field throws NEEDS_MAPPING_UPDATE. */
  frozen?: boolean;
}

/** Thrown in a frozen parse when the document adds a field: parse again on a copy of the mapping. */
const NEEDS_MAPPING_UPDATE = Symbol('needs mapping update');

function markChanged(ctx: DocContext): void {
  if (ctx.frozen) throw NEEDS_MAPPING_UPDATE;
  ctx.changed = true;
}

function jacksonAt(ctx: DocContext, n: JNode): string {
  if (!ctx.parser) return '';
  const { line, column } = ctx.parser.location(n.at);
  return `\n at [Source: ${SOURCE_REDACTED}; line: ${line}, column: ${column + 1}]`;
}

/** The reason a value cannot be indexed into a field of `type`, or null when it can. */
function leafCause(ctx: DocContext, mapper: LeafMapper, n: JNode): ErrorCause | null {
  const type = mapper.type;
  const loc = () => {
    const pos = ctx.parser?.location(n.at);
    return pos ? `${pos.line}:${pos.column}` : '1:1';
  };
  if (n.t === 'obj') {
    if (type === 'long' || type === 'float' || type === 'integer' || type === 'double') {
      return { type: 'json_parse_exception', reason: `Current token (START_OBJECT) not numeric, can not use numeric value accessors${jacksonAt(ctx, n)}` };
    }
    if (type === 'boolean') return { type: 'json_parse_exception', reason: `Current token (START_OBJECT) not of boolean type${jacksonAt(ctx, n)}` };
    return { type: 'illegal_state_exception', reason: `Can't get text on a START_OBJECT at ${loc()}` };
  }
  switch (type) {
    case 'text':
    case 'keyword':
    case 'unchecked':
    case 'geo_point': // checked whole by geoPointError
    case 'flat_object': // objects only, checked in parseField
      return null;
    case 'integer':
      return integerCause(ctx, n);
    case 'ip': {
      const text = n.t === 'str' ? n.v : preview(n);
      return isIpLiteral(text) ? null : { type: 'illegal_argument_exception', reason: `'${text}' is not an IP string literal.` };
    }
    case 'long':
      if (n.t === 'str') return n.v === '' ? null : stringToLongCause(n.v);
      if (n.t === 'num') {
        const x = Math.trunc(Number(n.raw));
        const outOfRange = n.int ? BigInt(n.raw) < LONG_MIN || BigInt(n.raw) > LONG_MAX : !Number.isFinite(x) || Math.abs(x) >= 2 ** 63;
        if (outOfRange) return { type: 'input_coercion_exception', reason: `Numeric value (${n.raw}) out of range of long (${LONG_MIN} - ${LONG_MAX})${jacksonAt(ctx, n)}` };
        return null;
      }
      return { type: 'json_parse_exception', reason: `Current token (${tokenName(n)}) not numeric, can not use numeric value accessors${jacksonAt(ctx, n)}` };
    case 'float':
    case 'double': {
      let v: number;
      if (n.t === 'str') {
        if (n.v === '') return null;
        const t = n.v.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
        if (t === '') return { type: 'number_format_exception', reason: 'empty String' };
        if (!/^[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?)$/.test(t)) return { type: 'number_format_exception', reason: `For input string: "${n.v}"` };
        v = Number(t.replace(/[fFdD]$/, ''));
      } else if (n.t === 'num') {
        v = Number(n.raw);
      } else {
        return { type: 'json_parse_exception', reason: `Current token (${tokenName(n)}) not numeric, can not use numeric value accessors${jacksonAt(ctx, n)}` };
      }
      const stored = type === 'float' ? Math.fround(v) : v;
      if (!Number.isFinite(stored)) return { type: 'illegal_argument_exception', reason: `[${type}] supports only finite values, but got [${javaNonFinite(stored)}]` };
      return null;
    }
    case 'boolean':
      if (n.t === 'bool') return null;
      if (n.t === 'str') return n.v === '' || n.v === 'true' || n.v === 'false' ? null : { type: 'illegal_argument_exception', reason: `Failed to parse value [${n.v}] as only [true] or [false] are allowed.` };
      return { type: 'json_parse_exception', reason: `Current token (${tokenName(n)}) not of boolean type${jacksonAt(ctx, n)}` };
    case 'date': {
      if (n.t === 'num') return null;
      const text = n.t === 'str' ? n.v : preview(n);
      const format = mapper.format ?? DATE_FORMAT;
      if (parsesAsDate(text, format)) return null;
      return {
        type: 'illegal_argument_exception',
        reason: `failed to parse date field [${text}] with format [${format}]`,
        caused_by: { type: 'date_time_parse_exception', reason: 'Failed to parse with all enclosed parsers' },
      };
    }
  }
}

const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;

/** NumberFieldMapper INTEGER: parser.intValue(coerce) — Jackson's range check for numbers, Double.parseDouble for strings. */
function integerCause(ctx: DocContext, n: JNode): ErrorCause | null {
  if (n.t === 'num') {
    const truncated = Math.trunc(Number(n.raw));
    const outOfRange = n.int ? BigInt(n.raw) < INT_MIN || BigInt(n.raw) > INT_MAX : !(truncated >= -(2 ** 31) && truncated <= 2 ** 31 - 1);
    if (outOfRange) return { type: 'input_coercion_exception', reason: `Numeric value (${n.raw}) out of range of int (${INT_MIN} - ${INT_MAX})${jacksonAt(ctx, n)}` };
    return null;
  }
  if (n.t !== 'str') return { type: 'json_parse_exception', reason: `Current token (${tokenName(n)}) not numeric, can not use numeric value accessors${jacksonAt(ctx, n)}` };
  if (n.v === '') return null;
  const t = n.v.trim();
  if (!/^[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?)$/.test(t)) return { type: 'number_format_exception', reason: `For input string: "${n.v}"` };
  const d = Number(t.replace(/[fFdD]$/, ''));
  if (!(d >= -(2 ** 31) && d <= 2 ** 31 - 1)) return { type: 'illegal_argument_exception', reason: `Value [${n.v}] is out of range for an integer` };
  return null;
}

/** InetAddresses.forString: dotted-quad IPv4 (no leading zeros) or IPv6. */
function isIpLiteral(text: string): boolean {
  const quad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) return quad.slice(1).every((o) => Number(o) <= 255 && !(o.length > 1 && o.startsWith('0')));
  return isIPv6(text);
}

/** XContentParser.Token names (OpenSearch's, not Jackson's). */
function xContentToken(n: JNode): string {
  return n.t === 'obj' ? 'START_OBJECT' : n.t === 'arr' ? 'START_ARRAY' : n.t === 'str' ? 'VALUE_STRING' : n.t === 'num' ? 'VALUE_NUMBER' : n.t === 'bool' ? 'VALUE_BOOLEAN' : 'VALUE_NULL';
}

/** ParsingException's `line`/`col` metadata, when the document's text is at hand. */
function lineCol(ctx: DocContext, n: JNode): { line?: number; col?: number } {
  const pos = ctx.parser?.location(n.at);
  return pos ? { line: pos.line, col: pos.column } : {};
}

const GEOHASH = /^[0-9b-hjkmnp-z]{1,12}$/;

/**
 * geo_point values: `{lat, lon}`, `"lat,lon"`, a geohash, `[lon, lat]`, or an array of those
 * (GeoUtils.parseGeoPoint). The causes follow GeoUtils' wording; the latitude/longitude range check
 * is GeoPointFieldMapper's with ignore_malformed false.
 */
function geoPointError(ctx: DocContext, path: string, n: JNode): ItemError | null {
  const fail = (cause: ErrorCause) => new ItemError(400, { type: 'mapper_parsing_exception', reason: `failed to parse field [${path}] of type [geo_point]`, caused_by: cause });
  const parseErr = (reason: string) => fail({ type: 'parse_exception', reason });
  const num = (x: JNode | undefined, name: string): number | ItemError => {
    if (x?.t === 'num') return Number(x.raw);
    if (x?.t === 'str' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(x.v.trim())) return Number(x.v);
    return parseErr(x === undefined ? `field [${name}] missing` : `[${name}] must be a number`);
  };
  const point = (lat: number | ItemError, lon: number | ItemError): ItemError | null => {
    if (lat instanceof ItemError) return lat;
    if (lon instanceof ItemError) return lon;
    if (lat < -90 || lat > 90) return fail({ type: 'illegal_argument_exception', reason: `illegal latitude value [${javaDouble(lat)}] for ${path}` });
    if (lon < -180 || lon > 180) return fail({ type: 'illegal_argument_exception', reason: `illegal longitude value [${javaDouble(lon)}] for ${path}` });
    return null;
  };
  switch (n.t) {
    case 'null':
      return null;
    case 'obj': {
      const get = (k: string) => n.entries.find(([key]) => key === k)?.[1];
      if (n.entries.some(([k]) => k !== 'lat' && k !== 'lon' && k !== 'geohash' && k !== 'z')) return parseErr('field must be either [lat], [lon] or [geohash]');
      const hash = get('geohash');
      if (hash) return hash.t === 'str' && GEOHASH.test(hash.v) ? null : parseErr('geohash must be a string');
      return point(num(get('lat'), 'lat'), num(get('lon'), 'lon'));
    }
    case 'str': {
      const parts = n.v.split(',');
      if (parts.length === 2 || parts.length === 3) {
        const [lat, lon] = parts.map((p) => ({ t: 'str', v: p.trim(), at: n.at }) as JNode);
        return point(num(lat, 'lat'), num(lon, 'lon'));
      }
      const bad = [...n.v].find((c) => !/[0-9b-hjkmnp-z]/.test(c));
      return bad === undefined && n.v !== '' ? null : fail({ type: 'illegal_argument_exception', reason: `unsupported symbol [${bad ?? ''}] in geohash [${n.v}]` });
    }
    case 'arr': {
      if (n.items.length > 0 && n.items.every((x) => x.t === 'num')) {
        if (n.items.length > 3) return parseErr('Exception parsing coordinates: found Z value [0.0] but [ignore_z_value] parameter is [false]');
        return point(num(n.items[1], 'lat'), num(n.items[0], 'lon'));
      }
      for (const item of n.items) {
        const err = geoPointError(ctx, path, item);
        if (err) return err;
      }
      return null;
    }
    default:
      return parseErr('geo_point expected');
  }
}

function fieldError(ctx: DocContext, path: string, type: LeafType, n: JNode, cause: ErrorCause): ItemError {
  return new ItemError(400, {
    type: 'mapper_parsing_exception',
    reason: `failed to parse field [${path}] of type [${type}] in document with id '${ctx.id}'. Preview of field's value: '${preview(n)}'`,
    caused_by: cause,
  });
}

const mapperParsing = (reason: string, cause?: ErrorCause): ItemError => new ItemError(400, cause ? { type: 'mapper_parsing_exception', reason, caused_by: cause } : { type: 'mapper_parsing_exception', reason });

function parseObjectInto(ctx: DocContext, obj: ObjectMapper, node: JObj, prefix: string): void {
  for (const [key, val] of node.entries) {
    if (key === '') throw mapperParsing('failed to parse', { type: 'illegal_argument_exception', reason: 'field name cannot be an empty string' });
    if (key.startsWith('.') || key.endsWith('.') || key.includes('..')) {
      throw mapperParsing('failed to parse', { type: 'illegal_argument_exception', reason: `object field starting or ending with a [.] makes object resolution ambiguous: [${key}]` });
    }
    if (prefix === '' && METADATA_FIELDS.has(key)) {
      throw mapperParsing(`Field [${key}] is a metadata field and cannot be added inside a document. Use the index API request parameters.`);
    }
    const parts = key.split('.');
    let parent: ObjectMapper | undefined = obj;
    let path = prefix;
    for (const part of parts.slice(0, -1)) {
      const parentPath = path;
      path = path ? `${path}.${part}` : part;
      let m: Mapper | undefined = parent.props.get(part);
      if (!m) {
        if (!mayAddField(parent, part, parentPath)) {
          parent = undefined;
          break;
        }
        m = newObjectMapper(parent);
        markChanged(ctx);
        parent.props.set(part, m);
      } else if (m.type !== 'object') {
        throw mapperParsing(`Could not dynamically add mapping for field [${prefix ? `${prefix}.` : ''}${key}]. Existing mapping for [${path}] must be of type object but found [${m.type}].`);
      }
      parent = m;
    }
    if (!parent) continue; // dynamic: false — kept in _source, not mapped
    const leaf = parts[parts.length - 1] ?? key;
    parseField(ctx, parent, leaf, path ? `${path}.${leaf}` : leaf, val, path);
  }
}

/** A dynamically added object inherits its parent's `dynamic`. */
function newObjectMapper(parent: ObjectMapper): ObjectMapper {
  return parent.dynamic === undefined ? { type: 'object', props: new Map() } : { type: 'object', props: new Map(), dynamic: parent.dynamic };
}

/**
 * Whether an unmapped field may be added under `parent`: dynamic true adds it, false leaves it in
 * _source unmapped, strict refuses the document (StrictDynamicMappingException, "within" the
 * parent object's path, `_doc` at the root).
 */
function mayAddField(parent: ObjectMapper, name: string, parentPath: string): boolean {
  if (parent.dynamic === 'strict') {
    throw new ItemError(400, { type: 'strict_dynamic_mapping_exception', reason: `mapping set to strict, dynamic introduction of [${name}] within [${parentPath || '_doc'}] is not allowed` });
  }
  return parent.dynamic !== 'false';
}

function parseField(ctx: DocContext, parent: ObjectMapper, name: string, path: string, val: JNode, parentPath: string): void {
  if (val.t === 'null') return;
  let m = parent.props.get(name);
  if (m?.type === 'geo_point' || m?.type === 'unchecked') {
    const err = m.type === 'geo_point' ? geoPointError(ctx, path, val) : null;
    if (err) throw err;
    return;
  }
  if (val.t === 'arr') {
    for (const item of val.items) parseField(ctx, parent, name, path, item, parentPath);
    return;
  }
  if (m?.type === 'flat_object') {
    if (val.t === 'obj') return;
    throw fieldError(ctx, path, 'flat_object', val, { type: 'parsing_exception', reason: `[${path}] unexpected token [${xContentToken(val)}] in flat_object field value`, ...lineCol(ctx, val) });
  }
  if (val.t === 'obj') {
    if (!m) {
      if (!mayAddField(parent, name, parentPath)) return;
      m = newObjectMapper(parent);
      markChanged(ctx);
      parent.props.set(name, m);
    }
    if (m.type === 'object') return m.enabled === false ? undefined : parseObjectInto(ctx, m, val, path);
    throw fieldError(ctx, path, m.type, val, leafCause(ctx, m, val) ?? { type: 'illegal_state_exception', reason: 'unexpected object' });
  }
  if (!m) {
    if (!mayAddField(parent, name, parentPath)) return;
    m = dynamicMapper(val);
    markChanged(ctx);
    parent.props.set(name, m);
  }
  if (m.type === 'object') throw mapperParsing(`object mapping for [${path}] tried to parse field [${name}] as object, but found a concrete value`);
  const cause = leafCause(ctx, m, val);
  if (cause) throw fieldError(ctx, path, m.type, val, cause);
}

// ----- The common case without a tree
//
// Almost every document of a drain is an ordinary JSON line whose fields are all mapped already.
// Such a line is checked directly on the value JSON.parse gives, against the live mapping (no copy),
// and stored as its text. Whenever the check is not sure (a field to add, a value its field may
// refuse, a repeated key, anything unusual) it answers "no" and the faithful path (parseSource,
// parseObjectInto) decides, with the exact error texts and locations and number types. So the
// check may say "no" too often, never "yes" wrongly: "yes" means the faithful path would accept the
// document without changing the mapping.

/** Well under JsonPull's MAX_NESTING, so that too deep a document always takes the faithful path. */
const FAST_MAX_DEPTH = 500;

/** Whether the source line `text` is a document that fits the mapping as it is (see above). */
function fitsMappingAsIs(mapping: ObjectMapper, text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false; // comments, syntax errors, ...: JsonPull words those
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = objectFits(mapping, value as Record<string, unknown>, true, 1);
  // JSON.parse keeps the last of repeated keys where OpenSearch refuses the document: the keys
  // it kept must be all the keys the text writes.
  return keys >= 0 && keys === writtenKeyCount(text);
}

/** The number of keys of `obj` and all it contains when every field fits its mapping, else -1. */
function objectFits(mapper: ObjectMapper, obj: Record<string, unknown>, root: boolean, depth: number): number {
  if (depth > FAST_MAX_DEPTH) return -1;
  let keys = 0;
  // for-in rather than Object.keys: no array per object (JSON.parse gives plain objects).
  for (const key in obj) {
    keys++;
    // Keys parseObjectInto refuses (empty, ambiguous dots, metadata fields).
    if (key === '' || (root && METADATA_FIELDS.has(key))) return -1;
    let parent = mapper;
    let name = key;
    if (key.includes('.')) {
      if (key.startsWith('.') || key.endsWith('.') || key.includes('..')) return -1;
      // A dotted key walks existing object mappings, as parseObjectInto expands it.
      const parts = key.split('.');
      name = parts.pop() ?? key;
      for (const part of parts) {
        const m = parent.props.get(part);
        if (m?.type !== 'object') return -1;
        parent = m;
      }
    }
    const n = fieldFits(parent, name, obj[key], depth);
    if (n < 0) return -1;
    keys += n;
  }
  return keys;
}

/** parseField's cases for a plain JS value: the keys inside `val`, or -1. */
function fieldFits(parent: ObjectMapper, name: string, val: unknown, depth: number): number {
  if (val === null) return 0;
  if (Array.isArray(val)) {
    if (depth + 1 > FAST_MAX_DEPTH) return -1;
    let keys = 0;
    for (const item of val) {
      const n = fieldFits(parent, name, item, depth + 1);
      if (n < 0) return -1;
      keys += n;
    }
    return keys;
  }
  const m = parent.props.get(name);
  if (m === undefined) return -1;
  if (m.type === 'object' && m.enabled === false) return -1;
  if (typeof val === 'object') return m.type === 'object' ? objectFits(m, val as Record<string, unknown>, false, depth + 1) : -1;
  if (m.type === 'object') return -1;
  return leafFits(m, val as string | number | boolean) ? 0 : -1;
}

/**
 * The values leafCause surely accepts. A number's written form is lost by JSON.parse (`1` and
 * `1.0`), so only what either form would pass is accepted; the rest goes the faithful way.
 */
function leafFits(mapper: LeafMapper, v: string | number | boolean): boolean {
  switch (mapper.type) {
    case 'text':
    case 'keyword':
      return true;
    case 'long':
      // Within ±2^62 a long fits whether the number was written as an integer or not.
      if (typeof v === 'number') return Math.abs(v) < 2 ** 62;
      return typeof v === 'string' && (v === '' || /^[+-]?\d{1,18}$/.test(v));
    case 'integer':
      if (typeof v === 'number') return Math.abs(v) < 2 ** 31 - 1;
      return typeof v === 'string' && (v === '' || /^[+-]?\d{1,9}$/.test(v));
    case 'float':
      if (typeof v === 'number') return Number.isFinite(Math.fround(v));
      return v === '';
    case 'double':
      return typeof v === 'number' ? Number.isFinite(v) : v === '';
    case 'unchecked':
      return true;
    case 'ip':
    case 'geo_point':
    case 'flat_object':
      return false; // the faithful path checks these
    case 'boolean':
      return typeof v === 'boolean' || v === '' || v === 'true' || v === 'false';
    case 'date':
      if (typeof v === 'number') return true;
      return typeof v === 'string' && parsesAsDate(v, mapper.format ?? DATE_FORMAT);
  }
}

/**
 * How many object keys the text of a valid JSON value writes: strings followed by a colon. Jumps
 * from quote to quote; a quote preceded by an odd number of backslashes is inside a string.
 */
function writtenKeyCount(text: string): number {
  let keys = 0;
  let open = text.indexOf('"');
  while (open !== -1) {
    let close = text.indexOf('"', open + 1);
    while (close !== -1 && isEscaped(text, close)) close = text.indexOf('"', close + 1);
    if (close === -1) break;
    let k = close + 1;
    let c = text.charCodeAt(k);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++k);
    if (c === 58) keys++;
    open = text.indexOf('"', k);
  }
  return keys;
}

function isEscaped(text: string, quote: number): boolean {
  let backslashes = 0;
  for (let i = quote - 1; text.charCodeAt(i) === 92; i--) backslashes++;
  return backslashes % 2 === 1;
}

/** A stored source: the JSON text of a document taken by the fast path (parsed again when read), or its tree. */
type StoredSource = string | JObj;

function sourceValue(source: StoredSource): Record<string, unknown> {
  return (typeof source === 'string' ? JSON.parse(source) : toJs(source)) as Record<string, unknown>;
}

/** Parses a source line the way DocumentParser does; returns the tree and its parser. */
function parseSource(text: string): { doc: JObj; parser: JsonPull } {
  const parser = new JsonPull(text);
  let tok: Tok | null;
  try {
    tok = parser.next();
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw mapperParsing('failed to parse', { type: 'json_parse_exception', reason: e.message });
    throw e;
  }
  if (tok !== 'START_OBJECT') throw mapperParsing('Malformed content, must start with an object');
  try {
    const doc = readTree(parser, tok) as JObj;
    const after = parser.next();
    if (after !== null) throw mapperParsing(`Malformed content, found extra data after parsing: ${after}`);
    return { doc, parser };
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw mapperParsing('failed to parse', { type: 'json_parse_exception', reason: e.message });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// filter_path (OpenSearch FilterPath: dot paths, `*` globs inside a segment, `**` any depth,
// `-path` exclusions; arrays are transparent; objects and arrays left empty are dropped).

type FilterPath = string[];

function globMatch(pattern: string, s: string): boolean {
  if (!pattern.includes('*')) return pattern === s;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(s);
}

function advance(paths: FilterPath[], key: string): FilterPath[] {
  const out: FilterPath[] = [];
  for (const p of paths) {
    const head = p[0];
    if (head === undefined) continue;
    if (head === '**') {
      out.push(p);
      const rest = p.slice(1);
      if (rest.length === 0) out.push([]);
      else out.push(...advance([rest], key));
    } else if (globMatch(head, key)) {
      out.push(p.slice(1));
    }
  }
  return out;
}

/**
 * The paths still alive after some keys: a state of a small automaton whose transitions are worked
 * out on first use and then remembered. A `_bulk` response has a thousand alike items, so its
 * filter costs a map lookup per key instead of glob matches and new path arrays per key.
 */
class FilterState {
  readonly paths: FilterPath[];
  /** Some path ends here: the whole value is included (or, for exclusions, dropped). */
  readonly complete: boolean;
  private readonly next = new Map<string, FilterState>();

  constructor(paths: FilterPath[]) {
    this.paths = paths;
    this.complete = paths.some((p) => p.length === 0);
  }

  after(key: string): FilterState {
    let s = this.next.get(key);
    if (!s) {
      s = new FilterState(advance(this.paths, key));
      this.next.set(key, s);
    }
    return s;
  }
}

function includeNode(value: unknown, state: FilterState): unknown {
  if (state.complete) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) {
      const r = includeNode(v, state);
      if (r !== undefined) out.push(r);
    }
    return out.length > 0 ? out : undefined;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    let empty = true;
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      const sub = state.after(k);
      if (sub.paths.length === 0) continue;
      const r = includeNode(obj[k], sub);
      if (r !== undefined) {
        out[k] = r;
        empty = false;
      }
    }
    return empty ? undefined : out;
  }
  return undefined;
}

function excludeNode(value: unknown, state: FilterState): unknown {
  if (Array.isArray(value)) return value.map((v) => excludeNode(v, state));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = state.after(k);
      if (sub.complete) continue;
      out[k] = sub.paths.length > 0 ? excludeNode(v, sub) : v;
    }
    return out;
  }
  return value;
}

/** Applies a filter_path; its automaton is built for this one call (keys of other responses may differ). */
export function applyFilterPath(value: unknown, filterPath: string): unknown {
  const specs = filterPath.split(',').map((s) => s.trim()).filter(Boolean);
  const includes = specs.filter((s) => !s.startsWith('-')).map((s) => s.split('.'));
  const excludes = specs.filter((s) => s.startsWith('-')).map((s) => s.slice(1).split('.'));
  let out = value;
  if (includes.length > 0) out = includeNode(out, new FilterState(includes)) ?? {};
  if (excludes.length > 0) out = excludeNode(out, new FilterState(excludes));
  return out;
}

// ---------------------------------------------------------------------------------------------
// `_bulk` request parsing (BulkRequestParser)

type ActionName = 'index' | 'create' | 'update' | 'delete';

interface UpdateBody {
  doc?: JObj;
  upsert?: JObj;
  docAsUpsert: boolean;
  detectNoop: boolean;
  script: boolean;
}

interface BulkItem {
  action: ActionName;
  /** Key of the item in the response (`index` with op_type create answers as `create`). */
  opType: ActionName;
  index: string | undefined;
  id: string | undefined;
  pipeline: string | undefined;
  requireAlias: boolean;
  version: number | undefined;
  versionType: string;
  ifSeqNo: number | undefined;
  ifPrimaryTerm: number | undefined;
  source: string | undefined;
  update: UpdateBody | undefined;
  line: number;
}

interface BulkDefaults {
  index: string | undefined;
  pipeline: string | undefined;
  requireAlias: boolean | undefined;
}

const VALUE_TOKENS = new Set<Tok | null>(['VALUE_STRING', 'VALUE_NUMBER', 'VALUE_BOOLEAN']);
const VERSION_TYPES = new Set(['internal', 'external', 'external_gte']);

function parseLongParam(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw illegalArgument(`For input string: "${text}"`);
  return Number(text);
}

function newItem(action: ActionName, d: BulkDefaults, line: number): BulkItem {
  return {
    action,
    opType: action,
    index: d.index,
    id: undefined,
    pipeline: d.pipeline,
    requireAlias: d.requireAlias ?? false,
    version: undefined,
    versionType: 'internal',
    ifSeqNo: undefined,
    ifPrimaryTerm: undefined,
    source: undefined,
    update: undefined,
    line,
  };
}

/**
 * The usual action line, `{"create":{"_index":"i","_id":"x"}}`, read with JSON.parse: one action
 * whose metadata are only strings for `_index`, `_id`, `pipeline` or `routing`, no key repeated.
 * Anything else is undefined and read by readActionLine, which words the errors.
 */
function plainActionLine(text: string, d: BulkDefaults, line: number): BulkItem | undefined {
  if (text.charCodeAt(0) !== 123) return undefined; // not '{': blank lines, errors
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const outer = value as Record<string, unknown>;
  let action = '';
  let keys = 0;
  for (const k in outer) {
    action = k;
    keys++;
  }
  const meta = outer[action];
  if (keys !== 1 || !VALID_ACTIONS.has(action) || typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const item = newItem(action as ActionName, d, line);
  const fields = meta as Record<string, unknown>;
  for (const k in fields) {
    keys++;
    const v = fields[k];
    if (typeof v !== 'string') return undefined;
    if (k === '_index') item.index = v;
    else if (k === '_id') item.id = v;
    else if (k === 'pipeline') item.pipeline = v;
    else if (k !== 'routing') return undefined;
  }
  return keys === writtenKeyCount(text) ? item : undefined;
}

/** An action/metadata line the way BulkRequestParser reads it; undefined for a blank line. */
function readActionLine(text: string, d: BulkDefaults, line: number): { item: BulkItem; opType: string | undefined } | undefined {
  const p = new JsonPull(text);
  let tok = p.next();
  if (tok === null) return undefined;
  if (tok !== 'START_OBJECT') throw illegalArgument(`Malformed action/metadata line [${line}], expected START_OBJECT but found [${tok}]`);
  tok = p.next();
  if (tok !== 'FIELD_NAME') throw illegalArgument(`Malformed action/metadata line [${line}], expected FIELD_NAME but found [${tok}]`);
  const action = p.name;
  if (!VALID_ACTIONS.has(action)) throw illegalArgument(`Malformed action/metadata line [${line}], expected one of [create, delete, index, update] but found [${action}]`);
  const item = newItem(action as ActionName, d, line);
  let opType: string | undefined;
  tok = p.next();
  if (tok === 'START_OBJECT') {
    let field = '';
    while ((tok = p.next()) !== 'END_OBJECT') {
      if (tok === 'FIELD_NAME') {
        field = p.name;
      } else if (VALUE_TOKENS.has(tok)) {
        const value = tok === 'VALUE_STRING' ? p.str : tok === 'VALUE_NUMBER' ? p.raw : String(p.bool);
        switch (field) {
          case '_index':
            item.index = value;
            break;
          case '_id':
            item.id = value;
            break;
          case 'routing':
            break;
          case 'op_type':
            opType = value;
            break;
          case 'version':
            item.version = parseLongParam(value);
            break;
          case 'version_type':
            if (!VERSION_TYPES.has(value)) throw illegalArgument(`No version type match [${value}]`);
            item.versionType = value;
            break;
          case 'if_seq_no':
            item.ifSeqNo = parseLongParam(value);
            break;
          case 'if_primary_term':
            item.ifPrimaryTerm = parseLongParam(value);
            break;
          case 'retry_on_conflict':
            parseLongParam(value);
            break;
          case 'pipeline':
            item.pipeline = value;
            break;
          case '_source':
            break;
          case 'require_alias':
            if (value !== 'true' && value !== 'false') throw illegalArgument(`Failed to parse value [${value}] as only [true] or [false] are allowed.`);
            item.requireAlias = value === 'true';
            break;
          default:
            throw illegalArgument(`Action/metadata line [${line}] contains an unknown parameter [${field}]`);
        }
      } else if (tok === 'START_ARRAY') {
        throw illegalArgument(`Malformed action/metadata line [${line}], expected a simple value for field [${field}] but found [START_ARRAY]`);
      } else if (tok === 'START_OBJECT' && field === '_source') {
        readTree(p, tok);
      } else if (tok !== 'VALUE_NULL') {
        throw illegalArgument(`Malformed action/metadata line [${line}], expected a simple value for field [${field}] but found [${tok}]`);
      }
    }
  } else if (tok !== 'END_OBJECT') {
    throw illegalArgument(`Malformed action/metadata line [${line}], expected START_OBJECT or END_OBJECT but found [${tok}]`);
  }
  return { item, opType };
}

function parseBulk(data: string, d: BulkDefaults): BulkItem[] {
  const items: BulkItem[] = [];
  let line = 0;
  let from = 0;
  const findNextMarker = (start: number): number => {
    const r = data.indexOf('\n', start);
    if (r !== -1) return r;
    if (start !== data.length) throw illegalArgument('The bulk request must be terminated by a newline [\\n]');
    return -1;
  };
  for (;;) {
    let nextMarker = findNextMarker(from);
    if (nextMarker === -1) break;
    line++;
    const text = data.slice(from, nextMarker);
    from = nextMarker + 1;
    let item = plainActionLine(text, d, line);
    let opType: string | undefined;
    if (!item) {
      const read = readActionLine(text, d, line);
      if (!read) continue;
      ({ item, opType } = read);
    }

    if (item.action === 'delete') {
      items.push(item);
      continue;
    }
    nextMarker = findNextMarker(from);
    if (nextMarker === -1) break;
    line++;
    let source = data.slice(from, nextMarker);
    if (source.endsWith('\r')) source = source.slice(0, -1);
    if (item.action === 'index') {
      if (opType !== undefined) item.opType = opType === 'create' ? 'create' : 'index';
      item.source = source;
    } else if (item.action === 'create') {
      item.source = source;
    } else {
      if (item.version !== undefined || item.versionType !== 'internal') {
        throw illegalArgument('Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead');
      }
      item.update = parseUpdateBody(source);
    }
    items.push(item);
    from = nextMarker + 1;
  }
  return items;
}

function parseUpdateBody(text: string): UpdateBody {
  const p = new JsonPull(text);
  const tok = p.next();
  const body: UpdateBody = { docAsUpsert: false, detectNoop: true, script: false };
  if (tok === null) return body;
  if (tok !== 'START_OBJECT') {
    throw new RequestError(400, { type: 'x_content_parse_exception', reason: `[1:1] [UpdateRequest] Expected START_OBJECT but was: ${tok}` });
  }
  const root = readTree(p, tok) as JObj;
  for (const [k, v] of root.entries) {
    const loc = p.location(v.at);
    const bad = (what: string) => new RequestError(400, { type: 'x_content_parse_exception', reason: `[${loc.line}:${loc.column}] [UpdateRequest] ${what}` });
    switch (k) {
      case 'doc':
      case 'upsert':
        if (v.t !== 'obj') throw bad(`failed to parse field [${k}]`);
        body[k] = v;
        break;
      case 'doc_as_upsert':
      case 'detect_noop':
      case 'scripted_upsert':
        if (v.t !== 'bool') throw bad(`failed to parse field [${k}]`);
        if (k === 'doc_as_upsert') body.docAsUpsert = v.v;
        if (k === 'detect_noop') body.detectNoop = v.v;
        break;
      case 'script':
        body.script = true;
        break;
      case '_source':
      case 'if_seq_no':
      case 'if_primary_term':
        break;
      default:
        throw bad(`unknown field [${k}]`);
    }
  }
  return body;
}

function validateIndexName(name: string): string | null {
  if (/[\\/*?"<>| ,]/.test(name)) return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]';
  if (name.includes('#')) return "must not contain '#'";
  if (name.includes(':')) return "must not contain ':'";
  if (/^[_\-+]/.test(name)) return "must not start with '_', '-', or '+'";
  if (name.toLowerCase() !== name) return 'must be lowercase';
  if (name === '.' || name === '..') return "must not be '.' or '..'";
  const bytes = Buffer.byteLength(name);
  if (bytes > 255) return `index name is too long, (${bytes} > 255)`;
  return null;
}

/** Lucene's LevenshteinDistance similarity, as used by "did you mean". */
function similarity(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) return m === n ? 1 : 0;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) cur[j] = Math.min((cur[j - 1] ?? 0) + 1, (prev[j] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return 1 - (prev[n] ?? 0) / Math.max(m, n);
}

function unrecognizedParams(path: string, given: Iterable<string>, known: string[]): string | null {
  const invalid = [...new Set(given)].filter((p) => !known.includes(p)).sort();
  if (invalid.length === 0) return null;
  const parts = invalid.map((inv) => {
    const keys = known
      .map((c) => [similarity(inv, c), c] as const)
      .filter(([d]) => d > 0.5)
      .sort((x, y) => y[0] - x[0] || x[1].localeCompare(y[1]))
      .map(([, c]) => c);
    if (keys.length === 0) return `[${inv}]`;
    return `[${inv}] -> did you mean ${keys.length === 1 ? `[${keys[0]}]` : `any of [${keys.join(', ')}]`}?`;
  });
  return `request [${path}] contains unrecognized parameter${invalid.length > 1 ? 's' : ''}: ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Store

interface DocRecord {
  source: StoredSource;
  version: number;
  seqNo: number;
  order: number;
}

interface IndexState {
  name: string;
  uuid: string;
  mapping: ObjectMapper;
  docs: Map<string, DocRecord>;
  /** Version of deleted documents (tombstones): a re-created document continues from it. */
  deleted: Map<string, number>;
  seqNo: number;
  /** Flat `index.*` settings from the index template that matched at creation (e.g. `index.default_pipeline`). */
  settings: Record<string, string>;
  /** Name of that template. */
  template: string | undefined;
}

function indexPattern(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined || pattern === '_all' || pattern === '*') return () => true;
  const parts = pattern.split(',').map((p) => p.trim());
  return (name) => parts.some((p) => globMatch(p, name));
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** XContentHelper.update: objects merge recursively, everything else is replaced. */
function mergeDoc(base: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    const old = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
    out[k] = isObj(old) && isObj(v) ? mergeDoc(old, v) : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The stand-in

interface Body {
  data: Buffer;
  bytes: number;
  tooLarge: boolean;
  decodeError: boolean;
  aborted: boolean;
}

type Route =
  | { kind: 'root' }
  | { kind: 'health'; index: string | undefined }
  | { kind: 'cat_health' }
  | { kind: 'bulk'; index: string | undefined }
  | { kind: 'ingest' }
  | { kind: 'count'; index: string | undefined }
  | { kind: 'refresh'; index: string | undefined }
  | { kind: 'doc'; index: string; id: string }
  | { kind: 'config'; api: ConfigRoute }
  | { kind: 'none' };

const ALLOWED: Record<Route['kind'], string[]> = {
  root: ['GET', 'HEAD'],
  health: ['GET'],
  cat_health: ['GET', 'HEAD'],
  bulk: ['POST', 'PUT'],
  ingest: ['POST'],
  count: ['GET', 'POST'],
  refresh: ['GET', 'POST'],
  doc: ['GET', 'HEAD'],
  config: [], // per path: ConfigRoute.allowed
  none: [],
};

export class OpenSearchStandIn {
  /** Base URL, e.g. http://127.0.0.1:PORT (https when started with tls). */
  readonly url: string;
  readonly port: number;
  /** Fault knobs, read on every request; assign fields or the whole object at any time. */
  faults: Faults = {};
  /** Shifts the Date header and the time ingest pipelines stamp (`{{_ingest.timestamp}}`). */
  clockOffsetMs = 0;
  /**
   * Ingest pipelines (also managed over `/_ingest/pipeline`). `booth-ingest` is registered unless
   * started with `boothPipeline: false`; `pipelines.add(id)` registers one without processors,
   * `pipelines.add(id, body)` a real one. Only `set` processors change documents.
   */
  readonly pipelines: PipelineRegistry;
  /** State of the configuration APIs (templates, ISM policies, roles, notification channels, monitors): see opensearch-config.ts. */
  readonly config: ConfigApis;
  /** Every request in arrival order. */
  readonly requests: RequestRecord[] = [];
  readonly ingestPath: string;
  readonly indexPrefix: string;
  readonly pathPrefix: string;

  private readonly server: http.Server;
  private readonly tls: boolean;
  private readonly auth: StandInAuth | undefined;
  private readonly maxBodyBytes: number;
  private readonly compress: boolean;
  private readonly seed: number;
  private readonly random: SeededStreams;
  private readonly indices = new Map<string, IndexState>();
  private readonly indexNameProblems = new Map<string, string | null>();
  private readonly connections = new Connections();
  private order = 0;
  /** When the requests `faults.maxRequestsPerSecond` let through in the current window arrived (performance.now()). */
  private readonly rateTaken: number[] = [];
  private closed = false;
  private refusedConnections = 0;

  private constructor(server: http.Server, port: number, opts: StandInOptions) {
    this.server = server;
    this.port = port;
    this.tls = opts.tls !== undefined;
    this.url = `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.auth = opts.auth;
    this.maxBodyBytes = opts.maxBodyBytes ?? 100 * 1024 * 1024;
    this.ingestPath = opts.ingestPath ?? '/log/ingest';
    this.indexPrefix = opts.indexPrefix ?? 'booth';
    this.pathPrefix = (opts.pathPrefix ?? '').replace(/\/$/, '');
    this.compress = opts.compressResponses ?? !this.tls;
    this.seed = opts.seed ?? 1;
    this.random = new SeededStreams(this.seed);
    this.config = new ConfigApis({ now: () => this.now(), randomId: () => this.randomId('config', 20) }, { boothPipeline: opts.boothPipeline ?? true });
    this.pipelines = this.config.pipelines;
  }

  static async start(opts: StandInOptions = {}): Promise<OpenSearchStandIn> {
    let self: OpenSearchStandIn | undefined;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!self) return void res.destroy();
      self.onRequest(req, res).catch((e: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          res.statusCode = 500;
          res.end(JSON.stringify(errorEnvelope(500, { type: 'exception', reason: String(e) })));
        }
      });
    };
    const server = opts.tls
      ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: opts.tls.requestCert ?? false }, handler)
      : http.createServer(handler);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    self = new OpenSearchStandIn(server, port, opts);
    const standIn = self;
    server.on('connection', (sock: Socket) => {
      if (standIn.faults.down || standIn.closed) {
        standIn.refusedConnections++;
        sock.destroy();
        return;
      }
      standIn.connections.track(sock);
      sock.on('error', () => {});
    });
    server.on('tlsClientError', () => {});
    server.on('clientError', (_err, sock) => sock.destroy());
    return self;
  }

  /** Connections closed at once because `faults.down` was set. */
  get refused(): number {
    return this.refusedConnections;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connections.closeAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ----- observability

  /** Stored documents (in the order they were first stored), optionally of indices matching a pattern (`*` globs, commas). */
  documents(index?: string): StoredDocument[] {
    const match = indexPattern(index);
    const out: Array<StoredDocument & { order: number }> = [];
    for (const st of this.indices.values()) {
      if (!match(st.name)) continue;
      for (const [id, d] of st.docs) out.push({ index: st.name, id, source: sourceValue(d.source), version: d.version, seqNo: d.seqNo, order: d.order });
    }
    return out.sort((a, b) => a.order - b.order).map(({ order: _o, ...d }) => d);
  }

  count(index?: string): number {
    const match = indexPattern(index);
    let n = 0;
    for (const st of this.indices.values()) if (match(st.name)) n += st.docs.size;
    return n;
  }

  /** Stored `_id`s (ingest mode: the `event.id`s). */
  ids(index?: string): Set<string> {
    const match = indexPattern(index);
    const out = new Set<string>();
    for (const st of this.indices.values()) if (match(st.name)) for (const id of st.docs.keys()) out.add(id);
    return out;
  }

  indexNames(): string[] {
    return [...this.indices.keys()].sort();
  }

  /** The dynamic mapping of an index, flattened: `{ 'upload.bytes': 'long', upload: 'object', ... }`. */
  mapping(index: string): Record<string, FieldType> {
    const st = this.indices.get(index);
    return st ? flattenMapping(st.mapping) : {};
  }

  /**
   * An index's settings as its index template gave them, flat and `index.`-prefixed
   * (`{'index.default_pipeline': 'booth-ingest', 'index.number_of_shards': '1'}`); {} without one.
   */
  indexSettings(index: string): Record<string, string> {
    return { ...this.indices.get(index)?.settings };
  }

  /** The index template that matched when the index was created, if any. */
  indexTemplate(index: string): string | undefined {
    return this.indices.get(index)?.template;
  }

  /** Pre-maps fields (like an index template would), creating the index if needed. */
  setMapping(index: string, fields: Record<string, FieldType>): void {
    const st = this.ensureIndex(index);
    for (const [path, type] of Object.entries(fields)) {
      const parts = path.split('.');
      let parent = st.mapping;
      for (const part of parts.slice(0, -1)) {
        let m = parent.props.get(part);
        if (!m || m.type !== 'object') {
          m = { type: 'object', props: new Map() };
          parent.props.set(part, m);
        }
        parent = m;
      }
      const leaf = parts[parts.length - 1] ?? path;
      parent.props.set(leaf, type === 'object' ? { type: 'object', props: new Map() } : { type });
    }
  }

  /** Forgets all indices (documents and mappings) and the request log; the configuration (pipelines, templates, ...) stays. */
  reset(): void {
    this.indices.clear();
    this.requests.length = 0;
    this.order = 0;
  }

  // ----- helpers

  private randomId(stream: string, length: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const r = this.random.stream(stream);
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet[Math.floor(r() * 64)];
    return s;
  }

  private now(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  /** validateIndexName, remembered per name: a `_bulk` request names the same few indices a thousand times. */
  private indexNameProblem(name: string): string | null {
    let problem = this.indexNameProblems.get(name);
    if (problem === undefined) {
      problem = validateIndexName(name);
      this.indexNameProblems.set(name, problem);
    }
    return problem;
  }

  /** Gets or creates an index; a new one takes the mapping and settings of its index template. */
  private ensureIndex(name: string): IndexState {
    let st = this.indices.get(name);
    if (!st) {
      const t = this.config.templates.forIndex(name);
      st = { name, uuid: this.randomId('uuid', 22), mapping: this.initialMapping(name), docs: new Map(), deleted: new Map(), seqNo: -1, settings: t?.settings ?? {}, template: t?.template };
      this.indices.set(name, st);
    }
    return st;
  }

  /** The mapping a new index starts with: its template's, else empty (all dynamic). */
  private initialMapping(name: string): ObjectMapper {
    const mapping = this.config.templates.forIndex(name)?.mapping;
    return mapping ? cloneMapper(mapping) : { type: 'object', props: new Map() };
  }

  /** An index's settings, or those its template would give it when `_bulk` creates it. */
  private settingsFor(name: string): Record<string, string> {
    return this.indices.get(name)?.settings ?? this.config.templates.forIndex(name)?.settings ?? {};
  }

  private route(pathname: string): Route {
    if (pathname === this.ingestPath) return { kind: 'ingest' };
    let parts: string[];
    try {
      parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return { kind: 'none' };
    }
    const [a, b, c] = parts;
    if (parts.length === 0) return { kind: 'root' };
    const config = matchConfigRoute(parts);
    if (config) return { kind: 'config', api: config };
    if (a === '_cluster' && b === 'health' && parts.length <= 3) return { kind: 'health', index: c };
    // rsyslog's omelasticsearch probes this before it resumes a suspended action.
    if (a === '_cat' && b === 'health' && parts.length === 2) return { kind: 'cat_health' };
    if (a === '_bulk' && parts.length === 1) return { kind: 'bulk', index: undefined };
    if (b === '_bulk' && parts.length === 2) return { kind: 'bulk', index: a };
    if (a === '_count' && parts.length === 1) return { kind: 'count', index: undefined };
    if (b === '_count' && parts.length === 2) return { kind: 'count', index: a };
    if (a === '_refresh' && parts.length === 1) return { kind: 'refresh', index: undefined };
    if (b === '_refresh' && parts.length === 2) return { kind: 'refresh', index: a };
    if (a !== undefined && b === '_doc' && c !== undefined && parts.length === 3) return { kind: 'doc', index: a, id: c };
    return { kind: 'none' };
  }

  private authorized(req: http.IncomingMessage): boolean {
    const auth = this.auth;
    if (!auth) return true;
    const header = req.headers.authorization ?? '';
    if ('bearer' in auth) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      return m?.[1] === auth.bearer;
    }
    const m = /^Basic\s+(\S+)\s*$/i.exec(header);
    if (!m?.[1]) return false;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && decoded.slice(0, colon) === auth.username && decoded.slice(colon + 1) === auth.password;
  }

  private readBody(req: http.IncomingMessage): Promise<Body> {
    return new Promise((resolve) => {
      const enc = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
      // Large output chunks: zlib's default 16 KiB makes a thread-pool round trip per 16 KiB, which
      // was a good part of the time of a big `_bulk` body.
      const zopts = { chunkSize: 256 * 1024 };
      const decoder = enc === 'gzip' || enc === 'x-gzip' ? zlib.createGunzip(zopts) : enc === 'deflate' ? zlib.createInflate(zopts) : undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      let decodeError = false;
      let done = false;
      const finish = (aborted: boolean) => {
        if (done) return;
        done = true;
        resolve({ data: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), bytes: size, tooLarge, decodeError, aborted });
      };
      const onData = (c: Buffer) => {
        size += c.length;
        if (size > this.maxBodyBytes) {
          tooLarge = true;
          chunks.length = 0;
        } else if (!tooLarge) {
          chunks.push(c);
        }
      };
      req.on('error', () => finish(true));
      req.on('close', () => {
        if (!req.complete) finish(true);
      });
      if (decoder) {
        decoder.on('data', onData);
        decoder.on('end', () => finish(false));
        decoder.on('error', () => {
          decodeError = true;
          req.unpipe(decoder);
          if (req.readableEnded) finish(false);
          else {
            req.on('end', () => finish(false));
            req.resume();
          }
        });
        req.pipe(decoder);
      } else {
        req.on('data', onData);
        req.on('end', () => finish(false));
      }
    });
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, status: number, body?: string | Buffer, contentType?: string, headers: Record<string, string> = {}): void {
    entry.status = status;
    if (res.headersSent || res.destroyed || this.closed) return;
    res.sendDate = false;
    res.setHeader('Date', this.now().toUTCString());
    const opaque = req.headers['x-opaque-id'];
    if (typeof opaque === 'string') res.setHeader('X-Opaque-Id', opaque);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    let payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    if (payload.length > 0 && contentType) res.setHeader('Content-Type', contentType);
    if (payload.length > 0 && this.compress && /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''))) {
      payload = zlib.gzipSync(payload);
      res.setHeader('Content-Encoding', 'gzip');
    }
    res.setHeader('Content-Length', payload.length);
    res.statusCode = status;
    res.end(req.method === 'HEAD' ? undefined : payload);
  }

  private sendJson(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, status: number, value: unknown, url?: URL, headers: Record<string, string> = {}): void {
    const pretty = url?.searchParams.get('pretty');
    const text = pretty === '' || pretty === 'true' ? JSON.stringify(value, null, 2) : JSON.stringify(value);
    this.send(req, res, entry, status, text, JSON_TYPE, headers);
  }

  private sendError(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, status: number, e: ErrorCause, url?: URL, headers: Record<string, string> = {}): void {
    const body = url?.searchParams.get('error_trace') === 'true' ? { ...e, stack_trace: stackTrace(e) } : e;
    this.sendJson(req, res, entry, status, errorEnvelope(status, body), url, headers);
  }

  /** false when `faults.maxRequestsPerSecond` is set and this request is beyond it; else counts it. */
  private withinRate(): boolean {
    const rate = this.faults.maxRequestsPerSecond;
    if (!rate || rate <= 0) return true;
    const allowed = Math.max(1, Math.floor(rate));
    const windowMs = (allowed * 1000) / rate;
    const now = performance.now();
    let expired = 0;
    while (expired < this.rateTaken.length && this.rateTaken[expired]! <= now - windowMs) expired++;
    this.rateTaken.splice(0, expired);
    if (this.rateTaken.length >= allowed) return false;
    this.rateTaken.push(now);
    return true;
  }

  /** The whole-request 429 of OpenSearch's indexing back-pressure (coordinating queue full). */
  private sendWhole429(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, url: URL, index: string | undefined, bytes: number): void {
    const idx = index ?? 'index';
    const reason =
      `rejected execution of coordinating operation [shard_detail=[${idx}][0][C], shard_coordinating_and_primary_bytes=${34_000_000 - bytes}, ` +
      `shard_operation_bytes=${bytes}, shard_max_coordinating_and_primary_bytes=34694922] OR [node_coordinating_and_primary_bytes=212000000, ` +
      `node_replica_bytes=0, node_all_bytes=212000000, node_operation_bytes=${bytes}, node_max_coordinating_and_primary_bytes=213005107]`;
    return this.sendError(req, res, entry, 429, { type: 'rejected_execution_exception', reason }, url, this.retryAfter());
  }

  private retryAfter(): Record<string, string> {
    const s = this.faults.retryAfterSeconds;
    return s !== undefined ? { 'Retry-After': String(s) } : {};
  }

  // ----- request handling

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    // Recorded as it arrived; routed without the prefix.
    const arrivedPath = url.pathname;
    const outsidePrefix = this.pathPrefix !== '' && !url.pathname.startsWith(`${this.pathPrefix}/`);
    if (this.pathPrefix !== '' && !outsidePrefix) url.pathname = url.pathname.slice(this.pathPrefix.length);
    const method = req.method ?? 'GET';
    const entry: RequestRecord = { at: Date.now(), method, path: arrivedPath, query: url.search.replace(/^\?/, ''), status: 0, docs: 0, bytes: 0 };
    this.requests.push(entry);
    const sock = req.socket;
    if (this.faults.down || this.closed) {
      entry.fault = 'down';
      resetSocket(sock);
      return;
    }
    const route: Route = outsidePrefix ? { kind: 'none' } : this.route(url.pathname);
    const writes = route.kind === 'bulk' || route.kind === 'ingest';
    let reset: 'before' | 'after' | undefined;
    if (writes && this.random.chance('reset', this.faults.resetRatio)) reset = this.random.stream('resetWhen')() < 0.5 ? 'before' : 'after';
    if (reset === 'before') {
      entry.fault = 'reset-before-body';
      resetSocket(sock);
      return;
    }
    const body = await this.readBody(req);
    entry.bytes = body.bytes;
    if (body.aborted || this.closed) return;
    if (!writes && body.data.length > 0) entry.body = recordedBody(body.data);
    if (reset === 'after') {
      entry.fault = 'reset-after-body';
      resetSocket(sock);
      return;
    }
    const latency = this.faults.latencyMs ?? 0;
    if (latency > 0) {
      await this.connections.sleep(latency);
      if (this.closed) return;
    }
    if (writes && this.faults.hold) {
      await this.faults.hold;
      if (this.closed) return;
    }
    if (this.faults.down) {
      entry.fault = 'down';
      resetSocket(sock);
      return;
    }
    if (body.tooLarge) {
      // Netty's HttpObjectAggregator answers 413 with an empty body; Data Prepper answers with a message.
      if (route.kind === 'ingest') return this.send(req, res, entry, 413, 'Request Entity Too Large', DP_TEXT_TYPE);
      return this.send(req, res, entry, 413);
    }
    if (this.faults.unauthorized || !this.authorized(req)) {
      if (this.faults.unauthorized) entry.fault = 'unauthorized';
      const scheme = this.auth && 'bearer' in this.auth ? 'Bearer' : 'Basic';
      if (route.kind === 'ingest') return this.send(req, res, entry, 401, '401 Unauthorized', DP_TEXT_TYPE, { 'WWW-Authenticate': `${scheme} realm="Data Prepper"` });
      return this.send(req, res, entry, 401, 'Unauthorized', TEXT_TYPE, { 'WWW-Authenticate': `${scheme} realm="OpenSearch Security"` });
    }
    const hostile = writes ? hostileAnswerFor(this.faults.hostile, { path: url.pathname, body: body.data }) : undefined;
    if (hostile) {
      entry.fault = `hostile-${hostile.kind}`;
      entry.status = hostile.status;
      return answerHostile(res, hostile);
    }
    if (route.kind === 'none') {
      return this.sendJson(req, res, entry, 400, { error: `no handler found for uri [${req.url ?? '/'}] and method [${method}]`, status: 400 });
    }
    const allowed = route.kind === 'config' ? route.api.allowed : ALLOWED[route.kind];
    if (!allowed.includes(method)) {
      if (route.kind === 'ingest') return this.send(req, res, entry, 405, '405 Method Not Allowed', DP_TEXT_TYPE);
      return this.sendJson(req, res, entry, 405, { error: `Incorrect HTTP method for uri [${req.url ?? '/'}] and method [${method}], allowed: [${allowed.join(', ')}]`, status: 405 }, undefined, { Allow: allowed.join(',') });
    }
    if (body.decodeError) {
      if (route.kind === 'ingest') return this.send(req, res, entry, 400, DP_BAD_REQUEST, DP_TEXT_TYPE);
      return this.sendError(req, res, entry, 400, { type: 'illegal_argument_exception', reason: 'request body could not be decompressed (Content-Encoding)' }, url);
    }
    switch (route.kind) {
      case 'root':
        return this.sendJson(req, res, entry, 200, { name: NODE_NAME, cluster_name: CLUSTER_NAME, cluster_uuid: this.clusterUuid(), version: VERSION_INFO, tagline: TAGLINE }, url);
      case 'health':
        return this.sendJson(req, res, entry, 200, this.health(route.index, url), url);
      case 'cat_health':
        return this.send(req, res, entry, 200, this.catHealth(), TEXT_TYPE);
      case 'bulk':
        return this.handleBulk(req, res, entry, url, route.index, body.data);
      case 'ingest':
        return this.handleIngest(req, res, entry, body.data);
      case 'count':
        return this.handleCount(req, res, entry, url, route.index);
      case 'refresh': {
        const n = [...this.indices.keys()].filter(indexPattern(route.index)).length;
        return this.sendJson(req, res, entry, 200, { _shards: { total: n, successful: n, failed: 0 } }, url);
      }
      case 'doc':
        return this.handleGetDoc(req, res, entry, url, route.index, route.id);
      case 'config':
        return this.handleConfig(req, res, entry, url, route.api, body.data);
    }
  }

  /** The configuration APIs (opensearch-config.ts); like every REST handler they need a JSON Content-Type for a body. */
  private handleConfig(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, url: URL, api: ConfigRoute, data: Buffer): void {
    if (data.length > 0) {
      const ct = req.headers['content-type'];
      if (ct === undefined) return this.sendJson(req, res, entry, 406, { error: 'Content-Type header is missing', status: 406 });
      if ((ct.split(';')[0] ?? '').trim().toLowerCase() !== 'application/json') return this.sendJson(req, res, entry, 406, { error: `Content-Type header [${ct}] is not supported`, status: 406 });
    }
    const reply = this.config.handle(req.method ?? 'GET', api, url.searchParams, new TextDecoder().decode(data));
    if (reply.body === undefined) return this.send(req, res, entry, reply.status, undefined, undefined, reply.headers);
    this.sendJson(req, res, entry, reply.status, reply.body, url, reply.headers);
  }

  private clusterUuid(): string {
    const r = mulberry32(this.seed);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    return Array.from({ length: 22 }, () => alphabet[Math.floor(r() * 64)]).join('');
  }

  private health(index: string | undefined, url: URL): Record<string, unknown> {
    const names = [...this.indices.keys()].filter(indexPattern(index));
    const body: Record<string, unknown> = {
      cluster_name: CLUSTER_NAME,
      status: 'green',
      timed_out: false,
      number_of_nodes: 1,
      number_of_data_nodes: 1,
      discovered_master: true,
      discovered_cluster_manager: true,
      active_primary_shards: names.length,
      active_shards: names.length,
      relocating_shards: 0,
      initializing_shards: 0,
      unassigned_shards: 0,
      delayed_unassigned_shards: 0,
      number_of_pending_tasks: 0,
      number_of_in_flight_fetch: 0,
      task_max_waiting_in_queue_millis: 0,
      active_shards_percent_as_number: 100.0,
    };
    if (url.searchParams.get('level') === 'indices') {
      body['indices'] = Object.fromEntries(
        names.map((n) => [n, { status: 'green', number_of_shards: 1, number_of_replicas: 0, active_primary_shards: 1, active_shards: 1, relocating_shards: 0, initializing_shards: 0, unassigned_shards: 0 }]),
      );
    }
    return body;
  }

  /** `_cat/health` without parameters: one text line, the columns of the OpenSearch documentation. */
  private catHealth(): string {
    const now = this.now();
    const shards = this.indices.size;
    return `${Math.floor(now.getTime() / 1000)} ${now.toISOString().slice(11, 19)} ${CLUSTER_NAME} green 1 1 ${shards} ${shards} 0 0 0 0 - 100.0%\n`;
  }

  private indexNotFound(name: string): ErrorCause {
    return { type: 'index_not_found_exception', reason: `no such index [${name}]`, 'resource.type': 'index_or_alias', 'resource.id': name, index_uuid: '_na_', index: name };
  }

  private handleCount(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, url: URL, index: string | undefined): void {
    if (index !== undefined && !index.includes('*') && !index.includes(',') && index !== '_all' && !this.indices.has(index)) {
      return this.sendError(req, res, entry, 404, this.indexNotFound(index), url);
    }
    const n = [...this.indices.keys()].filter(indexPattern(index)).length;
    this.sendJson(req, res, entry, 200, { count: this.count(index), _shards: { total: n, successful: n, skipped: 0, failed: 0 } }, url);
  }

  private handleGetDoc(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, url: URL, index: string, id: string): void {
    const st = this.indices.get(index);
    if (!st) return this.sendError(req, res, entry, 404, this.indexNotFound(index), url);
    const d = st.docs.get(id);
    if (!d) return this.sendJson(req, res, entry, 404, { _index: index, _id: id, found: false }, url);
    const includes = url.searchParams.get('_source_includes');
    const source = sourceValue(d.source);
    this.sendJson(req, res, entry, 200, { _index: index, _id: id, _version: d.version, _seq_no: d.seqNo, _primary_term: 1, found: true, _source: includes ? pickPaths(source, includes.split(',')) : source }, url);
  }

  // ----- _bulk

  private handleBulk(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, url: URL, pathIndex: string | undefined, data: Buffer): void {
    const q = url.searchParams;
    if (data.length > 0) {
      const ct = req.headers['content-type'];
      if (ct === undefined) return this.sendJson(req, res, entry, 406, { error: 'Content-Type header is missing', status: 406 });
      const mediaType = (ct.split(';')[0] ?? '').trim().toLowerCase();
      if (mediaType !== 'application/json' && mediaType !== 'application/x-ndjson') {
        return this.sendJson(req, res, entry, 406, { error: `Content-Type header [${ct}] is not supported`, status: 406 });
      }
    }
    if (!this.withinRate()) {
      entry.fault = 'rate429';
      return this.sendWhole429(req, res, entry, url, pathIndex, data.length);
    }
    let items: BulkItem[];
    let refresh: 'none' | 'immediate' | 'wait_for';
    try {
      const wait = q.get('wait_for_active_shards');
      if (wait !== null && wait !== 'all') {
        if (!/^[+-]?\d+$/.test(wait)) throw illegalArgument(`cannot parse ActiveShardCount[${wait}]`);
        if (Number(wait) < 0) throw illegalArgument('shard count cannot be a negative value');
      }
      const ra = q.get('require_alias');
      if (ra !== null && ra !== '' && ra !== 'true' && ra !== 'false') throw illegalArgument(`Failed to parse value [${ra}] as only [true] or [false] are allowed.`);
      const timeout = q.get('timeout');
      if (timeout !== null && !/^(-1|0|\d+(\.\d+)?(nanos|micros|ms|s|m|h|d))$/.test(timeout)) {
        throw new RequestError(400, { type: 'parse_exception', reason: `failed to parse setting [timeout] with value [${timeout}] as a time value: unit is missing or unrecognized` });
      }
      const r = q.get('refresh');
      if (r === null || r === 'false') refresh = 'none';
      else if (r === '' || r === 'true') refresh = 'immediate';
      else if (r === 'wait_for') refresh = 'wait_for';
      else throw illegalArgument(`Unknown value for refresh: [${r}].`);
      if (data.length === 0) throw new RequestError(400, { type: 'parse_exception', reason: 'request body is required' });
      items = parseBulk(new TextDecoder().decode(data), {
        index: pathIndex ?? q.get('index') ?? undefined,
        pipeline: q.get('pipeline') ?? undefined,
        requireAlias: ra === 'true' ? true : ra === 'false' ? false : undefined,
      });
      const unknown = unrecognizedParams(url.pathname, q.keys(), [...BULK_PARAMS, ...GLOBAL_PARAMS]);
      if (unknown) throw illegalArgument(unknown);
      const problems = validateBulk(items);
      if (problems.length > 0) {
        throw new RequestError(400, { type: 'action_request_validation_exception', reason: `Validation Failed: ${problems.map((p, i) => `${i + 1}: ${p};`).join('')}` });
      }
    } catch (e) {
      if (e instanceof RequestError) return this.sendError(req, res, entry, e.status, e.body, url);
      if (e instanceof JsonSyntaxError) return this.sendError(req, res, entry, 400, { type: 'json_parse_exception', reason: e.message }, url);
      throw e;
    }
    entry.docs = items.length;
    if (items[0]?.id !== undefined) entry.firstId = items[0].id;

    if (this.random.chance('whole429', this.faults.whole429Ratio)) {
      entry.fault = 'whole429';
      return this.sendWhole429(req, res, entry, url, items[0]?.index, data.length);
    }
    if (this.random.chance('whole503', this.faults.whole503Ratio)) {
      entry.fault = 'whole503';
      return this.sendError(req, res, entry, 503, { type: 'cluster_block_exception', reason: 'blocked by: [SERVICE_UNAVAILABLE/2/no cluster-manager];' }, url, this.retryAfter());
    }

    const started = performance.now();
    let ingestMs: number | undefined;
    let rejected = 0;
    const errorTrace = q.get('error_trace') === 'true';
    const results: Array<Record<string, unknown>> = [];
    let errors = false;
    for (const item of items) {
      let result: Record<string, unknown>;
      try {
        const out = this.executeItem(item, refresh);
        if (out.ingestMs !== undefined) ingestMs = (ingestMs ?? 0) + out.ingestMs;
        result = out.result;
      } catch (e) {
        if (!(e instanceof ItemError)) throw e;
        errors = true;
        // OpenSearch reports the pipelines' time even for an item that failed after them.
        if (e.ingestMs !== undefined) ingestMs = (ingestMs ?? 0) + e.ingestMs;
        if (e.body.type === 'rejected_execution_exception') rejected++;
        const error = errorTrace ? { ...e.body, stack_trace: stackTrace(e.body) } : e.body;
        result = { _index: item.index, _id: item.id ?? null, status: e.status, error };
      }
      results.push(itemEntry(item.opType, result));
    }
    if (rejected > 0) {
      entry.fault = 'item429';
      entry.rejected = rejected;
    }
    const took = Math.round(performance.now() - started);
    const response: Record<string, unknown> = { took };
    if (ingestMs !== undefined) response['ingest_took'] = Math.round(ingestMs);
    response['errors'] = errors;
    response['items'] = results;
    const filterPath = q.get('filter_path');
    this.sendJson(req, res, entry, 200, filterPath ? applyFilterPath(response, filterPath) : response, url);
  }

  private executeItem(item: BulkItem, refresh: 'none' | 'immediate' | 'wait_for'): { result: Record<string, unknown>; ingestMs?: number } {
    const timing: { ingestMs?: number } = {};
    try {
      return this.executeItemTimed(item, refresh, timing);
    } catch (e) {
      if (e instanceof ItemError && timing.ingestMs !== undefined) e.ingestMs = timing.ingestMs;
      throw e;
    }
  }

  private executeItemTimed(item: BulkItem, refresh: 'none' | 'immediate' | 'wait_for', timing: { ingestMs?: number }): { result: Record<string, unknown>; ingestMs?: number } {
    const indexName = item.index ?? '';
    let doc: JObj | undefined;
    let parser: JsonPull | undefined;
    /** Set when the source line fits the mapping as it is: stored as its text, no tree built. */
    let fastText: string | undefined;
    let ingestMs: number | undefined;

    // 1. Ingest pipelines (coordinating node, before the index is resolved or created): the
    // request's pipeline or else the index's default_pipeline (from its template if it does not
    // exist yet), then its final_pipeline.
    const pipelineIds = item.action === 'delete' || item.action === 'update' ? [] : this.pipelineIdsFor(item, indexName);
    if (pipelineIds.length > 0) {
      const t0 = performance.now();
      for (const id of pipelineIds) if (!this.pipelines.has(id)) throw new ItemError(400, { type: 'illegal_argument_exception', reason: `pipeline with id [${id}] does not exist` });
      try {
        ({ doc, parser } = parseSource(item.source ?? ''));
      } catch (e) {
        if (!(e instanceof ItemError)) throw e;
        const cause = e.body.caused_by ?? { type: 'not_x_content_exception', reason: 'Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes' };
        throw new ItemError(400, { type: 'parse_exception', reason: 'Failed to parse content to map', caused_by: cause });
      }
      // A changed tree no longer matches the text's positions.
      if (this.runPipelines(pipelineIds, doc)) parser = undefined;
      ingestMs = performance.now() - t0;
      timing.ingestMs = ingestMs;
    }

    // 2. Index resolution and auto-creation.
    const invalid = this.indexNameProblem(indexName);
    if (invalid) throw new ItemError(400, { type: 'invalid_index_name_exception', reason: `Invalid index name [${indexName}], ${invalid}`, index_uuid: '_na_', index: indexName });
    if (item.requireAlias && item.action !== 'delete') {
      throw new ItemError(404, {
        type: 'index_not_found_exception',
        reason: `no such index [${indexName}] and [require_alias] request flag is [true] and [${indexName}] is not an alias`,
        index_uuid: '_na_',
        index: indexName,
      });
    }
    if (item.action === 'delete' && !this.indices.has(indexName)) {
      throw new ItemError(404, { type: 'index_not_found_exception', reason: `no such index [${indexName}]`, 'resource.type': 'index_expression', 'resource.id': indexName, index_uuid: '_na_', index: indexName });
    }
    const st = this.ensureIndex(indexName);
    if (item.action !== 'delete' && item.action !== 'update' && item.id === '') {
      throw new ItemError(400, { type: 'illegal_argument_exception', reason: 'if _id is specified it must not be empty' });
    }
    if (item.id === undefined && (item.action === 'index' || item.action === 'create')) item.id = this.randomId('ids', 20);
    const id = item.id ?? '';

    // 3. Write thread pool.
    if (this.random.chance('itemReject', this.faults.itemRejectRatio)) {
      const hex = () => Math.floor(this.random.stream('itemRejectText')() * 0xfffffff).toString(16);
      throw new ItemError(429, {
        type: 'rejected_execution_exception',
        reason:
          `rejected execution of org.opensearch.common.util.concurrent.TimedRunnable@${hex()} on OpenSearchThreadPoolExecutor[name = ${NODE_NAME}/write, ` +
          `queue capacity = 10000, org.opensearch.common.util.concurrent.OpenSearchThreadPoolExecutor@${hex()}[Running, pool size = 8, active threads = 8, ` +
          `queued tasks = 10000, completed tasks = ${1000 + st.seqNo}]]`,
      });
    }

    // 4. Primary shard.
    const shardMeta = { index_uuid: st.uuid, shard: '0', index: st.name };
    const existing = st.docs.get(id);
    const forced = refresh === 'immediate' ? { forced_refresh: true } : {};
    const ok = (result: string, version: number, seqNo: number, status: number) => ({
      _index: st.name,
      _id: id,
      _version: version,
      result,
      ...forced,
      _shards: SHARDS_OK,
      _seq_no: seqNo,
      _primary_term: 1,
      status,
    });

    if (item.action === 'delete') {
      if (item.ifSeqNo !== undefined) this.checkSeqNo(id, existing, item, shardMeta);
      const seqNo = ++st.seqNo;
      if (!existing) {
        const version = (st.deleted.get(id) ?? 0) + 1;
        st.deleted.set(id, version);
        return { result: ok('not_found', version, seqNo, 404) };
      }
      st.docs.delete(id);
      st.deleted.set(id, existing.version + 1);
      return { result: ok('deleted', existing.version + 1, seqNo, 200) };
    }

    let create = item.opType === 'create';
    if (item.action === 'update') {
      const u = item.update;
      if (!u) throw new Error('update without body');
      if (u.script) throw new ItemError(400, { type: 'illegal_argument_exception', reason: 'scripted updates are not supported by the OpenSearch stand-in' });
      if (!existing) {
        const upsert = u.docAsUpsert ? u.doc : u.upsert;
        if (!upsert) throw new ItemError(404, { type: 'document_missing_exception', reason: `[${id}]: document missing`, ...shardMeta });
        doc = upsert;
        create = true;
      } else {
        const base = sourceValue(existing.source);
        const merged = mergeDoc(base, toJs(u.doc ?? { t: 'obj', entries: [], at: 0 }) as Record<string, unknown>);
        if (u.detectNoop && deepEqual(base, merged)) {
          return { result: { _index: st.name, _id: id, _version: existing.version, result: 'noop', _shards: { total: 0, successful: 0, failed: 0 }, _seq_no: existing.seqNo, _primary_term: 1, status: 200 } };
        }
        doc = fromJs(merged) as JObj;
      }
      parser = undefined;
    } else if (!doc) {
      const text = item.source ?? '';
      if (fitsMappingAsIs(st.mapping, text)) fastText = text;
      else ({ doc, parser } = parseSource(text));
    }

    // Mapping first (IndexShard.prepareIndex), so a conflicting document fails with 400 even if it
    // also exists; a successful parse updates the mapping even if the write then conflicts. (A
    // fastText document has been checked already and changes nothing.)
    if (doc) {
      // Check against the live mapping without copying it first: a new field throws
      // NEEDS_MAPPING_UPDATE, and only then is the document parsed again into a copy.
      const ctx: DocContext = { id, parser, changed: false, frozen: true };
      let mapping = st.mapping;
      try {
        parseObjectInto(ctx, mapping, doc, '');
      } catch (e) {
        if (e !== NEEDS_MAPPING_UPDATE) throw e;
        ctx.frozen = false;
        mapping = cloneMapper(st.mapping);
        parseObjectInto(ctx, mapping, doc, '');
      }
      if (ctx.changed) {
        if (countFields(mapping) > TOTAL_FIELDS_LIMIT) throw new ItemError(400, { type: 'illegal_argument_exception', reason: `Limit of total fields [${TOTAL_FIELDS_LIMIT}] has been exceeded` });
        st.mapping = mapping;
      }
    }

    if (create && existing) {
      throw new ItemError(409, { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [${existing.version}])`, ...shardMeta });
    }
    if (item.ifSeqNo !== undefined || item.ifPrimaryTerm !== undefined) this.checkSeqNo(id, existing, item, shardMeta);
    const seqNo = ++st.seqNo;
    const version = existing ? existing.version + 1 : (st.deleted.get(id) ?? 0) + 1;
    st.deleted.delete(id);
    const source = fastText ?? doc;
    if (source === undefined) throw new Error('no source');
    st.docs.set(id, { source, version, seqNo, order: existing?.order ?? this.order++ });
    const result = existing ? ok('updated', version, seqNo, 200) : ok('created', version, seqNo, 201);
    return ingestMs === undefined ? { result } : { result, ingestMs };
  }

  private pipelineIdsFor(item: BulkItem, indexName: string): string[] {
    const settings = this.settingsFor(indexName);
    const ids: string[] = [];
    const first = item.pipeline ?? settings['index.default_pipeline'];
    if (first !== undefined && first !== '_none') ids.push(first);
    const final = settings['index.final_pipeline'];
    if (final !== undefined && final !== '_none') ids.push(final);
    return ids;
  }

  /** Runs a document through pipelines; only `set` processors act (see opensearch-ingest.ts). Whether the document changed. */
  private runPipelines(ids: string[], doc: JObj): boolean {
    let changed = false;
    for (const id of ids) {
      for (const p of this.pipelines.get(id)?.processors ?? []) {
        if (p.kind !== 'set') continue;
        try {
          changed = setProcessor(doc, p, this.now()) || changed;
        } catch (e) {
          if (!(e instanceof ItemError) || !p.ignoreFailure) throw e;
        }
      }
    }
    return changed;
  }

  private checkSeqNo(id: string, existing: DocRecord | undefined, item: BulkItem, meta: Record<string, string>): void {
    const want = `required seqNo [${item.ifSeqNo ?? -2}], primary term [${item.ifPrimaryTerm ?? 0}]`;
    if (!existing) throw new ItemError(409, { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, ${want}. but no document was found`, ...meta });
    if (existing.seqNo !== item.ifSeqNo || item.ifPrimaryTerm !== 1) {
      throw new ItemError(409, { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, ${want}. current document has seqNo [${existing.seqNo}] and primary term [1]`, ...meta });
    }
  }

  // ----- Data Prepper http source

  private handleIngest(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestRecord, data: Buffer): void {
    if (!this.withinRate()) {
      entry.fault = 'rate429';
      return this.send(req, res, entry, 429, DP_TOO_MANY, DP_TEXT_TYPE, this.retryAfter());
    }
    let docs: JObj[] | undefined;
    let parser: JsonPull | undefined;
    try {
      parser = new JsonPull(new TextDecoder().decode(data));
      const tok = parser.next();
      if (tok === 'START_ARRAY') {
        const tree = readTree(parser, tok);
        if (tree.t === 'arr' && tree.items.every((x) => x.t === 'obj')) docs = tree.items as JObj[];
      }
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
    }
    if (docs) {
      entry.docs = docs.length;
      const first = docs[0] ? eventId(docs[0]) : undefined;
      if (first !== undefined) entry.firstId = first;
    }
    if (this.random.chance('ingest429', this.faults.ingest429Ratio)) {
      entry.fault = 'ingest429';
      return this.send(req, res, entry, 429, DP_TOO_MANY, DP_TEXT_TYPE);
    }
    if (this.random.chance('ingest408', this.faults.ingest408Ratio)) {
      entry.fault = 'ingest408';
      return this.send(req, res, entry, 408, 'Pipeline [booth-pipeline] - Buffer does not have enough capacity left for the number of records, timed out waiting for slots.', DP_TEXT_TYPE);
    }
    if (this.random.chance('whole503', this.faults.whole503Ratio)) {
      entry.fault = 'whole503';
      return this.send(req, res, entry, 503, 'Service Unavailable', DP_TEXT_TYPE, this.retryAfter());
    }
    if (!docs) return this.send(req, res, entry, 400, DP_BAD_REQUEST, DP_TEXT_TYPE);

    // All or nothing: route and map every document first, then store.
    const mappings = new Map<string, ObjectMapper>();
    const planned: Array<{ index: string; id: string; doc: JObj }> = [];
    for (const doc of docs) {
      const id = eventId(doc) ?? this.randomId('ids', 20);
      const routed = this.ingestIndex(doc);
      if (typeof routed !== 'string') return this.send(req, res, entry, 400, routed.error, DP_TEXT_TYPE);
      const st = this.indices.get(routed);
      let mapping = mappings.get(routed);
      if (!mapping) {
        mapping = st ? cloneMapper(st.mapping) : this.initialMapping(routed);
        mappings.set(routed, mapping);
      }
      try {
        parseObjectInto({ id, parser, changed: false }, mapping, doc, '');
        if (countFields(mapping) > TOTAL_FIELDS_LIMIT) throw new ItemError(400, { type: 'illegal_argument_exception', reason: `Limit of total fields [${TOTAL_FIELDS_LIMIT}] has been exceeded` });
      } catch (e) {
        if (!(e instanceof ItemError)) throw e;
        return this.send(req, res, entry, 400, `${e.body.type}: ${e.body.reason ?? ''}`, DP_TEXT_TYPE);
      }
      planned.push({ index: routed, id, doc });
    }
    for (const [name, mapping] of mappings) this.ensureIndex(name).mapping = mapping;
    for (const p of planned) {
      const st = this.ensureIndex(p.index);
      const existing = st.docs.get(p.id);
      const version = existing ? existing.version + 1 : (st.deleted.get(p.id) ?? 0) + 1;
      st.deleted.delete(p.id);
      st.docs.set(p.id, { source: p.doc, version, seqNo: ++st.seqNo, order: existing?.order ?? this.order++ });
    }
    this.send(req, res, entry, 200);
  }

  /** `${prefix}-${kind}-YYYY.MM`, as the bulk sink names indices. */
  private ingestIndex(doc: JObj): string | { error: string } {
    const get = (o: JNode | undefined, key: string) => (o?.t === 'obj' ? o.entries.find(([k]) => k === key)?.[1] : undefined);
    const dataset = get(get(doc, 'event'), 'dataset') ?? get(doc, 'event.dataset');
    const ts = get(doc, '@timestamp');
    if (dataset?.t !== 'str' || dataset.v === '') return { error: 'document has no event.dataset to route it to an index' };
    if (ts?.t !== 'str' || Number.isNaN(Date.parse(ts.v))) return { error: 'document has no valid @timestamp to route it to an index' };
    const when = new Date(Date.parse(ts.v));
    const kind = dataset.v.startsWith('booth.') ? dataset.v.slice('booth.'.length) : dataset.v;
    return `${this.indexPrefix}-${kind}-${when.getUTCFullYear()}.${String(when.getUTCMonth() + 1).padStart(2, '0')}`;
  }
}

/** What a RequestRecord keeps of a configuration request's body: its JSON, or its text. */
function recordedBody(data: Buffer): unknown {
  const text = new TextDecoder().decode(data);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// The `set` processor on a parsed source (IngestDocument.setFieldValue, ValueSource templates)

/** `{{name}}` / `{{{name}}}`: `_ingest.timestamp` is the node's time; other names are document fields. Ingest templates are not HTML-escaped. */
function renderIngestTemplate(text: string, doc: JObj, now: Date): string {
  return text.replace(/\{\{\{?\s*([^{}\s]+)\s*\}?\}\}/g, (_m, name: string) => {
    if (name === '_ingest.timestamp') return now.toISOString();
    const n = fieldAt(doc, name.split('.'));
    return n === undefined || n.t === 'null' ? '' : n.t === 'str' ? n.v : preview(n);
  });
}

function fieldAt(doc: JObj, parts: string[]): JNode | undefined {
  let node: JNode | undefined = doc;
  for (const part of parts) node = node?.t === 'obj' ? node.entries.find(([k]) => k === part)?.[1] : undefined;
  return node;
}

function templatedValue(v: unknown, doc: JObj, now: Date): JNode {
  if (typeof v === 'string') return { t: 'str', v: renderIngestTemplate(v, doc, now), at: 0 };
  if (Array.isArray(v)) return { t: 'arr', items: v.map((x) => templatedValue(x, doc, now)), at: 0 };
  if (v !== null && typeof v === 'object') return { t: 'obj', entries: Object.entries(v).map(([k, x]) => [k, templatedValue(x, doc, now)]), at: 0 };
  return fromJs(v);
}

/** Applies one `set` processor; whether it changed the document. Failures are IngestDocument's IllegalArgumentExceptions. */
function setProcessor(doc: JObj, p: SetProcessor, now: Date): boolean {
  const path = renderIngestTemplate(p.field, doc, now);
  const parts = path.split('.');
  const value = templatedValue(p.value, doc, now);
  if (p.ignoreEmptyValue && (value.t === 'null' || (value.t === 'str' && value.v === ''))) return false;
  if (!p.override) {
    const current = fieldAt(doc, parts);
    if (current !== undefined && current.t !== 'null') return false;
  }
  const fail = (reason: string) => new ItemError(400, { type: 'illegal_argument_exception', reason });
  let node: JNode = doc;
  for (const part of parts.slice(0, -1)) {
    if (node.t !== 'obj') throw fail(node.t === 'null' ? `cannot resolve [${part}] from null as part of path [${path}]` : `cannot resolve [${part}] from object of type [${JAVA_TYPES[node.t]}] as part of path [${path}]`);
    const entry: [string, JNode] | undefined = node.entries.find(([k]) => k === part);
    if (entry) node = entry[1];
    else {
      const child: JObj = { t: 'obj', entries: [], at: 0 };
      node.entries.push([part, child]);
      node = child;
    }
  }
  const leaf = parts[parts.length - 1] ?? path;
  if (node.t !== 'obj') throw fail(node.t === 'null' ? `cannot set [${leaf}] with null parent as part of path [${path}]` : `cannot set [${leaf}] with parent object of type [${JAVA_TYPES[node.t]}] as part of path [${path}]`);
  const existing = node.entries.find(([k]) => k === leaf);
  if (existing) existing[1] = value;
  else node.entries.push([leaf, value]);
  return true;
}

function eventId(doc: JObj): string | undefined {
  const ev = doc.entries.find(([k]) => k === 'event')?.[1];
  const id = ev?.t === 'obj' ? ev.entries.find(([k]) => k === 'id')?.[1] : doc.entries.find(([k]) => k === 'event.id')?.[1];
  return id?.t === 'str' ? id.v : id?.t === 'num' ? id.raw : undefined;
}

/** `{ [op]: result }` with a literal per key: a computed key makes V8 build each object the slow way. */
function itemEntry(op: ActionName, result: Record<string, unknown>): Record<string, unknown> {
  switch (op) {
    case 'create':
      return { create: result };
    case 'index':
      return { index: result };
    case 'update':
      return { update: result };
    case 'delete':
      return { delete: result };
  }
}

function validateBulk(items: BulkItem[]): string[] {
  if (items.length === 0) return ['no requests added'];
  const problems: string[] = [];
  for (const it of items) {
    if (it.index === undefined || it.index === '') problems.push('index is missing');
    if ((it.action === 'delete' || it.action === 'update') && (it.id === undefined || it.id === '')) problems.push('id is missing');
    if (it.id !== undefined && Buffer.byteLength(it.id) > MAX_ID_BYTES) {
      problems.push(`id [${it.id}] is too long, must be no longer than ${MAX_ID_BYTES} bytes but was: ${Buffer.byteLength(it.id)}`);
    }
    if (it.action === 'index' && it.versionType === 'internal' && it.version !== undefined) {
      problems.push('internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead');
    }
    if (it.action === 'update' && it.update && !it.update.doc && !it.update.script) problems.push('script or doc is missing');
  }
  return problems;
}

const JAVA_EXCEPTIONS: Record<string, string> = {
  illegal_argument_exception: 'java.lang.IllegalArgumentException',
  json_parse_exception: 'com.fasterxml.jackson.core.JsonParseException',
  number_format_exception: 'java.lang.NumberFormatException',
  illegal_state_exception: 'java.lang.IllegalStateException',
};

function stackTrace(e: ErrorCause): string {
  const cls = JAVA_EXCEPTIONS[e.type] ?? 'org.opensearch.OpenSearchException';
  return `${cls}: ${e.reason ?? ''}\n\tat org.opensearch.action.bulk.TransportBulkAction.doExecute(TransportBulkAction.java:230)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)\n`;
}
