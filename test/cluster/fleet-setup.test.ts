// fleet-setup against a real OpenSearch (issue 17): what it creates, that a second run changes
// nothing, that a hand edit is put back, that --dry-run sends nothing, that the monthly indices
// get the template's mappings and pipeline — and, on a cluster without the Alerting, ISM or
// security plugins, that it says so for each resource instead of pretending.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { fleetNames } from '../../shared/opensearch/fleet-options.ts';
import { DATASETS } from '../../shared/documents/datasets.ts';
import { datasetKind } from '../../shared/opensearch/index-templates.ts';
import { runCli } from '../support/cli.ts';
import { sampleDoc } from '../support/documents.ts';
import { call, clusterUrl } from './support.ts';

async function installed(): Promise<Set<string>> {
  const r = await call<{ component: string }[]>('GET', '/_cat/plugins?format=json');
  return new Set(r.body.map((p) => p.component));
}

function prefixFor(t: TestContext): string {
  const prefix = `fs${crypto.randomBytes(4).toString('hex')}`;
  const names = fleetNames(prefix);
  t.after(async () => {
    await call('DELETE', `/${prefix}-*?expand_wildcards=all`);
    for (const d of DATASETS) await call('DELETE', `/_index_template/${names.template(datasetKind(d))}`);
    await call('DELETE', `/_ingest/pipeline/${names.pipeline}`);
    await call('DELETE', `/_plugins/_ism/policies/${names.policy}`);
    const monitors = await call<{ hits?: { hits: { _id: string }[] } }>('POST', '/_plugins/_alerting/monitors/_search', { query: { prefix: { 'monitor.name.keyword': `${prefix}:` } }, size: 100 });
    for (const m of monitors.body.hits?.hits ?? []) await call('DELETE', `/_plugins/_alerting/monitors/${m._id}`);
  });
  return prefix;
}

const fleetSetup = (prefix: string, ...extra: string[]) => runCli(['fleet-setup', '--url', clusterUrl(), '--prefix', prefix, '--replicas', '0', ...extra], { timeoutMs: 120_000 });

/** "  created    index template   fs…-booking" → verdict by "kind id". */
function verdicts(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of stdout.matchAll(/^ {2}(\S+) +(ingest pipeline|index template|ISM policy|role|Slack channel|monitor) +(.+?)(?: — (.*))?$/gm)) out.set(`${m[2]} ${m[3]}`, m[4] ? `${m[1]}: ${m[4]}` : m[1]!);
  return out;
}

test('fleet-setup on the real cluster: creates the pipeline and templates, a second run finds them unchanged, a hand edit is put back; what the cluster lacks is named per resource', { timeout: 180_000 }, async (t) => {
  const prefix = prefixFor(t);
  const names = fleetNames(prefix);
  const plugins = await installed();
  const first = await fleetSetup(prefix);
  const v1 = verdicts(first.stdout);
  assert.equal(v1.get(`ingest pipeline ${names.pipeline}`), 'created', first.stdout);
  for (const d of DATASETS) assert.equal(v1.get(`index template ${names.template(datasetKind(d))}`), 'created');
  const lacking = ['opensearch-index-management', 'opensearch-alerting'].filter((p) => !plugins.has(p));
  if (lacking.length === 0) {
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal(v1.get(`ISM policy ${names.policy}`), 'created');
  } else {
    // Not pretending: each resource of a missing plugin FAILED, saying which plugin, and the run exits 1.
    assert.equal(first.code, 1);
    if (!plugins.has('opensearch-index-management')) assert.match(v1.get(`ISM policy ${names.policy}`) ?? '', /^FAILED: the Index State Management plugin is not installed on this cluster/);
    if (!plugins.has('opensearch-alerting')) {
      const monitors = [...v1].filter(([k]) => k.startsWith('monitor '));
      assert.equal(monitors.length, 5);
      for (const [, verdict] of monitors) assert.match(verdict, /^FAILED: the Alerting plugin is not installed on this cluster/);
    }
  }

  const second = verdicts((await fleetSetup(prefix)).stdout);
  assert.equal(second.get(`ingest pipeline ${names.pipeline}`), 'unchanged');
  for (const d of DATASETS) assert.equal(second.get(`index template ${names.template(datasetKind(d))}`), 'unchanged');

  // A hand edit through the real API: the booking template loses its pipeline and priority.
  const tpl = names.template('booking');
  const edited = await call<{ index_templates: { index_template: Record<string, unknown> }[] }>('GET', `/_index_template/${tpl}`);
  const body = edited.body.index_templates[0]!.index_template as { priority: number; template: { settings: Record<string, unknown> } };
  assert.equal((await call('PUT', `/_index_template/${tpl}`, { ...body, priority: 150, template: { ...body.template, settings: { index: { number_of_shards: '2' } } } })).status, 200);
  const third = await fleetSetup(prefix);
  assert.equal(verdicts(third.stdout).get(`index template ${tpl}`), 'updated', third.stdout);
  const back = await call<{ index_templates: { index_template: { priority: number; template: { settings: { index: Record<string, unknown> } } } }[] }>('GET', `/_index_template/${tpl}`);
  assert.equal(back.body.index_templates[0]!.index_template.priority, 200);
  assert.equal(back.body.index_templates[0]!.index_template.template.settings.index['default_pipeline'], names.pipeline);

  // A new monthly index gets the template's mappings and pipeline.
  const doc = sampleDoc('booth.booking', 1, () => Date.parse('2026-12-03T10:00:00Z'));
  const index = `${prefix}-booking-2026.12`;
  const bulk = await call<{ errors: boolean }>('POST', '/_bulk?refresh=true', `{"create":{"_index":"${index}","_id":"${doc.event.id}"}}\n${JSON.stringify(doc)}\n`, { ndjson: true });
  assert.equal(bulk.body.errors, false);
  const mapping = await call<Record<string, { mappings: { dynamic: string; properties: { booking: { properties: Record<string, { type: string }> }; event: { properties: Record<string, { type: string }> } } } }>>('GET', `/${index}/_mapping`);
  const m = mapping.body[index]!.mappings;
  assert.equal(m.dynamic, 'false');
  assert.equal(m.properties.booking.properties['count_images']!.type, 'long');
  assert.equal(m.properties.event.properties['ingested']!.type, 'date');
  const stored = await call<{ _source: { event: { ingested?: string } } }>('GET', `/${index}/_doc/${doc.event.id}`);
  assert.ok(stored.body._source.event.ingested, 'stamped by the default pipeline');
});

test('fleet-setup --dry-run on the real cluster sends nothing: afterwards nothing of the fleet exists', { timeout: 60_000 }, async (t) => {
  const prefix = prefixFor(t);
  const names = fleetNames(prefix);
  const dry = await fleetSetup(prefix, '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /nothing is sent/);
  assert.equal((await call('GET', `/_ingest/pipeline/${names.pipeline}`)).status, 404);
  assert.equal((await call('GET', `/_index_template/${names.template('booking')}`)).status, 404);
});
