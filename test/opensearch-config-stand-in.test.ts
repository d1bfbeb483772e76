// The configuration APIs of the OpenSearch stand-in (test/support/opensearch-config.ts and the modules
// it routes to) answer like OpenSearch 2.x and its plugins, and index templates and ingest pipelines
// act on `_bulk` the way they do on a real node.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { OpenSearchStandIn } from './support/opensearch.ts';
import { ndjson, readReply, startStandIn as start, type Reply } from './support/opensearch-requests.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

async function call(s: OpenSearchStandIn, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const init: RequestInit = { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  return readReply(await fetch(s.url + urlPath, init));
}

async function bulk(s: OpenSearchStandIn, lines: unknown[], query = ''): Promise<any[]> {
  const r = await call(s, 'POST', `/_bulk${query}`, ndjson(...lines), { 'content-type': 'application/x-ndjson' });
  assert.equal(r.status, 200, r.text);
  return (r.json.items as Array<Record<string, any>>).map((i) => Object.values(i)[0]);
}

/** The `error` of an OpenSearch error body, checking the envelope on the way. */
function osError(r: Reply, status: number): any {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.status, status);
  assert.ok(Array.isArray(r.json.error.root_cause) && r.json.error.root_cause.length === 1, 'one root cause');
  return r.json.error;
}

const STAMP = { description: 'stamp', processors: [{ set: { field: 'event.ingested', value: '{{{_ingest.timestamp}}}' } }, { lowercase: { field: 'booth.country' } }] };

const TELEMETRY_TEMPLATE = {
  index_patterns: ['booth-telemetry*'],
  priority: 200,
  version: 3,
  _meta: { owner: 'edge-agent' },
  template: {
    settings: { number_of_shards: 1, 'index.refresh_interval': '5s', index: { default_pipeline: 'stamp' } },
    mappings: {
      dynamic: 'strict',
      properties: {
        '@timestamp': { type: 'date' },
        booth_id: { type: 'keyword' },
        temp_c: { type: 'float' },
        uptime_s: { type: 'integer' },
        online: { type: 'boolean' },
        client_ip: { type: 'ip' },
        location: { type: 'geo_point' },
        labels: { type: 'flat_object' },
        event: { properties: { ingested: { type: 'date' }, id: { type: 'keyword' } } },
        extra: { type: 'object', dynamic: false, properties: { known: { type: 'keyword' } } },
      },
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Ingest pipelines

test('ingest pipelines: PUT acknowledges, GET returns the stored body, a missing one is 404 {}, DELETE, and bodies are recorded', async (t) => {
  const s = await start(t, { boothPipeline: false });
  const missing = await call(s, 'GET', '/_ingest/pipeline/booth-ingest');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, {});

  const put = await call(s, 'PUT', '/_ingest/pipeline/stamp', STAMP);
  assert.equal(put.status, 200);
  assert.deepEqual(put.json, { acknowledged: true });
  assert.deepEqual((await call(s, 'GET', '/_ingest/pipeline/stamp')).json, { stamp: STAMP });
  assert.deepEqual(Object.keys((await call(s, 'GET', '/_ingest/pipeline/st*')).json), ['stamp']);
  assert.deepEqual(s.requests.find((r) => r.method === 'PUT')?.body, STAMP, 'the request log keeps configuration bodies');

  assert.deepEqual((await call(s, 'DELETE', '/_ingest/pipeline/stamp')).json, { acknowledged: true });
  const again = osError(await call(s, 'DELETE', '/_ingest/pipeline/stamp'), 404);
  assert.deepEqual([again.type, again.reason], ['resource_not_found_exception', 'pipeline [stamp] is missing']);
});

test('ingest pipelines: invalid bodies fail with the parse_exception ConfigurationUtils words', async (t) => {
  const s = await start(t);
  const unknown = osError(await call(s, 'PUT', '/_ingest/pipeline/p', { processors: [{ sett: { field: 'a', value: 1 } }] }), 400);
  assert.deepEqual(unknown.root_cause[0], { type: 'parse_exception', reason: 'No processor type exists with name [sett]', processor_type: 'sett' });
  const noProcessors = osError(await call(s, 'PUT', '/_ingest/pipeline/p', { description: 'x' }), 400);
  assert.equal(noProcessors.reason, '[processors] required property is missing');
  const noField = osError(await call(s, 'PUT', '/_ingest/pipeline/p', { processors: [{ set: { value: 1 } }] }), 400);
  assert.deepEqual([noField.reason, noField.processor_type, noField.property_name], ['[field] required property is missing', 'set', 'field']);
  const extra = osError(await call(s, 'PUT', '/_ingest/pipeline/p', { processors: [{ set: { field: 'a', value: 1, bogus: true } }] }), 400);
  assert.equal(extra.reason, "processor [set] doesn't support one or more provided configuration parameters [bogus]");
  assert.equal((await call(s, 'GET', '/_ingest/pipeline/p')).status, 404, 'nothing stored');
  assert.deepEqual(Object.keys((await call(s, 'GET', '/_ingest/pipeline')).json), ['booth-ingest'], 'booth-ingest is there by default');
});

test('a stored pipeline runs in _bulk: ?pipeline= and the template default_pipeline stamp event.ingested; override, ignore_failure, _none', async (t) => {
  const s = await start(t, { boothPipeline: false });
  s.clockOffsetMs = 3_600_000;
  assert.equal((await call(s, 'PUT', '/_ingest/pipeline/stamp', STAMP)).status, 200);
  assert.equal((await call(s, 'PUT', '/_ingest/pipeline/keep', { processors: [{ set: { field: 'tag', value: 'new', override: false } }] })).status, 200);
  assert.equal((await call(s, 'PUT', '/_ingest/pipeline/lenient', { processors: [{ set: { field: 'event.ingested', value: '{{_ingest.timestamp}}', ignore_failure: true } }] })).status, 200);
  assert.equal((await call(s, 'PUT', '/_index_template/telemetry', TELEMETRY_TEMPLATE)).status, 200);

  const before = Date.now() + 3_600_000;
  const items = await bulk(s, [
    { create: { _index: 'booth-telemetry-1', _id: 'a' } }, { '@timestamp': '2024-06-03T10:00:00Z', event: { id: 'a' } },
    { create: { _index: 'booth-telemetry-1', _id: 'b', pipeline: '_none' } }, { '@timestamp': '2024-06-03T10:00:00Z', event: { id: 'b' } },
    { create: { _index: 'plain', _id: 'k1', pipeline: 'keep' } }, { tag: 'old' },
    { create: { _index: 'plain', _id: 'k2', pipeline: 'keep' } }, { n: 1 },
    { create: { _index: 'plain', _id: 'bad', pipeline: 'stamp' } }, { event: 'not an object' },
    { create: { _index: 'plain', _id: 'ok', pipeline: 'lenient' } }, { event: 'not an object' },
  ]);
  assert.deepEqual(items.map((i) => i.status), [201, 201, 201, 201, 400, 201]);
  assert.deepEqual(s.indexSettings('booth-telemetry-1'), { 'index.number_of_shards': '1', 'index.refresh_interval': '5s', 'index.default_pipeline': 'stamp' });
  assert.equal(s.indexTemplate('booth-telemetry-1'), 'telemetry');
  const stamped = s.documents('booth-telemetry-1').find((d) => d.id === 'a')?.source as any;
  const at = Date.parse(stamped.event.ingested);
  assert.ok(at >= before - 5 && at <= Date.now() + 3_600_000 + 5, `event.ingested is the stand-in clock: ${stamped.event.ingested}`);
  assert.equal((s.documents('booth-telemetry-1').find((d) => d.id === 'b')?.source as any).event.ingested, undefined, 'pipeline=_none skips the default pipeline');
  assert.deepEqual(s.documents('plain').filter((d) => d.id.startsWith('k')).map((d) => d.source['tag']), ['old', 'new'], 'override: false keeps a value');
  assert.deepEqual(items[4].error, { type: 'illegal_argument_exception', reason: 'cannot set [ingested] with parent object of type [java.lang.String] as part of path [event.ingested]' });

  // A default_pipeline naming a missing pipeline fails the item like a missing ?pipeline= does.
  await call(s, 'PUT', '/_index_template/broken', { index_patterns: ['broken-*'], template: { settings: { default_pipeline: 'nope' } } });
  const [broken] = await bulk(s, [{ index: { _index: 'broken-1' } }, { a: 1 }]);
  assert.deepEqual([broken.status, broken.error.reason], [400, 'pipeline with id [nope] does not exist']);
});

// ---------------------------------------------------------------------------------------------
// Index templates

test('index templates: PUT, GET with settings as nested strings and composed_of, ?create=true, missing 404s, HEAD, DELETE', async (t) => {
  const s = await start(t);
  assert.deepEqual((await call(s, 'PUT', '/_index_template/telemetry', TELEMETRY_TEMPLATE)).json, { acknowledged: true });
  const got = await call(s, 'GET', '/_index_template/telemetry');
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, {
    index_templates: [
      {
        name: 'telemetry',
        index_template: {
          index_patterns: ['booth-telemetry*'],
          template: { settings: { index: { number_of_shards: '1', refresh_interval: '5s', default_pipeline: 'stamp' } }, mappings: TELEMETRY_TEMPLATE.template.mappings },
          composed_of: [],
          priority: 200,
          version: 3,
          _meta: { owner: 'edge-agent' },
        },
      },
    ],
  });
  assert.notDeepEqual(got.json.index_templates[0]?.index_template, TELEMETRY_TEMPLATE, 'a naive comparison with what was sent fails');

  const dup = osError(await call(s, 'PUT', '/_index_template/telemetry?create=true', TELEMETRY_TEMPLATE), 400);
  assert.deepEqual([dup.type, dup.reason], ['illegal_argument_exception', 'index template [telemetry] already exists']);
  assert.equal((await call(s, 'PUT', '/_index_template/telemetry', { ...TELEMETRY_TEMPLATE, version: 4 })).status, 200, 'without create it replaces');

  const missing = osError(await call(s, 'GET', '/_index_template/nope'), 404);
  assert.deepEqual([missing.type, missing.reason], ['resource_not_found_exception', 'index template matching [nope] not found']);
  assert.deepEqual((await call(s, 'GET', '/_index_template/nope*')).json, { index_templates: [] });
  assert.equal((await call(s, 'HEAD', '/_index_template/telemetry')).status, 200);
  assert.equal((await call(s, 'HEAD', '/_index_template/nope')).status, 404);

  assert.deepEqual((await call(s, 'DELETE', '/_index_template/telemetry')).json, { acknowledged: true });
  const gone = osError(await call(s, 'DELETE', '/_index_template/telemetry'), 404);
  assert.deepEqual([gone.type, gone.reason], ['index_template_missing_exception', 'index_template [telemetry] missing']);
});

test('index templates: overlapping patterns at equal priority are refused; the highest priority template wins at index creation', async (t) => {
  const s = await start(t);
  assert.equal((await call(s, 'PUT', '/_index_template/t1', { index_patterns: ['booth-*'], priority: 10, template: { settings: { 'index.default_pipeline': 'booth-ingest' } } })).status, 200);
  const clash = osError(await call(s, 'PUT', '/_index_template/t2', { index_patterns: ['booth-telemetry*', 'other'], priority: 10 }), 400);
  assert.equal(clash.type, 'illegal_argument_exception');
  assert.equal(
    clash.reason,
    'index template [t2] has index patterns [booth-telemetry*, other] matching patterns from existing templates [t1] with patterns (t1 => [booth-*]) ' +
      'that have the same priority [10], multiple index templates may not match during index creation, please use a different priority',
  );
  assert.equal((await call(s, 'PUT', '/_index_template/t2', { index_patterns: ['booth-telemetry*'], priority: 20, template: { settings: { number_of_replicas: 0 } } })).status, 200);
  assert.equal((await call(s, 'PUT', '/_index_template/t3', { index_patterns: ['other-*'], priority: 10 })).status, 200, 'disjoint patterns may share a priority');

  await bulk(s, [{ index: { _index: 'booth-telemetry-1' } }, { a: 1 }, { index: { _index: 'booth-upload-1' } }, { a: 1 }]);
  assert.equal(s.indexTemplate('booth-telemetry-1'), 't2');
  assert.deepEqual(s.indexSettings('booth-telemetry-1'), { 'index.number_of_replicas': '0' });
  assert.equal(s.indexTemplate('booth-upload-1'), 't1');
  assert.ok(s.documents('booth-upload-1')[0]?.source['event'], 'booth-ingest ran as the default pipeline');
});

test('index templates: invalid bodies and mapping types fail like OpenSearch (flattened is not an OpenSearch type)', async (t) => {
  const s = await start(t);
  const flattened = osError(await call(s, 'PUT', '/_index_template/x', { index_patterns: ['x-*'], template: { mappings: { properties: { labels: { type: 'flattened' } } } } }), 400);
  assert.deepEqual(flattened, {
    root_cause: [{ type: 'illegal_argument_exception', reason: 'composable template [x] template after composition is invalid' }],
    type: 'illegal_argument_exception',
    reason: 'composable template [x] template after composition is invalid',
    caused_by: {
      type: 'mapper_parsing_exception',
      reason: 'Failed to parse mapping [_doc]: No handler for type [flattened] declared on field [labels]',
      caused_by: { type: 'mapper_parsing_exception', reason: 'No handler for type [flattened] declared on field [labels]' },
    },
  });
  const nested = osError(await call(s, 'PUT', '/_index_template/x', { index_patterns: ['x-*'], template: { mappings: { properties: { a: { properties: { b: { type: 'strnig' } } } } } } }), 400);
  assert.equal(nested.caused_by.caused_by.reason, 'No handler for type [strnig] declared on field [b]');
  const root = osError(await call(s, 'PUT', '/_index_template/x', { index_patterns: ['x-*'], template: { mappings: { strict: true } } }), 400);
  assert.equal(root.caused_by.caused_by.reason, 'Root mapping definition has unsupported parameters:  [strict : true]');
  const unknownField = osError(await call(s, 'PUT', '/_index_template/x', '{"index_patterns":["b-*"],"foo":1}'), 400);
  assert.deepEqual([unknownField.type, unknownField.reason], ['x_content_parse_exception', '[1:27] [index_template] unknown field [foo]']);
  assert.equal(osError(await call(s, 'PUT', '/_index_template/x', {}), 400).reason, 'Required [index_patterns]');
  const composed = osError(await call(s, 'PUT', '/_index_template/x', { index_patterns: ['x-*'], composed_of: ['base'] }), 400);
  assert.deepEqual([composed.type, composed.reason], ['invalid_index_template_exception', 'index_template [x] invalid, cause [index template [x] specifies component templates [base] that do not exist]']);
  assert.equal((await call(s, 'GET', '/_index_template/x')).status, 404, 'nothing stored');
});

test('template mappings apply when _bulk creates the index: strict, dynamic false, integer range, flat_object, ip, geo_point', async (t) => {
  const s = await start(t);
  await call(s, 'PUT', '/_ingest/pipeline/stamp', STAMP);
  assert.equal((await call(s, 'PUT', '/_index_template/telemetry', TELEMETRY_TEMPLATE)).status, 200);
  const doc = (id: string, extra: Record<string, unknown> = {}) => ({ '@timestamp': '2024-06-03T10:00:00Z', booth_id: 'FB-1', event: { id }, ...extra });
  const items = await bulk(s, [
    { create: { _index: 'booth-telemetry-a', _id: '1' } }, doc('1', { temp_c: 21.5, uptime_s: 12, online: true, client_ip: '10.0.0.7', location: { lat: -1.29, lon: 36.82 }, labels: { any: { depth: [1, 'two'] } } }),
    { create: { _index: 'booth-telemetry-a', _id: '2' } }, doc('2', { surprise: 1 }),
    { create: { _index: 'booth-telemetry-a', _id: '3' } }, doc('3', { extra: { known: 'k', unmapped: { deep: true } } }),
    { create: { _index: 'booth-telemetry-a', _id: '4' } }, doc('4', { uptime_s: 3_000_000_000 }),
    { create: { _index: 'booth-telemetry-a', _id: '5' } }, doc('5', { uptime_s: '3000000000' }),
    { create: { _index: 'booth-telemetry-a', _id: '6' } }, doc('6', { labels: 'not an object' }),
    { create: { _index: 'booth-telemetry-a', _id: '7' } }, doc('7', { client_ip: '10.0.0.256' }),
    { create: { _index: 'booth-telemetry-a', _id: '8' } }, doc('8', { location: '-1.29,36.82' }),
    { create: { _index: 'booth-telemetry-a', _id: '9' } }, doc('9', { location: [36.82, -91] }),
    { create: { _index: 'booth-telemetry-a', _id: '10' } }, doc('10', { event: { id: '10', nested_new: 1 } }),
  ]);
  assert.deepEqual(items.map((i) => i.status), [201, 400, 201, 400, 400, 400, 400, 201, 400, 400]);
  assert.deepEqual(items[1].error, { type: 'strict_dynamic_mapping_exception', reason: 'mapping set to strict, dynamic introduction of [surprise] within [_doc] is not allowed' });
  assert.deepEqual(items[9].error, { type: 'strict_dynamic_mapping_exception', reason: 'mapping set to strict, dynamic introduction of [nested_new] within [event] is not allowed' });
  assert.equal(items[3].error.reason, "failed to parse field [uptime_s] of type [integer] in document with id '4'. Preview of field's value: '3000000000'");
  assert.equal(items[3].error.caused_by.type, 'input_coercion_exception');
  assert.match(items[3].error.caused_by.reason, /^Numeric value \(3000000000\) out of range of int \(-2147483648 - 2147483647\)/);
  assert.deepEqual(items[4].error.caused_by, { type: 'illegal_argument_exception', reason: 'Value [3000000000] is out of range for an integer' });
  assert.equal(items[5].error.reason, "failed to parse field [labels] of type [flat_object] in document with id '6'. Preview of field's value: 'not an object'");
  assert.equal(items[5].error.caused_by.reason, '[labels] unexpected token [VALUE_STRING] in flat_object field value');
  assert.deepEqual(items[6].error.caused_by, { type: 'illegal_argument_exception', reason: "'10.0.0.256' is not an IP string literal." });
  assert.equal(items[8].error.reason, 'failed to parse field [location] of type [geo_point]');
  assert.equal(items[8].error.caused_by.reason, 'illegal latitude value [-91.0] for location');

  const mapping = s.mapping('booth-telemetry-a');
  assert.equal(mapping['uptime_s'], 'integer');
  assert.equal(mapping['labels'], 'flat_object');
  assert.equal(mapping['labels.any'], undefined, 'nothing is mapped below a flat_object');
  assert.equal(mapping['extra.unmapped'], undefined, 'dynamic: false leaves the field unmapped');
  assert.equal(mapping['event.ingested'], 'date');
  const three = s.documents('booth-telemetry-a').find((d) => d.id === '3')?.source as any;
  assert.deepEqual(three.extra, { known: 'k', unmapped: { deep: true } }, '... but keeps it in _source');
  assert.ok(three.event.ingested, 'the template default_pipeline stamped it');
});

// ---------------------------------------------------------------------------------------------
// ISM

const POLICY = {
  policy: {
    description: 'rollover daily, delete after 30 days',
    default_state: 'hot',
    states: [
      { name: 'hot', actions: [{ rollover: { min_index_age: '1d' } }], transitions: [{ state_name: 'delete', conditions: { min_rollover_age: '30d' } }] },
      { name: 'delete', actions: [{ retry: { count: 5 }, delete: {} }], transitions: [] },
    ],
    ism_template: [{ index_patterns: ['booth-telemetry*'], priority: 100 }],
  },
};

test('ISM policies: 201 with server fields, 409 without if_seq_no, 200 with matching ones, 409 with stale ones, GET and DELETE', async (t) => {
  const s = await start(t);
  const before = osError(await call(s, 'GET', '/_plugins/_ism/policies/retention'), 404);
  assert.deepEqual([before.type, before.reason], ['index_not_found_exception', 'no such index [.opendistro-ism-config]'], 'the config index does not exist before the first policy');

  const created = await call(s, 'PUT', '/_plugins/_ism/policies/retention', POLICY);
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('location'), '/_plugins/_ism/policies/retention');
  const { _id, _version, _primary_term, _seq_no, policy } = created.json;
  assert.deepEqual([_id, _version, _primary_term, _seq_no], ['retention', 1, 1, 0]);
  const p = policy.policy;
  assert.equal(p.policy_id, 'retention');
  assert.equal(p.schema_version, 1);
  assert.equal(p.error_notification, null);
  assert.equal(typeof p.last_updated_time, 'number');
  assert.deepEqual(p.states[0].actions[0], { retry: { count: 3, backoff: 'exponential', delay: '1m' }, rollover: { min_index_age: '1d' } });
  assert.deepEqual(p.states[1].actions[0], { retry: { count: 5, backoff: 'exponential', delay: '1m' }, delete: {} });
  assert.equal(typeof p.ism_template[0].last_updated_time, 'number');

  const conflict = osError(await call(s, 'PUT', '/_plugins/_ism/policies/retention', POLICY), 409);
  assert.equal(conflict.type, 'version_conflict_engine_exception');
  assert.equal(conflict.reason, '[retention]: version conflict, document already exists (current version [1])');
  assert.equal(conflict.index, '.opendistro-ism-config');

  const got = await call(s, 'GET', '/_plugins/_ism/policies/retention');
  assert.equal(got.status, 200);
  assert.deepEqual(Object.keys(got.json), ['_id', '_version', '_seq_no', '_primary_term', 'policy']);
  assert.equal(got.json.policy.description, POLICY.policy.description);
  assert.notEqual(got.json.policy.schema_version, 1, 'the stored policy carries the config index schema version');

  const updated = await call(s, 'PUT', `/_plugins/_ism/policies/retention?if_seq_no=${got.json._seq_no}&if_primary_term=${got.json._primary_term}`, POLICY);
  assert.equal(updated.status, 200);
  assert.deepEqual([updated.json._version, updated.json._seq_no], [2, 1]);
  const stale = osError(await call(s, 'PUT', '/_plugins/_ism/policies/retention?if_seq_no=0&if_primary_term=1', POLICY), 409);
  assert.equal(stale.reason, '[retention]: version conflict, required seqNo [0], primary term [1]. current document has seqNo [1] and primary term [1]');

  const bad = osError(await call(s, 'PUT', '/_plugins/_ism/policies/other', { policy: { ...POLICY.policy, default_state: 'warm' } }), 400);
  assert.deepEqual([bad.type, bad.reason], ['illegal_argument_exception', 'Policy must have a valid default state']);
  assert.equal(osError(await call(s, 'PUT', '/_plugins/_ism/policies/other', { policy: { ...POLICY.policy, owner: 'me' } }), 400).reason, 'Invalid field: [owner] found in Policy.');

  const missing = osError(await call(s, 'GET', '/_plugins/_ism/policies/nope'), 404);
  assert.deepEqual(missing.root_cause, [{ type: 'status_exception', reason: 'Policy not found' }]);
  const deleted = await call(s, 'DELETE', '/_plugins/_ism/policies/retention');
  assert.deepEqual([deleted.status, deleted.json.result, deleted.json._version], [200, 'deleted', 3]);
  const again = await call(s, 'DELETE', '/_plugins/_ism/policies/retention');
  assert.deepEqual([again.status, again.json.result], [404, 'not_found']);
});

// ---------------------------------------------------------------------------------------------
// Security roles

test('security roles: 201 created, 200 updated, GET fills defaults, 404, unknown keys and wrong types are 400 like the security plugin', async (t) => {
  const s = await start(t);
  const role = { description: 'booth agents write telemetry', index_permissions: [{ index_patterns: ['booth-*'], allowed_actions: ['crud', 'create_index'] }], cluster_permissions: ['cluster_monitor'] };
  const created = await call(s, 'PUT', '/_plugins/_security/api/roles/booth_writer', role);
  assert.deepEqual([created.status, created.json], [201, { status: 'CREATED', message: "'booth_writer' created." }]);
  const updated = await call(s, 'PUT', '/_plugins/_security/api/roles/booth_writer', role);
  assert.deepEqual([updated.status, updated.json], [200, { status: 'OK', message: "'booth_writer' updated." }]);
  const got = await call(s, 'GET', '/_plugins/_security/api/roles/booth_writer');
  assert.deepEqual(got.json, {
    booth_writer: {
      reserved: false,
      hidden: false,
      description: 'booth agents write telemetry',
      cluster_permissions: ['cluster_monitor'],
      index_permissions: [{ index_patterns: ['booth-*'], fls: [], masked_fields: [], allowed_actions: ['crud', 'create_index'] }],
      tenant_permissions: [],
      static: false,
    },
  });

  // Writing back what GET returned is refused: reserved/hidden/static are not a client's to set.
  const roundTrip = await call(s, 'PUT', '/_plugins/_security/api/roles/booth_writer', got.json.booth_writer);
  assert.deepEqual([roundTrip.status, roundTrip.json], [400, { status: 'error', reason: 'Invalid configuration', invalid_keys: { keys: 'hidden,reserved,static' } }]);
  const wrongType = await call(s, 'PUT', '/_plugins/_security/api/roles/r', { cluster_permissions: 'cluster_monitor' });
  assert.deepEqual([wrongType.status, wrongType.json], [400, { status: 'error', reason: 'Wrong datatype', cluster_permissions: 'Array expected' }]);
  const empty = await call(s, 'PUT', '/_plugins/_security/api/roles/r', {});
  assert.deepEqual(empty.json, { status: 'error', reason: 'Request body required for this action.' });

  const missing = await call(s, 'GET', '/_plugins/_security/api/roles/nope');
  assert.deepEqual([missing.status, missing.json], [404, { status: 'NOT_FOUND', message: "role 'nope' not found." }]);
  assert.deepEqual((await call(s, 'DELETE', '/_plugins/_security/api/roles/booth_writer')).json, { status: 'OK', message: "'booth_writer' deleted." });
  assert.equal((await call(s, 'DELETE', '/_plugins/_security/api/roles/booth_writer')).status, 404);
});

// ---------------------------------------------------------------------------------------------
// Notifications

test('notification channels: create, duplicate 409, GET shape with defaults, update, type change 409, missing 404, Slack URL check, DELETE', async (t) => {
  const s = await start(t);
  const slack = { config_id: 'booth-alerts-slack', config: { name: 'Booth alerts', config_type: 'slack', slack: { url: 'https://hooks.slack.com/services/T0/B0/X' } } };
  const created = await call(s, 'POST', '/_plugins/_notifications/configs', slack);
  assert.deepEqual([created.status, created.json], [200, { config_id: 'booth-alerts-slack' }]);
  const dup = osError(await call(s, 'POST', '/_plugins/_notifications/configs', slack), 409);
  assert.deepEqual([dup.type, dup.reason], ['status_exception', '[booth-alerts-slack]: version conflict, document already exists (current version [1])']);

  const got = await call(s, 'GET', '/_plugins/_notifications/configs/booth-alerts-slack');
  assert.equal(got.status, 200);
  assert.deepEqual(Object.keys(got.json), ['start_index', 'total_hits', 'total_hit_relation', 'config_list']);
  assert.equal(got.json.total_hits, 1);
  const info = got.json.config_list[0];
  assert.deepEqual(Object.keys(info), ['config_id', 'last_updated_time_ms', 'created_time_ms', 'config']);
  assert.deepEqual(info.config, { name: 'Booth alerts', description: '', config_type: 'slack', is_enabled: true, slack: { url: 'https://hooks.slack.com/services/T0/B0/X' } });

  const renamed = await call(s, 'PUT', '/_plugins/_notifications/configs/booth-alerts-slack', { config: { ...slack.config, name: 'Booth alerts v2' } });
  assert.deepEqual([renamed.status, renamed.json], [200, { config_id: 'booth-alerts-slack' }]);
  const retyped = osError(await call(s, 'PUT', '/_plugins/_notifications/configs/booth-alerts-slack', { config: { name: 'x', config_type: 'webhook', webhook: { url: 'https://example.com/hook' } } }), 409);
  assert.equal(retyped.reason, 'Config type cannot be changed after creation');
  const badUrl = osError(await call(s, 'POST', '/_plugins/_notifications/configs', { config: { name: 'x', config_type: 'slack', slack: { url: 'https://example.com/x' } } }), 400);
  assert.equal(badUrl.reason, 'Wrong Slack url. Should contain "hooks.slack.com/services/" or "hooks.gov-slack.com/services/"');
  const mismatch = osError(await call(s, 'POST', '/_plugins/_notifications/configs', { config: { name: 'x', config_type: 'slack', webhook: { url: 'https://example.com/x' } } }), 400);
  assert.equal(mismatch.reason, "ConfigType: slack and data doesn't match");

  const webhook = await call(s, 'POST', '/_plugins/_notifications/configs', { config: { name: 'hook', config_type: 'webhook', webhook: { url: 'https://example.com/hook' } } });
  assert.match(webhook.json.config_id, /^[A-Za-z0-9_-]{20}$/, 'a generated id');
  const hook = (await call(s, 'GET', `/_plugins/_notifications/configs/${webhook.json.config_id}`)).json.config_list[0].config;
  assert.deepEqual(hook.webhook, { url: 'https://example.com/hook', header_params: {}, method: 'POST' });

  const missing = osError(await call(s, 'GET', '/_plugins/_notifications/configs/nope'), 404);
  assert.deepEqual([missing.type, missing.reason], ['status_exception', 'NotificationConfig nope not found']);
  assert.equal(osError(await call(s, 'PUT', '/_plugins/_notifications/configs/nope', slack), 404).reason, 'NotificationConfig nope not found');
  assert.deepEqual((await call(s, 'DELETE', '/_plugins/_notifications/configs/booth-alerts-slack')).json, { delete_response_list: { 'booth-alerts-slack': 'OK' } });
  assert.equal((await call(s, 'GET', '/_plugins/_notifications/configs')).json.total_hits, 1);
});

// ---------------------------------------------------------------------------------------------
// Alerting

const MONITOR = {
  type: 'monitor',
  monitor_type: 'query_level_monitor',
  name: 'fleet-avg-battery-low',
  enabled: true,
  schedule: { period: { interval: 5, unit: 'MINUTES' } },
  inputs: [
    {
      search: {
        indices: ['booth-telemetry*'],
        query: {
          size: 0,
          query: { bool: { filter: [{ range: { '@timestamp': { gte: '{{period_end}}||-10m', lte: '{{period_end}}', format: 'epoch_millis' } } }, { term: { country: 'KE' } }] } },
          aggs: { metric: { avg: { field: 'battery_pct' } } },
        },
      },
    },
  ],
  triggers: [
    {
      query_level_trigger: {
        name: 'avg-below-5',
        severity: '1',
        condition: { script: { source: 'return ctx.results[0].aggregations.metric.value < 5', lang: 'painless' } },
        actions: [{ name: 'notify', destination_id: 'booth-alerts-slack', message_template: { source: 'low' }, throttle_enabled: true, throttle: { value: 30, unit: 'MINUTES' } }],
      },
    },
  ],
};

test('alerting monitors: create normalises like the plugin, GET, PUT with if_seq_no, 409 when stale, DELETE', async (t) => {
  const s = await start(t);
  const before = osError(await call(s, 'GET', '/_plugins/_alerting/monitors/x'), 404);
  assert.deepEqual([before.type, before.reason], ['alerting_exception', 'Configured indices are not found: [.opendistro-alerting-config]']);

  const created = await call(s, 'POST', '/_plugins/_alerting/monitors', MONITOR);
  assert.equal(created.status, 201);
  const { _id: id, _version, _seq_no, _primary_term, monitor } = created.json;
  assert.deepEqual([_version, _seq_no, _primary_term], [1, 0, 1]);
  assert.match(id, /^[A-Za-z0-9_-]{20}$/);
  assert.equal(monitor.user, undefined, 'the REST view leaves out user');
  assert.equal(typeof monitor.enabled_time, 'number');
  assert.equal(typeof monitor.last_update_time, 'number');
  assert.equal(typeof monitor.schema_version, 'number');
  assert.equal(monitor.owner, 'alerting');
  assert.equal(monitor.data_sources.query_index, '.opensearch-alerting-queries');
  const query = monitor.inputs[0].search.query;
  assert.deepEqual(query.query.bool, {
    filter: [
      { range: { '@timestamp': { from: '{{period_end}}||-10m', to: '{{period_end}}', include_lower: true, include_upper: true, format: 'epoch_millis', boost: 1 } } },
      { term: { country: { value: 'KE', boost: 1 } } },
    ],
    adjust_pure_negative: true,
    boost: 1,
  });
  assert.deepEqual(query.aggregations, { metric: { avg: { field: 'battery_pct' } } }, 'aggs is printed as aggregations');
  const trigger = monitor.triggers[0].query_level_trigger;
  assert.match(trigger.id, /^[A-Za-z0-9_-]{20}$/);
  assert.match(trigger.actions[0].id, /^[A-Za-z0-9_-]{20}$/);
  assert.deepEqual(trigger.actions[0].message_template, { source: 'low', lang: 'mustache' });

  const got = await call(s, 'GET', `/_plugins/_alerting/monitors/${id}`);
  assert.deepEqual(Object.keys(got.json), ['_id', '_version', '_seq_no', '_primary_term', 'monitor', 'associated_workflows']);
  assert.deepEqual(got.json.monitor, monitor);
  assert.deepEqual(s.config.alerting.monitors().get(id)?.['user'], null, 'the stored document has user: null (no security)');

  const updated = await call(s, 'PUT', `/_plugins/_alerting/monitors/${id}?if_seq_no=0&if_primary_term=1`, { ...MONITOR, name: 'renamed' });
  assert.deepEqual([updated.status, updated.json._version, updated.json._seq_no, updated.json.monitor.name], [200, 2, 1, 'renamed']);
  assert.equal(updated.json.monitor.enabled_time, monitor.enabled_time, 'enabled_time survives an update of an enabled monitor');
  const stale = osError(await call(s, 'PUT', `/_plugins/_alerting/monitors/${id}?if_seq_no=0&if_primary_term=1`, MONITOR), 409);
  assert.deepEqual([stale.type, stale.reason], ['alerting_exception', `[${id}]: version conflict, required seqNo [0], primary term [1]. current document has seqNo [1] and primary term [1]`]);
  assert.equal(osError(await call(s, 'PUT', '/_plugins/_alerting/monitors/nope', MONITOR), 404).reason, 'Monitor with nope is not found');

  const missing = osError(await call(s, 'GET', '/_plugins/_alerting/monitors/nope'), 404);
  assert.deepEqual(missing, { root_cause: [{ type: 'alerting_exception', reason: 'Monitor not found.' }], type: 'alerting_exception', reason: 'Monitor not found.', caused_by: { type: 'exception', reason: 'org.opensearch.OpenSearchStatusException: Monitor not found.' } });
  assert.deepEqual((await call(s, 'DELETE', `/_plugins/_alerting/monitors/${id}`)).json, { _id: id, _version: 3 });
  assert.equal((await call(s, 'GET', `/_plugins/_alerting/monitors/${id}`)).status, 404);
});

test('alerting _search: term/terms/bool/match_all on the config documents; hits carry the re-rendered monitor as _source', async (t) => {
  const s = await start(t);
  const before = osError(await call(s, 'POST', '/_plugins/_alerting/monitors/_search', { query: { match_all: {} } }), 404);
  assert.equal(before.reason, 'Configured indices are not found: [.opendistro-alerting-config]');
  const ids: string[] = [];
  for (const name of ['fleet-battery', 'fleet-temp', 'country-ke']) ids.push((await call(s, 'POST', '/_plugins/_alerting/monitors', { ...MONITOR, name })).json._id);

  const byName = await call(s, 'POST', '/_plugins/_alerting/monitors/_search', { query: { term: { 'monitor.name.keyword': 'fleet-temp' } } });
  assert.equal(byName.status, 200);
  assert.equal(byName.json.hits.total.value, 1);
  const hit = byName.json.hits.hits[0];
  assert.deepEqual([hit._index, hit._id, hit._seq_no, hit._primary_term, hit._version], ['.opendistro-alerting-config', ids[1], 1, 1, 1]);
  assert.equal(hit._source.name, 'fleet-temp');
  assert.equal(hit._source.monitor, undefined, 'RestSearchMonitorAction re-renders _source as the monitor itself');
  assert.equal(hit._source.type, 'monitor');

  const filtered = await call(s, 'POST', '/_plugins/_alerting/monitors/_search', {
    size: 10,
    query: { bool: { filter: [{ term: { 'monitor.type': 'monitor' } }, { terms: { 'monitor.name.keyword': ['fleet-battery', 'country-ke', 'nope'] } }], must: [{ term: { 'monitor.monitor_type': 'query_level_monitor' } }] } },
  });
  assert.deepEqual(filtered.json.hits.hits.map((h: any) => h._source.name), ['fleet-battery', 'country-ke']);
  const analyzed = await call(s, 'POST', '/_plugins/_alerting/monitors/_search', { query: { term: { 'monitor.name': 'fleet' } } });
  assert.equal(analyzed.json.hits.total.value, 2, 'monitor.name is a text field: terms match its tokens');
  const page = await call(s, 'POST', '/_plugins/_alerting/monitors/_search', { from: 1, size: 1, query: { match_all: {} } });
  assert.deepEqual([page.json.hits.total.value, page.json.hits.hits.length, page.json.hits.hits[0]._id], [3, 1, ids[1]]);
  assert.equal(osError(await call(s, 'GET', '/_plugins/_alerting/monitors/_search'), 400).reason, 'request body or source parameter is required');
});

test('alerting validation: bad monitor_type, a bucket-level monitor with a query-level trigger, missing schedule', async (t) => {
  const s = await start(t);
  const type = osError(await call(s, 'POST', '/_plugins/_alerting/monitors', { ...MONITOR, monitor_type: 'per_query' }), 500);
  assert.deepEqual([type.type, type.reason], ['alerting_exception', 'Monitor type should be one of [query_level_monitor, bucket_level_monitor, cluster_metrics_monitor, doc_level_monitor]']);
  assert.equal(type.caused_by.reason.startsWith('java.lang.IllegalStateException: '), true);

  const triggerId = 'trigger-1';
  const bucket = { ...MONITOR, monitor_type: 'bucket_level_monitor', triggers: [{ query_level_trigger: { ...MONITOR.triggers[0]?.query_level_trigger, id: triggerId } }] };
  const incompatible = osError(await call(s, 'POST', '/_plugins/_alerting/monitors', bucket), 400);
  assert.deepEqual([incompatible.type, incompatible.reason], ['alerting_exception', `Incompatible trigger [${triggerId}] for monitor type [bucket_level_monitor]`]);

  const { schedule: _s, ...noSchedule } = MONITOR;
  assert.equal(osError(await call(s, 'POST', '/_plugins/_alerting/monitors', noSchedule), 400).reason, 'Monitor schedule is null');

  const bucketOk = await call(s, 'POST', '/_plugins/_alerting/monitors', {
    ...MONITOR,
    monitor_type: 'bucket_level_monitor',
    triggers: [{ bucket_level_trigger: { name: 'hot', severity: '2', condition: { buckets_path: { t: 'avg_temp' }, parent_bucket_path: 'by_country', script: { source: 'params.t > 45' } }, actions: [{ name: 'n', destination_id: 'd', message_template: { source: 'm' } }] } }],
  });
  assert.equal(bucketOk.status, 201, bucketOk.text);
  const bt = bucketOk.json.monitor.triggers[0].bucket_level_trigger;
  assert.deepEqual(bt.condition, { buckets_path: { t: 'avg_temp' }, parent_bucket_path: 'by_country', script: { source: 'params.t > 45', lang: 'painless' }, gap_policy: 'skip' });
  assert.deepEqual(bt.actions[0].action_execution_policy, { action_execution_scope: { per_alert: { actionable_alerts: ['DEDUPED', 'NEW'] } } });
});

// ---------------------------------------------------------------------------------------------
// Transport behaviour shared with the rest of the stand-in

test('configuration APIs need auth and honour faults; wrong methods are 405, bodies need a JSON content type', async (t) => {
  const s = await start(t, { auth: { username: 'admin', password: 'pw' } });
  const auth = { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` };
  assert.equal((await call(s, 'GET', '/_index_template')).status, 401);
  assert.equal((await call(s, 'GET', '/_index_template', undefined, auth)).status, 200);
  s.faults.unauthorized = true;
  assert.equal((await call(s, 'GET', '/_ingest/pipeline/booth-ingest', undefined, auth)).status, 401);
  s.faults = { latencyMs: 50 };
  const t0 = Date.now();
  assert.equal((await call(s, 'GET', '/_ingest/pipeline/booth-ingest', undefined, auth)).status, 200);
  assert.ok(Date.now() - t0 >= 45, 'latency applies');
  s.faults = { down: true };
  await assert.rejects(call(s, 'GET', '/_ingest/pipeline/booth-ingest', undefined, auth));
  s.faults = {};

  const wrong = await call(s, 'POST', '/_plugins/_ism/policies/x', POLICY, auth);
  assert.equal(wrong.status, 405);
  assert.equal(wrong.json.error, 'Incorrect HTTP method for uri [/_plugins/_ism/policies/x] and method [POST], allowed: [GET, HEAD, PUT, DELETE]');
  const text = await call(s, 'PUT', '/_ingest/pipeline/x', JSON.stringify(STAMP), { ...auth, 'content-type': 'text/plain' });
  assert.deepEqual([text.status, text.json], [406, { error: 'Content-Type header [text/plain] is not supported', status: 406 }]);
});
