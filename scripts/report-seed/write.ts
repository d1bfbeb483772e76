// Writes a generated fleet into a cluster the way booths do: each document checked against the
// agent's schema, `create` with its event.id as _id into {prefix}-{kind}-YYYY.MM, through the
// fleet's ingest pipeline (the index templates name it). A document already there (a second seed)
// is a 409 and stays stored once. Two requests of ~4 MB in flight keep a local node busy.
import { applyResources } from '../../agent/fleet-setup/apply.ts';
import type { ClusterClient } from '../../agent/fleet-setup/client.ts';
import { fleetResources } from '../../agent/fleet-setup/resources.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { validateDocument } from '../../shared/documents/validate.ts';
import { DEFAULT_FLEET_OPTIONS } from '../../shared/opensearch/fleet-options.ts';
import { indexName } from '../../shared/opensearch/index-name.ts';

export interface WriteResult {
  documents: number;
  created: number;
  /** Already stored (a seed run twice). */
  existing: number;
  requests: number;
  seconds: number;
}

const BATCH_BYTES = 4_000_000;

/** The fleet's pipeline and index templates, as fleet-setup applies them (the rest needs plugins a seed does not). */
export async function prepareFleet(client: ClusterClient, prefix: string, replicas: number): Promise<void> {
  const wanted = fleetResources({ ...DEFAULT_FLEET_OPTIONS, prefix, replicas }).filter((r) => r.kind === 'ingest pipeline' || r.kind === 'index template');
  const failed = (await applyResources(client, wanted)).filter((r) => r.outcome === 'failed');
  if (failed.length > 0) throw new Error(`could not apply ${failed.map((r) => `${r.resource.kind} ${r.resource.id}: ${r.detail ?? ''}`).join('; ')}`);
}

export async function writeFleet(client: ClusterClient, prefix: string, docs: Iterable<BoothDocument>, progress: (r: WriteResult) => void = () => {}): Promise<WriteResult> {
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
    const v = validateDocument(doc);
    if (!v.ok) throw new Error(`a generated ${doc.event.dataset} document does not fit the agent's schema: ${v.reason}`);
    const source = JSON.stringify(doc);
    lines.push(JSON.stringify({ create: { _index: indexName(prefix, doc.event.dataset, doc['@timestamp']), _id: doc.event.id } }), source);
    result.documents++;
    bytes += source.length;
    if (bytes >= BATCH_BYTES) await flush();
  }
  await flush();
  await Promise.all(inFlight);
  const refreshed = await client.send({ method: 'POST', path: `/${prefix}-*/_refresh?expand_wildcards=all&allow_no_indices=true` });
  if (refreshed.status !== 200) throw new Error(`POST /${prefix}-*/_refresh: ${refreshed.status}`);
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
