// Keeps the stand-in honest (issue 17): the same requests to the real node and to
// test/support/opensearch.ts, and their answers compared — status, the shape of the body (keys and
// value types), error types and reasons — ignoring what differs by nature (ids, times, uuids,
// versions, shard counts). Each difference found was fixed in the stand-in; this test keeps it so.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { fleetNames } from '../../shared/opensearch/fleet-options.ts';
import { indexTemplates } from '../../shared/opensearch/index-templates.ts';
import { ingestPipeline } from '../../shared/opensearch/pipeline.ts';
import { DEFAULT_FLEET_OPTIONS } from '../../shared/opensearch/fleet-options.ts';
import { OpenSearchStandIn } from '../support/opensearch.ts';
import { sampleDoc } from '../support/documents.ts';
import { clusterUrl } from './support.ts';

interface Step {
  name: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

interface Seen {
  status: number;
  body: unknown;
}

async function send(base: string, s: Step): Promise<Seen> {
  const res = await fetch(`${base}${s.path}`, { method: s.method, headers: s.headers ?? {}, ...(s.body !== undefined ? { body: s.body } : {}), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** Keys whose values differ by nature between two clusters (or two runs). */
const VOLATILE = new Set(['took', '_version', '_seq_no', '_primary_term', 'index_uuid', 'uuid', 'cluster_uuid', 'cluster_name', 'name', 'build_hash', 'build_date', 'build_snapshot', 'build_type', 'lucene_version', 'number', 'minimum_wire_compatibility_version', 'minimum_index_compatibility_version', 'distribution', 'tagline', 'shard', '_shards', 'ingest_took']);

/** The comparable form of an answer: volatile values as their type, ids and uuids in text replaced. */
function shape(value: unknown, prefixes: string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => shape(v, prefixes));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      out[k] = VOLATILE.has(k) ? `<${typeof v}>` : shape(v, prefixes);
    }
    return out;
  }
  if (typeof value === 'string') {
    let s = value.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>').replace(/\[[A-Za-z0-9_-]{22}\]/g, '[<index-uuid>]');
    for (const p of prefixes) s = s.split(p).join('<prefix>');
    return s;
  }
  return value;
}

function steps(prefix: string): Step[] {
  const names = fleetNames(prefix);
  const json = { 'content-type': 'application/json' };
  const nd = { 'content-type': 'application/x-ndjson' };
  const doc = sampleDoc('booth.booking', 1, () => Date.parse('2026-12-03T10:00:00Z'));
  const index = `${prefix}-booking-2026.12`;
  const line = (d: typeof doc) => `{"create":{"_index":"${index}","_id":"${d.event.id}"}}\n${JSON.stringify(d)}\n`;
  const second = sampleDoc('booth.booking', 2, () => Date.parse('2026-12-03T10:00:00Z'));
  const bad = { ...sampleDoc('booth.booking', 3, () => Date.parse('2026-12-03T10:00:00Z')), booking: { id: 'B3', count_images: 'many' } };
  const tpl = indexTemplates({ ...DEFAULT_FLEET_OPTIONS, prefix, replicas: 0 }).find((t) => t.name === names.template('booking'))!;
  return [
    { name: 'GET / (what fleet-setup asks first)', method: 'GET', path: '/' },
    { name: 'GET a pipeline that is not there', method: 'GET', path: `/_ingest/pipeline/${names.pipeline}` },
    { name: 'PUT the pipeline', method: 'PUT', path: `/_ingest/pipeline/${names.pipeline}`, body: JSON.stringify(ingestPipeline()), headers: json },
    { name: 'GET the pipeline', method: 'GET', path: `/_ingest/pipeline/${names.pipeline}` },
    { name: 'GET an index template that is not there', method: 'GET', path: `/_index_template/${tpl.name}` },
    { name: 'PUT the booking template', method: 'PUT', path: `/_index_template/${tpl.name}`, body: JSON.stringify(tpl.body), headers: json },
    { name: 'GET the booking template', method: 'GET', path: `/_index_template/${tpl.name}` },
    { name: '_bulk create: created', method: 'POST', path: '/_bulk', body: line(doc) + line(second), headers: nd },
    { name: '_bulk create of an existing _id: 409', method: 'POST', path: '/_bulk', body: line(doc), headers: nd },
    { name: '_bulk gzip: a mapping conflict beside a 409', method: 'POST', path: '/_bulk', body: zlib.gzipSync(line(bad as typeof doc) + line(second)), headers: { ...nd, 'content-encoding': 'gzip' } },
    { name: '_bulk with a malformed action line', method: 'POST', path: '/_bulk', body: `{}\n${JSON.stringify(doc)}\n`, headers: nd },
    { name: '_bulk with an unknown metadata key', method: 'POST', path: '/_bulk', body: `{"create":{"_index":"${index}","_require_alias":true}}\n${JSON.stringify(doc)}\n`, headers: nd },
    { name: '_bulk without the final newline', method: 'POST', path: '/_bulk', body: `{"create":{"_index":"${index}"}}\n${JSON.stringify(doc)}`, headers: nd },
    { name: 'the stored document (the pipeline stamped event.ingested)', method: 'GET', path: `/${index}/_doc/${doc.event.id}?_source_includes=event.id,event.dataset` },
  ];
}

test('the stand-in answers as the real node does: fleet-setup\'s reads and writes, _bulk (created, 409, mapping conflict, gzip, malformed, unknown key), the pipeline', { timeout: 120_000 }, async (t) => {
  const standIn = await OpenSearchStandIn.start({ seed: 17, boothPipeline: false });
  t.after(() => standIn.close());
  const prefix = `bt${crypto.randomBytes(4).toString('hex')}`;
  const names = fleetNames(prefix);
  t.after(async () => {
    await fetch(`${clusterUrl()}/${prefix}-*?expand_wildcards=all`, { method: 'DELETE' });
    await fetch(`${clusterUrl()}/_index_template/${names.template('booking')}`, { method: 'DELETE' });
    await fetch(`${clusterUrl()}/_ingest/pipeline/${names.pipeline}`, { method: 'DELETE' });
  });
  const differences: string[] = [];
  for (const s of steps(prefix)) {
    const real = await send(clusterUrl(), s);
    const ours = await send(standIn.url, s);
    const a = JSON.stringify({ status: real.status, body: shape(real.body, [prefix]) }, null, 1);
    const b = JSON.stringify({ status: ours.status, body: shape(ours.body, [prefix]) }, null, 1);
    if (a !== b) differences.push(`${s.name}:\n  real:     ${a.replace(/\n\s*/g, ' ')}\n  stand-in: ${b.replace(/\n\s*/g, ' ')}`);
  }
  assert.deepEqual(differences, [], `the stand-in differs from OpenSearch:\n${differences.join('\n')}`);
});
