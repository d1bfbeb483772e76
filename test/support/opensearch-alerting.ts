// Alerting monitors of the OpenSearch stand-in: `POST /_plugins/_alerting/monitors`,
// `GET|PUT|DELETE /_plugins/_alerting/monitors/{id}` and `GET|POST .../monitors/_search`, answering
// like the alerting plugin 2.x (RestIndexMonitorAction, TransportIndex/Get/DeleteMonitorAction,
// RestSearchMonitorAction, common-utils Monitor/Trigger/Action/SearchInput).
//
// What a client reads back is not what it sent: the plugin parses the monitor into its model and
// writes that out again, so the stand-in does the same. Server fields appear (schema_version,
// enabled_time, last_update_time, user, data_sources, owner), triggers and actions get ids, scripts
// get their default lang, and the search query is re-rendered the way SearchSourceBuilder prints it
// (bool gets adjust_pure_negative and boost, range becomes from/to/include_lower/include_upper, term
// gets value/boost, ...). Queries other than bool, range, term, terms, match, match_all, match_none,
// exists and ids are kept as sent; aggregations are kept as sent (under `aggregations`).
//
// Errors go through AlertingException.wrap: type `alerting_exception` with the friendly message and
// a plain `exception` cause naming the original Java class.
import {
  errorReply,
  illegalArgument,
  isObject,
  longParam,
  SystemIndex,
  VersionConflict,
  type ConfigEnv,
  type ConfigReply,
  type ConfigRequest,
  type ErrorCause,
} from './opensearch-config-common.ts';

export const ALERTING_INDEX = '.opendistro-alerting-config';
/** `_meta.schema_version` of the scheduled-jobs mapping (7 in the alerting sources read), stamped on stored monitors. */
const SCHEDULED_JOB_SCHEMA_VERSION = 7;
const MONITOR_TYPES = ['query_level_monitor', 'bucket_level_monitor', 'cluster_metrics_monitor', 'doc_level_monitor'];
const TRIGGER_TYPES = ['query_level_trigger', 'bucket_level_trigger', 'document_level_trigger'];
const TRIGGER_FOR: Record<string, string> = {
  query_level_monitor: 'query_level_trigger',
  cluster_metrics_monitor: 'query_level_trigger',
  bucket_level_monitor: 'bucket_level_trigger',
  doc_level_monitor: 'document_level_trigger',
};
const DEFAULT_DATA_SOURCES = {
  query_index: '.opensearch-alerting-queries',
  findings_index: '.opensearch-alerting-finding-history-write',
  findings_index_pattern: '<.opensearch-alerting-finding-history-{now/d}-1>',
  alerts_index: '.opendistro-alerting-alerts',
  alerts_history_index: '.opendistro-alerting-alert-history-write',
  alerts_history_index_pattern: '<.opendistro-alerting-alert-history-{now/d}-1>',
  query_index_mappings_by_type: {},
  findings_enabled: false,
};
const MAX_INPUTS = 1;
const MAX_TRIGGERS = 10;
/** Fields of the scheduled-jobs mapping that are `text` (analyzed); their `.keyword` subfield is exact. */
const TEXT_FIELDS = new Set(['monitor.name', 'monitor.owner', 'monitor.user.name', 'monitor.inputs.search.indices']);

const IAE = 'java.lang.IllegalArgumentException';
const ISE = 'java.lang.IllegalStateException';
const OSE = 'org.opensearch.OpenSearchStatusException';

/** AlertingException.wrap(e) as the REST layer renders it. */
function alerting(status: number, reason: string, javaClass: string, original = reason) {
  return errorReply(status, { type: 'alerting_exception', reason, caused_by: { type: 'exception', reason: `${javaClass}: ${original}` } });
}
const invalid = (reason: string) => alerting(400, reason, IAE);

interface MonitorDoc {
  monitor: Record<string, unknown>;
}

export class AlertingMonitors {
  readonly index: SystemIndex<MonitorDoc>;
  private readonly env: ConfigEnv;

  constructor(env: ConfigEnv) {
    this.env = env;
    this.index = new SystemIndex(ALERTING_INDEX, env.randomId());
  }

  /** The stored monitors (as in the config index, `user` included), by id. */
  monitors(): Map<string, Record<string, unknown>> {
    return new Map(this.index.all().map((d) => [d.id, d.source.monitor]));
  }

  handle(req: ConfigRequest, id: string | undefined, search: boolean): ConfigReply {
    if (search) return this.search(req);
    if (req.method === 'POST') return this.create(req);
    if (id === undefined) throw illegalArgument('Missing monitor ID');
    if (req.method === 'PUT') return this.update(req, id);
    const doc = this.existing(id, 'Monitor not found.');
    if (req.method === 'DELETE') {
      const d = this.index.delete(id);
      return { status: 200, body: { _id: id, _version: d.version } };
    }
    return { status: 200, body: { _id: id, _version: doc.version, _seq_no: doc.seqNo, _primary_term: 1, monitor: publicView(doc.source.monitor), associated_workflows: [] } };
  }

  private existing(id: string, missing: string) {
    if (!this.index.exists) throw this.indexMissing();
    const doc = this.index.get(id);
    if (!doc) throw alerting(404, missing, OSE);
    return doc;
  }

  private indexMissing() {
    return alerting(404, `Configured indices are not found: [${ALERTING_INDEX}]`, 'org.opensearch.index.IndexNotFoundException', `no such index [${ALERTING_INDEX}]`);
  }

  private create(req: ConfigRequest): ConfigReply {
    const monitor = parseMonitor(bodyOf(req), this.env, req.now.getTime());
    const written = this.index.write(this.env.randomId(), { monitor });
    const body = { _id: written.id, _version: written.version, _seq_no: written.seqNo, _primary_term: 1, monitor: publicView(monitor) };
    return { status: 201, body, headers: { Location: `/_plugins/_alerting/monitors/${written.id}` } };
  }

  private update(req: ConfigRequest, id: string): ConfigReply {
    const monitor = parseMonitor(bodyOf(req), this.env, req.now.getTime());
    const current = this.existing(id, `Monitor with ${id} is not found`).source.monitor;
    // Both enabled: the monitor keeps its enabled_time, or the next run would be scheduled wrong.
    if (monitor['enabled'] === true && current['enabled'] === true) monitor['enabled_time'] = current['enabled_time'];
    const ifSeqNo = longParam(req.params, 'if_seq_no');
    const ifPrimaryTerm = longParam(req.params, 'if_primary_term');
    let written;
    try {
      written = this.index.write(id, { monitor }, ifSeqNo === undefined && ifPrimaryTerm === undefined ? {} : { ifSeqNo, ifPrimaryTerm });
    } catch (e) {
      if (!(e instanceof VersionConflict)) throw e;
      throw alerting(409, e.error.reason ?? '', 'org.opensearch.index.engine.VersionConflictEngineException');
    }
    return { status: 200, body: { _id: id, _version: written.version, _seq_no: written.seqNo, _primary_term: 1, monitor: publicView(monitor) } };
  }

  /** RestSearchMonitorAction: a search of the config index whose hits' _source is re-rendered as Monitor.toXContent. */
  private search(req: ConfigRequest): ConfigReply {
    const index = req.params.get('index') ?? ALERTING_INDEX;
    if (index !== ALERTING_INDEX && index !== '.opendistro-alerting-alert*') throw illegalArgument('Invalid index name.');
    if (req.text.trim() === '') throw errorReply(400, { type: 'parse_exception', reason: 'request body or source parameter is required' });
    const source = bodyOf(req);
    const query = source['query'] ?? { match_all: {} };
    const from = Number(source['from'] ?? 0);
    const size = Number(source['size'] ?? 10);
    if (!this.index.exists) throw this.indexMissing();
    // Hits come in creation order: `sort` is not modelled.
    const all = this.index.all().filter((d) => matches(query, d.id, { monitor: d.source.monitor }));
    const hits = all.slice(from, from + size).map((d) => ({
      _index: ALERTING_INDEX,
      _id: d.id,
      _version: d.version,
      _seq_no: d.seqNo,
      _primary_term: 1,
      // Scores are not modelled: every hit scores 1.0.
      _score: 1.0,
      _source: publicView(d.source.monitor),
    }));
    return {
      status: 200,
      body: { took: 1, timed_out: false, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 }, hits: { total: { value: all.length, relation: 'eq' }, max_score: hits.length > 0 ? 1.0 : null, hits } },
    };
  }
}

function bodyOf(req: ConfigRequest): Record<string, unknown> {
  if (req.text.trim() === '') throw errorReply(400, { type: 'parse_exception', reason: 'request body is required' });
  let value: unknown;
  try {
    value = JSON.parse(req.text);
  } catch (e) {
    throw errorReply(400, { type: 'json_parse_exception', reason: (e as Error).message });
  }
  if (!isObject(value)) throw errorReply(400, { type: 'parsing_exception', reason: `Failed to parse object: expecting token of type [START_OBJECT] but found [START_ARRAY]` });
  return value;
}

/** Monitor.toXContent (the REST view): the stored monitor without `user`. */
function publicView(monitor: Record<string, unknown>): Record<string, unknown> {
  const { user: _u, ...rest } = monitor;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Monitor model (common-utils Monitor.parse, its init checks, toXContentWithUser)

function parseMonitor(raw: Record<string, unknown>, env: ConfigEnv, now: number): Record<string, unknown> {
  const monitorType = raw['monitor_type'] === undefined ? 'query_level_monitor' : String(raw['monitor_type']);
  if (!MONITOR_TYPES.includes(monitorType)) {
    // An IllegalStateException, which AlertingException.wrap turns into a 500.
    throw alerting(500, `Monitor type should be one of [${MONITOR_TYPES.join(', ')}]`, ISE);
  }
  const inputs = (Array.isArray(raw['inputs']) ? raw['inputs'] : []).map((i) => renderInput(i, env));
  const triggers = (Array.isArray(raw['triggers']) ? raw['triggers'] : []).map((t) => parseTrigger(t, env));
  if (raw['name'] === undefined || raw['name'] === null) throw invalid('Monitor name is null');
  if (!isObject(raw['schedule'])) throw invalid('Monitor schedule is null');
  const dataSources = parseDataSources(raw['data_sources']);
  const ids = new Set<string>();
  for (const t of triggers) {
    if (ids.has(t.id)) throw invalid(`Duplicate trigger id: ${t.id}. Trigger ids must be unique.`);
    ids.add(t.id);
    if (t.kind !== TRIGGER_FOR[monitorType]) throw invalid(`Incompatible trigger [${t.id}] for monitor type [${monitorType}]`);
  }
  if (inputs.length > MAX_INPUTS) throw invalid(`Monitors can only have ${MAX_INPUTS} search input.`);
  if (triggers.length > MAX_TRIGGERS) throw invalid(`Monitors can only support up to ${MAX_TRIGGERS} triggers.`);
  if (monitorType === 'bucket_level_monitor') {
    for (const input of inputs) {
      const query = isObject(input['search']) ? input['search']['query'] : undefined;
      const aggs = isObject(query) ? query['aggregations'] : undefined;
      // The real message prints SearchInput.toString(); this one prints the input as JSON.
      if (!isObject(aggs) || Object.keys(aggs).length === 0) throw invalid(`At least one aggregation is required for the input [${JSON.stringify(input)}]`);
    }
  }
  const enabled = raw['enabled'] === undefined ? true : raw['enabled'] === true || raw['enabled'] === 'true';
  const monitor: Record<string, unknown> = {
    type: 'monitor',
    schema_version: SCHEDULED_JOB_SCHEMA_VERSION,
    name: String(raw['name']),
    monitor_type: monitorType,
    user: isObject(raw['user']) ? raw['user'] : null,
    enabled,
    enabled_time: enabled ? (typeof raw['enabled_time'] === 'number' ? raw['enabled_time'] : now) : null,
    schedule: renderSchedule(raw['schedule']),
    inputs,
    triggers: triggers.map((t) => t.rendered),
    last_update_time: now,
  };
  if (isObject(raw['ui_metadata']) && Object.keys(raw['ui_metadata']).length > 0) monitor['ui_metadata'] = raw['ui_metadata'];
  monitor['data_sources'] = dataSources;
  monitor['owner'] = typeof raw['owner'] === 'string' ? raw['owner'] : 'alerting';
  return monitor;
}

/** DataSources.parse (missing fields are empty strings) + RestIndexMonitorAction.validateDataSources. */
function parseDataSources(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return { ...DEFAULT_DATA_SOURCES };
  const o = isObject(raw) ? raw : {};
  const text = (k: string) => (o[k] === undefined || o[k] === null ? '' : String(o[k]));
  if (text('query_index') === '') throw invalid('Query index cannot be empty');
  if (text('findings_index') === '') throw invalid('Findings index cannot be empty');
  if (text('alerts_index') === '') throw invalid('Alerts index cannot be empty');
  if (text('query_index') !== DEFAULT_DATA_SOURCES.query_index || text('findings_index') !== DEFAULT_DATA_SOURCES.findings_index || text('alerts_index') !== DEFAULT_DATA_SOURCES.alerts_index) {
    throw invalid('Custom Data Sources are not allowed.');
  }
  return {
    query_index: text('query_index'),
    findings_index: text('findings_index'),
    findings_index_pattern: text('findings_index_pattern'),
    alerts_index: text('alerts_index'),
    alerts_history_index: text('alerts_history_index'),
    alerts_history_index_pattern: text('alerts_history_index_pattern'),
    query_index_mappings_by_type: isObject(o['query_index_mappings_by_type']) ? o['query_index_mappings_by_type'] : {},
    findings_enabled: o['findings_enabled'] === true,
  };
}

/** IntervalSchedule / CronSchedule.toXContent. */
function renderSchedule(raw: unknown): unknown {
  if (!isObject(raw)) return raw;
  const period = raw['period'];
  if (isObject(period)) return { period: { interval: Number(period['interval']), unit: String(period['unit'] ?? 'MINUTES').toUpperCase() } };
  const cron = raw['cron'];
  if (isObject(cron)) return { cron: { expression: cron['expression'], timezone: cron['timezone'] } };
  return raw;
}

/** Script.toXContent: source, lang (the parser's default when absent), params when not empty. */
function renderScript(raw: unknown, defaultLang: string): Record<string, unknown> {
  if (typeof raw === 'string') return { source: raw, lang: defaultLang };
  const o = isObject(raw) ? raw : {};
  const out: Record<string, unknown> = { source: o['source'] ?? o['inline'] ?? '', lang: typeof o['lang'] === 'string' ? o['lang'] : defaultLang };
  if (isObject(o['params']) && Object.keys(o['params']).length > 0) out['params'] = o['params'];
  return out;
}

function renderInput(raw: unknown, env: ConfigEnv): Record<string, unknown> {
  if (!isObject(raw)) return {};
  const search = raw['search'];
  if (isObject(search)) {
    const indices = Array.isArray(search['indices']) ? search['indices'] : [];
    return { search: { indices, query: renderSearchSource(isObject(search['query']) ? search['query'] : {}) } };
  }
  const doc = raw['doc_level_input'];
  if (isObject(doc)) {
    const queries = (Array.isArray(doc['queries']) ? doc['queries'] : []).map((q) => {
      const o = isObject(q) ? q : {};
      return { id: typeof o['id'] === 'string' ? o['id'] : env.randomId(), name: o['name'], fields: Array.isArray(o['fields']) ? o['fields'] : [], query: o['query'], tags: Array.isArray(o['tags']) ? o['tags'] : [] };
    });
    return { doc_level_input: { description: doc['description'] ?? '', indices: Array.isArray(doc['indices']) ? doc['indices'] : [], queries } };
  }
  return raw;
}

interface ParsedTrigger {
  kind: string;
  id: string;
  rendered: Record<string, unknown>;
}

/** Trigger.parse: a wrapper key names the type; without one the trigger is a (legacy) query-level trigger. */
function parseTrigger(raw: unknown, env: ConfigEnv): ParsedTrigger {
  const o = isObject(raw) ? raw : {};
  const keys = Object.keys(o);
  const wrapped = keys.length === 1 && TRIGGER_TYPES.includes(keys[0] ?? '') && isObject(o[keys[0] ?? '']);
  const kind = wrapped ? (keys[0] ?? '') : 'query_level_trigger';
  const inner = (wrapped ? o[kind] : o) as Record<string, unknown>;
  const id = typeof inner['id'] === 'string' ? inner['id'] : env.randomId();
  if (inner['name'] === undefined || inner['name'] === null) throw invalid('Trigger name is null');
  if (inner['severity'] === undefined || inner['severity'] === null) throw invalid('Trigger severity is null');
  const condition = isObject(inner['condition']) ? inner['condition'] : undefined;
  if (!condition) throw invalid('Trigger condition is null');
  const actions = (Array.isArray(inner['actions']) ? inner['actions'] : []).map((a) => renderAction(a, kind, env));
  const rendered: Record<string, unknown> = { id, name: String(inner['name']), severity: String(inner['severity']) };
  if (kind === 'bucket_level_trigger') {
    rendered['condition'] = {
      buckets_path: isObject(condition['buckets_path']) ? condition['buckets_path'] : {},
      parent_bucket_path: condition['parent_bucket_path'],
      script: renderScript(condition['script'], 'painless'),
      gap_policy: String(condition['gap_policy'] ?? 'skip').toLowerCase(),
    };
  } else {
    rendered['condition'] = { script: renderScript(condition['script'], 'painless') };
  }
  rendered['actions'] = actions;
  return { kind, id, rendered: { [kind]: rendered } };
}

/** Action.toXContent; bucket-level actions default to per-alert execution on NEW and DEDUPED alerts. */
function renderAction(raw: unknown, triggerKind: string, env: ConfigEnv): Record<string, unknown> {
  const o = isObject(raw) ? raw : {};
  if (o['name'] === undefined || o['name'] === null) throw invalid('Action name is null');
  const out: Record<string, unknown> = {
    id: typeof o['id'] === 'string' ? o['id'] : env.randomId(),
    name: String(o['name']),
    destination_id: o['destination_id'] ?? null,
    message_template: renderScript(o['message_template'], 'mustache'),
    throttle_enabled: o['throttle_enabled'] === true,
  };
  if (o['subject_template'] !== undefined && o['subject_template'] !== null) out['subject_template'] = renderScript(o['subject_template'], 'mustache');
  const throttle = o['throttle'];
  if (isObject(throttle)) out['throttle'] = { value: Number(throttle['value']), unit: String(throttle['unit'] ?? 'MINUTES').toUpperCase() };
  if (isObject(o['action_execution_policy'])) out['action_execution_policy'] = o['action_execution_policy'];
  else if (triggerKind === 'bucket_level_trigger') out['action_execution_policy'] = { action_execution_scope: { per_alert: { actionable_alerts: ['DEDUPED', 'NEW'] } } };
  return out;
}

// ---------------------------------------------------------------------------------------------
// SearchSourceBuilder / QueryBuilder rendering

const SOURCE_ORDER = ['from', 'size', 'timeout', 'terminate_after', 'query', 'post_filter', 'min_score', 'version', 'seq_no_primary_term', 'explain', 'profile', '_source', 'stored_fields', 'docvalue_fields', 'script_fields', 'sort', 'track_scores', 'track_total_hits', 'search_after', 'slice', 'stats', 'ext', 'aggregations'];

/** SearchSourceBuilder.toXContent after parseXContent: known keys in its order, `aggs` renamed `aggregations`. */
export function renderSearchSource(src: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = { ...src };
  if (given['aggs'] !== undefined && given['aggregations'] === undefined) {
    given['aggregations'] = given['aggs'];
    delete given['aggs'];
  }
  const out: Record<string, unknown> = {};
  for (const key of SOURCE_ORDER) {
    if (given[key] === undefined) continue;
    out[key] = key === 'query' || key === 'post_filter' ? renderQuery(given[key]) : given[key];
  }
  for (const [key, value] of Object.entries(given)) if (!(key in out)) out[key] = value;
  return out;
}

const boostOf = (o: Record<string, unknown>): number => (o['boost'] === undefined ? 1.0 : Number(o['boost']));
const clauses = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** One query as its QueryBuilder.doXContent prints it (unknown kinds are kept as sent). */
export function renderQuery(q: unknown): unknown {
  if (!isObject(q)) return q;
  const [kind] = Object.keys(q);
  const body = kind === undefined ? undefined : q[kind];
  if (kind === undefined || !isObject(body)) return q;
  const named = (out: Record<string, unknown>) => (body['_name'] === undefined ? out : { ...out, _name: body['_name'] });
  switch (kind) {
    case 'bool': {
      const out: Record<string, unknown> = {};
      for (const occur of ['must', 'filter', 'must_not', 'should']) {
        const list = clauses(body[occur]).map(renderQuery);
        if (list.length > 0) out[occur] = list;
      }
      out['adjust_pure_negative'] = body['adjust_pure_negative'] ?? true;
      if (body['minimum_should_match'] !== undefined) out['minimum_should_match'] = String(body['minimum_should_match']);
      out['boost'] = boostOf(body);
      return { bool: named(out) };
    }
    case 'range':
      return { range: mapField(body, (f) => renderRange(f)) };
    case 'term':
      return { term: mapField(body, (f) => (isObject(f) ? { value: f['value'], ...(f['case_insensitive'] === true ? { case_insensitive: true } : {}), boost: boostOf(f) } : { value: f, boost: 1.0 })) };
    case 'terms': {
      const { boost: _b, _name: _n, ...fields } = body;
      return { terms: named({ ...fields, boost: boostOf(body) }) };
    }
    case 'match':
      return { match: mapField(body, (f) => renderMatch(f)) };
    case 'match_all':
    case 'match_none':
      return { [kind]: named({ boost: boostOf(body) }) };
    case 'exists':
      return { exists: named({ field: body['field'], boost: boostOf(body) }) };
    case 'ids':
      return { ids: named({ values: clauses(body['values']), boost: boostOf(body) }) };
    default:
      return q;
  }
}

/** `{field: spec}` queries: render the one field's spec, keep `boost`/`_name` written beside it. */
function mapField(body: Record<string, unknown>, render: (spec: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, k === 'boost' || k === '_name' ? v : render(v)]));
}

function renderRange(spec: unknown): unknown {
  if (!isObject(spec)) return spec;
  const pick = (...keys: string[]) => keys.find((k) => spec[k] !== undefined);
  const lower = pick('gte', 'gt', 'from');
  const upper = pick('lte', 'lt', 'to');
  const out: Record<string, unknown> = {
    from: lower === undefined ? null : spec[lower],
    to: upper === undefined ? null : spec[upper],
    include_lower: lower === 'gt' ? false : lower === 'gte' ? true : spec['include_lower'] !== false,
    include_upper: upper === 'lt' ? false : upper === 'lte' ? true : spec['include_upper'] !== false,
  };
  if (spec['time_zone'] !== undefined) out['time_zone'] = spec['time_zone'];
  if (spec['format'] !== undefined) out['format'] = spec['format'];
  if (spec['relation'] !== undefined) out['relation'] = spec['relation'];
  out['boost'] = boostOf(spec);
  if (spec['_name'] !== undefined) out['_name'] = spec['_name'];
  return out;
}

function renderMatch(spec: unknown): unknown {
  const o = isObject(spec) ? spec : { query: spec };
  const out: Record<string, unknown> = { query: o['query'], operator: String(o['operator'] ?? 'OR').toUpperCase() };
  if (o['analyzer'] !== undefined) out['analyzer'] = o['analyzer'];
  if (o['fuzziness'] !== undefined) out['fuzziness'] = String(o['fuzziness']);
  out['prefix_length'] = o['prefix_length'] ?? 0;
  out['max_expansions'] = o['max_expansions'] ?? 50;
  if (o['minimum_should_match'] !== undefined) out['minimum_should_match'] = String(o['minimum_should_match']);
  out['fuzzy_transpositions'] = o['fuzzy_transpositions'] ?? true;
  out['lenient'] = o['lenient'] ?? false;
  out['zero_terms_query'] = String(o['zero_terms_query'] ?? 'NONE').toUpperCase();
  out['auto_generate_synonyms_phrase_query'] = o['auto_generate_synonyms_phrase_query'] ?? true;
  out['boost'] = boostOf(o);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluating a search over the config documents `{"monitor": {...}}`

function unsupported(kind: string): never {
  throw errorReply(400, { type: 'illegal_argument_exception', reason: `the OpenSearch stand-in does not evaluate [${kind}] queries on monitors` } satisfies ErrorCause);
}

/** The values at a dotted path, through arrays; `analyzed` for text fields (tokens, lowercased). */
function valuesAt(doc: unknown, field: string): { values: string[]; analyzed: boolean } {
  const exact = field.endsWith('.keyword');
  const path = exact ? field.slice(0, -'.keyword'.length) : field;
  const out: string[] = [];
  const walk = (node: unknown, parts: string[]): void => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, parts));
    if (parts.length === 0) {
      if (node !== null && node !== undefined && !isObject(node)) out.push(String(node));
      return;
    }
    if (isObject(node)) walk(node[parts[0] ?? ''], parts.slice(1));
  };
  walk(doc, path.split('.'));
  const analyzed = !exact && TEXT_FIELDS.has(path);
  return { values: analyzed ? out.flatMap(tokens) : out, analyzed };
}

const tokens = (s: string): string[] => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);

function termMatches(doc: unknown, field: string, value: unknown): boolean {
  const { values } = valuesAt(doc, field);
  return values.includes(String(value));
}

function matches(q: unknown, id: string, doc: unknown): boolean {
  if (!isObject(q)) return unsupported(String(q));
  const [kind] = Object.keys(q);
  const body = kind === undefined ? undefined : q[kind];
  if (kind === undefined || !isObject(body)) return unsupported(String(kind));
  const fieldSpec = () => Object.entries(body).find(([k]) => k !== 'boost' && k !== '_name') ?? ['', undefined];
  switch (kind) {
    case 'match_all':
      return true;
    case 'match_none':
      return false;
    case 'bool': {
      const all = (occur: string) => clauses(body[occur]).every((c) => matches(c, id, doc));
      const should = clauses(body['should']).filter((c) => matches(c, id, doc)).length;
      const shouldCount = clauses(body['should']).length;
      const scoring = clauses(body['must']).length + clauses(body['filter']).length;
      const minimum = body['minimum_should_match'] !== undefined ? Number(body['minimum_should_match']) : shouldCount > 0 && scoring === 0 ? 1 : 0;
      return all('must') && all('filter') && clauses(body['must_not']).every((c) => !matches(c, id, doc)) && should >= minimum;
    }
    case 'term': {
      const [field, spec] = fieldSpec();
      return termMatches(doc, field, isObject(spec) ? spec['value'] : spec);
    }
    case 'terms': {
      const [field, list] = fieldSpec();
      return clauses(list).some((v) => termMatches(doc, field, v));
    }
    case 'exists':
      return valuesAt(doc, String(body['field'])).values.length > 0;
    case 'ids':
      return clauses(body['values']).map(String).includes(id);
    case 'match': {
      const [field, spec] = fieldSpec();
      const text = String(isObject(spec) ? spec['query'] : spec);
      const { values, analyzed } = valuesAt(doc, field);
      const wanted = analyzed ? tokens(text) : [text];
      const and = isObject(spec) && String(spec['operator'] ?? 'or').toLowerCase() === 'and';
      return and ? wanted.every((w) => values.includes(w)) : wanted.some((w) => values.includes(w));
    }
    default:
      return unsupported(kind);
  }
}
