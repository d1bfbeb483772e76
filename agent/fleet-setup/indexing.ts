// A fleet's indexing side without the rest of fleet-setup — the pipeline and the index templates —
// and documents written into it the way booths write them: `create` with the event.id as _id into
// {prefix}-{kind}-YYYY.MM, through the pipeline the templates name; a document already there is a
// 409 and stays stored once. For data that did not come from booths: the report's generated fleet
// (npm run report:seed, its tests and benchmark) and the demo's report on a real cluster.
import { fleetNames, DEFAULT_FLEET_OPTIONS } from '../../shared/opensearch/fleet-options.ts';
import { indexName } from '../../shared/opensearch/index-name.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { applyResources } from './apply.ts';
import type { ClusterClient } from './client.ts';
import { fleetResources } from './resources.ts';

export interface WriteResult {
  documents: number;
  created: number;
  /** Already stored (a seed run twice). */
  existing: number;
  requests: number;
  seconds: number;
}

const BATCH_BYTES = 4_000_000;

const indexing = (prefix: string, replicas: number) =>
  fleetResources({ ...DEFAULT_FLEET_OPTIONS, prefix, replicas }).filter((r) => r.kind === 'ingest pipeline' || r.kind === 'index template');

/** The fleet's pipeline and index templates, as fleet-setup applies them (the rest needs plugins and is not needed to store). */
export async function applyIndexing(client: ClusterClient, prefix: string, replicas: number): Promise<void> {
  const failed = (await applyResources(client, indexing(prefix, replicas))).filter((r) => r.outcome === 'failed');
  if (failed.length > 0) throw new Error(`could not apply ${failed.map((r) => `${r.resource.kind} ${r.resource.id}: ${r.detail ?? ''}`).join('; ')}`);
}

/** Removes what applyIndexing made and every index of the prefix; what is already gone is no error. */
export async function removeIndexing(client: ClusterClient, prefix: string): Promise<void> {
  const names = fleetNames(prefix);
  await client.send({ method: 'DELETE', path: `/${names.allIndices}?expand_wildcards=all&allow_no_indices=true` });
  for (const r of indexing(prefix, 0)) await client.send({ method: 'DELETE', path: r.kind === 'ingest pipeline' ? `/_ingest/pipeline/${r.id}` : `/_index_template/${r.id}` });
}

/** Writes `docs` (already valid documents), ~4 MB a request, two in flight; then makes them searchable. */
export async function writeDocuments(client: ClusterClient, prefix: string, docs: Iterable<BoothDocument>, progress: (r: WriteResult) => void = () => {}): Promise<WriteResult> {
  const started = performance.now();
  const result: WriteResult = { documents: 0, created: 0, existing: 0, requests: 0, seconds: 0 };
  const inFlight = new Set<Promise<void>>();
  let lines: string[] = [];
  let bytes = 0;
  const flush = async () => {
    if (lines.length === 0) return;
    const body = `${lines.join('\n')}\n`;
    lines = [];
    bytes = 0;
    const p = send(client, body, result).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 2) await Promise.race(inFlight);
    progress({ ...result, seconds: (performance.now() - started) / 1000 });
  };
  for (const doc of docs) {
    const source = JSON.stringify(doc);
    lines.push(JSON.stringify({ create: { _index: indexName(prefix, doc.event.dataset, doc['@timestamp']), _id: doc.event.id } }), source);
    result.documents++;
    bytes += source.length;
    if (bytes >= BATCH_BYTES) await flush();
  }
  await flush();
  await Promise.all(inFlight);
  const refreshed = await client.send({ method: 'POST', path: `/${fleetNames(prefix).allIndices}/_refresh?expand_wildcards=all&allow_no_indices=true` });
  if (refreshed.status !== 200) throw new Error(`POST /${fleetNames(prefix).allIndices}/_refresh: ${refreshed.status}`);
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

type Item = { create?: { status: number; error?: { type?: string; reason?: string } } };

async function send(client: ClusterClient, ndjson: string, result: WriteResult): Promise<void> {
  result.requests++;
  const res = await client.send({ method: 'POST', path: '/_bulk', ndjson });
  if (res.status !== 200) throw new Error(`POST /_bulk: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  for (const item of (res.body as { items: Item[] }).items) {
    const status = item.create?.status ?? 0;
    if (status === 201) result.created++;
    else if (status === 409) result.existing++;
    else throw new Error(`POST /_bulk: an item answered ${status}: ${JSON.stringify(item.create?.error ?? item).slice(0, 300)}`);
  }
}
