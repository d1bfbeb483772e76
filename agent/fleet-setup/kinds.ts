// How each kind of resource is read, compared and written. Every kind has its own API shape
// (reference: ../shared/reference/opensearch.md §3–§4): what GET returns, which call creates,
// which updates and with which concurrency guard.
import type { ClusterClient, ClusterRequest, ClusterResponse } from './client.ts';
import { errorReason, HttpError } from './client.ts';
import { contains, fingerprint } from './compare.ts';

type Json = Record<string, unknown>;

export type KindName = 'ingest pipeline' | 'index template' | 'ISM policy' | 'role' | 'Slack channel' | 'monitor';

export interface Resource {
  kind: KindName;
  /** The resource's name (a monitor's name; its id is the cluster's). */
  id: string;
  body: Json;
}

export interface Current {
  body: Json;
  /** The cluster's id where it is not the name (monitors). */
  clusterId?: string;
  seqNo?: number;
  primaryTerm?: number;
}

/** A response that says the plugin behind an API is not installed. */
export class PluginMissing extends Error {
  override name = 'PluginMissing';
}

export interface KindOps {
  read(client: ClusterClient, r: Resource): Promise<Current | undefined>;
  same(current: Current, r: Resource): boolean;
  create(r: Resource): ClusterRequest;
  update(r: Resource, current: Current): ClusterRequest;
}

const enc = encodeURIComponent;

function unexpected(what: string, res: ClusterResponse): HttpError {
  return new HttpError(`${what}: HTTP ${res.status} ${errorReason(res.body)}`, res.status);
}

/** 400 "no handler found for uri": the node does not serve this API at all. */
function checkPlugin(res: ClusterResponse, plugin: string): void {
  const reason = errorReason(res.body);
  if ((res.status === 400 || res.status === 404 || res.status === 405) && /no handler found for uri/i.test(reason)) {
    throw new PluginMissing(`the ${plugin} plugin is not installed on this cluster (${reason})`);
  }
}

async function get(client: ClusterClient, path: string, plugin: string): Promise<ClusterResponse | undefined> {
  const res = await client.send({ method: 'GET', path });
  checkPlugin(res, plugin);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw unexpected(`GET ${path}`, res);
  return res;
}

const seqQuery = (c: Current) => (c.seqNo !== undefined && c.primaryTerm !== undefined ? `?if_seq_no=${c.seqNo}&if_primary_term=${c.primaryTerm}` : '');

/** The body an index template is written with: ours plus the fingerprint of ours in _meta. */
export function templateBody(r: Resource): Json {
  const meta = (r.body['_meta'] ?? {}) as Json;
  return { ...r.body, _meta: { ...meta, fingerprint: fingerprint(r.body) } };
}

/** An index template body with its settings as OpenSearch gives them back: dotted keys nested. */
function asRendered(body: Json): Json {
  const template = body['template'] as Json | undefined;
  const settings = template?.['settings'] as Json | undefined;
  if (!settings) return body;
  const nested: Json = {};
  for (const [key, value] of Object.entries(settings)) {
    const parts = key.split('.');
    let at = nested;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Json;
    at[parts[parts.length - 1]!] = value;
  }
  return { ...body, template: { ...template, settings: nested } };
}

/** The body a monitor is written with: ours plus its fingerprint where Dashboards keeps editor state. */
export function monitorBody(r: Resource): Json {
  // searchType "query": Dashboards opens it in its extraction-query editor, as it would one made there.
  return { ...r.body, ui_metadata: { search: { searchType: 'query' }, booth_agent: { managed_by: 'booth-agent fleet-setup', fingerprint: fingerprint(r.body) } } };
}

export const KINDS: Record<KindName, KindOps> = {
  'ingest pipeline': {
    async read(client, r) {
      const res = await get(client, `/_ingest/pipeline/${enc(r.id)}`, 'ingest');
      const body = (res?.body as Json | undefined)?.[r.id];
      return body ? { body: body as Json } : undefined;
    },
    same: (c, r) => contains(c.body, r.body),
    create: (r) => ({ method: 'PUT', path: `/_ingest/pipeline/${enc(r.id)}`, body: r.body }),
    update: (r) => ({ method: 'PUT', path: `/_ingest/pipeline/${enc(r.id)}`, body: r.body }),
  },

  'index template': {
    async read(client, r) {
      const res = await get(client, `/_index_template/${enc(r.id)}`, 'index template');
      const found = (res?.body as { index_templates?: Array<{ name: string; index_template: Json }> } | undefined)?.index_templates?.find((t) => t.name === r.id);
      return found ? { body: found.index_template } : undefined;
    },
    // Our fingerprint, and our values as OpenSearch renders them ({"index": {"number_of_shards": "1"}}):
    // a hand edit through GET, change, PUT keeps _meta and its fingerprint, so that alone would miss it.
    same: (c, r) => (c.body['_meta'] as Json | undefined)?.['fingerprint'] === fingerprint(r.body) && contains(c.body, asRendered(r.body)),
    create: (r) => ({ method: 'PUT', path: `/_index_template/${enc(r.id)}`, body: templateBody(r) }),
    update: (r) => ({ method: 'PUT', path: `/_index_template/${enc(r.id)}`, body: templateBody(r) }),
  },

  'ISM policy': {
    async read(client, r) {
      const res = await get(client, `/_plugins/_ism/policies/${enc(r.id)}`, 'Index State Management');
      if (!res) return undefined;
      const b = res.body as { policy?: Json; _seq_no?: number; _primary_term?: number };
      return { body: { policy: b.policy ?? {} }, ...(b._seq_no !== undefined ? { seqNo: b._seq_no } : {}), ...(b._primary_term !== undefined ? { primaryTerm: b._primary_term } : {}) };
    },
    same: (c, r) => contains(c.body, r.body),
    create: (r) => ({ method: 'PUT', path: `/_plugins/_ism/policies/${enc(r.id)}`, body: r.body }),
    // Without the sequence numbers ISM refuses to overwrite a policy (409).
    update: (r, c) => ({ method: 'PUT', path: `/_plugins/_ism/policies/${enc(r.id)}${seqQuery(c)}`, body: r.body }),
  },

  role: {
    async read(client, r) {
      const res = await get(client, `/_plugins/_security/api/roles/${enc(r.id)}`, 'security');
      const body = (res?.body as Json | undefined)?.[r.id];
      return body ? { body: body as Json } : undefined;
    },
    same: (c, r) => contains(c.body, r.body),
    create: (r) => ({ method: 'PUT', path: `/_plugins/_security/api/roles/${enc(r.id)}`, body: r.body }),
    update: (r) => ({ method: 'PUT', path: `/_plugins/_security/api/roles/${enc(r.id)}`, body: r.body }),
  },

  'Slack channel': {
    async read(client, r) {
      const res = await get(client, `/_plugins/_notifications/configs/${enc(r.id)}`, 'Notifications');
      const item = (res?.body as { config_list?: Array<{ config_id: string; config: Json }> } | undefined)?.config_list?.find((c) => c.config_id === r.id);
      return item ? { body: { config_id: item.config_id, config: item.config } } : undefined;
    },
    same: (c, r) => contains(c.body, r.body),
    create: (r) => ({ method: 'POST', path: '/_plugins/_notifications/configs', body: r.body }),
    // The update body is the config alone; the id is in the path.
    update: (r) => ({ method: 'PUT', path: `/_plugins/_notifications/configs/${enc(r.id)}`, body: { config: r.body['config'] } }),
  },

  monitor: {
    async read(client, r) {
      // Monitors have generated ids: find ours by name.
      const search = await client.send({
        method: 'POST',
        path: '/_plugins/_alerting/monitors/_search',
        body: { size: 10, query: { term: { 'monitor.name.keyword': r.id } } },
      });
      checkPlugin(search, 'Alerting');
      // No monitor was ever created: the alerting config index does not exist yet.
      if (search.status === 404) return undefined;
      if (search.status !== 200) throw unexpected('POST /_plugins/_alerting/monitors/_search', search);
      const hits = ((search.body as { hits?: { hits?: Array<{ _id: string; _source?: Json }> } }).hits?.hits ?? []).filter((h) => monitorOf(h._source)?.['name'] === r.id);
      if (hits.length === 0) return undefined;
      if (hits.length > 1) throw new Error(`${hits.length} monitors are named "${r.id}" (ids ${hits.map((h) => h._id).join(', ')}): delete all but one, then run fleet-setup again`);
      const id = hits[0]!._id;
      const res = await get(client, `/_plugins/_alerting/monitors/${enc(id)}`, 'Alerting');
      if (!res) return undefined;
      const b = res.body as { monitor?: Json; _seq_no?: number; _primary_term?: number };
      return { body: b.monitor ?? {}, clusterId: id, ...(b._seq_no !== undefined ? { seqNo: b._seq_no } : {}), ...(b._primary_term !== undefined ? { primaryTerm: b._primary_term } : {}) };
    },
    // The cluster re-renders the search query (ranges become from/to/include_lower…): fingerprints.
    same: (c, r) => {
      const ui = c.body['ui_metadata'] as { booth_agent?: { fingerprint?: string } } | undefined;
      return ui?.booth_agent?.fingerprint === fingerprint(r.body) && c.body['enabled'] === r.body['enabled'];
    },
    create: (r) => ({ method: 'POST', path: '/_plugins/_alerting/monitors', body: monitorBody(r) }),
    update: (r, c) => ({ method: 'PUT', path: `/_plugins/_alerting/monitors/${enc(c.clusterId ?? '')}${seqQuery(c)}`, body: monitorBody(r) }),
  },
};

function monitorOf(source: Json | undefined): Json | undefined {
  if (!source) return undefined;
  return (source['monitor'] as Json | undefined) ?? source;
}
