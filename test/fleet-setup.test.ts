// `booth-agent fleet-setup` against the OpenSearch stand-in, run as the real command: the first run
// creates everything, the second changes nothing, --dry-run sends nothing, a resource edited by
// hand is put back; every request body validates against the OpenSearch API specification; and
// every field the agent writes lands in an index mapped with the type the document schema says.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import * as z from 'zod';
import { mappingOf, unwrapSchema } from '../shared/documents/fields.ts';
import { DATASETS, datasetSchemas, type Dataset } from '../shared/documents/schema.ts';
import { indexName } from '../shared/opensearch/index-name.ts';
import { KINDS } from '../agent/fleet-setup/kinds.ts';
import { fleetResources } from '../agent/fleet-setup/resources.ts';
import { runCli, type CliResult } from './support/cli.ts';
import { sampleDoc } from './support/documents.ts';
import { apiSpec, needs } from './support/needs.ts';
import { loadApiSpec } from './support/opensearch-api-spec.ts';
import { OpenSearchStandIn, type RequestRecord } from './support/opensearch.ts';
import { tempDir } from './support/tmp.ts';

const WEBHOOK = 'https://hooks.slack.com/services/T0000/B0000/secret-part-XYZ';
const RESOURCES = 14; // pipeline, 5 templates, ISM policy, role, Slack channel, 5 monitors

async function cluster(t: TestContext, auth?: { username: string; password: string }): Promise<OpenSearchStandIn> {
  // A fresh cluster: no booth-ingest until fleet-setup installs it.
  const os = await OpenSearchStandIn.start({ boothPipeline: false, ...(auth ? { auth } : {}) });
  t.after(() => os.close());
  return os;
}

function webhookFile(t: TestContext): string {
  const file = path.join(tempDir(t), 'webhook');
  fs.writeFileSync(file, `${WEBHOOK}\n`, { mode: 0o600 });
  return file;
}

function setup(os: OpenSearchStandIn, ...args: string[]): Promise<CliResult> {
  return runCli(['fleet-setup', '--url', os.url, ...args]);
}

function outcomes(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^ {2}(created|updated|unchanged|skipped|FAILED)\s+(ingest pipeline|index template|ISM policy|role|Slack channel|monitor)\s+(.+?)(?: — .*)?$/.exec(line);
    if (m) out.set(`${m[2]} ${m[3]}`, m[1]!);
  }
  return out;
}

const isWrite = (r: RequestRecord) => r.method !== 'GET' && !r.path.endsWith('/_search');

async function assertValidAgainstSpec(requests: RequestRecord[]): Promise<void> {
  const spec = await loadApiSpec();
  for (const r of requests) {
    const problems = spec.validateRequest(r.method, `${r.path}${r.query ? `?${r.query}` : ''}`, r.body);
    assert.deepEqual(problems, [], `${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`);
  }
}

test('the first run creates every resource, the second changes nothing, and every request is valid against the OpenSearch API spec', { timeout: 60_000 }, async (t) => {
  const os = await cluster(t);
  const hook = webhookFile(t);

  const first = await setup(os, '--slack-webhook-file', hook);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const created = outcomes(first.stdout);
  assert.equal(created.size, RESOURCES, first.stdout);
  assert.deepEqual([...new Set(created.values())], ['created']);
  assert.match(first.stdout, /14 created, 0 updated, 0 unchanged/);
  const firstWrites = os.requests.filter(isWrite);
  assert.equal(firstWrites.length, RESOURCES);
  assert.ok(firstWrites.every((r) => r.status === 200 || r.status === 201), JSON.stringify(firstWrites.map((r) => [r.method, r.path, r.status])));

  // What the cluster now holds, as the plugins store it.
  assert.ok(os.pipelines.has('booth-ingest'));
  assert.equal(os.config.alerting.monitors().size, 5);
  const before = os.requests.length;

  const second = await setup(os, '--slack-webhook-file', hook);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  const again = outcomes(second.stdout);
  assert.equal(again.size, RESOURCES);
  assert.deepEqual([...new Set(again.values())], ['unchanged'], second.stdout);
  assert.match(second.stdout, /0 created, 0 updated, 14 unchanged/);
  assert.deepEqual(os.requests.slice(before).filter(isWrite), [], 'the second run writes nothing');

  await t.test('every request is valid against the OpenSearch API spec', needs(apiSpec), () => assertValidAgainstSpec(os.requests));
  for (const out of [first, second]) assert.ok(!out.stdout.includes('secret-part') && !out.stderr.includes('secret-part'), 'the webhook URL is never printed');
});

test('--dry-run sends nothing and prints every request of a first run, the webhook URL hidden', async (t) => {
  const os = await cluster(t);
  const result = await setup(os, '--slack-webhook-file', webhookFile(t), '--dry-run');
  assert.equal(result.code, 0, result.stderr);
  assert.equal(os.requests.length, 0);
  const requestLines = result.stdout.split('\n').filter((l) => /^(PUT|POST) \//.test(l));
  assert.equal(requestLines.length, RESOURCES);
  assert.ok(requestLines.includes('PUT /_index_template/booth-heartbeat'));
  assert.ok(!result.stdout.includes('secret-part'));
  assert.match(result.stdout, /<the URL in --slack-webhook-file>/);
});

test('a resource edited by hand, or changed options, are put back with an update; the rest stay unchanged', { timeout: 60_000 }, async (t) => {
  const os = await cluster(t);
  const hook = webhookFile(t);
  assert.equal((await setup(os, '--slack-webhook-file', hook)).code, 0);

  // Someone edits the upload template and the ingest pipeline by hand.
  const put = async (p: string, body: unknown) => {
    const res = await fetch(`${os.url}${p}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(res.ok, `${p}: ${res.status} ${await res.text()}`);
  };
  await put('/_index_template/booth-upload', { index_patterns: ['booth-upload-*'], priority: 200, template: { mappings: { dynamic: true } } });
  await put('/_ingest/pipeline/booth-ingest', { processors: [] });
  const before = os.requests.length;

  // …and the operator asks for 30 days of retention and a 3 MB/s threshold.
  const run = await setup(os, '--slack-webhook-file', hook, '--retention-days', '30', '--slow-upload-mb-s', '3');
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const o = outcomes(run.stdout);
  const updated = [...o].filter(([, v]) => v === 'updated').map(([k]) => k).sort();
  assert.deepEqual(updated, ['ISM policy booth-retention', 'index template booth-upload', 'ingest pipeline booth-ingest', 'monitor booth: slow uploads']);
  assert.equal([...o.values()].filter((v) => v === 'unchanged').length, RESOURCES - 4);

  const writes = os.requests.slice(before).filter(isWrite);
  assert.equal(writes.length, 4);
  // ISM refuses to overwrite a policy without its sequence numbers; monitors are updated by id.
  assert.ok(writes.some((r) => r.path === '/_plugins/_ism/policies/booth-retention' && /if_seq_no=\d+&if_primary_term=\d+/.test(r.query)));
  assert.ok(writes.some((r) => r.method === 'PUT' && r.path.startsWith('/_plugins/_alerting/monitors/')));
  await t.test('the updates are valid against the OpenSearch API spec', needs(apiSpec), () => assertValidAgainstSpec(writes));
  assert.equal((await setup(os, '--slack-webhook-file', hook, '--retention-days', '30', '--slow-upload-mb-s', '3')).stdout.match(/14 unchanged/)?.[0], '14 unchanged');
});

test('every request fleet-setup can send validates against the spec: creates and updates of every kind', needs(apiSpec), async () => {
  const spec = await loadApiSpec();
  const resources = fleetResources({ prefix: 'booth', retentionDays: 90, slowUploadMbS: 5, replicas: 1, slackWebhookUrl: WEBHOOK });
  assert.equal(resources.length, RESOURCES);
  for (const r of resources) {
    const current = { body: {}, clusterId: 'mon-1', seqNo: 4, primaryTerm: 1 };
    for (const req of [KINDS[r.kind].create(r), KINDS[r.kind].update(r, current)]) {
      assert.deepEqual(spec.validateRequest(req.method, req.path, req.body), [], `${r.kind} ${r.id}: ${req.method} ${req.path}`);
    }
  }
});

/** Every leaf of a dataset's document schema, "a.b.c" → the mapping type it declares. */
function schemaLeaves(schema: z.ZodType, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  const declared = mappingOf(schema) ?? mappingOf(unwrapSchema(schema));
  if (declared) return out.set(prefix, declared);
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodArray) return schemaLeaves(s.element as z.ZodType, prefix);
  assert.ok(s instanceof z.ZodObject, `${prefix}: neither a mapped leaf nor an object`);
  for (const [key, child] of Object.entries(s.shape as Record<string, z.ZodType>)) {
    for (const [p, type] of schemaLeaves(child, prefix ? `${prefix}.${key}` : key)) out.set(p, type);
  }
  return out;
}

test('every field the agent writes is mapped with the type its schema declares, in the index the agent writes to', { timeout: 60_000 }, async (t) => {
  const os = await cluster(t);
  assert.equal((await setup(os)).code, 0);

  // One document of each dataset, as the agent makes them, sent the way the agent sends them.
  const docs = DATASETS.map((d: Dataset) => sampleDoc(d, 1));
  const body = docs.map((d) => `${JSON.stringify({ create: { _index: indexName('booth', d.event.dataset, d['@timestamp']), _id: d.event.id } })}\n${JSON.stringify(d)}\n`).join('');
  const res = await fetch(`${os.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  const result = (await res.json()) as { errors: boolean; items: Array<{ create: { status: number; error?: unknown } }> };
  assert.equal(result.errors, false, JSON.stringify(result.items));

  let checked = 0;
  for (const doc of docs) {
    const dataset = doc.event.dataset;
    const index = indexName('booth', dataset, doc['@timestamp']);
    assert.equal(os.indexTemplate(index), `booth-${dataset.slice(6)}`, `${index} was made from its template`);
    assert.equal(os.indexSettings(index)['index.default_pipeline'], 'booth-ingest');
    const mapping = os.mapping(index);
    const leaves = schemaLeaves(datasetSchemas[dataset]);
    assert.ok(leaves.size > 20, dataset);
    for (const [field, type] of leaves) {
      assert.equal(mapping[field], type, `${index}: ${field} should be mapped as ${type}`);
      checked++;
    }
    // The cluster's own field, stamped by the pipeline the template names.
    assert.equal(mapping['event.ingested'], 'date');
    const stored = (await (await fetch(`${os.url}/${index}/_doc/${doc.event.id}`)).json()) as { _source: { event: { ingested?: string } } };
    assert.match(stored._source.event.ingested ?? '', /^\d{4}-\d\d-\d\dT/);
    // Nothing was mapped beyond the template: no field typed by guesswork.
    const extra = Object.entries(mapping).filter(([f, type]) => type !== 'object' && !leaves.has(f) && f !== 'event.ingested');
    assert.deepEqual(extra, [], index);
  }
  assert.ok(checked > 150, `${checked} fields checked`);
});

test('a field a newer agent adds is kept, not mapped and not refused (dynamic: false)', async (t) => {
  const os = await cluster(t);
  assert.equal((await setup(os)).code, 0);
  const doc = { ...sampleDoc('booth.heartbeat'), future: { field: 42 } };
  const index = indexName('booth', 'booth.heartbeat', doc['@timestamp']);
  const res = await fetch(`${os.url}/_bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${JSON.stringify({ create: { _index: index, _id: doc.event.id } })}\n${JSON.stringify(doc)}\n`,
  });
  assert.equal(((await res.json()) as { errors: boolean }).errors, false);
  assert.equal(os.mapping(index)['future.field'], undefined);
});

test('a cluster that refuses the credentials, or cannot be reached, fails with exit 1 and says why', { timeout: 60_000 }, async (t) => {
  const os = await cluster(t, { username: 'admin', password: 'right' });
  const dir = tempDir(t);
  const wrong = path.join(dir, 'wrong');
  const right = path.join(dir, 'right');
  fs.writeFileSync(wrong, 'wrong\n', { mode: 0o600 });
  fs.writeFileSync(right, 'right\n', { mode: 0o600 });

  const refused = await setup(os, '--user', 'admin', '--password-file', wrong);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /FAILED\s+ingest pipeline\s+booth-ingest — GET \/_ingest\/pipeline\/booth-ingest: HTTP 401/);
  // One refusal is enough: the rest would be refused the same way.
  assert.match(refused.stdout, /0 created, 0 updated, 0 unchanged, 1 FAILED/);
  assert.match(refused.stdout, /refuses these credentials \(HTTP 401\): stopped; 12 resources not tried/);
  assert.equal(os.requests.length, 1);

  const accepted = await setup(os, '--user', 'admin', '--password-file', right);
  assert.equal(accepted.code, 0, accepted.stdout);

  const closed = await runCli(['fleet-setup', '--url', 'http://127.0.0.1:9']);
  assert.equal(closed.code, 1);
  assert.match(closed.stdout, /FAILED\s+ingest pipeline\s+booth-ingest — GET http:\/\/127\.0\.0\.1:9\/_ingest\/pipeline\/booth-ingest: .*ECONNREFUSED/);
});

test('bad options exit 64 and name the option', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--url is required/],
    [['--url', 'ftp://x'], /--url: expected http/],
    [['--url', 'https://admin:pw@x:9200'], /no credentials in the URL/],
    [['--url', 'http://x', '--prefix', 'Booth'], /--prefix "Booth"/],
    [['--url', 'http://x', '--retention-days', 'soon'], /--retention-days "soon"/],
    [['--url', 'http://x', '--slack-webhook-file', '/nonexistent/hook'], /--slack-webhook-file \/nonexistent\/hook: no such file/],
    [['--url', 'http://x', '--user', 'admin'], /--user and --password-file go together/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['fleet-setup', ...args]);
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
