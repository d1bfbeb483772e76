// Property-based (issue 16): what a broken, buggy or hostile server may answer — any status from 100
// to 599, headers that lie (Retry-After: soon, a Date of the year 9999, Content-Encoding: gzip on
// plain text), bodies truncated, huge, malformed, of the wrong shape or trickled a byte at a time,
// heads cut short, broken chunked encoding, bytes that are not HTTP at all — through the real
// OpenSearch sink and the real upload source, in-process over loopback HTTP to the stand-ins, with a
// real SQLite buffer in a temp dir per run. A run is a generated sequence of such answers, one per
// request in arrival order (a script in the stand-ins' `faults.hostile`, test/support/hostile.ts),
// then a server that behaves. Whatever the sequence:
//  - the agent neither crashes (no uncaught exception, no unhandled rejection) nor logs an error;
//  - OpenSearch: no document becomes a dead letter but one that was sent alone and refused as a
//    whole with 413 (README "Every response is read item by item"; a well-formed item refusal, the
//    other way to a dead letter, is not generated — test/bulk-items.test.ts is the classifier's
//    property), and every other document is stored exactly once once the cluster behaves;
//  - uploads: every file is uploaded and recorded as uploaded, once; every attempt is recorded as
//    what its answer said — an answer whose head came through with a 2xx is a success and the file
//    is not sent again, a refusal (isRefusal: 4xx but 408 and 429) a rejection, anything else a
//    failure — and no upload slot is still held once the server behaves.
// test/bulk-items.test.ts is the property of the item classifier alone; this one is the whole path.
// The two bugs the properties found (a proxy's 400 dead-lettered documents; a 200 whose body then
// broke was recorded as a failure and the photo sent again) each have a test of their own at the
// end of this file, with the counterexample fast-check gave.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import winston from 'winston';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { STATE_KEYS } from '../agent/buffer/state-keys.ts';
import { configSchema } from '../agent/config/schema.ts';
import { ClockSkew } from '../agent/sinks/clock-skew.ts';
import { OpenSearchSink } from '../agent/sinks/opensearch/sink.ts';
import { Recorder } from '../agent/sources/recorder.ts';
import { isRefusal } from '../agent/sources/uploads/facts.ts';
import { UploadSource } from '../agent/sources/uploads/source.ts';
import type { Dataset } from '../shared/documents/schema.ts';
import { agentSinkSettings } from './support/config.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import type { HostileAnswer, HostileRequest } from './support/hostile.ts';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { UploadReceiver } from './support/upload-receiver.ts';

const SEED = 16;
const SINK_RUNS = 60;
const UPLOAD_RUNS = 40;
/**
 * The sink's request timeout and the upload client's idle timeout. The config's least is 1 s; the
 * answers that never end (a trickle, a head alone, a 1xx) each cost one, so they are set shorter on
 * the settings the components are built from — nothing else reads them.
 */
const REQUEST_TIMEOUT_MS = 400;
const IDLE_TIMEOUT_MS = 400;
/** From the start of a run: every document settled, every file uploaded by then (the bad answers take a few seconds at most). */
const SETTLE_MS = 20_000;
const MB = 1024 * 1024;

// ── what the agent must never do, whatever it was answered ───────────────────────────────────

/** Uncaught exceptions and unhandled rejections while a property runs: the agent would have died. */
function watchCrashes(): { crashes: string[]; stop: () => void } {
  const crashes: string[] = [];
  const onCrash = (e: unknown) => crashes.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  return {
    crashes,
    stop: () => {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    },
  };
}

/** A logger that prints nothing and keeps what was logged at level error. */
function errorCollector(errors: string[]): winston.Logger {
  const collect = winston.format((info) => {
    if (info.level === 'error') {
      const e = info['error'];
      errors.push(`${String(info.message)}${e ? `: ${e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(e)}` : ''}`);
    }
    return false;
  });
  return winston.createLogger({ level: 'warn', format: collect(), transports: [new winston.transports.Console()] });
}

async function until(ok: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ── generated answers, shared by both properties ──────────────────────────────────────────────

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** Header values a server that lies might send (Node refuses control characters, so printable only). */
const HEADER_VALUES: Record<string, fc.Arbitrary<string>> = {
  'retry-after': fc.oneof(
    fc.constantFrom('', 'soon', '-1', '0', '0.001', '1e9', '99999999999', 'NaN', 'Infinity', ' 7 ', '3600', '120, 5', 'Wed, 21 Oct 2015 07:28:00 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT'),
    printable,
  ),
  date: fc.oneof(fc.constantFrom('', 'yesterday', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT', 'Sat, 01 Jan 2000 00:00:00 GMT', '0', '-271821-04-20T00:00:00Z'), printable),
  'content-encoding': fc.constantFrom('gzip', 'br', 'deflate', 'zstd', 'compress', 'identity', 'gzip, gzip', 'x-evil', ''),
  'content-type': fc.constantFrom('text/html', 'application/json; charset=utf-16', 'application/x-ndjson', 'image/jpeg', 'multipart/form-data; boundary=', ''),
  connection: fc.constantFrom('close', 'keep-alive', 'Upgrade'),
  'www-authenticate': printable,
  location: printable,
  'x-junk': printable,
};
const anyHeaders = fc
  .uniqueArray(fc.constantFrom(...Object.keys(HEADER_VALUES)), { maxLength: 3 })
  .chain((names) => (names.length === 0 ? fc.constant({}) : fc.record(Object.fromEntries(names.map((n) => [n, HEADER_VALUES[n]!])))))
  .map((h) => h as Record<string, string>);

/** Statuses: mostly those a cluster, a proxy or an upload server really sends, and any from 100 to 599. */
const anyStatus = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(200, 201, 202, 204, 206, 301, 302, 304, 307, 400, 401, 403, 404, 405, 408, 409, 410, 413, 414, 415, 422, 429, 500, 502, 503, 504) },
  { weight: 2, arbitrary: fc.integer({ min: 100, max: 599 }) },
);
/** A status a head can claim and the client takes as the final answer (1xx are generated apart). */
const finalStatus = anyStatus.filter((s) => s >= 200);

const HTML_PAGE = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** Bytes on the socket instead of an answer Node's HTTP writer would produce. */
type RawRecipe =
  /** A head that promises `declared` bytes, then `sent` < `declared` of them. */
  | { raw: 'cut-body'; status: number; declared: number; sent: number; then: 'end' | 'reset' }
  /** A head (Content-Length: 100) and nothing after it. */
  | { raw: 'head-only'; status: number; then: 'end' | 'reset' | 'hang' }
  /** The head cut before its end (`at`: the share of it sent). */
  | { raw: 'cut-head'; status: number; at: number; then: 'end' | 'reset' }
  | { raw: 'bad-chunked'; status: number }
  | { raw: 'two-lengths'; status: number }
  /** A head with one line no HTTP parser takes. */
  | { raw: 'bad-header'; status: number; line: string }
  | { raw: 'not-http'; bytes: string; then: 'end' | 'reset' }
  /** A 1xx head, then nothing: the final answer never comes. */
  | { raw: 'informational'; status: number }
  /** HTTP/1.0 without a length: the body is whatever comes before the connection ends. */
  | { raw: 'until-close'; status: number; body: string };

const BAD_HEADER_LINES = ['Retry-After', 'Bad Name: 1', 'X-Null: a\x00b', ': no-name', 'Content-Length: -1', 'Content-Length: 1x'];

const rawRecipe: fc.Arbitrary<RawRecipe> = fc.oneof(
  fc.record({ raw: fc.constant('cut-body' as const), status: finalStatus, declared: fc.integer({ min: 2, max: 100_000 }), sent: fc.nat(), then: fc.constantFrom('end' as const, 'reset' as const) }).map((r) => ({ ...r, sent: r.sent % r.declared })),
  fc.record({ raw: fc.constant('head-only' as const), status: finalStatus, then: fc.constantFrom('end' as const, 'reset' as const, 'hang' as const) }),
  fc.record({ raw: fc.constant('cut-head' as const), status: finalStatus, at: fc.double({ min: 0, max: 0.999, noNaN: true }), then: fc.constantFrom('end' as const, 'reset' as const) }),
  fc.record({ raw: fc.constant('bad-chunked' as const), status: finalStatus }),
  fc.record({ raw: fc.constant('two-lengths' as const), status: finalStatus }),
  fc.record({ raw: fc.constant('bad-header' as const), status: finalStatus, line: fc.constantFrom(...BAD_HEADER_LINES) }),
  fc.record({ raw: fc.constant('not-http' as const), bytes: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 200 }).filter((s) => !s.startsWith('HTTP/')), then: fc.constantFrom('end' as const, 'reset' as const) }),
  fc.record({ raw: fc.constant('informational' as const), status: fc.constantFrom(100, 102, 103) }),
  fc.record({ raw: fc.constant('until-close' as const), status: finalStatus, body: fc.oneof(printable, fc.constant(HTML_PAGE)) }),
);

function head(status: number, lines: string[], version = '1.1'): string {
  return `HTTP/${version} ${status} Whatever\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

function renderRaw(r: RawRecipe): HostileAnswer {
  switch (r.raw) {
    case 'cut-body':
      return { kind: 'raw', status: r.status, bytes: head(r.status, ['Content-Type: application/json', `Content-Length: ${r.declared}`]) + '{'.padEnd(r.sent, ' ').slice(0, r.sent), then: r.then };
    case 'head-only':
      return { kind: 'raw', status: r.status, bytes: head(r.status, ['Content-Type: application/json', 'Content-Length: 100']), then: r.then };
    case 'cut-head': {
      const whole = head(r.status, ['Content-Type: application/json', 'Content-Length: 2']);
      return { kind: 'raw', status: r.status, bytes: whole.slice(0, Math.floor(r.at * whole.length)), then: r.then };
    }
    case 'bad-chunked':
      return { kind: 'raw', status: r.status, bytes: `${head(r.status, ['Transfer-Encoding: chunked'])}zz\r\n{"items":[]}\r\n0\r\n\r\n`, then: 'end' };
    case 'two-lengths':
      return { kind: 'raw', status: r.status, bytes: `${head(r.status, ['Content-Length: 2', 'Content-Length: 3'])}{}`, then: 'end' };
    case 'bad-header':
      return { kind: 'raw', status: r.status, bytes: `${head(r.status, ['Content-Length: 2', r.line])}{}`, then: 'end' };
    case 'not-http':
      return { kind: 'raw', status: 0, bytes: r.bytes, then: r.then };
    case 'informational':
      return { kind: 'raw', status: r.status, bytes: head(r.status, []), then: 'hang' };
    case 'until-close':
      return { kind: 'raw', status: r.status, bytes: head(r.status, ['Content-Type: application/json'], '1.0') + r.body, then: 'end' };
  }
}

/** The status the client reads from a raw answer's head, or undefined when no head comes through. */
function rawHeadStatus(r: RawRecipe): number | undefined {
  switch (r.raw) {
    case 'cut-body':
    case 'head-only':
    case 'bad-chunked':
    case 'until-close':
      return r.status;
    default:
      return undefined;
  }
}

// ── property A: the OpenSearch sink ──────────────────────────────────────────────────────────

/** A genuine-looking item for a document the stand-in did not store: used only where the answer is malformed anyway. */
const created = (id: string, i: number) => ({ create: { _index: 'booth-upload-2026.12', _id: id, _version: 1, result: 'created', status: 201, _seq_no: i, _primary_term: 1 } });

/** Items that cannot be a verdict on the document they stand for (README: a failed request, sent again). */
const MALFORMED_ITEMS = [
  'null',
  '42',
  '"created"',
  '[]',
  '{}',
  '{"create":null}',
  '{"create":"ok"}',
  '{"create":{}}',
  '{"create":{"status":"201"}}',
  '{"create":{"status":201.5}}',
  '{"create":{"status":1e400}}',
  '{"create":{"status":-201}}',
  '{"create":{"status":302}}',
  '{"create":{"status":100}}',
  '{"create":{"status":199}}',
  '{"create":{"status":600}}',
  '{"create":{"_id":"someone-else","status":201}}',
  '{"create":{"status":400}}',
  '{"create":{"status":400,"error":"mapper_parsing_exception"}}',
  '{"create":{"status":404,"error":{"reason":"no type"}}}',
  '{"create":{"status":201,"status":400}}',
  '{"create":{"__proto__":{"status":201}}}',
  '{"explode":{"status":201}}',
  '{"create":{"status":201},"index":{"status":201}}',
];

/** Well-formed items that deliver nothing: retried (429, 5xx) or held (README). */
const NOT_DELIVERED = {
  'item-429': { status: 429, error: { type: 'rejected_execution_exception', reason: 'rejected execution of coordinating operation' } },
  'item-500': { status: 500, error: { type: 'exception', reason: 'boom' } },
  'item-503': { status: 503, error: { type: 'unavailable_shards_exception', reason: 'primary shard is not active' } },
  'hold-404': { status: 404, error: { type: 'index_not_found_exception', reason: 'no such index [booth-upload-2026.12]' } },
  'hold-403': { status: 403, error: { type: 'security_exception', reason: 'no permissions for [indices:data/write/bulk[s]]' } },
  'hold-closed': { status: 400, error: { type: 'index_closed_exception', reason: 'closed' } },
  'hold-block': { status: 429, error: { type: 'cluster_block_exception', reason: 'index [booth-upload-2026.12] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark];' } },
} as const;
type NotDelivered = keyof typeof NOT_DELIVERED;

type SinkBody =
  | { b: 'empty' }
  | { b: 'html' }
  | { b: 'text'; text: string }
  /** Any JSON value: wrong shapes. */
  | { b: 'json'; value: unknown }
  /** A whole answer of `created` items, cut at `at` (its share). */
  | { b: 'truncated'; at: number }
  /** `created` items, `delta` too many or too few. */
  | { b: 'count'; delta: number }
  /** `created` items but one malformed, at `at` (its share of the batch). */
  | { b: 'bad-item'; at: number; item: string }
  /** A well-formed verdict per document, none of them delivered (cycled over the batch). */
  | { b: 'verdicts'; each: NotDelivered[]; withIds: boolean };

type SinkRecipe =
  | { k: 'body'; status: number; body: SinkBody; headers: Record<string, string> }
  | { k: 'huge'; status: number; bytes: number }
  | { k: 'trickle'; status: number; declaredBytes: number; intervalMs: number }
  | { k: 'redirect'; status: 301 | 302 | 307 | 308; location: string }
  | { k: 'raw'; raw: RawRecipe };

const sinkBody: fc.Arbitrary<SinkBody> = fc.oneof(
  fc.constant({ b: 'empty' as const }),
  fc.constant({ b: 'html' as const }),
  fc.record({ b: fc.constant('text' as const), text: fc.string({ maxLength: 300 }) }),
  fc.record({ b: fc.constant('json' as const), value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom({ errors: false }, { items: null }, { took: 1, errors: false, items: {} }, { items: 'created' }, [], null)) }),
  fc.record({ b: fc.constant('truncated' as const), at: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
  fc.record({ b: fc.constant('count' as const), delta: fc.oneof(fc.integer({ min: -6, max: -1 }), fc.integer({ min: 1, max: 3 })) }),
  fc.record({ b: fc.constant('bad-item' as const), at: fc.double({ min: 0, max: 0.999, noNaN: true }), item: fc.constantFrom(...MALFORMED_ITEMS) }),
  fc.record({ b: fc.constant('verdicts' as const), each: fc.array(fc.constantFrom(...(Object.keys(NOT_DELIVERED) as NotDelivered[])), { minLength: 1, maxLength: 4 }), withIds: fc.boolean() }),
);

const sinkRecipe: fc.Arbitrary<SinkRecipe> = fc.oneof(
  // Mostly 200s: only a 2xx answer's body is read item by item.
  { weight: 10, arbitrary: fc.record({ k: fc.constant('body' as const), status: fc.oneof({ weight: 3, arbitrary: fc.constant(200) }, { weight: 2, arbitrary: anyStatus }), body: sinkBody, headers: anyHeaders }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('huge' as const), status: anyStatus.filter((s) => s >= 200), bytes: fc.oneof(fc.integer({ min: 1, max: 256 * 1024 }), fc.integer({ min: 16 * MB - 64 * 1024, max: 20 * MB })) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('trickle' as const), status: anyStatus.filter((s) => s >= 200), declaredBytes: fc.integer({ min: 1, max: 200 }), intervalMs: fc.integer({ min: 10, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('redirect' as const), status: fc.constantFrom(301 as const, 302 as const, 307 as const, 308 as const), location: fc.oneof(fc.constantFrom('/_bulk', 'http://127.0.0.1:1/_bulk', 'https://evil.example/'), printable) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('raw' as const), raw: rawRecipe }) },
);

function renderSinkBody(b: SinkBody, ids: string[]): string {
  switch (b.b) {
    case 'empty':
      return '';
    case 'html':
      return HTML_PAGE;
    case 'text':
      return b.text;
    case 'json':
      return JSON.stringify(b.value) ?? 'undefined';
    case 'truncated': {
      const whole = JSON.stringify({ took: 3, errors: false, items: ids.map(created) });
      return whole.slice(0, Math.floor(b.at * whole.length));
    }
    case 'count': {
      const n = Math.max(0, ids.length + b.delta);
      return JSON.stringify({ took: 3, errors: false, items: Array.from({ length: n }, (_, i) => created(ids[i] ?? `extra-${i}`, i)) });
    }
    case 'bad-item': {
      const bad = Math.floor(b.at * ids.length);
      const items = ids.map((id, i) => (i === bad ? b.item : JSON.stringify(created(id, i))));
      return `{"took":3,"errors":true,"items":[${items.join(',')}]}`;
    }
    case 'verdicts':
      return JSON.stringify({
        took: 3,
        errors: true,
        items: ids.map((id, i) => ({ create: { _index: 'booth-upload-2026.12', ...(b.withIds ? { _id: id } : {}), ...NOT_DELIVERED[b.each[i % b.each.length]!] } })),
      });
  }
}

function renderSink(r: SinkRecipe, ids: string[]): HostileAnswer {
  switch (r.k) {
    case 'body': {
      const { 'content-type': contentType, ...headers } = r.headers;
      return { kind: 'body', status: r.status, body: renderSinkBody(r.body, ids), ...(contentType !== undefined ? { contentType } : {}), headers };
    }
    case 'huge':
      return { kind: 'huge', status: r.status, bytes: r.bytes };
    case 'trickle':
      return { kind: 'trickle', status: r.status, declaredBytes: r.declaredBytes, intervalMs: r.intervalMs };
    case 'redirect':
      return { kind: 'redirect', status: r.status, location: r.location };
    case 'raw':
      return renderRaw(r.raw);
  }
}

/** The `_id`s of a `_bulk` body, in order (every other line is an action). */
function bulkIds(body: Buffer | undefined): string[] {
  const lines = (body ?? Buffer.alloc(0)).toString('utf8').split('\n').filter(Boolean);
  return lines.filter((_, i) => i % 2 === 0).map((l) => (Object.values(JSON.parse(l) as Record<string, { _id: string }>)[0]!._id));
}

/** The status a sink answer's head carries to the client, if one comes through. */
function sinkHeadStatus(r: SinkRecipe): number | undefined {
  if (r.k === 'raw') return rawHeadStatus(r.raw);
  if (r.k === 'body' && 'transfer-encoding' in r.headers) return undefined;
  return r.status;
}

function sinkKind(r: SinkRecipe): string {
  return r.k === 'body' ? `body:${r.body.b}` : r.k === 'raw' ? `raw:${r.raw.raw}` : r.k;
}

function count(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/** The only whole-request answer that may make a lone document a dead letter here (a 400 must be the cluster's own JSON error, which is not generated). */
const DEAD_LETTER_STATUSES = [413];

const DATASETS: Dataset[] = ['booth.upload', 'booth.network', 'booth.booking', 'booth.agent'];

const sinkScenario = fc.record({
  docs: fc.array(fc.constantFrom(...DATASETS), { minLength: 1, maxLength: 6 }),
  /** One heartbeat besides (the buffer keeps only the newest unsent one): it leads every batch. */
  heartbeat: fc.boolean(),
  maxDocs: fc.integer({ min: 1, max: 6 }),
  gzip: fc.boolean(),
  /** null: this request is answered as the stand-in would (a good answer between bad ones). */
  answers: fc.array(fc.option(sinkRecipe, { freq: 6 }), { minLength: 1, maxLength: 10 }),
});
type SinkScenario = typeof sinkScenario extends fc.Arbitrary<infer T> ? T : never;

interface SinkRun {
  /** The dead letters no rule allows: event.id and what the buffer says about it. */
  unexplainedDead: string[];
  /** For each allowed dead letter, the status of the whole answer that refused it alone. */
  deadStatuses: number[];
  requests: number;
  answered: { ids: string[]; recipe: SinkRecipe | undefined }[];
}

async function runSink(s: SinkScenario, errors: string[]): Promise<SinkRun> {
  const standIn = await OpenSearchStandIn.start({ seed: SEED });
  const dir = tmp('booth-agent-responses-');
  const answered: SinkRun['answered'] = [];
  const script = [...s.answers];
  standIn.faults.hostile = (req: HostileRequest) => {
    const ids = bulkIds(req.body);
    const recipe = script.shift() ?? undefined;
    answered.push({ ids, recipe });
    return recipe && renderSink(recipe, ids);
  };
  const settings = agentSinkSettings(standIn.url, {
    opensearch: { compression: s.gzip ? 'gzip' : 'none', batch: { max_docs: s.maxDocs, interval: '10ms' }, retry: { min_delay: '10ms', max_delay: '100ms' }, request_timeout: '1s' },
    heartbeat: { interval: '1s' },
  });
  settings.requestTimeoutMs = REQUEST_TIMEOUT_MS;
  const logger = errorCollector(errors);
  const buffer = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 86_400_000, booth: BOOTH, check: false });
  const docs = [...s.docs, ...(s.heartbeat ? (['booth.heartbeat'] as const) : [])].map((dataset, i) => sampleDoc(dataset, i));
  const ids = docs.map((d) => d.event.id);
  buffer.record(docs);
  const sink = new OpenSearchSink(settings, buffer, logger, new ClockSkew(buffer, BOOTH, logger));
  let stopped = false;
  try {
    sink.start();
    // Everything settled: delivered or a dead letter (unused scripted answers are fine).
    await until(
      () => buffer.stats().queued === 0,
      SETTLE_MS,
      () => `${script.length} scripted answers left, ${buffer.stats().queued} queued, ${standIn.count()} stored; answers so far ${JSON.stringify(answered.map((a) => a.recipe?.k ?? 'normal'))}`,
    );
    await sink.stop(Date.now() + 2000);
    stopped = true;
    const stats = buffer.stats();
    assert.equal(stats.leased, 0, 'nothing left leased');
    assert.equal(buffer.getState(STATE_KEYS.shipAuthProblem) ?? null, null, 'status shows no auth problem once the cluster takes documents');
    const dead = [...buffer.documents({ includeDead: true })].filter((d) => d.dead).map((d) => ({ id: (JSON.parse(d.body) as { event: { id: string } }).event.id, facts: d.deadLetter }));
    // A dead letter is allowed only for a document sent alone and refused as a whole with 413 (and,
    // while the bug above stands, 400).
    const why = (id: string) => answered.find((a) => a.recipe && a.ids.length === 1 && a.ids[0] === id && DEAD_LETTER_STATUSES.includes(sinkHeadStatus(a.recipe) ?? 0));
    const unexplainedDead = dead.filter(({ id }) => !why(id)).map(({ id, facts }) => `${id}: ${JSON.stringify(facts)}`);
    const deadStatuses = dead.map(({ id }) => why(id)?.recipe).flatMap((r) => (r ? [sinkHeadStatus(r)!] : []));
    // Every document not a dead letter is stored, once (the stand-in keeps one per _id; 409s for the rest).
    const stored = standIn.documents().map((d) => (d.source as { event: { id: string } }).event.id);
    const deadIds = new Set(dead.map((d) => d.id));
    for (const id of ids) {
      const times = stored.filter((x) => x === id).length;
      assert.equal(times, deadIds.has(id) ? 0 : 1, `document ${id} stored ${times} times (dead letter: ${deadIds.has(id)})`);
    }
    return { unexplainedDead, deadStatuses, requests: standIn.requests.length, answered };
  } finally {
    if (!stopped) await sink.stop(Date.now() + 2000);
    buffer.close();
    await standIn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test(`property: whatever OpenSearch answers before it behaves, the sink neither crashes nor dead-letters a document for a malformed answer, and stores every document once (${SINK_RUNS} runs, seed ${SEED})`, { timeout: 300_000 }, async (t) => {
  const watch = watchCrashes();
  t.after(() => watch.stop());
  const started = performance.now();
  let answers = 0;
  const deadBy = new Map<string, number>();
  const kinds = new Map<string, number>();
  try {
    await fc.assert(
      fc.asyncProperty(sinkScenario, async (s) => {
        const errors: string[] = [];
        const crashesBefore = watch.crashes.length;
        const run = await runSink(s, errors);
        assert.deepEqual(watch.crashes.slice(crashesBefore), [], 'no uncaught exception or unhandled rejection');
        assert.deepEqual(errors, [], 'nothing logged at level error');
        assert.deepEqual(run.unexplainedDead, [], `no dead letter but a lone document refused as a whole with ${DEAD_LETTER_STATUSES.join(' or ')}`);
        answers += run.answered.filter((a) => a.recipe).length;
        for (const status of run.deadStatuses) count(deadBy, String(status));
        for (const a of run.answered) if (a.recipe) count(kinds, sinkKind(a.recipe));
      }),
      { numRuns: SINK_RUNS, seed: SEED },
    );
    // Not vacuous: bad answers of every kind reached the sink.
    assert.ok(answers >= SINK_RUNS && kinds.size >= 15, `${answers} hostile answers of ${kinds.size} kinds`);
  } finally {
    t.diagnostic(`numRuns ${SINK_RUNS}, seed ${SEED}, ${((performance.now() - started) / 1000).toFixed(1)} s; ${answers} hostile answers given (${[...kinds].sort().map(([k, n]) => `${k} ${n}`).join(', ')}); dead letters, each a lone document refused as a whole: ${[...deadBy].map(([st, n]) => `${n} by a ${st}`).join(', ') || 'none'}`);
  }
});

// ── property B: the upload source ────────────────────────────────────────────────────────────


type UploadRecipe =
  | { k: 'body'; status: number; body: string; headers: Record<string, string> }
  | { k: 'huge'; status: number; bytes: number }
  | { k: 'trickle'; status: number; declaredBytes: number; intervalMs: number }
  | { k: 'redirect'; status: 301 | 302 | 307 | 308; location: string }
  | { k: 'raw'; raw: RawRecipe };

const uploadRecipe: fc.Arbitrary<UploadRecipe> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('body' as const),
      status: anyStatus,
      body: fc.oneof(fc.constant(''), fc.constant(HTML_PAGE), fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? '')),
      headers: anyHeaders,
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('huge' as const), status: finalStatus, bytes: fc.oneof(fc.integer({ min: 1, max: 256 * 1024 }), fc.integer({ min: 1 * MB, max: 20 * MB })) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('trickle' as const), status: finalStatus, declaredBytes: fc.integer({ min: 1, max: 200 }), intervalMs: fc.integer({ min: 10, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('redirect' as const), status: fc.constantFrom(301 as const, 302 as const, 307 as const, 308 as const), location: fc.oneof(fc.constantFrom('/elsewhere', 'http://127.0.0.1:1/x', 'https://evil.example/'), printable) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('raw' as const), raw: rawRecipe }) },
);

function renderUpload(r: UploadRecipe): HostileAnswer {
  switch (r.k) {
    case 'body': {
      const { 'content-type': contentType, ...headers } = r.headers;
      return { kind: 'body', status: r.status, body: r.body, ...(contentType !== undefined ? { contentType } : {}), headers };
    }
    case 'huge':
      return { kind: 'huge', status: r.status, bytes: r.bytes };
    case 'trickle':
      return { kind: 'trickle', status: r.status, declaredBytes: r.declaredBytes, intervalMs: r.intervalMs };
    case 'redirect':
      return { kind: 'redirect', status: r.status, location: r.location };
    case 'raw':
      return renderRaw(r.raw);
  }
}

/** The final status whose head reaches the upload client, or undefined (none, or a 1xx that is not final). */
function uploadHeadStatus(r: UploadRecipe): number | undefined {
  if (r.k === 'raw') return rawHeadStatus(r.raw);
  if (r.k === 'body' && ('transfer-encoding' in r.headers || r.status < 200)) return undefined;
  return r.status;
}

/**
 * What an attempt answered so must be recorded as (undefined: the server behaved, 201): the status is
 * the verdict once the head is through — 2xx a success, a refusal (isRefusal) a rejection; anything
 * else, or no head at all, a failure.
 */
function expectedOutcome(r: UploadRecipe | undefined): 'success' | 'rejected' | 'failure' {
  const status = r ? uploadHeadStatus(r) : 201;
  if (status === undefined) return 'failure';
  if (status >= 200 && status < 300) return 'success';
  return isRefusal(status) ? 'rejected' : 'failure';
}

function uploadKind(r: UploadRecipe): string {
  return r.k === 'raw' ? `raw:${r.raw.raw}` : r.k === 'body' ? `body:${uploadHeadStatus(r) === undefined ? 'no-head' : expectedOutcome(r)}` : r.k;
}

const uploadScenario = fc.record({
  sizes: fc.array(fc.integer({ min: 1, max: 64 * 1024 }), { minLength: 1, maxLength: 3 }),
  concurrency: fc.integer({ min: 1, max: 2 }),
  attempts: fc.integer({ min: 1, max: 4 }),
  /** null: this upload is answered as the receiver would (201). */
  answers: fc.array(fc.option(uploadRecipe, { freq: 6 }), { minLength: 1, maxLength: 10 }),
});
type UploadScenario = typeof uploadScenario extends fc.Arbitrary<infer T> ? T : never;

interface UploadDoc {
  event: { dataset: string };
  booking?: { id: string };
  file?: { name: string };
  upload?: { outcome: string; attempt: number };
  http?: { response: { status_code: number } };
  error?: { type: string; message: string };
}

interface UploadRun {
  problems: string[];
  stopMs: number;
  answered: Map<string, (UploadRecipe | undefined)[]>;
  /** `booking/file` → 2xx answers the receiver gave it (hostile ones included, whether or not the client could read them). */
  storedCounts: Map<string, number>;
}

async function runUploads(s: UploadScenario, errors: string[]): Promise<UploadRun> {
  const receiver = await UploadReceiver.start({ seed: SEED });
  const dir = tmp('booth-agent-responses-');
  const watchDir = path.join(dir, 'outbox');
  const answered = new Map<string, (UploadRecipe | undefined)[]>();
  const script = [...s.answers];
  receiver.faults.hostile = (req: HostileRequest) => {
    const parts = req.path.split('/');
    const rel = `${decodeURIComponent(parts[4] ?? '')}/${decodeURIComponent(parts[6] ?? '')}`;
    const recipe = script.shift() ?? undefined;
    answered.set(rel, [...(answered.get(rel) ?? []), recipe]);
    return recipe && renderUpload(recipe);
  };
  const files = s.sizes.map((size, i) => {
    const rel = `B${(i % 2) + 1}/IMG_${String(i + 1).padStart(4, '0')}.jpg`;
    const bytes = crypto.randomBytes(size);
    fs.mkdirSync(path.join(watchDir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(watchDir, rel), bytes);
    return { rel, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
  });
  const config = configSchema.parse({
    booth: { id: 'FB-1042', country: 'US' },
    state_dir: dir,
    uploads: {
      watch_dir: watchDir,
      url: receiver.urlTemplate,
      concurrency: s.concurrency,
      settle_time: '100ms',
      connect_timeout: '1s',
      retry: { attempts: s.attempts, min_delay: '10ms', max_delay: '100ms' },
    },
  });
  // Shorter than the config allows (see IDLE_TIMEOUT_MS); a refused file is tried again soon.
  const uploads = { ...config.uploads, idle_timeout: IDLE_TIMEOUT_MS, rejected_retry: 150 };
  const logger = errorCollector(errors);
  const buffer = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 86_400_000, booth: BOOTH, check: false });
  const source = new UploadSource({ uploads, boothId: 'FB-1042', secretHeaders: {}, tls: { verify: true } }, new Recorder(buffer, BOOTH, logger), buffer, logger);
  let stopMs = -1;
  try {
    source.start();
    await until(
      () => files.every((f) => buffer.getUpload(f.rel)?.status === 'uploaded'),
      SETTLE_MS,
      () => `upload rows ${JSON.stringify(files.map((f) => buffer.getUpload(f.rel)))}; answers ${JSON.stringify([...answered].map(([f, a]) => [f, a.map((r) => r?.k ?? 'normal')]))}`,
    );
    // With no upload in flight, stop() returns at once; one still in flight holds it until the deadline.
    const stopping = performance.now();
    await source.stop(Date.now() + 5000);
    stopMs = performance.now() - stopping;
    const problems: string[] = [];
    // What `status` shows: every file uploaded, none failing, refused or waiting.
    const facts = source.facts();
    if (facts.pending + facts.failing + facts.rejected !== 0) problems.push(`status shows ${facts.pending} pending, ${facts.failing} failing, ${facts.rejected} rejected`);
    const docs = [...buffer.documents()].map((d) => JSON.parse(d.body) as UploadDoc).filter((d) => d.event.dataset === 'booth.upload' && d.upload?.attempt !== undefined);
    const stored = receiver.stored();
    for (const f of files) {
      const given = answered.get(f.rel) ?? [];
      const recorded = docs.filter((d) => `${d.booking?.id}/${d.file?.name}` === f.rel);
      const said = (r: UploadRecipe | undefined) => (r ? JSON.stringify(r).slice(0, 300) : 'a plain 201');
      if (stored.get(f.rel)?.sha256 !== f.sha256) problems.push(`${f.rel}: the receiver does not have the file`);
      if (recorded.filter((d) => d.upload!.outcome === 'success').length !== 1) problems.push(`${f.rel}: ${recorded.filter((d) => d.upload!.outcome === 'success').length} successes recorded`);
      if (recorded.length !== given.length) {
        problems.push(`${f.rel}: ${given.length} answers, ${recorded.length} attempts recorded (${recorded.map((d) => d.upload!.outcome).join(', ')})`);
        continue;
      }
      let final = -1;
      given.forEach((r, i) => {
        const d = recorded[i]!;
        const expected = expectedOutcome(r);
        if (expected === 'success' && final === -1) final = i;
        if (d.upload!.outcome !== expected) problems.push(`${f.rel} attempt ${i + 1}: recorded ${d.upload!.outcome} (${d.http?.response.status_code ?? d.error?.type} ${d.error?.message ?? ''}), expected ${expected} for ${said(r)}`);
        else if (expected === 'rejected' && d.http?.response.status_code !== uploadHeadStatus(r!)) problems.push(`${f.rel} attempt ${i + 1}: rejected with ${d.http?.response.status_code}, answered ${uploadHeadStatus(r!)}`);
      });
      // A head with a 2xx is the end: the file is never sent again (that would be a duplicate upload).
      if (final !== -1 && final < given.length - 1) problems.push(`${f.rel}: sent again after the answer ${said(given[final])} (attempt ${final + 1} of ${given.length})`);
    }
    return { problems, stopMs, answered, storedCounts: new Map([...stored].map(([k, v]) => [k, v.count])) };
  } finally {
    if (stopMs < 0) await source.stop(Date.now() + 1000);
    buffer.close();
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test(`property: whatever the upload server answers before it behaves, every file is uploaded and recorded once, each attempt as its answer said, and no slot is held (${UPLOAD_RUNS} runs, seed ${SEED})`, { timeout: 300_000 }, async (t) => {
  const watch = watchCrashes();
  t.after(() => watch.stop());
  const started = performance.now();
  let answers = 0;
  let slowestStop = 0;
  const kinds = new Map<string, number>();
  try {
    await fc.assert(
      fc.asyncProperty(uploadScenario, async (s) => {
        const errors: string[] = [];
        const crashesBefore = watch.crashes.length;
        const run = await runUploads(s, errors);
        assert.deepEqual(watch.crashes.slice(crashesBefore), [], 'no uncaught exception or unhandled rejection');
        assert.deepEqual(errors, [], 'nothing logged at level error');
        assert.deepEqual(run.problems, [], 'every file uploaded once, every attempt recorded as its answer said');
        assert.ok(run.stopMs < 1500, `stop() took ${run.stopMs.toFixed(0)} ms: an upload slot was still held`);
        slowestStop = Math.max(slowestStop, run.stopMs);
        for (const given of run.answered.values()) for (const r of given) if (r) (answers++, count(kinds, uploadKind(r)));
      }),
      { numRuns: UPLOAD_RUNS, seed: SEED },
    );
    // Not vacuous: bad answers of every kind reached the uploads, successes and refusals among them.
    assert.ok(answers >= UPLOAD_RUNS && kinds.size >= 12 && (kinds.get('body:rejected') ?? 0) > 0 && (kinds.get('body:success') ?? 0) > 0, `${answers} hostile answers: ${[...kinds.keys()].join(', ')}`);
  } finally {
    t.diagnostic(`numRuns ${UPLOAD_RUNS}, seed ${SEED}, ${((performance.now() - started) / 1000).toFixed(1)} s; ${answers} hostile answers given (${[...kinds].sort().map(([k, n]) => `${k} ${n}`).join(', ')}); slowest stop ${slowestStop.toFixed(0)} ms`);
  }
});

// Found by the sink property (seed 1, 150 runs) and fixed — its minimal counterexample:
//   {"docs":["booth.upload"],"maxDocs":1,"gzip":false,"answers":[{"k":"raw","raw":{"raw":"until-close","status":400,"body":""}}, …]}
// One document, answered once with a 400 and an empty body, became a dead letter: every
// whole-request 400 was halved like a 413, whatever its body. A proxy answering every request 400
// (nginx's "The plain HTTP request was sent to HTTPS port") dead-lettered the whole backlog: 20 of
// 20 documents in 39 requests. Now only a 400 in the cluster's own shape is halved.
test('a proxy\'s 400 HTML page for every _bulk request is a failed request, not a dead letter per document', { timeout: 30_000 }, async (t) => {
  const standIn = await OpenSearchStandIn.start({ seed: SEED });
  t.after(() => standIn.close());
  standIn.faults.hostile = { kind: 'body', status: 400, contentType: 'text/html', body: HTML_PAGE.replaceAll('502 Bad Gateway', '400 The plain HTTP request was sent to HTTPS port') };
  const dir = tmp('booth-agent-responses-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const settings = agentSinkSettings(standIn.url, { opensearch: { batch: { max_docs: 20, interval: '10ms' }, retry: { min_delay: '10ms', max_delay: '100ms' } } });
  const errors: string[] = [];
  const logger = errorCollector(errors);
  const buffer = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 86_400_000, booth: BOOTH, check: false });
  const docs = Array.from({ length: 20 }, (_, i) => sampleDoc('booth.upload', i));
  buffer.record(docs);
  const sink = new OpenSearchSink(settings, buffer, logger, new ClockSkew(buffer, BOOTH, logger));
  t.after(async () => {
    await sink.stop(Date.now() + 2000);
    buffer.close();
  });
  sink.start();
  // Two seconds of the broken proxy: retries every 100 ms at most.
  await new Promise((r) => setTimeout(r, 2000));
  const deadWhileBroken = buffer.stats().deadLetters;
  const requestsWhileBroken = standIn.requests.length;
  standIn.faults.hostile = undefined;
  await until(() => buffer.stats().queued === 0, 10_000, () => `${buffer.stats().queued} queued`);
  const stored = standIn.ids();
  assert.equal(deadWhileBroken, 0, `${deadWhileBroken} of 20 documents became dead letters in ${requestsWhileBroken} requests answered 400 with a proxy's HTML page`);
  assert.equal(docs.filter((d) => stored.has(d.event.id)).length, 20, 'every document stored once the cluster is reachable');
});

// Found by the upload property (seed 16) and fixed — its minimal counterexample:
//   {"sizes":[1],"concurrency":1,"attempts":1,"answers":[{"k":"raw","raw":{"raw":"bad-chunked","status":200}}]}
// The upload server answers `200 OK` and then a body the client cannot read (broken chunked
// encoding; equally a body cut short, a reset after the head, Content-Encoding: gzip on plain
// text): the attempt was recorded as a failure without a status and the photo uploaded again.
// The status is the verdict; a body that breaks after it only ends the answer.
test('an upload answered 200 whose body then breaks is a success, not a failure uploaded again', { timeout: 60_000 }, async () => {
  const errors: string[] = [];
  const run = await runUploads({ sizes: [1000], concurrency: 1, attempts: 3, answers: [{ k: 'raw', raw: { raw: 'bad-chunked', status: 200 } }] }, errors);
  assert.deepEqual(errors, []);
  assert.deepEqual(run.problems, [], 'the 200 is recorded as the success it is');
  assert.equal(run.storedCounts.get('B1/IMG_0001.jpg'), 1, 'the photo reached the upload server once');
});
