// The five fleet monitors (shared/opensearch/monitors.ts) run, as Alerting would run them, over
// documents shaped like the agent's (validated against shared/documents/schema.ts, stamped with
// event.ingested as the booth-ingest pipeline does, typed by the index mappings fleet-setup
// installs). The executor and its limits: test/support/alerting-executor.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dataset } from '../shared/documents/schema.ts';
import { makeDocument } from '../shared/documents/stamp.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { datasetMapping, flattenMapping } from '../shared/opensearch/mappings.ts';
import { fleetMonitors, type Monitor } from '../shared/opensearch/monitors.ts';
import {
  executeMonitor,
  inMemoryCluster,
  mustacheTags,
  type AlertRecord,
  type BucketLevelTriggerRunResult,
  type MonitorRunResult,
  type QueryLevelTriggerRunResult,
} from './support/alerting-executor.ts';

const OPTS = { prefix: 'booth', retentionDays: 90, slowUploadMbS: 5, replicas: 1, slackWebhookUrl: 'https://hooks.slack.com/services/T/B/X' };
const MONITORS = fleetMonitors(OPTS);
const END = new Date('2024-06-01T12:00:00Z');

function monitorNamed(suffix: string): Monitor {
  const m = MONITORS.find((x) => x.name === `booth: ${suffix}`);
  assert.ok(m, `no monitor "booth: ${suffix}" among ${MONITORS.map((x) => x.name).join(', ')}`);
  return m;
}
const SLOW = monitorNamed('slow uploads');
const ZERO_ONLINE = monitorNamed('zero booths online per country');
const SILENT = monitorNamed('booth went silent');
const REJECTIONS = monitorNamed('upload rejections');
const DATA_LOSS = monitorNamed('data loss on a booth');

const minutes = (n: number) => n * 60_000;
const before = (ms: number, at = END) => new Date(at.getTime() - ms);

type Kind = 'upload' | 'heartbeat' | 'agent';
interface Doc {
  kind: Kind;
  body: object;
}

/** A document as the agent writes it (schema-checked), as stored: event.ingested set by the cluster. */
function doc(kind: Kind, booth: { id: string; country: string }, ingested: Date, fields: Record<string, unknown>): Doc {
  const dataset = `booth.${kind}` as Dataset;
  const d = makeDocument(dataset, fields, booth, () => ingested.getTime() - 1500);
  const v = validateDocument(d);
  assert.ok(v.ok, `test document does not match the ${dataset} schema: ${v.ok ? '' : v.reason}`);
  return { kind, body: { ...d, event: { ...d.event, ingested: ingested.toISOString() } } };
}

const upload = (booth: string, country: string, at: Date, speed: number | undefined, outcome = 'success', status = 201, booking = 'B1') =>
  doc('upload', { id: booth, country }, at, {
    booking: { id: booking },
    file: { name: 'IMG_00001.jpg', size: 3_456_789 },
    upload: { outcome, bytes: 3_456_789, attempt: 1, ...(speed === undefined ? {} : { speed_mb_s: speed, duration_ms: 3.456789 / speed * 1000 }) },
    http: { response: { status_code: status } },
  });
const heartbeat = (booth: string, country: string, at: Date) =>
  doc('heartbeat', { id: booth, country }, at, { agent: { uptime_s: 3600 }, buffer: { queued: 0, oldest_age_s: 0, dropped_total: 0 }, network: { online: true } });
const agentEvent = (booth: string, country: string, at: Date, action: string, fields: Record<string, unknown> = {}) =>
  doc('agent', { id: booth, country }, at, { event: { action }, message: action, ...fields });

/** One index per kind, named as the agent names them, with the mapping fleet-setup installs. */
function cluster(docs: Doc[]) {
  const kinds: Kind[] = ['upload', 'heartbeat', 'agent'];
  return inMemoryCluster(
    Object.fromEntries(
      kinds.map((k) => [`booth-${k}-2024.06`, { docs: docs.filter((d) => d.kind === k).map((d) => d.body), mapping: flattenMapping(datasetMapping(`booth.${k}` as Dataset)) }]),
    ),
  );
}

function run(monitor: Monitor, docs: Doc[], periodEnd = END, previousAlerts?: Record<string, AlertRecord[]>): Promise<MonitorRunResult> {
  return executeMonitor(monitor, { search: cluster(docs), periodEnd, ...(previousAlerts ? { previousAlerts } : {}) });
}

const queryTrigger = (r: MonitorRunResult, name: string) => {
  const t = Object.values(r.trigger_results).find((x) => x.name === name) as QueryLevelTriggerRunResult | undefined;
  assert.ok(t, `no trigger result named "${name}" in ${JSON.stringify(Object.keys(r.trigger_results))}`);
  return t;
};
const bucketTrigger = (r: MonitorRunResult) => {
  const [t, ...more] = Object.values(r.trigger_results) as BucketLevelTriggerRunResult[];
  assert.ok(t && more.length === 0);
  return t;
};
const bucketKeys = (t: BucketLevelTriggerRunResult) => Object.values(t.agg_result_buckets).map((b) => b.agg_alert_content.bucket_keys);

function assertNoErrors(r: MonitorRunResult): void {
  assert.equal(r.error, null);
  assert.equal(r.input_results.error, null, 'the search failed');
  for (const t of Object.values(r.trigger_results)) {
    assert.equal(t.error, null, `trigger "${t.name}" errored`);
    const actionResults = 'triggered' in t ? Object.values(t.action_results) : Object.values(t.action_results).flatMap((a) => Object.values(a));
    for (const a of actionResults) assert.equal(a.error, null, `action "${a.name}" of "${t.name}" errored`);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Slow uploads

const SLOW_FLEET = [
  // Three booths, 0.95 MB/s on average over the last 10 minutes (upload.speed_mb_s is a float:
  // the cluster averages float32 values, 0.95000000794…).
  ...[2, 7].map((m) => upload('FB-1001', 'US', before(minutes(m)), 0.6)),
  ...[3, 8].map((m) => upload('FB-1002', 'US', before(minutes(m)), 0.9)),
  ...[4, 9].map((m) => upload('FB-1003', 'DE', before(minutes(m)), 1.35)),
  // Not counted: older than the window, a failed upload, a rejection without speed.
  upload('FB-1004', 'DE', before(minutes(11)), 12),
  upload('FB-1004', 'DE', before(minutes(1)), 40, 'failure', 503),
  upload('FB-1004', 'DE', before(minutes(1)), undefined, 'rejected', 404),
];

test('slow uploads: a fleet averaging 0.95 MB/s fires both triggers, with the average, the period and the slow booths', async () => {
  const r = await run(SLOW, SLOW_FLEET);
  assertNoErrors(r);
  assert.equal(r.period_end, END.getTime());
  assert.equal(r.period_start, END.getTime() - minutes(5), 'period_start = period_end − the 5-minute schedule');
  // {{period_end}} was rendered as epoch millis into the range.
  const filters = (r.searches[0]!.request['query'] as { bool: { filter: Array<{ range?: Record<string, { gte: string; lte: string }> }> } }).bool.filter;
  assert.deepEqual(filters[0]!.range!['event.ingested'], { gte: `${END.getTime()}||-10m`, lte: `${END.getTime()}`, format: 'epoch_millis' });
  const all = (r.input_results.results[0] as { aggregations: { fleet: { buckets: { all: { doc_count: number; speed: { value: number }; speed_rounded: { value: number } } } } } })
    .aggregations.fleet.buckets.all;
  assert.equal(all.doc_count, 6);
  assert.notEqual(all.speed.value, 0.95, 'float32 storage makes the raw average inexact…');
  assert.equal(all.speed_rounded.value, 0.95, '…which is why the message uses the rounded one');

  const fleet = queryTrigger(r, 'fleet average below 5 MB/s');
  const booths = queryTrigger(r, 'booths below 5 MB/s');
  assert.equal(fleet.triggered, true);
  assert.equal(booths.triggered, true);
  const [fleetMsg, boothsMsg] = r.messages;
  assert.equal(r.messages.length, 2);
  assert.equal(fleetMsg!.subject, 'Fulfillment Download Speed Alert');
  assert.equal(
    fleetMsg!.message,
    'Fulfillment Download Speed Alert — AVG Download Speed: 0.95 MB/s (threshold 5 MB/s) — Period start: 2024-06-01T11:55:00Z — ' +
      '6 images from 3 booths — slow booths: FB-1001 (0.6 MB/s) FB-1002 (0.9 MB/s) FB-1003 (1.35 MB/s) ',
  );
  assert.equal(boothsMsg!.message, 'Slow uploads on 3 booths (average below 5 MB/s) — Period start: 2024-06-01T11:55:00Z — booths: FB-1001 (0.6 MB/s) FB-1002 (0.9 MB/s) FB-1003 (1.35 MB/s) ');

  // Five minutes later, still slow: both actions are inside their 30-minute throttle.
  const again = await run(SLOW, SLOW_FLEET, new Date(END.getTime() + minutes(5)), r.alerts);
  assertNoErrors(again);
  assert.equal(queryTrigger(again, 'fleet average below 5 MB/s').triggered, true);
  assert.deepEqual(
    Object.values(queryTrigger(again, 'fleet average below 5 MB/s').action_results).map((a) => a.throttled),
    [true],
  );
  assert.equal(again.messages.length, 0);
});

test('slow uploads: a fast fleet fires nothing', async () => {
  const r = await run(SLOW, [upload('FB-1001', 'US', before(minutes(2)), 11.9), upload('FB-1002', 'DE', before(minutes(3)), 12.4), upload('FB-1003', 'DE', before(minutes(20)), 0.2)]);
  assertNoErrors(r);
  assert.equal(queryTrigger(r, 'fleet average below 5 MB/s').triggered, false);
  assert.equal(queryTrigger(r, 'booths below 5 MB/s').triggered, false);
  assert.deepEqual(r.messages, []);
});

test('slow uploads: an empty window (uploads only older than 10 minutes) fires nothing and errors nothing', async () => {
  const r = await run(SLOW, [upload('FB-1001', 'US', before(minutes(11)), 0.5), upload('FB-1002', 'US', before(minutes(45)), 0.4)]);
  assertNoErrors(r);
  const all = (r.input_results.results[0] as { aggregations: { fleet: { buckets: { all: Record<string, unknown> } } } }).aggregations.fleet.buckets.all;
  assert.equal(all['doc_count'], 0);
  assert.deepEqual(all['speed'], { value: null }, 'avg over no documents is null');
  assert.equal(all['speed_rounded'], undefined, 'bucket_script skips the empty bucket (gap_policy skip)');
  assert.equal(queryTrigger(r, 'fleet average below 5 MB/s').triggered, false);
  assert.equal(queryTrigger(r, 'booths below 5 MB/s').triggered, false);
  assert.deepEqual(r.messages, []);
});

test('slow uploads on a fleet with no upload index yet (a new fleet; or all aged out): no aggregations at all in the answer, as the real cluster gives it — fires nothing, errors nothing', async () => {
  const r = await executeMonitor(SLOW, { search: inMemoryCluster({}), periodEnd: END });
  assertNoErrors(r);
  assert.equal((r.input_results.results[0] as Record<string, unknown>)['aggregations'], undefined);
  assert.equal(queryTrigger(r, 'fleet average below 5 MB/s').triggered, false);
  assert.equal(queryTrigger(r, 'booths below 5 MB/s').triggered, false);
});

test('executor: a trigger without the null guard errors on an empty window, as on a real cluster', async () => {
  const unguarded = structuredClone(SLOW) as Monitor & { triggers: Array<{ query_level_trigger: { condition: { script: { source: string } } } }> };
  unguarded.triggers[0]!.query_level_trigger.condition.script.source = 'return ctx.results[0].aggregations.fleet.buckets.all.speed.value < 5;';
  const r = await run(unguarded, [upload('FB-1001', 'US', before(minutes(30)), 0.5)]);
  const t = queryTrigger(r, 'fleet average below 5 MB/s');
  assert.equal(t.triggered, true, 'a failing condition counts as triggered (the alert goes to ERROR)');
  assert.match(t.error ?? '', /NullPointerException.*\[<\].*speed\.value < 5/);
  assert.equal(r.alerts[Object.keys(r.trigger_results)[0]!]![0]!.state, 'ERROR');
  assert.equal(r.messages.length, 1, 'the action still runs, to report the error');
});

// ---------------------------------------------------------------------------------------------
// 2. Zero booths online per country

const US = ['FB-2001', 'FB-2002', 'FB-2003'];
const DE = ['FB-3001', 'FB-3002'];

/** Heartbeats every 30 minutes for two days, the last one `lastAgo` before END (then every minute to `until`). */
function heartbeats(booths: string[], country: string, lastAgo: number, until = END): Doc[] {
  const out: Doc[] = [];
  for (const b of booths) {
    for (let t = before(lastAgo).getTime(); t > before(minutes(2 * 24 * 60)).getTime(); t -= minutes(30)) out.push(heartbeat(b, country, new Date(t)));
    for (let t = before(lastAgo).getTime() + minutes(1); t <= until.getTime() && lastAgo <= minutes(5); t += minutes(1)) out.push(heartbeat(b, country, new Date(t)));
  }
  return out;
}

test('zero online: a country whose booths all stopped 6 minutes ago alerts once, with the counts; the next run dedupes; its return completes', async () => {
  const usDown = [...heartbeats(US, 'US', minutes(6)), ...heartbeats(DE, 'DE', minutes(1), new Date(END.getTime() + minutes(10)))];
  const r1 = await run(ZERO_ONLINE, usDown);
  assertNoErrors(r1);
  const t1 = bucketTrigger(r1);
  assert.deepEqual(bucketKeys(t1), [['US']], 'exactly one alert, for US; none for DE');
  assert.equal(r1.messages.length, 1);
  const m = r1.messages[0]!;
  assert.equal(m.category, 'NEW');
  assert.equal(m.subject, 'Zero photo booths online');
  assert.ok(m.message.startsWith('Zero photo booths are currently online in US. Please check!'), m.message);
  assert.equal(
    m.message,
    'Zero photo booths are currently online in US. Please check! — no heartbeat in the 5 minutes to 2024-06-01T12:00:00Z — by country: US: 0 of 3 online; DE: 2 of 2 online; ',
  );
  assert.deepEqual(
    r1.alerts[Object.keys(r1.trigger_results)[0]!]!.map((a) => [a.bucketKeys, a.state]),
    [[['US'], 'ACTIVE']],
  );

  // Five minutes later US is still down: the alert is DEDUPED, and DEDUPED is not actionable.
  const r2 = await run(ZERO_ONLINE, usDown, new Date(END.getTime() + minutes(5)), r1.alerts);
  assertNoErrors(r2);
  assert.deepEqual(bucketKeys(bucketTrigger(r2)), [['US']]);
  assert.deepEqual(r2.messages, []);
  assert.equal(r2.alerts[Object.keys(r2.trigger_results)[0]!]!.length, 1);

  // US booths are back: the alert completes, with its own message.
  const back = [...usDown, ...US.map((b) => heartbeat(b, 'US', new Date(END.getTime() + minutes(9))))];
  const r3 = await run(ZERO_ONLINE, back, new Date(END.getTime() + minutes(10)), r2.alerts);
  assertNoErrors(r3);
  assert.deepEqual(bucketKeys(bucketTrigger(r3)), []);
  assert.equal(r3.messages.length, 1);
  assert.equal(r3.messages[0]!.category, 'COMPLETED');
  assert.equal(r3.messages[0]!.message, 'Photo booths are online again in US. — by country: US: 3 of 3 online; DE: 2 of 2 online; ');
  assert.deepEqual(r3.alerts[Object.keys(r3.trigger_results)[0]!], []);
});

test('zero online: no heartbeat at all in 7 days gives no bucket, no alert and no error', async () => {
  const r = await run(ZERO_ONLINE, heartbeats(US, 'US', minutes(8 * 24 * 60)));
  assertNoErrors(r);
  assert.deepEqual(bucketKeys(bucketTrigger(r)), []);
  assert.deepEqual(r.messages, []);
  const byCountry = (r.input_results.results[0] as { aggregations: { by_country: { buckets: unknown[] } } }).aggregations.by_country;
  assert.deepEqual(byCountry.buckets, []);
});

test('executor: a composite parent is paged and actions see the last, empty page (why zero online uses terms)', async () => {
  const composite = structuredClone(ZERO_ONLINE) as Monitor & {
    inputs: Array<{ search: { query: { aggregations: { by_country: Record<string, unknown> } } } }>;
    triggers: Array<{ bucket_level_trigger: { actions: Array<{ message_template: { source: string } }> } }>;
  };
  const byCountry = composite.inputs[0]!.search.query.aggregations.by_country;
  delete byCountry['terms'];
  byCountry['composite'] = { size: 500, sources: [{ country: { terms: { field: 'booth.country' } } }] };
  const action = composite.triggers[0]!.bucket_level_trigger.actions[0]!;
  action.message_template.source = action.message_template.source.replace('{{key}}', '{{key.country}}');
  const r = await run(composite, [...heartbeats(US, 'US', minutes(6)), ...heartbeats(DE, 'DE', minutes(1))]);
  assertNoErrors(r);
  assert.deepEqual(bucketKeys(bucketTrigger(r)), [['US']]);
  assert.equal(r.searches.length, 2, 'the after_key of the first page asks for a second one');
  assert.deepEqual((r.searches[1]!.request['aggregations'] as { by_country: { composite: { after: unknown } } }).by_country.composite.after, { country: 'US' });
  assert.ok(r.messages[0]!.message.endsWith('— by country: '), r.messages[0]!.message);
});

test('executor: a two-source composite key comes back in HashMap order (why silent booth has one source)', async () => {
  const twoSources = structuredClone(SILENT) as Monitor & { inputs: Array<{ search: { query: { aggregations: { by_booth: { composite: { sources: unknown[] } } } } } }> };
  twoSources.inputs[0]!.search.query.aggregations.by_booth.composite.sources.push({ country: { terms: { field: 'booth.country' } } });
  const r = await run(twoSources, [heartbeat('FB-4001', 'FR', before(minutes(120))), heartbeat('FB-4002', 'FR', before(minutes(1)))]);
  assertNoErrors(r);
  assert.deepEqual(bucketKeys(bucketTrigger(r)), [['FR', 'FB-4001']]);
  assert.match(r.messages[0]!.message, /^Photo booth FR,FB-4001 went silent/);
});

test('executor: what the stand-in does not implement fails loudly; what OpenSearch would refuse is an input error', async () => {
  const should = structuredClone(REJECTIONS) as Monitor & { inputs: Array<{ search: { query: { query: { bool: Record<string, unknown> } } } }> };
  should.inputs[0]!.search.query.query.bool['should'] = [{ term: { 'booth.id': 'x' } }];
  await assert.rejects(run(should, []), /search-subset: \[should\] in query > bool is not supported/);
  const typo = structuredClone(REJECTIONS) as Monitor & { inputs: Array<{ search: { query: { aggregations: { by_status: { terms: { field: string } } } } } }> };
  typo.inputs[0]!.search.query.aggregations.by_status.terms.field = 'http.status_code';
  await assert.rejects(run(typo, []), /field \[http\.status_code\].*is not in the mapping/);
  const npe = structuredClone(ZERO_ONLINE) as Monitor & { triggers: Array<{ bucket_level_trigger: { condition: { script: { source: string }; buckets_path: Record<string, string> } } }> };
  npe.triggers[0]!.bucket_level_trigger.condition.buckets_path = { online: 'recent>nothing' };
  npe.triggers[0]!.bucket_level_trigger.condition.script.source = 'params.online < 1';
  const r = await run(npe, heartbeats(US, 'US', minutes(6)));
  assert.match(r.input_results.error ?? '', /script_exception.*NullPointerException/, 'an unknown path resolves to null, and null < 1 throws inside the search');
  assert.match(bucketTrigger(r).error ?? '', /Index 0 out of bounds/);
  assert.equal(r.messages.length, 1, 'on error the action falls back to per_execution to report it');
});

// ---------------------------------------------------------------------------------------------
// 3. A booth went silent

test('silent booth: a booth seen 2 hours ago but not in the last 15 minutes alerts once, by name', async () => {
  const docs = [
    ...[120, 150, 600].map((m) => heartbeat('FB-4001', 'FR', before(minutes(m)))),
    ...[1, 6, 11, 16, 120].flatMap((m) => [heartbeat('FB-4002', 'FR', before(minutes(m))), heartbeat('FB-4003', 'US', before(minutes(m)))]),
    heartbeat('FB-4004', 'US', before(minutes(25 * 60))), // retired: older than 24 hours
  ];
  const r = await run(SILENT, docs);
  assertNoErrors(r);
  assert.deepEqual(bucketKeys(bucketTrigger(r)), [['FB-4001']]);
  assert.equal(r.messages.length, 1);
  assert.equal(
    r.messages[0]!.message,
    'Photo booth FB-4001 went silent: no heartbeat in the 15 minutes to 2024-06-01T12:00:00Z (it was seen in the last 24 hours). Please check!',
  );
});

// ---------------------------------------------------------------------------------------------
// 4. Upload rejections

test('rejections: three 404s in the window are reported with counts, booths and bookings', async () => {
  const docs = [
    upload('FB-5001', 'US', before(minutes(2)), undefined, 'rejected', 404, 'B-77'),
    upload('FB-5001', 'US', before(minutes(4)), undefined, 'rejected', 404, 'B-78'),
    upload('FB-5002', 'DE', before(minutes(9)), undefined, 'rejected', 404, 'B-90'),
    upload('FB-5002', 'DE', before(minutes(12)), undefined, 'rejected', 413, 'B-91'), // before the window
    upload('FB-5003', 'DE', before(minutes(3)), 11.2),
  ];
  const r = await run(REJECTIONS, docs);
  assertNoErrors(r);
  assert.equal(r.period_start, END.getTime() - minutes(10));
  assert.equal(queryTrigger(r, 'images rejected by the upload server').triggered, true);
  assert.equal(r.messages.length, 1);
  assert.equal(
    r.messages[0]!.message,
    'Upload rejections — 3 images refused by the upload server between 2024-06-01T11:50:00Z and 2024-06-01T12:00:00Z — HTTP status: 404 × 3 — ' +
      'booths: FB-5001 (2; bookings B-77 B-78 ) FB-5002 (1; bookings B-90 ) ',
  );
});

test('rejections: none in the window fires nothing and errors nothing', async () => {
  const r = await run(REJECTIONS, [upload('FB-5003', 'DE', before(minutes(3)), 11.2), upload('FB-5002', 'DE', before(minutes(30)), undefined, 'rejected', 404)]);
  assertNoErrors(r);
  assert.equal(queryTrigger(r, 'images rejected by the upload server').triggered, false);
  assert.deepEqual(r.messages, []);
});

// ---------------------------------------------------------------------------------------------
// 5. Data loss

test('data loss: a buffer_dropped event is reported with the booth and the number dropped', async () => {
  const dropped = { buffer: { dropped: 10, dropped_by_dataset: { 'booth.network': 10 }, dropped_total: 10 } };
  const r = await run(DATA_LOSS, [agentEvent('FB-6001', 'US', before(minutes(2)), 'buffer_dropped', dropped), agentEvent('FB-6002', 'US', before(minutes(2)), 'interface_changed')]);
  assertNoErrors(r);
  assert.equal(queryTrigger(r, 'buffer_dropped or state_reset').triggered, true);
  assert.equal(r.messages.length, 1);
  // sum is a double: Java renders it "10.0".
  assert.equal(
    r.messages[0]!.message,
    'Data loss on booths between 2024-06-01T11:55:00Z and 2024-06-01T12:00:00Z — FB-6001: buffer_dropped × 1 (documents dropped: 10.0); ' +
      '— buffer_dropped: the booth was offline longer than its buffer holds; state_reset: its database was unreadable and set aside. Check the booth (booth-agent status).',
  );
});

test('data loss: no such event fires nothing and errors nothing', async () => {
  const r = await run(DATA_LOSS, [agentEvent('FB-6002', 'US', before(minutes(2)), 'interface_changed'), agentEvent('FB-6001', 'US', before(minutes(20)), 'state_reset')]);
  assertNoErrors(r);
  assert.equal(queryTrigger(r, 'buffer_dropped or state_reset').triggered, false);
  assert.deepEqual(r.messages, []);
});

// ---------------------------------------------------------------------------------------------
// Static: every path a trigger or a message uses names an aggregation of its monitor's query.

type AggTree = Record<string, { type: string; subs: AggTree; filters?: string[] }>;

function aggTree(aggs: unknown): AggTree {
  const out: AggTree = {};
  for (const [name, spec] of Object.entries((aggs ?? {}) as Record<string, Record<string, unknown>>)) {
    const type = Object.keys(spec).find((k) => k !== 'aggregations' && k !== 'aggs')!;
    const filters = type === 'filters' ? Object.keys((spec['filters'] as { filters: object }).filters) : undefined;
    out[name] = { type, subs: aggTree(spec['aggregations'] ?? spec['aggs']), ...(filters ? { filters } : {}) };
  }
  return out;
}

const MULTI_BUCKET = ['terms', 'composite', 'filters'];
const METRIC = ['avg', 'sum', 'max', 'min', 'cardinality', 'value_count', 'bucket_script'];

/** A buckets_path ("a>b", "a>_count", "_count") resolves from the aggregations of one bucket. */
function checkBucketsPath(path: string, siblings: AggTree, where: string): void {
  const parts = path.split('>');
  let level = siblings;
  for (const [i, p] of parts.entries()) {
    const last = i === parts.length - 1;
    if (p === '_count' && last) return;
    const node = level[p];
    assert.ok(node, `${where}: buckets_path [${path}]: no aggregation [${p}] (have ${Object.keys(level).join(', ') || 'none'})`);
    if (last) assert.ok(METRIC.includes(node.type), `${where}: buckets_path [${path}] ends on a ${node.type}, not a single-value metric`);
    else assert.equal(node.type, 'filter', `${where}: buckets_path [${path}] goes through a ${node.type}`);
    level = node.subs;
  }
}

/** A mustache/painless path below ctx.results.0.aggregations, as the response is shaped. */
function checkResultPath(segs: string[], level: AggTree, where: string): { list?: AggTree } {
  const [name, ...rest] = segs;
  const node = level[name!];
  assert.ok(node, `${where}: no aggregation [${name}] (have ${Object.keys(level).join(', ')})`);
  if (METRIC.includes(node.type)) {
    assert.ok(rest.length <= 1 && (rest[0] === undefined || rest[0] === 'value'), `${where}: [${segs.join('.')}] — a metric only has .value`);
    return {};
  }
  if (node.type === 'filter') {
    if (rest.length === 0 || rest[0] === 'doc_count') return {};
    return checkResultPath(rest, node.subs, where);
  }
  assert.ok(MULTI_BUCKET.includes(node.type), `${where}: [${name}] is a ${node.type}`);
  assert.equal(rest[0], 'buckets', `${where}: [${segs.join('.')}] — a ${node.type} has buckets`);
  if (node.type === 'filters') {
    if (rest.length === 1) return {};
    assert.ok(node.filters!.includes(rest[1]!), `${where}: no filter [${rest[1]}] in [${name}]`);
    const inner = rest.slice(2);
    if (inner.length === 0 || inner[0] === 'doc_count') return {};
    return checkResultPath(inner, node.subs, where);
  }
  if (rest.length === 1) return { list: node.subs };
  assert.ok(rest[1] === 'size' || /^\d+$/.test(rest[1]!), `${where}: [${segs.join('.')}]`);
  return rest.length > 2 ? checkResultPath(rest.slice(2), node.subs, where) : {};
}

test('every buckets_path, parent_bucket_path and ctx.results.0.aggregations reference names an aggregation of its query', () => {
  const AGG_PREFIX = 'ctx.results.0.aggregations.';
  for (const monitor of MONITORS) {
    const input = (monitor['inputs'] as Array<{ search: { query: { aggregations: unknown } } }>)[0]!.search.query;
    const tree = aggTree(input.aggregations);
    // Pipeline aggregations inside the query: paths relative to their multi-bucket parent's buckets.
    const walk = (aggs: Record<string, Record<string, unknown>>, where: string): void => {
      for (const [name, spec] of Object.entries(aggs)) {
        for (const type of ['bucket_script', 'bucket_selector']) {
          const p = spec[type] as { buckets_path: Record<string, string> } | undefined;
          if (p) for (const path of Object.values(p.buckets_path)) checkBucketsPath(path, aggTree(aggs), `${monitor.name} > ${where}${name}`);
        }
        const sub = (spec['aggregations'] ?? spec['aggs']) as Record<string, Record<string, unknown>> | undefined;
        if (sub) walk(sub, `${where}${name} > `);
      }
    };
    walk(input.aggregations as Record<string, Record<string, unknown>>, '');

    for (const wrapper of monitor['triggers'] as Array<Record<string, Record<string, unknown>>>) {
      const trigger = (wrapper['query_level_trigger'] ?? wrapper['bucket_level_trigger'])!;
      const where = `${monitor.name} / ${String(trigger['name'])}`;
      const condition = trigger['condition'] as { buckets_path?: Record<string, string>; parent_bucket_path?: string; script: { source: string } };
      if (condition.parent_bucket_path !== undefined) {
        const parent = tree[condition.parent_bucket_path];
        assert.ok(parent && MULTI_BUCKET.includes(parent.type), `${where}: parent_bucket_path [${condition.parent_bucket_path}] is not a multi-bucket aggregation of the query`);
        for (const path of Object.values(condition.buckets_path ?? {})) checkBucketsPath(path, parent.subs, where);
      }
      // Painless: ctx.results[0].aggregations.… (and variables bound to such a path).
      const src = condition.script.source;
      const bound = new Map<string, string>();
      for (const m of src.matchAll(/def (\w+) = ctx\.results\[0\]\.aggregations\.([\w.]+);/g)) bound.set(m[1]!, m[2]!);
      const refs = [...src.matchAll(/ctx\.results\[0\]\.aggregations\.([\w.]+)/g)].map((m) => m[1]!);
      for (const [v, base] of bound) for (const m of src.matchAll(new RegExp(`\\b${v}\\.([\\w.]+)`, 'g'))) refs.push(`${base}.${m[1]}`);
      for (const ref of refs) checkResultPath(ref.replace(/\.size$/, '').split('.'), tree, `${where} (condition)`);

      // Mustache: names under ctx.results.0.aggregations, and names inside sections over buckets.
      for (const action of trigger['actions'] as Array<Record<string, { source: string }>>) {
        for (const field of ['subject_template', 'message_template']) {
          const tpl = action[field]?.source;
          if (!tpl) continue;
          const lists = new Map<string, AggTree>();
          for (const tag of mustacheTags(tpl)) {
            const at = `${where} (${field} {{${tag.name}}})`;
            if (tag.name.startsWith(AGG_PREFIX)) {
              const r = checkResultPath(tag.name.slice(AGG_PREFIX.length).split('.'), tree, at);
              if (tag.kind === 'section' && r.list) lists.set(tag.name, r.list);
              continue;
            }
            const inside = [...tag.sections].reverse().find((s) => lists.has(s));
            if (!inside || tag.name.startsWith('ctx.')) continue;
            // Inside {{#…buckets}}: a bucket's own fields, or its sub-aggregations.
            const [first] = tag.name.split('.');
            if (['key', 'doc_count', 'key_as_string'].includes(first!)) continue;
            const sub = lists.get(inside)!;
            const r = checkResultPath(tag.name.split('.'), sub, at);
            if (tag.kind === 'section' && r.list) lists.set(tag.name, r.list);
          }
        }
      }
    }
  }
});

const SLOW_QUERY_AGGS = (SLOW['inputs'] as Array<{ search: { query: { aggregations: unknown } } }>)[0]!.search.query.aggregations;

test('the reference check catches a renamed aggregation', () => {
  assert.throws(() => checkBucketsPath('recent>onlin', aggTree({ recent: { filter: {}, aggregations: { online: { cardinality: {} } } } }), 'x'), /no aggregation \[onlin\]/);
  assert.throws(() => checkResultPath('fleet.buckets.all.speed_rnd.value'.split('.'), aggTree(SLOW_QUERY_AGGS), 'x'), /no aggregation \[speed_rnd\]/);
});
