// The cluster suite's helpers (npm run test:cluster): the real OpenSearch at $OPENSEARCH_URL, and a
// fleet of its own per test — a unique index prefix with the fleet's real pipeline and index
// templates (shared/opensearch) — removed when the test ends, so the suite can run against a
// cluster that holds anything else.
import crypto from 'node:crypto';
import type { TestContext } from 'node:test';
import { fleetNames } from '../../shared/opensearch/fleet-options.ts';
import { indexTemplates } from '../../shared/opensearch/index-templates.ts';
import { ingestPipeline } from '../../shared/opensearch/pipeline.ts';
import { DEFAULT_FLEET_OPTIONS } from '../../shared/opensearch/fleet-options.ts';

export function clusterUrl(): string {
  const url = process.env['OPENSEARCH_URL'];
  if (!url) throw new Error('OPENSEARCH_URL is not set: run the cluster suite with npm run test:cluster (it starts a node, or uses yours)');
  return url.replace(/\/$/, '');
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
}

/** One request to the cluster; the body as JSON (or NDJSON when `ndjson`). */
export async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, opts: { ndjson?: boolean; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { ...(body !== undefined ? { 'content-type': opts.ndjson ? 'application/x-ndjson' : 'application/json' } : {}), ...opts.headers } };
  if (body !== undefined) init.body = typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body);
  const res = await fetch(`${clusterUrl()}${path}`, { ...init, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (e.g. _cat in text): kept as text.
  }
  return { status: res.status, body: parsed as T };
}

export interface TestFleet {
  prefix: string;
  pipeline: string;
  /** The monthly index of a dataset kind ("upload") for a time (ms or ISO). */
  index(kind: string, at: number | string): string;
}

/**
 * A fleet of the test's own: `{prefix}-ingest` and the `{prefix}-*` templates as fleet-setup puts
 * them (one replica less: a single node is green only with none). Everything under the prefix is
 * deleted when the test ends.
 */
export async function testFleet(t: TestContext): Promise<TestFleet> {
  const prefix = `bt${crypto.randomBytes(4).toString('hex')}`;
  const opts = { ...DEFAULT_FLEET_OPTIONS, prefix, replicas: 0 };
  const names = fleetNames(prefix);
  const pipeline = await call('PUT', `/_ingest/pipeline/${names.pipeline}`, ingestPipeline());
  if (pipeline.status !== 200) throw new Error(`PUT pipeline: ${pipeline.status} ${JSON.stringify(pipeline.body)}`);
  for (const tpl of indexTemplates(opts)) {
    const r = await call('PUT', `/_index_template/${tpl.name}`, tpl.body);
    if (r.status !== 200) throw new Error(`PUT _index_template/${tpl.name}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  t.after(async () => {
    await call('DELETE', `/${prefix}-*?expand_wildcards=all`);
    for (const tpl of indexTemplates(opts)) await call('DELETE', `/_index_template/${tpl.name}`);
    await call('DELETE', `/_ingest/pipeline/${names.pipeline}`);
  });
  return {
    prefix,
    pipeline: names.pipeline,
    index: (kind, at) => {
      const d = new Date(at);
      return `${prefix}-${kind}-${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    },
  };
}

/** Makes what was written searchable now (refresh_interval is 5 s). */
export async function refresh(prefix: string): Promise<void> {
  await call('POST', `/${prefix}-*/_refresh?expand_wildcards=all`);
}

export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** How often each event.id is stored under `pattern`: exact (a composite aggregation, paged), unlike a cardinality estimate. */
export async function idCounts(pattern: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let after: Record<string, unknown> | undefined;
  for (;;) {
    const r = await call<{ aggregations: { ids: { buckets: { key: { id: string }; doc_count: number }[]; after_key?: Record<string, unknown> } } }>(
      'POST',
      `/${pattern}/_search?size=0`,
      { aggs: { ids: { composite: { size: 5000, sources: [{ id: { terms: { field: 'event.id' } } }], ...(after ? { after } : {}) } } } },
    );
    const { buckets, after_key } = r.body.aggregations.ids;
    for (const b of buckets) counts.set(b.key.id, b.doc_count);
    if (buckets.length === 0 || !after_key) return counts;
    after = after_key;
  }
}
