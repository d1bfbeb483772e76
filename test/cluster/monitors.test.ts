// The five monitors on the real search, Painless and Mustache engines (issue 17). The Alerting
// plugin itself is not served by Maven Central (see the README), so where a cluster lacks it this
// runs each monitor's parts as Alerting does, each on the real engine: the search input rendered by
// Mustache with period_end, run as a real search (its bucket_script and bucket_selector are
// Painless); the trigger condition run by the Painless execute API with the results as ctx; a
// bucket-level trigger's script per bucket of its parent aggregation; the Slack subject and message
// rendered by Mustache. Seeded with event.ingested set as the pipeline would, at chosen times.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DEFAULT_FLEET_OPTIONS } from '../../shared/opensearch/fleet-options.ts';
import { fleetMonitors, type Monitor } from '../../shared/opensearch/monitors.ts';
import { sampleDoc } from '../support/documents.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { call, clusterUrl, refresh, testFleet, type TestFleet } from './support.ts';

type Json = Record<string, unknown>;
const MIN = 60_000;

interface Run {
  results: Json;
  /** Query-level: the condition's verdict per trigger name. Bucket-level: the triggered bucket keys per trigger name. */
  triggered: Map<string, boolean | string[]>;
  /** Subject and message of each trigger's action, rendered for the run. */
  rendered: Map<string, { subject: string; message: string }>;
}

/** Renders `source` by Mustache; `paramsJson` is JSON text, so numbers keep their form (120.0 stays a double, as Alerting's ctx has it). */
async function render(source: string, paramsJson: string): Promise<unknown> {
  const r = await call<{ template_output?: unknown; error?: unknown }>('POST', '/_render/template', `{"source":${JSON.stringify(source)},"params":${paramsJson}}`);
  assert.equal(r.status, 200, `mustache: ${JSON.stringify(r.body).slice(0, 500)}`);
  return r.body.template_output;
}

async function painless(source: string, paramsJson: string): Promise<unknown> {
  const r = await call<{ result?: unknown; error?: unknown }>('POST', '/_scripts/painless/_execute', `{"script":{"source":${JSON.stringify(source)},"params":${paramsJson}}}`);
  assert.equal(r.status, 200, `painless: ${JSON.stringify(r.body).slice(0, 800)}`);
  return r.body.result;
}

/** The value a buckets_path names inside a bucket ("recent>online" → bucket.recent.online.value, "recent>_count" → its doc_count). */
function bucketsPathValue(bucket: Json, pathText: string): unknown {
  const parts = pathText.split('>');
  let at: unknown = bucket;
  for (const [i, p] of parts.entries()) {
    const last = i === parts.length - 1;
    if (last && p === '_count') return (at as Json)['doc_count'];
    at = (at as Json)[p];
    if (last) return (at as Json)['value'] ?? (at as Json)['doc_count'];
  }
  return at;
}

/** One run of `monitor` at `periodEnd` (ms), every part on the real engines. */
async function runMonitor(monitor: Monitor, periodEnd: number, periodMinutes: number): Promise<Run> {
  const input = (monitor['inputs'] as { search: { indices: string[]; query: Json } }[])[0]!.search;
  const query = (await render(JSON.stringify(input.query), JSON.stringify({ period_end: periodEnd }))) as Json;
  const res = await fetch(`${clusterUrl()}/${input.indices.join(',')}/_search?allow_no_indices=true&ignore_unavailable=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(query) });
  // The answer's text as it came: Alerting's ctx.results holds it parsed by the cluster, doubles as doubles.
  const raw = await res.text();
  assert.equal(res.status, 200, `search: ${raw.slice(0, 800)}`);
  const results = JSON.parse(raw) as Json;
  const ctxJson = (extra: Json = {}) =>
    `{"monitor":${JSON.stringify({ name: monitor.name })},"results":[${raw}],"periodStart":"${new Date(periodEnd - periodMinutes * MIN).toISOString()}","periodEnd":"${new Date(periodEnd).toISOString()}"${Object.entries(extra).map(([k, v]) => `,"${k}":${JSON.stringify(v)}`).join('')}}`;
  const triggered = new Map<string, boolean | string[]>();
  const rendered = new Map<string, { subject: string; message: string }>();
  for (const t of monitor['triggers'] as Json[]) {
    const q = t['query_level_trigger'] as Json | undefined;
    const b = t['bucket_level_trigger'] as Json | undefined;
    const trigger = (q ?? b)!;
    const name = trigger['name'] as string;
    let ctx = ctxJson();
    if (q) {
      const source = ((q['condition'] as Json)['script'] as Json)['source'] as string;
      triggered.set(name, (await painless(source.replace(/\bctx\./g, 'params.ctx.'), `{"ctx":${ctx}}`)) === 'true');
    } else {
      const cond = b!['condition'] as { buckets_path: Record<string, string>; parent_bucket_path: string; script: { source: string } };
      // No index matched yet: no aggregations at all (what the plugin does then is not proven here).
      const buckets = (((results['aggregations'] as Json | undefined)?.[cond.parent_bucket_path] as { buckets: Json[] } | undefined)?.buckets ?? []);
      const keys: string[] = [];
      for (const bucket of buckets) {
        const params = Object.fromEntries(Object.entries(cond.buckets_path).map(([k, p]) => [k, bucketsPathValue(bucket, p) ?? 0]));
        if ((await painless(cond.script.source, JSON.stringify(params))) === 'true') keys.push(typeof bucket['key'] === 'object' ? Object.values(bucket['key'] as Json).join(',') : String(bucket['key']));
      }
      triggered.set(name, keys);
      ctx = ctxJson({ newAlerts: keys.map((k) => ({ bucket_keys: k })), completedAlerts: [] });
    }
    for (const a of trigger['actions'] as Json[]) {
      const template = JSON.stringify({ subject: (a['subject_template'] as Json)['source'], message: (a['message_template'] as Json)['source'] });
      rendered.set(name, (await render(template, `{"ctx":${ctx}}`)) as { subject: string; message: string });
    }
  }
  return { results, triggered, rendered };
}

/** Documents stored as the pipeline would have stamped them, `ago` ms before now. */
async function seed(fleet: TestFleet, docs: { doc: BoothDocument; agoMs: number }[], now: number): Promise<void> {
  const lines = docs.map(({ doc, agoMs }) => {
    const kind = doc.event.dataset.replace('booth.', '');
    const stamped = { ...doc, event: { ...doc.event, ingested: new Date(now - agoMs).toISOString() } };
    return `{"create":{"_index":"${fleet.index(kind, doc['@timestamp'])}","_id":"${doc.event.id}"}}\n${JSON.stringify(stamped)}\n`;
  });
  // pipeline=_none: event.ingested as given, not now.
  const r = await call<{ errors: boolean; items: unknown[] }>('POST', '/_bulk?pipeline=_none&refresh=true', lines.join(''), { ndjson: true });
  assert.equal(r.body.errors, false, JSON.stringify(r.body).slice(0, 1000));
  await refresh(fleet.prefix);
}

const booth = (doc: BoothDocument, id: string, country: string): BoothDocument => ({ ...doc, booth: { ...doc.booth, id, country } }) as BoothDocument;

function upload(i: number, id: string, country: string, speed: number, outcome: 'success' | 'rejected' = 'success', status = 201): BoothDocument {
  const d = sampleDoc('booth.upload', i) as BoothDocument & { upload: Json; http: Json; booking: Json };
  return booth({ ...d, booking: { id: `B-${id}` }, upload: { ...d.upload, outcome, speed_mb_s: speed }, http: { response: { status_code: status } } } as BoothDocument, id, country);
}

function monitors(fleet: TestFleet): Map<string, Monitor> {
  const all = fleetMonitors({ ...DEFAULT_FLEET_OPTIONS, prefix: fleet.prefix, slowUploadMbS: 5, slackWebhookUrl: 'https://hooks.slack.invalid/T/B/x' });
  return new Map(all.map((m) => [m.name.slice(fleet.prefix.length + 2), m]));
}

async function setup(t: TestContext): Promise<{ fleet: TestFleet; m: Map<string, Monitor>; now: number }> {
  const fleet = await testFleet(t);
  return { fleet, m: monitors(fleet), now: Date.now() };
}

test('slow uploads: fires below 5 MB/s with the seed\'s message (two decimals, period start, slow booths by name), not above, not on an empty window — and no error', { timeout: 120_000 }, async (t) => {
  const { fleet, m, now } = await setup(t);
  const monitor = m.get('slow uploads')!;
  const empty = await runMonitor(monitor, now, 5);
  assert.equal(empty.triggered.get('fleet average below 5 MB/s'), false, 'an empty window is not slow');
  assert.equal(empty.triggered.get('booths below 5 MB/s'), false);

  await seed(fleet, [0, 1, 2, 3].map((i) => ({ doc: upload(i, 'FB-0001', 'US', 12 + i * 0.1), agoMs: 9 * MIN })), now);
  const fast = await runMonitor(monitor, now, 5);
  assert.equal(fast.triggered.get('fleet average below 5 MB/s'), false);

  // The seed's incident: 0.95 MB/s on average — one booth at 1.0, one at 0.9.
  const slow = [0, 1, 2].flatMap((i) => [{ doc: upload(10 + i, 'FB-4711', 'US', 1.0), agoMs: MIN }, { doc: upload(20 + i, 'FB-4712', 'US', 0.9), agoMs: MIN }]);
  await seed(fleet, slow, now);
  // Fleet: 4 fast uploads 9 minutes ago (12.0–12.3) and 6 slow ones 1 minute ago: average 5.5 MB/s;
  // the window 2 minutes later holds only the slow ones.
  const run = await runMonitor(monitor, now, 5);
  assert.equal(run.triggered.get('booths below 5 MB/s'), true);
  assert.equal(run.triggered.get('fleet average below 5 MB/s'), false, 'the fleet average is still above 5 MB/s with the fast booth in the window');
  const onlySlow = await runMonitor(monitor, now + 2 * MIN, 5);
  assert.equal(onlySlow.triggered.get('fleet average below 5 MB/s'), true);
  const msg = onlySlow.rendered.get('fleet average below 5 MB/s')!;
  t.diagnostic(`rendered: ${msg.subject} | ${msg.message}`);
  assert.equal(msg.subject, 'Fulfillment Download Speed Alert');
  assert.match(msg.message, /^Fulfillment Download Speed Alert — AVG Download Speed: 0\.95 MB\/s \(threshold 5 MB\/s\) — Period start: \d{4}-\d\d-\d\dT[\d:.]+Z — 6 images from 2 booths — slow booths: FB-4712 \(0\.9 MB\/s\) FB-4711 \(1\.0 MB\/s\) $/);
});

test('zero booths online: fires for a country whose booths all went silent, not for one with a live booth, not on an empty cluster', { timeout: 120_000 }, async (t) => {
  const { fleet, m, now } = await setup(t);
  const monitor = m.get('zero booths online per country')!;
  const empty = await runMonitor(monitor, now, 5);
  assert.deepEqual(empty.triggered.get('no booth online in a country'), []);
  const hb = (i: number, id: string, country: string) => booth(sampleDoc('booth.heartbeat', i), id, country);
  await seed(
    fleet,
    [
      { doc: hb(1, 'FB-US-1', 'US'), agoMs: 40 * MIN },
      { doc: hb(2, 'FB-US-2', 'US'), agoMs: 35 * MIN },
      { doc: hb(3, 'FB-FR-1', 'FR'), agoMs: 50 * MIN },
      { doc: hb(4, 'FB-FR-2', 'FR'), agoMs: 1 * MIN },
    ],
    now,
  );
  const run = await runMonitor(monitor, now, 5);
  assert.deepEqual(run.triggered.get('no booth online in a country'), ['US']);
  const msg = run.rendered.get('no booth online in a country')!;
  t.diagnostic(`rendered: ${msg.subject} | ${msg.message}`);
  assert.equal(msg.subject, 'Zero photo booths online');
  assert.match(msg.message, /^Zero photo booths are currently online in US\. Please check! — no heartbeat in the 5 minutes to \S+Z — by country: (FR: 1 of 2 online; US: 0 of 2 online; |US: 0 of 2 online; FR: 1 of 2 online; )$/);
});

test('booth went silent: a booth seen today with no heartbeat for 15 minutes, not one that is live', { timeout: 120_000 }, async (t) => {
  const { fleet, m, now } = await setup(t);
  const monitor = m.get('booth went silent')!;
  assert.deepEqual((await runMonitor(monitor, now, 5)).triggered.get('no heartbeat for 15 minutes'), []);
  const hb = (i: number, id: string) => booth(sampleDoc('booth.heartbeat', i), id, 'US');
  await seed(fleet, [{ doc: hb(1, 'FB-0030'), agoMs: 30 * MIN }, { doc: hb(2, 'FB-0031'), agoMs: 2 * MIN }, { doc: hb(3, 'FB-0031'), agoMs: 40 * MIN }], now);
  const run = await runMonitor(monitor, now, 5);
  assert.deepEqual(run.triggered.get('no heartbeat for 15 minutes'), ['FB-0030']);
  const msg = run.rendered.get('no heartbeat for 15 minutes')!;
  t.diagnostic(`rendered: ${msg.subject} | ${msg.message}`);
  assert.match(msg.message, /^Photo booth FB-0030 went silent: no heartbeat in the 15 minutes to \S+Z \(it was seen in the last 24 hours\)\. Please check!$/);
});

test('upload rejections and data loss: fire on their events with the numbers, not on an empty window', { timeout: 120_000 }, async (t) => {
  const { fleet, m, now } = await setup(t);
  const rejections = m.get('upload rejections')!;
  const loss = m.get('data loss on a booth')!;
  assert.equal((await runMonitor(rejections, now, 10)).triggered.get('images rejected by the upload server'), false);
  assert.equal((await runMonitor(loss, now, 5)).triggered.get('buffer_dropped or state_reset'), false);
  const reset = booth(sampleDoc('booth.agent', 1), 'FB-0042', 'US') as BoothDocument & Json;
  const dropped = booth(sampleDoc('booth.agent', 2), 'FB-0042', 'US') as BoothDocument & Json;
  await seed(
    fleet,
    [
      { doc: upload(1, 'FB-0042', 'US', 0, 'rejected', 404), agoMs: MIN },
      { doc: upload(2, 'FB-0042', 'US', 0, 'rejected', 404), agoMs: MIN },
      { doc: upload(3, 'FB-0043', 'US', 0, 'rejected', 413), agoMs: MIN },
      { doc: { ...reset, event: { ...(reset.event as Json), action: 'state_reset' }, buffer: { quarantined_path: '/var/lib/booth-agent/buffer.db.corrupt-x', salvaged_documents: 1384 } } as unknown as BoothDocument, agoMs: MIN },
      { doc: { ...dropped, event: { ...(dropped.event as Json), action: 'buffer_dropped' }, buffer: { dropped: 120, dropped_total: 120 } } as unknown as BoothDocument, agoMs: MIN },
    ],
    now,
  );
  const r = await runMonitor(rejections, now, 10);
  assert.equal(r.triggered.get('images rejected by the upload server'), true);
  const rm = r.rendered.get('images rejected by the upload server')!;
  t.diagnostic(`rendered: ${rm.subject} | ${rm.message}`);
  assert.match(rm.message, /^Upload rejections — 3 images refused by the upload server between \S+Z and \S+Z — HTTP status: 404 × 2 413 × 1 — booths: FB-0042 \(2; bookings B-FB-0042 \) FB-0043 \(1; bookings B-FB-0043 \) $/);
  const l = await runMonitor(loss, now, 5);
  assert.equal(l.triggered.get('buffer_dropped or state_reset'), true);
  const lm = l.rendered.get('buffer_dropped or state_reset')!;
  t.diagnostic(`rendered: ${lm.subject} | ${lm.message}`);
  assert.match(lm.message, /^Data loss on booths between \S+Z and \S+Z — FB-0042: (buffer_dropped × 1 state_reset × 1|state_reset × 1 buffer_dropped × 1) \(documents dropped: 120\.0\); — buffer_dropped/);
});
