// The OpenSearch / Data Prepper stand-in (test/support/opensearch.ts) behaves like the reference
// (/work/shared/reference/opensearch.md) and its `_bulk` traffic validates against the official
// OpenSearch API specification kept next to the repository (../shared/opensearch-api-spec).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { ndjson, readReply, startStandIn as start, type Reply } from './support/opensearch-requests.ts';
import { API_SPEC_ROOT, apiSpec, needs, openssl } from './support/needs.ts';
import { certificates } from './support/tls.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

interface ErrorBody {
  type: string;
  reason?: string;
  caused_by?: ErrorBody;
  [meta: string]: unknown;
}
interface ItemResult {
  _index: string;
  _id: string | null;
  status: number;
  result?: string;
  _version?: number;
  _seq_no?: number;
  _primary_term?: number;
  error?: ErrorBody;
}
interface BulkBody {
  took: number;
  errors: boolean;
  items: Array<Record<string, ItemResult>>;
}
async function call(s: OpenSearchStandIn, urlPath: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  const res = await fetch(s.url + urlPath, { method: init.method ?? 'POST', headers: init.headers ?? {}, body: init.body === undefined ? undefined : new Uint8Array(Buffer.from(init.body)) });
  return readReply(res);
}

function bulk(s: OpenSearchStandIn, body: string | Buffer, opts: { path?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return call(s, opts.path ?? '/_bulk', { body, headers: { 'content-type': 'application/x-ndjson', ...opts.headers } });
}

function ingest(s: OpenSearchStandIn, body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return call(s, '/log/ingest', { body, headers: { 'content-type': 'application/json', ...headers } });
}

function asBulk(r: Reply): BulkBody {
  assert.equal(r.status, 200, r.text);
  return r.json as BulkBody;
}

function item(b: BulkBody, i: number): ItemResult {
  const entry = b.items[i];
  assert.ok(entry, `item ${i} exists`);
  const [value] = Object.values(entry);
  assert.ok(value);
  return value;
}

function wholeError(r: Reply): ErrorBody {
  return (r.json as { error: ErrorBody }).error;
}

/** Raw node:http POST that reports a socket error instead of a response. */
function rawPost(url: string, urlPath: string, body: string): Promise<{ status?: number; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const req = http.request(url + urlPath, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error }));
    req.end(body);
  });
}

const uploadDoc = (id: string, fields: Record<string, unknown> = {}) => ({
  '@timestamp': '2024-06-03T10:00:00.000Z',
  event: { id, dataset: 'booth.upload' },
  booth: { id: 'FB-1042', country: 'US' },
  upload: { outcome: 'success', bytes: 3456789, duration_ms: 288.1 },
  ...fields,
});

// ---------------------------------------------------------------------------------------------
// A small JSON-schema checker for the subset the OpenAPI spec uses ($ref across files, allOf,
// anyOf, oneOf, type, const, enum, pattern, properties, required, additionalProperties, items,
// minProperties, maxProperties). `strict` also rejects properties a schema does not declare.

const SPEC_DIR = path.join(API_SPEC_ROOT, 'spec');
type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

class Spec {
  private readonly files = new Map<string, unknown>();

  load(file: string): unknown {
    const abs = path.resolve(SPEC_DIR, file);
    let doc = this.files.get(abs);
    if (doc === undefined) {
      doc = parseYaml(fs.readFileSync(abs, 'utf8')) as unknown;
      this.files.set(abs, doc);
    }
    return doc;
  }

  resolve(ref: string, base: string): { schema: unknown; file: string } {
    const [rel = '', pointer = ''] = ref.split('#');
    const file = rel ? path.resolve(path.dirname(path.resolve(SPEC_DIR, base)), rel) : path.resolve(SPEC_DIR, base);
    let node = this.load(file);
    for (const seg of pointer.split('/').filter(Boolean)) {
      const key = decodeURIComponent(seg).replace(/~1/g, '/').replace(/~0/g, '~');
      node = isObject(node) ? node[key] : undefined;
    }
    assert.notEqual(node, undefined, `unresolved $ref ${ref} from ${base}`);
    return { schema: node, file };
  }

  /** Properties declared by a schema and its allOf branches, as of 2.x; null when anything goes. */
  declared(schema: unknown, file: string): Set<string> | null {
    if (!isObject(schema)) return null;
    if (typeof schema['$ref'] === 'string') {
      const r = this.resolve(schema['$ref'], file);
      return this.declared(r.schema, r.file);
    }
    if (schema['additionalProperties'] !== undefined && schema['additionalProperties'] !== false) return null;
    // Properties removed before 3.0 (e.g. `_type`, x-version-removed: '2.0') do not count for a 2.x node.
    const props = isObject(schema['properties']) ? schema['properties'] : {};
    const out = new Set(Object.keys(props).filter((k) => !(isObject(props[k]) && typeof props[k]['x-version-removed'] === 'string' && Number.parseFloat(props[k]['x-version-removed']) <= 2.19)));
    for (const sub of Array.isArray(schema['allOf']) ? schema['allOf'] : []) {
      const d = this.declared(sub, file);
      if (d === null) return null;
      for (const k of d) out.add(k);
    }
    return out;
  }

  check(value: unknown, ref: string, strict = true): string[] {
    const r = this.resolve(ref, 'namespaces/_core.yaml');
    return this.validate(value, r.schema, r.file, '$', strict);
  }

  validate(value: unknown, schemaIn: unknown, file: string, at: string, strict: boolean): string[] {
    if (schemaIn === true || schemaIn === undefined) return [];
    if (schemaIn === false) return [`${at}: no value allowed`];
    assert.ok(isObject(schemaIn), `schema at ${at} is an object`);
    const s: Schema = schemaIn;
    const errs: string[] = [];
    if (typeof s['$ref'] === 'string') {
      const r = this.resolve(s['$ref'], file);
      errs.push(...this.validate(value, r.schema, r.file, at, strict));
    }
    if (Array.isArray(s['allOf'])) for (const sub of s['allOf']) errs.push(...this.validate(value, sub, file, at, false));
    if (Array.isArray(s['anyOf']) && !s['anyOf'].some((sub) => this.validate(value, sub, file, at, strict).length === 0)) errs.push(`${at}: matches none of anyOf`);
    if (Array.isArray(s['oneOf'])) {
      const n = s['oneOf'].filter((sub) => this.validate(value, sub, file, at, strict).length === 0).length;
      if (n !== 1) errs.push(`${at}: matches ${n} of oneOf`);
    }
    const type = s['type'];
    if (type !== undefined) {
      const types = Array.isArray(type) ? type : [type];
      const ok = types.some((t) =>
        t === 'integer' ? Number.isInteger(value) : t === 'number' ? typeof value === 'number' : t === 'object' ? isObject(value) : t === 'array' ? Array.isArray(value) : t === 'null' ? value === null : typeof value === t,
      );
      if (!ok) errs.push(`${at}: expected ${types.join('|')}, got ${JSON.stringify(value)}`);
    }
    if ('const' in s && JSON.stringify(s['const']) !== JSON.stringify(value)) errs.push(`${at}: expected const ${JSON.stringify(s['const'])}`);
    if (Array.isArray(s['enum']) && !s['enum'].some((e) => JSON.stringify(e) === JSON.stringify(value))) errs.push(`${at}: not in enum`);
    if (typeof value === 'string' && typeof s['pattern'] === 'string' && !new RegExp(s['pattern'], 'u').test(value)) errs.push(`${at}: does not match ${s['pattern']}`);
    if (isObject(value)) {
      const props = isObject(s['properties']) ? s['properties'] : {};
      for (const req of Array.isArray(s['required']) ? s['required'] : []) if (!(String(req) in value)) errs.push(`${at}: missing required ${String(req)}`);
      for (const [k, v] of Object.entries(value)) {
        if (k in props) errs.push(...this.validate(v, props[k], file, `${at}.${k}`, strict));
        else if (s['additionalProperties'] !== undefined) errs.push(...this.validate(v, s['additionalProperties'], file, `${at}.${k}`, strict));
      }
      if (strict && s['$ref'] === undefined && (s['properties'] !== undefined || s['allOf'] !== undefined)) {
        const declared = this.declared(s, file);
        if (declared) for (const k of Object.keys(value)) if (!declared.has(k)) errs.push(`${at}.${k}: not declared by the schema`);
      }
      const n = Object.keys(value).length;
      if (typeof s['minProperties'] === 'number' && n < s['minProperties']) errs.push(`${at}: fewer than ${s['minProperties']} properties`);
      if (typeof s['maxProperties'] === 'number' && n > s['maxProperties']) errs.push(`${at}: more than ${s['maxProperties']} properties`);
    }
    if (Array.isArray(value) && s['items'] !== undefined) value.forEach((v, i) => errs.push(...this.validate(v, s['items'], file, `${at}[${i}]`, strict)));
    return errs;
  }
}

const BULK = '../schemas/_core.bulk.yaml#/components/schemas';
const COMMON = '../schemas/_common.yaml#/components/schemas';

// ---------------------------------------------------------------------------------------------
// Root, health, Date

test('GET / and _cluster/health answer like OpenSearch 2.x and match the spec', needs(apiSpec), async (t) => {
  const s = await start(t);
  const spec = new Spec();
  const info = await call(s, '/', { method: 'GET' });
  assert.equal(info.status, 200);
  const body = info.json as { version: { number: string; distribution: string }; tagline: string };
  assert.match(body.version.number, /^2\.\d+\.\d+$/);
  assert.equal(body.version.distribution, 'opensearch');
  assert.equal(body.tagline, 'The OpenSearch Project: https://opensearch.org/');
  assert.deepEqual(spec.check(info.json, '#/components/responses/info@200/content/application~1json/schema'), []);

  const health = await call(s, '/_cluster/health?wait_for_status=yellow&timeout=50s', { method: 'GET' });
  assert.equal(health.status, 200);
  assert.equal((health.json as { status: string }).status, 'green');
  assert.deepEqual(spec.check(health.json, '../schemas/cluster.health.yaml#/components/schemas/HealthResponseBody'), []);

  const head = await fetch(s.url + '/', { method: 'HEAD' });
  assert.equal(head.status, 200);
});

test('GET _cat/health answers one text line like OpenSearch (rsyslog omelasticsearch probes it before resuming)', async (t) => {
  const s = await start(t);
  const res = await fetch(s.url + '/_cat/health');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  // epoch timestamp cluster status node.total node.data shards pri relo init unassign pending_tasks max_task_wait_time active_shards_percent
  assert.match(await res.text(), /^\d{10} \d\d:\d\d:\d\d booth-standin green 1 1 \d+ \d+ 0 0 0 0 - 100\.0%\n$/);
  assert.equal((await fetch(s.url + '/_cat/health', { method: 'HEAD' })).status, 200);
  assert.equal((await fetch(s.url + '/_cat/health', { method: 'POST' })).status, 405);
});

test('every response carries a Date header shifted by clockOffsetMs', async (t) => {
  const s = await start(t);
  const now = Date.now();
  const plain = await call(s, '/', { method: 'GET' });
  assert.ok(Math.abs(Date.parse(plain.headers.get('date') ?? '') - now) < 3000);
  s.clockOffsetMs = -3 * 3600_000;
  const skewed = await bulk(s, 'no newline');
  assert.equal(skewed.status, 400);
  assert.ok(Math.abs(Date.parse(skewed.headers.get('date') ?? '') - (now - 3 * 3600_000)) < 3000);
});

// ---------------------------------------------------------------------------------------------
// _bulk item results

test('create answers 201 created, then 409 version_conflict_engine_exception with the exact reason', async (t) => {
  const s = await start(t);
  const line = ndjson({ create: { _index: 'booth-upload-2024.06', _id: 'ev-1' } }, uploadDoc('ev-1'));
  const first = asBulk(await bulk(s, line));
  assert.equal(first.errors, false);
  const created = item(first, 0);
  assert.equal(created.status, 201);
  assert.equal(created.result, 'created');
  assert.equal(created._version, 1);
  assert.equal(created._seq_no, 0);
  assert.equal(created._primary_term, 1);
  assert.ok('create' in (first.items[0] ?? {}));

  const second = asBulk(await bulk(s, line));
  assert.equal(second.errors, true);
  const conflict = item(second, 0);
  assert.equal(conflict.status, 409);
  assert.equal(conflict._id, 'ev-1');
  assert.equal(conflict.error?.type, 'version_conflict_engine_exception');
  assert.equal(conflict.error?.reason, '[ev-1]: version conflict, document already exists (current version [1])');
  assert.equal(conflict.error?.index, 'booth-upload-2024.06');
  assert.equal(conflict.error?.shard, '0');
  assert.match(String(conflict.error?.index_uuid), /^[\w-]{22}$/);
  assert.equal(s.count(), 1);

  const indexed = asBulk(await bulk(s, ndjson({ index: { _index: 'booth-upload-2024.06', _id: 'ev-1' } }, uploadDoc('ev-1'))));
  assert.deepEqual([item(indexed, 0).status, item(indexed, 0).result, item(indexed, 0)._version], [200, 'updated', 2]);
});

test('a type conflict fails only that item with mapper_parsing_exception; the others are stored', async (t) => {
  const s = await start(t);
  const index = 'booth-upload-2024.06';
  asBulk(await bulk(s, ndjson({ create: { _index: index, _id: 'd1' } }, uploadDoc('d1'))));
  assert.equal(s.mapping(index)['upload.bytes'], 'long');
  assert.equal(s.mapping(index)['upload.duration_ms'], 'float');
  assert.equal(s.mapping(index)['@timestamp'], 'date');

  const res = asBulk(
    await bulk(
      s,
      ndjson(
        { create: { _index: index, _id: 'd2' } },
        uploadDoc('d2', { upload: { bytes: 'lots' } }),
        { create: { _index: index, _id: 'd3' } },
        uploadDoc('d3', { upload: { bytes: '42' } }),
        { create: { _index: index, _id: 'd4' } },
        uploadDoc('d4', { booth: { id: { nested: true } } }),
        { create: { _index: index, _id: 'd5' } },
        uploadDoc('d5', { upload: { duration_ms: 'slow' } }),
        { create: { _index: index, _id: 'd6' } },
        uploadDoc('d6', { booth: 'FB-1' }),
        { create: { _index: index, _id: 'd7' } },
        uploadDoc('d7'),
      ),
    ),
  );
  assert.equal(res.errors, true);
  const bad = item(res, 0);
  assert.equal(bad.status, 400);
  assert.equal(bad.error?.type, 'mapper_parsing_exception');
  assert.equal(bad.error?.reason, "failed to parse field [upload.bytes] of type [long] in document with id 'd2'. Preview of field's value: 'lots'");
  assert.deepEqual(bad.error?.caused_by, { type: 'illegal_argument_exception', reason: 'For input string: "lots"' });
  assert.equal(item(res, 1).status, 201, 'a numeric string is coerced');
  const objectInText = item(res, 2);
  assert.equal(objectInText.error?.reason, "failed to parse field [booth.id] of type [text] in document with id 'd4'. Preview of field's value: '{nested=true}'");
  assert.equal(objectInText.error?.caused_by?.type, 'illegal_state_exception');
  assert.match(String(objectInText.error?.caused_by?.reason), /^Can't get text on a START_OBJECT at 1:\d+$/);
  const floatItem = item(res, 3);
  assert.equal(floatItem.error?.reason, "failed to parse field [upload.duration_ms] of type [float] in document with id 'd5'. Preview of field's value: 'slow'");
  assert.deepEqual(floatItem.error?.caused_by, { type: 'number_format_exception', reason: 'For input string: "slow"' });
  assert.equal(item(res, 4).error?.reason, 'object mapping for [booth] tried to parse field [booth] as object, but found a concrete value');
  assert.equal(item(res, 5).status, 201);
  assert.deepEqual([...s.ids()].sort(), ['d1', 'd3', 'd7']);
});

test('a source line that is not JSON fails that item with mapper_parsing_exception', async (t) => {
  const s = await start(t);
  const body = ndjson({ index: { _index: 'x', _id: 'a' } }) + '{"broken": \n' + ndjson({ index: { _index: 'x', _id: 'b' } }, { ok: 1 }, { index: { _index: 'x', _id: 'c' } }, [1, 2]);
  const res = asBulk(await bulk(s, body));
  const broken = item(res, 0);
  assert.equal(broken.status, 400);
  assert.equal(broken.error?.type, 'mapper_parsing_exception');
  assert.equal(broken.error?.reason, 'failed to parse');
  assert.equal(broken.error?.caused_by?.type, 'json_parse_exception');
  assert.equal(item(res, 1).status, 201);
  assert.equal(item(res, 2).error?.reason, 'Malformed content, must start with an object');
  assert.deepEqual([...s.ids()], ['b']);
});

test('delete and update items: deleted / not_found / noop / document_missing_exception', async (t) => {
  const s = await start(t);
  asBulk(await bulk(s, ndjson({ index: { _index: 'i', _id: '1' } }, { a: 1, b: { c: 2 } })));
  const res = asBulk(
    await bulk(
      s,
      ndjson(
        { update: { _index: 'i', _id: '1' } },
        { doc: { b: { d: 3 } } },
        { update: { _index: 'i', _id: '1' } },
        { doc: { a: 1 } },
        { update: { _index: 'i', _id: 'missing' } },
        { doc: { a: 1 } },
        { update: { _index: 'i', _id: 'up' } },
        { doc: { a: 5 }, doc_as_upsert: true },
        { delete: { _index: 'i', _id: '1' } },
        { delete: { _index: 'i', _id: '1' } },
      ),
    ),
  );
  assert.deepEqual(
    res.items.map((x) => Object.values(x)[0]).map((r) => [r?.status, r?.result ?? r?.error?.type]),
    [
      [200, 'updated'],
      [200, 'noop'],
      [404, 'document_missing_exception'],
      [201, 'created'],
      [200, 'deleted'],
      [404, 'not_found'],
    ],
  );
  assert.equal(item(res, 2).error?.reason, '[missing]: document missing');
  assert.equal(res.errors, true);
  assert.deepEqual(s.documents('i'), [{ index: 'i', id: 'up', source: { a: 5 }, version: 1, seqNo: 2 }]);
});

// ---------------------------------------------------------------------------------------------
// _bulk whole-request errors

test('a body without the final newline is a whole-request 400', async (t) => {
  const s = await start(t);
  const res = await bulk(s, ndjson({ create: { _index: 'x', _id: '1' } }) + '{"a":1}');
  assert.equal(res.status, 400);
  assert.deepEqual(res.json, {
    error: {
      root_cause: [{ type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' }],
      type: 'illegal_argument_exception',
      reason: 'The bulk request must be terminated by a newline [\\n]',
    },
    status: 400,
  });
  assert.equal(s.count(), 0);
});

test('unknown action-line keys and malformed action lines are whole-request 400s with the exact messages', async (t) => {
  const s = await start(t);
  const cases: Array<[string, string]> = [
    [ndjson({ create: { _index: 'x', _id: '1' } }, { a: 1 }, { create: { _index: 'x', _require_alias: true } }, { a: 1 }), 'Action/metadata line [3] contains an unknown parameter [_require_alias]'],
    [ndjson({ index: { _index: 'x', _type: '_doc' } }, { a: 1 }), 'Action/metadata line [1] contains an unknown parameter [_type]'],
    [ndjson({ index: { _index: 'x' } }, { a: 1 }, {}), 'Malformed action/metadata line [3], expected FIELD_NAME but found [END_OBJECT]'],
    [ndjson({ upsert: { _index: 'x' } }, { a: 1 }), 'Malformed action/metadata line [1], expected one of [create, delete, index, update] but found [upsert]'],
    [ndjson(['index']), 'Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]'],
    [ndjson({ index: { _index: ['x'] } }, { a: 1 }), 'Malformed action/metadata line [1], expected a simple value for field [_index] but found [START_ARRAY]'],
    [ndjson({ index: 'x' }, { a: 1 }), 'Malformed action/metadata line [1], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]'],
  ];
  for (const [body, message] of cases) {
    const res = await bulk(s, body);
    assert.equal(res.status, 400, body);
    assert.equal(wholeError(res).type, 'illegal_argument_exception');
    assert.equal(wholeError(res).reason, message);
  }
  const notJson = await bulk(s, '{"index":{"_index":x}}\n{}\n');
  assert.equal(notJson.status, 400);
  assert.equal(wholeError(notJson).type, 'json_parse_exception');
  assert.match(String(wholeError(notJson).reason), /^Unrecognized token 'x': was expecting/);
  // Like BulkRequestParser, nothing after the action's own object is read: a missing outer brace passes.
  assert.equal(asBulk(await bulk(s, '{"index":{"_index":"lenient","_id":"1"}\n{}\n')).errors, false);
  s.reset();
  const noIndex = await bulk(s, ndjson({ index: { _id: '1' } }, {}));
  assert.deepEqual([noIndex.status, wholeError(noIndex).type, wholeError(noIndex).reason], [400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;']);
  const param = await bulk(s, ndjson({ index: { _index: 'x' } }, {}), { path: '/_bulk?pipline=booth-ingest' });
  assert.equal(wholeError(param).reason, 'request [/_bulk] contains unrecognized parameter: [pipline] -> did you mean [pipeline]?');
  const contentType = await bulk(s, ndjson({ index: { _index: 'x' } }, {}), { headers: { 'content-type': 'text/plain' } });
  assert.deepEqual([contentType.status, contentType.json], [406, { error: 'Content-Type header [text/plain] is not supported', status: 406 }]);
  assert.equal(s.count(), 0);
});

test('gzip bodies are accepted; /{index}/_bulk and application/json work too', async (t) => {
  const s = await start(t);
  const body = zlib.gzipSync(ndjson({ create: { _id: 'g1' } }, uploadDoc('g1'), { create: { _id: 'g2' } }, uploadDoc('g2')));
  const res = asBulk(await bulk(s, body, { path: '/booth-upload-2024.06/_bulk', headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' } }));
  assert.equal(res.errors, false);
  assert.deepEqual([...s.ids('booth-upload-*')].sort(), ['g1', 'g2']);
  assert.equal(s.requests.at(-1)?.bytes, zlib.gunzipSync(body).length);
});

test('413 above maxBodyBytes, measured after gunzip, and nothing is stored', async (t) => {
  const s = await start(t, { maxBodyBytes: 4096 });
  const lines: unknown[] = [];
  for (let i = 0; i < 40; i++) lines.push({ create: { _index: 'big', _id: `b${i}` } }, uploadDoc(`b${i}`));
  const raw = ndjson(...lines);
  const gz = zlib.gzipSync(raw);
  assert.ok(gz.length < 4096 && raw.length > 4096);
  const res = await bulk(s, gz, { headers: { 'content-encoding': 'gzip' } });
  assert.equal(res.status, 413);
  assert.equal(res.text, '');
  assert.equal(s.count(), 0);
  assert.equal(asBulk(await bulk(s, ndjson(...lines.slice(0, 4)))).errors, false);
  const ing = await ingest(s, JSON.stringify(Array.from({ length: 30 }, (_, i) => uploadDoc(`x${i}`))));
  assert.equal(ing.status, 413);
});

test('pipeline=booth-ingest stamps event.ingested; an unknown pipeline is an item 400 unless registered', async (t) => {
  const s = await start(t);
  s.clockOffsetMs = 60_000;
  const before = Date.now() + 60_000;
  const res = asBulk(
    await bulk(
      s,
      ndjson({ create: { _index: 'p', _id: '1' } }, uploadDoc('1'), { create: { _index: 'p', _id: '2', pipeline: 'geo-enrich' } }, uploadDoc('2'), { create: { _index: 'p', _id: '3', pipeline: '_none' } }, uploadDoc('3')),
      { path: '/_bulk?pipeline=booth-ingest&refresh=wait_for' },
    ),
  );
  const stamped = s.documents('p').find((d) => d.id === '1');
  const ingested = Date.parse(String((stamped?.source['event'] as Record<string, unknown>)['ingested']));
  assert.ok(ingested >= before - 5 && ingested <= Date.now() + 60_000 + 5, 'event.ingested is the stand-in clock');
  assert.equal(s.mapping('p')['event.ingested'], 'date');
  const missing = item(res, 1);
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.error, { type: 'illegal_argument_exception', reason: 'pipeline with id [geo-enrich] does not exist' });
  assert.equal((s.documents('p').find((d) => d.id === '3')?.source['event'] as Record<string, unknown>)['ingested'], undefined, '_none disables the pipeline');
  assert.equal(typeof (res as unknown as { ingest_took: unknown }).ingest_took, 'number');

  s.pipelines.add('geo-enrich');
  const again = asBulk(await bulk(s, ndjson({ create: { _index: 'p', _id: '2', pipeline: 'geo-enrich' } }, uploadDoc('2'))));
  assert.equal(item(again, 0).status, 201);
});

test('filter_path keeps only the requested fields', async (t) => {
  const s = await start(t);
  await bulk(s, ndjson({ create: { _index: 'f', _id: '1' } }, { n: 1 }));
  const res = await bulk(s, ndjson({ create: { _index: 'f', _id: '1' } }, { n: 1 }, { create: { _index: 'f', _id: '2' } }, { n: 2 }), {
    path: '/_bulk?filter_path=took,errors,items.*.status,items.*.error.type,items.*.error.reason,items.*._id',
  });
  const body = res.json as BulkBody;
  assert.deepEqual(Object.keys(body), ['took', 'errors', 'items']);
  assert.deepEqual(body.items, [
    { create: { _id: '1', status: 409, error: { type: 'version_conflict_engine_exception', reason: '[1]: version conflict, document already exists (current version [1])' } } },
    { create: { _id: '2', status: 201 } },
  ]);
  const errorsOnly = await bulk(s, ndjson({ create: { _index: 'f', _id: '3' } }, { n: 3 }), { path: '/_bulk?filter_path=items.*.error' });
  assert.deepEqual(errorsOnly.json, {});
});

// ---------------------------------------------------------------------------------------------
// Auth

test('with auth: 401 and WWW-Authenticate without valid credentials, 200 with them', async (t) => {
  const s = await start(t, { auth: { username: 'booth', password: 's3cret' } });
  const body = ndjson({ create: { _index: 'a', _id: '1' } }, { n: 1 });
  const anonymous = await bulk(s, body);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.text, 'Unauthorized');
  assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="OpenSearch Security"');
  const wrong = await bulk(s, body, { headers: { authorization: `Basic ${Buffer.from('booth:nope').toString('base64')}` } });
  assert.equal(wrong.status, 401);
  const good = { authorization: `Basic ${Buffer.from('booth:s3cret').toString('base64')}` };
  assert.equal(asBulk(await bulk(s, body, { headers: good })).errors, false);
  assert.equal((await call(s, '/', { method: 'GET', headers: good })).status, 200);
  assert.equal((await ingest(s, '[]')).status, 401);
  s.faults.unauthorized = true;
  const forced = await bulk(s, body, { headers: good });
  assert.equal(forced.status, 401);
  assert.equal(s.requests.at(-1)?.fault, 'unauthorized');
  assert.equal(s.count(), 1);

  const bearer = await start(t, { auth: { bearer: 'tok-123' } });
  const noToken = await call(bearer, '/', { method: 'GET' });
  assert.equal(noToken.status, 401);
  assert.equal(noToken.headers.get('www-authenticate'), 'Bearer realm="OpenSearch Security"');
  assert.equal((await call(bearer, '/', { method: 'GET', headers: { authorization: 'Bearer tok-123' } })).status, 200);
});

// ---------------------------------------------------------------------------------------------
// Faults

test('whole-request 429 and 503 carry Retry-After and store nothing', async (t) => {
  const s = await start(t);
  s.faults = { whole429Ratio: 1, retryAfterSeconds: 7 };
  const body = ndjson({ create: { _index: 'w', _id: '1' } }, { n: 1 });
  const r429 = await bulk(s, body);
  assert.equal(r429.status, 429);
  assert.equal(r429.headers.get('retry-after'), '7');
  assert.equal(wholeError(r429).type, 'rejected_execution_exception');
  assert.match(String(wholeError(r429).reason), /^rejected execution of coordinating operation \[shard_detail=\[w\]\[0\]\[C\]/);
  s.faults = { whole503Ratio: 1, retryAfterSeconds: 3 };
  const r503 = await bulk(s, body);
  assert.equal(r503.status, 503);
  assert.equal(r503.headers.get('retry-after'), '3');
  assert.equal(s.count(), 0);
  assert.deepEqual(
    s.requests.map((r) => [r.status, r.fault, r.docs, r.firstId]),
    [
      [429, 'whole429', 1, '1'],
      [503, 'whole503', 1, '1'],
    ],
  );
  s.faults = {};
  assert.equal(asBulk(await bulk(s, body)).errors, false);
});

test('maxRequestsPerSecond caps _bulk and ingest requests with whole-request 429s (any one second, Retry-After)', async (t) => {
  const s = await start(t);
  s.faults = { maxRequestsPerSecond: 4, retryAfterSeconds: 2 };
  // A burst of 10 at once: 4 fit in the second, the rest are refused.
  const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => bulk(s, ndjson({ create: { _index: 'r', _id: `b${i}` } }, { n: i }))));
  assert.equal(burst.filter((r) => r.status === 200).length, 4);
  const refused = burst.filter((r) => r.status === 429);
  assert.equal(refused.length, 6);
  assert.equal(refused[0]!.headers.get('retry-after'), '2');
  assert.equal(wholeError(refused[0]!).type, 'rejected_execution_exception');
  assert.match(String(wholeError(refused[0]!).reason), /^rejected execution of coordinating operation/);
  assert.equal(s.count('r'), 4);
  assert.equal(s.requests.filter((r) => r.fault === 'rate429').length, 6);
  // Ingest requests share the window: still full 300 ms later, open again once the burst is a second old.
  await new Promise((r) => setTimeout(r, 300));
  const early = await ingest(s, JSON.stringify([uploadDoc('i-early')]));
  assert.equal(early.status, 429);
  assert.equal(early.headers.get('retry-after'), '2');
  await new Promise((r) => setTimeout(r, 800));
  const ingests = await Promise.all(Array.from({ length: 5 }, (_, i) => ingest(s, JSON.stringify([uploadDoc(`i${i}`)]))));
  assert.deepEqual(ingests.map((r) => r.status).sort(), [200, 200, 200, 200, 429]);
  // Paced just under the cap (one request every 300 ms: at most 4 in any second), every request is taken.
  await new Promise((r) => setTimeout(r, 1050));
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await bulk(s, ndjson({ create: { _index: 'r', _id: `p${i}` } }, { n: i }))).status, 200);
  }
  // Below one request a second: one per 1/rate seconds.
  s.faults = { maxRequestsPerSecond: 0.5 };
  await new Promise((r) => setTimeout(r, 2100));
  assert.deepEqual((await Promise.all([0, 1].map((i) => bulk(s, ndjson({ create: { _index: 'r', _id: `h${i}` } }, { n: i }))))).map((r) => r.status).sort(), [200, 429]);
  s.faults = {};
  assert.equal((await Promise.all(Array.from({ length: 10 }, (_, i) => bulk(s, ndjson({ create: { _index: 'r', _id: `u${i}` } }, { n: i }))))).filter((r) => r.status === 200).length, 10);
});

test('itemRejectRatio 0.5 rejects about half the items with 429, stores the rest, reproducibly', async (t) => {
  const run = async (seed: number) => {
    const s = await start(t, { seed });
    s.faults.itemRejectRatio = 0.5;
    const lines: unknown[] = [];
    for (let i = 0; i < 200; i++) lines.push({ create: { _index: 'r', _id: `r${i}` } }, { i });
    const res = asBulk(await bulk(s, ndjson(...lines)));
    const rejected = res.items.map((x) => Object.values(x)[0]).filter((r) => r?.status === 429);
    for (const r of rejected) {
      assert.equal(r?.error?.type, 'rejected_execution_exception');
      assert.match(String(r?.error?.reason), /^rejected execution of .* on OpenSearchThreadPoolExecutor\[name = .*\/write, queue capacity = \d+/);
    }
    assert.ok(rejected.length > 60 && rejected.length < 140, `${rejected.length} of 200 rejected`);
    assert.equal(s.count(), 200 - rejected.length);
    assert.equal(s.requests[0]?.fault, 'item429');
    assert.equal(s.requests[0]?.rejected, rejected.length);
    for (const r of rejected) assert.ok(!s.ids().has(String(r?._id)));
    return rejected.map((r) => r?._id).join(',');
  };
  assert.equal(await run(42), await run(42), 'same seed, same rejections');
});

test('resets destroy the socket without an answer, before or after the body, and store nothing', async (t) => {
  const s = await start(t, { seed: 7 });
  s.faults.resetRatio = 1;
  const body = ndjson({ create: { _index: 'z', _id: '1' } }, { n: 1 });
  for (let i = 0; i < 8; i++) {
    const r = await rawPost(s.url, '/_bulk', body);
    assert.ok(r.error, 'the client sees a socket error');
    assert.match(String(r.error.code ?? r.error.message), /ECONNRESET|EPIPE|socket hang up/);
  }
  const faults = new Set(s.requests.map((r) => r.fault));
  assert.deepEqual([...faults].sort(), ['reset-after-body', 'reset-before-body']);
  assert.ok(s.requests.every((r) => r.status === 0));
  assert.equal(s.count(), 0);
  s.faults.resetRatio = 0;
  assert.equal((await rawPost(s.url, '/_bulk', body)).status, 200);
});

test('down refuses connections; latencyMs delays answers', async (t) => {
  const s = await start(t);
  s.faults.down = true;
  await assert.rejects(fetch(s.url + '/', { method: 'POST' }));
  s.faults.down = false;
  s.faults.latencyMs = 150;
  const t0 = performance.now();
  assert.equal((await call(s, '/', { method: 'GET' })).status, 200);
  assert.ok(performance.now() - t0 >= 140);
});

// ---------------------------------------------------------------------------------------------
// Data Prepper http source

test('ingest endpoint: 200 with an empty body, dedup by event.id into monthly indices, 400 on a poison batch', async (t) => {
  const s = await start(t);
  const docs = [uploadDoc('e1'), uploadDoc('e2'), { ...uploadDoc('e3'), '@timestamp': '2024-07-01T00:00:00Z', event: { id: 'e3', dataset: 'booth.network' } }];
  const ok = await ingest(s, JSON.stringify(docs));
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '');
  const again = await ingest(s, zlib.gzipSync(JSON.stringify(docs.slice(0, 2))), { 'content-encoding': 'gzip' });
  assert.equal(again.status, 200);
  assert.equal(s.count(), 3);
  assert.deepEqual(s.indexNames(), ['booth-network-2024.07', 'booth-upload-2024.06']);
  assert.deepEqual([...s.ids()].sort(), ['e1', 'e2', 'e3']);
  assert.deepEqual(
    s.requests.map((r) => [r.path, r.status, r.docs, r.firstId]),
    [
      ['/log/ingest', 200, 3, 'e1'],
      ['/log/ingest', 200, 2, 'e1'],
    ],
  );

  const poison = await ingest(s, JSON.stringify([uploadDoc('e4'), uploadDoc('e5', { upload: { bytes: 'many' } }), uploadDoc('e6')]));
  assert.equal(poison.status, 400);
  assert.match(poison.text, /failed to parse field \[upload\.bytes\] of type \[long\] in document with id 'e5'/);
  assert.ok(!s.ids().has('e4') && !s.ids().has('e6'), 'a rejected batch stores nothing');
  assert.equal((await ingest(s, JSON.stringify([uploadDoc('e4'), uploadDoc('e6')]))).status, 200);

  for (const bad of ['{"a":1}', '[1,2]', 'not json', '']) {
    const r = await ingest(s, bad);
    assert.deepEqual([r.status, r.text], [400, 'Bad request data format. Needs to be json array.'], bad);
  }
  s.faults = { ingest429Ratio: 1 };
  const busy = await ingest(s, JSON.stringify([uploadDoc('e9')]));
  assert.deepEqual([busy.status, busy.text], [429, 'The number of pending requests in the work queue reaches max_pending_requests:1024. Please retry later']);
  s.faults = { ingest408Ratio: 1 };
  assert.equal((await ingest(s, JSON.stringify([uploadDoc('e9')]))).status, 408);
  assert.ok(!s.ids().has('e9'));
});

// ---------------------------------------------------------------------------------------------
// Against the official API specification

test('_bulk action lines, success and error responses validate against the OpenSearch API spec', needs(apiSpec), async (t) => {
  const s = await start(t);
  const spec = new Spec();
  const sent: unknown[] = [];
  const send = async (lines: unknown[], urlPath = '/_bulk') => {
    sent.push(...lines);
    return bulk(s, ndjson(...lines), { path: urlPath });
  };
  const checkBulk = (r: Reply) => {
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(spec.check(r.json, '#/components/responses/bulk@200/content/application~1json/schema'), []);
    for (const entry of (r.json as BulkBody).items) {
      const [value] = Object.values(entry);
      assert.deepEqual(spec.check(value, `${BULK}/ResponseItem`), []);
      if (value?.error) assert.deepEqual(spec.check(value.error, `${COMMON}/ErrorCause`), []);
    }
  };

  // Successes: created, updated, deleted, not_found, noop, upsert, forced_refresh.
  checkBulk(
    await send(
      [
        { create: { _index: 'spec', _id: 'a' } },
        { n: 1, s: 'x' },
        { index: { _index: 'spec', _id: 'b', routing: 'r1' } },
        { n: 2 },
        { index: { _index: 'spec', _id: 'b', op_type: 'index' } },
        { n: 3 },
        { update: { _index: 'spec', _id: 'a', retry_on_conflict: 3 } },
        { doc: { s: 'y' } },
        { update: { _index: 'spec', _id: 'a' } },
        { doc: { s: 'y' } },
        { update: { _index: 'spec', _id: 'c' } },
        { doc: { n: 9 }, doc_as_upsert: true },
        { delete: { _index: 'spec', _id: 'b' } },
        { delete: { _index: 'spec', _id: 'b' } },
        { create: { _index: 'spec' } },
        { n: 4 },
      ],
      '/_bulk?refresh=true',
    ),
  );
  // Item errors: 409, 400 mapping, 400 pipeline, 400 index name, 404 missing document, 409 seq_no.
  checkBulk(
    await send([
      { create: { _index: 'spec', _id: 'a' } },
      { n: 1 },
      { index: { _index: 'spec', _id: 'd' } },
      { n: 'NaN?' },
      { create: { _index: 'spec', _id: 'e', pipeline: 'nope' } },
      { n: 1 },
      { create: { _index: 'Spec', _id: 'f' } },
      { n: 1 },
      { update: { _index: 'spec', _id: 'zz' } },
      { doc: { n: 1 } },
      { index: { _index: 'spec', _id: 'a', if_seq_no: 99, if_primary_term: 1 } },
      { n: 1 },
    ]),
  );
  s.faults.itemRejectRatio = 1;
  checkBulk(await send([{ create: { _index: 'spec', _id: 'g' } }, { n: 1 }], '/_bulk?error_trace=true'));
  s.faults.itemRejectRatio = 0;

  // Every action line we sent is a valid OperationContainer.
  const actionLines = sent.filter((l) => isObject(l) && Object.keys(l).length === 1 && ['index', 'create', 'update', 'delete'].includes(Object.keys(l)[0] ?? ''));
  assert.equal(actionLines.length, 16);
  for (const l of actionLines) assert.deepEqual(spec.check(l, `${BULK}/OperationContainer`), [], JSON.stringify(l));

  // Every key the spec declares for an operation is accepted by the parser; removed ones are not.
  const keys = new Set<string>();
  for (const op of ['IndexOperation', 'CreateOperation', 'UpdateOperation', 'DeleteOperation']) {
    const r = spec.resolve(`${BULK}/${op}`, 'namespaces/_core.yaml');
    for (const k of spec.declared(r.schema, r.file) ?? []) keys.add(k);
  }
  assert.ok(keys.has('require_alias') && keys.has('if_seq_no') && keys.has('pipeline'));
  const sample: Record<string, unknown> = { _index: 'spec-keys', _id: 'k', routing: 'r', pipeline: 'booth-ingest', require_alias: false, op_type: 'create', version_type: 'internal', version: 1, if_seq_no: 1, if_primary_term: 1, retry_on_conflict: 1 };
  for (const k of keys) {
    assert.ok(k in sample, `a sample value for ${k}`);
    const r = await bulk(s, ndjson({ index: { _index: 'spec-keys', [k]: sample[k] } }, { n: 1 }));
    assert.doesNotMatch(r.text, /unknown parameter/, `${k} is accepted`);
  }
  for (const k of ['_type', '_require_alias', '_routing', '_version']) {
    const r = await bulk(s, ndjson({ index: { _index: 'spec-keys', [k]: 'x' } }, { n: 1 }));
    assert.equal(wholeError(r).reason, `Action/metadata line [1] contains an unknown parameter [${k}]`);
  }

  // Whole-request errors are ErrorResponseBase.
  const whole: Reply[] = [
    await bulk(s, ndjson({ index: { _index: 'x' } }) + '{}'),
    await bulk(s, ndjson({ index: { _index: 'x', _bogus: 1 } }, {})),
    await bulk(s, '{"index":\n'),
    await bulk(s, ndjson({ delete: { _index: 'x' } })),
  ];
  s.faults = { whole429Ratio: 1 };
  whole.push(await bulk(s, ndjson({ index: { _index: 'x' } }, {})));
  s.faults = { whole503Ratio: 1 };
  whole.push(await bulk(s, ndjson({ index: { _index: 'x' } }, {})));
  for (const r of whole) {
    assert.ok(r.status >= 400);
    assert.deepEqual(spec.check(r.json, `${COMMON}/ErrorResponseBase`), [], r.text);
    assert.equal((r.json as { status: number }).status, r.status);
  }
});

// ---------------------------------------------------------------------------------------------
// TLS

test('serves HTTPS with the given key and certificate', needs(openssl), async (t) => {
  const pems = certificates();
  const s = await start(t, { tls: { key: pems.serverKey, cert: pems.serverCert } });
  assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const body = ndjson({ create: { _index: 'tls', _id: '1' } }, { n: 1 });
  const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = https.request(`${s.url}/_bulk`, { method: 'POST', ca: pems.ca, agent: false, headers: { 'content-type': 'application/x-ndjson' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(s.count('tls'), 1);
});

test('the spec checker rejects bodies that do not conform (so the checks above mean something)', needs(apiSpec), () => {
  const spec = new Spec();
  const good = { took: 1, errors: false, items: [{ create: { _index: 'i', _id: '1', _version: 1, result: 'created', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: 0, _primary_term: 1, status: 201 } }] };
  assert.deepEqual(spec.check(good, `${BULK}/BulkResponse`), []);
  const bad = (mutate: (b: typeof good & Record<string, unknown>) => void) => {
    const b = structuredClone(good) as typeof good & Record<string, unknown>;
    mutate(b);
    return spec.check(b, `${BULK}/BulkResponse`);
  };
  assert.notDeepEqual(bad((b) => delete (b as Record<string, unknown>)['took']), []);
  assert.notDeepEqual(bad((b) => ((b.items[0]!.create as Record<string, unknown>)['status'] = '201')), []);
  assert.notDeepEqual(bad((b) => delete (b.items[0]!.create as Record<string, unknown>)['_index']), []);
  assert.notDeepEqual(bad((b) => ((b.items[0] as Record<string, unknown>)['index'] = b.items[0]!.create)), [], 'one operation per item');
  assert.notDeepEqual(bad((b) => ((b.items[0]!.create as Record<string, unknown>)['_type'] = '_doc')), [], 'strict: undeclared keys');
  assert.notDeepEqual(spec.check({ create: { _index: 'x', _require_alias: true } }, `${BULK}/OperationContainer`), []);
  assert.notDeepEqual(spec.check({ index: { op_type: 'upsert' } }, `${BULK}/OperationContainer`), []);
  assert.notDeepEqual(spec.check({ error: { reason: 'no type' }, status: 400 }, `${COMMON}/ErrorResponseBase`), []);
});
