// Runs OpenSearch Alerting query-level and bucket-level monitors against a search function, the
// way `POST _plugins/_alerting/monitors/_execute?dryrun=true` does, for tests. It is a model of
// the plugin, scoped to what our monitors (shared/opensearch/monitors.ts) use; anything outside
// that scope throws UnsupportedFeatureError instead of being guessed at.
//
// Sources it mirrors (opensearch-project/alerting and common-utils, 2.x):
// - InputService.getSearchRequest/collectInputResults: the query JSON is rendered with mustache
//   with {period_start, period_end} as epoch millis; the search response becomes ctx.results[0]
//   as Jackson parses its JSON (HashMaps; "3.0" → Double, "3" → Integer — see
//   painless-subset.ts); a failed search gives input_results {results: [], error}.
// - Period: period_end = the given time, period_start = period_end − the schedule's interval
//   (IntervalSchedule.getPeriodEndingAt).
// - QueryLevelMonitorRunner + TriggerService.runQueryLevelTrigger: the painless condition gets
//   ctx {monitor, trigger, results, periodStart, periodEnd, alert, error}; a script exception
//   makes the trigger triggered = true with the error (the alert goes to ERROR). Actions run when
//   triggered, unless the current alert is ACKNOWLEDGED and there is no error; throttle
//   (MonitorRunnerService.isActionActionable) against the alert's last run of that action.
// - AggregationQueryRewriter + BucketSelectorExtAggregator (common-utils): each bucket-level
//   trigger is injected into the query as a top-level `bucket_selector_ext` aggregation named
//   after the trigger, evaluated by the search (search-subset.ts) into
//   {parent_bucket_path, bucket_indices}; a composite parent is paged with `after` while the
//   response has an after_key — so a composite with any bucket costs a second, empty page.
// - BucketLevelMonitorRunner: trigger results are combined over pages; alerts are categorized
//   against the current ones (AlertService.getCategorizedAlertsForBucketLevelMonitor: DEDUPED if
//   the bucket keys had an alert, else NEW; current alerts not seen on any page → COMPLETED);
//   ACKNOWLEDGED deduped alerts get no actions; each action runs per its action_execution_policy
//   (per_alert over actionable_alerts, default [DEDUPED, NEW]; per_execution once, skipped when
//   nothing to say); an error, or more actionable alerts than max_actionable_alert_count (50),
//   falls back to per_execution. The action context is the trigger context of the LAST page
//   (so ctx.results of a paged composite is the last, empty page) with, for per_alert, only that
//   alert in its category list (getActionContextForAlertCategory).
// - TriggerService.runBucketLevelTrigger/getBucketKeyValuesList: bucket keys from a terms key
//   (String or Integer) or a composite key map's values in HashMap order, joined with "#" as the
//   result key and with "," in the template (Alert.asTemplateArg bucket_keys).
// - MonitorRunner.runAction (dryrun): output {subject, message}; an empty message is an error
//   ("Message content missing…"). Template context = TriggerExecutionContext.asTemplateArg():
//   monitor {_id, _version, name, enabled}, trigger {id, name, severity, actions}, results,
//   periodStart/periodEnd (java.time.Instant → "2024-06-01T12:00:00Z"), error, and alert
//   (query-level) or dedupedAlerts/newAlerts/completedAlerts (bucket-level).
// - Mustache (OpenSearch lang-mustache: mustache.java + CustomReflectionObjectHandler +
//   CustomMustacheFactory): {{x}} JSON-escaped (the default content type), {{{x}}}/{{& x}} raw,
//   dotted names searched scope by scope from the innermost, list.N and list.size, sections over
//   lists / truthy values, inverted sections, Java toString of values.
//
// Deliberately not covered (documented, not guessed): document-level and cluster-metrics
// monitors, workflows/chained alerts, findings, sample documents in alert contexts
// (AlertContext.sample_documents), bucket_selector_ext filters, multi-input monitors, cron
// schedules, notification channels (nothing is sent: dry run), alert history and error-history
// details, action ids (real ones are random: results are keyed by action id when the monitor has
// one, else by name; trigger results and the injected aggregation likewise by trigger id, else
// name). Mustache partials, delimiter changes and OpenSearch's {{#toJson}}/{{#join}}/{{#url}}
// lambdas are rejected; standalone-tag line trimming is not modelled. Error messages carry the
// Java exception type and the failing expression (real Alerting shows "runtime error" there).
import {
  fromJson,
  isJavaMap,
  JavaBean,
  JavaDouble,
  JavaInstant,
  javaHashMapOrder,
  javaToString,
  javaTypeName,
  PainlessError,
  runPainless,
  scriptSource,
  UnsupportedFeatureError,
  type JavaMap,
  type JavaValue,
} from './painless-subset.ts';
import { SearchError, searchDocuments, type SearchRequest, type SearchResponse } from './search-subset.ts';

export { JavaDouble, JavaInstant, PainlessError, runPainless, SearchError, searchDocuments, UnsupportedFeatureError };
export type { JavaValue, SearchRequest, SearchResponse };

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Mustache

type MNode = { t: 'text'; s: string } | { t: 'var'; name: string; escape: boolean } | { t: 'section'; name: string; inverted: boolean; children: MNode[] };

const LAMBDAS = new Set(['toJson', 'join', 'url']);

function parseMustache(template: string): MNode[] {
  const root: MNode[] = [];
  const stack: Array<{ name: string; children: MNode[] }> = [];
  let cur = root;
  let i = 0;
  const fail = (what: string): never => {
    throw new UnsupportedFeatureError(`mustache-subset: ${what} in template "${template}"`);
  };
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) {
      cur.push({ t: 'text', s: template.slice(i) });
      break;
    }
    if (open > i) cur.push({ t: 'text', s: template.slice(i, open) });
    if (template.startsWith('{{{', open)) {
      const close = template.indexOf('}}}', open + 3);
      if (close < 0) fail('an unclosed {{{');
      const name = template.slice(open + 3, close).trim();
      if (!name) fail('an empty {{{ }}} tag');
      cur.push({ t: 'var', name, escape: false });
      i = close + 3;
      continue;
    }
    const close = template.indexOf('}}', open + 2);
    if (close < 0) fail('an unclosed {{');
    const inner = template.slice(open + 2, close);
    const sigil = inner[0];
    const name = (sigil && '#^/!&>='.includes(sigil) ? inner.slice(1) : inner).trim();
    i = close + 2;
    if (sigil === '!') continue;
    if (sigil === '>') fail(`the partial {{${inner}}}`);
    if (sigil === '=') fail(`the delimiter change {{${inner}}}`);
    if (!name) fail('an empty tag');
    if (sigil === '#' || sigil === '^') {
      if (LAMBDAS.has(name)) fail(`OpenSearch's {{#${name}}} lambda`);
      const node: MNode = { t: 'section', name, inverted: sigil === '^', children: [] };
      cur.push(node);
      stack.push({ name, children: cur });
      cur = node.children;
    } else if (sigil === '/') {
      const top = stack.pop();
      if (!top || top.name !== name) throw new UnsupportedFeatureError(`mustache: mismatched {{/${name}}} (open: ${top?.name ?? 'none'}) in template "${template}"`);
      cur = top.children;
    } else {
      cur.push({ t: 'var', name, escape: sigil !== '&' });
    }
  }
  if (stack.length) throw new UnsupportedFeatureError(`mustache: unclosed section {{#${stack[stack.length - 1]!.name}}} in template "${template}"`);
  return root;
}

/** Every tag of a template with the sections enclosing it (outermost first): for static checks. */
export function mustacheTags(template: string): Array<{ name: string; kind: 'var' | 'section' | 'inverted'; sections: string[] }> {
  const out: Array<{ name: string; kind: 'var' | 'section' | 'inverted'; sections: string[] }> = [];
  const walk = (nodes: MNode[], sections: string[]): void => {
    for (const n of nodes) {
      if (n.t === 'var') out.push({ name: n.name, kind: 'var', sections });
      else if (n.t === 'section') {
        out.push({ name: n.name, kind: n.inverted ? 'inverted' : 'section', sections });
        walk(n.children, [...sections, n.name]);
      }
    }
  };
  walk(parseMustache(template), []);
  return out;
}

/** One step of a dotted name: Map key, list index or "size" (CustomReflectionObjectHandler), bean getter. */
function mustacheGet(v: JavaValue, seg: string): { found: boolean; value: JavaValue } {
  if (isJavaMap(v)) return Object.hasOwn(v, seg) ? { found: true, value: v[seg]! } : { found: false, value: null };
  if (Array.isArray(v)) {
    if (seg === 'size') return { found: true, value: v.length };
    if (/^\d+$/.test(seg)) {
      const x = v[Number(seg)];
      return x === undefined || x === null ? { found: false, value: null } : { found: true, value: x };
    }
    return { found: false, value: null };
  }
  if (v instanceof JavaBean) return Object.hasOwn(v.fields, seg) ? { found: true, value: v.fields[seg]! } : { found: false, value: null };
  return { found: false, value: null };
}

/** mustache.java's ReflectionObjectHandler.find: the dotted name is tried in each scope, innermost first. */
function mustacheLookup(scopes: readonly JavaValue[], name: string): JavaValue {
  if (name === '.') return scopes[scopes.length - 1] ?? null;
  const segs = name.split('.');
  for (let i = scopes.length - 1; i >= 0; i--) {
    let v: JavaValue = scopes[i]!;
    let found = true;
    for (let j = 0; j < segs.length; j++) {
      if (v === null) {
        found = false;
        break;
      }
      const r = mustacheGet(v, segs[j]!);
      if (!r.found) {
        found = false;
        break;
      }
      v = r.value;
    }
    if (found) return v;
  }
  return null;
}

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Jackson's JsonStringEncoder.quoteAsString: what the default (JSON) mustache encoder does to {{x}}. */
function jsonEscape(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/["\\\u0000-\u001f]/g, (c) => JSON_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

function falsey(v: JavaValue): boolean {
  return v === null || v === false || v === '' || (Array.isArray(v) && v.length === 0);
}

function renderNodes(nodes: MNode[], scopes: JavaValue[]): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.s;
    else if (n.t === 'var') {
      const v = mustacheLookup(scopes, n.name);
      if (v !== null) out += n.escape ? jsonEscape(javaToString(v)) : javaToString(v);
    } else {
      const v = mustacheLookup(scopes, n.name);
      if (n.inverted) {
        if (falsey(v)) out += renderNodes(n.children, scopes);
      } else if (!falsey(v)) {
        if (Array.isArray(v)) for (const item of v) out += renderNodes(n.children, [...scopes, item]);
        else out += renderNodes(n.children, [...scopes, v]);
      }
    }
  }
  return out;
}

/** Renders a mustache template as OpenSearch's lang-mustache does for a script with no content_type. */
export function renderMustache(template: string, context: JavaValue): string {
  return renderNodes(parseMustache(template), [context]);
}

// ---------------------------------------------------------------------------------------------
// Types

export type SearchFunction = (indices: string[], request: SearchRequest) => SearchResponse | Promise<SearchResponse>;
export type AlertCategory = 'NEW' | 'DEDUPED' | 'COMPLETED';
export type AlertState = 'ACTIVE' | 'ACKNOWLEDGED' | 'ERROR' | 'COMPLETED';

/** An alert of the monitor, as Alerting keeps it in its alert index (the fields we model). */
export interface AlertRecord {
  /** Bucket-level: the bucket's key values (strings, as Alerting stores them). Query-level: absent. */
  bucketKeys?: string[];
  state: AlertState;
  startTime: Date;
  lastNotificationTime?: Date | null;
  endTime?: Date | null;
  /** When each action (by id or name) last ran for this alert, for throttling. */
  actionLastRun?: Record<string, Date>;
  errorMessage?: string | null;
  id?: string;
}

export interface ExecuteOptions {
  search: SearchFunction;
  periodEnd: Date;
  /**
   * The monitor's current alerts (ACTIVE, ACKNOWLEDGED or ERROR) per trigger id or name — e.g. a
   * previous run's `alerts`. For bucket-level triggers a bare `string[]` (the bucket keys) stands
   * for an ACTIVE alert.
   */
  previousAlerts?: Record<string, ReadonlyArray<AlertRecord | readonly string[]>>;
  /** plugins.alerting.max_actionable_alert_count (default 50). */
  maxActionableAlertCount?: number;
}

export interface ActionRunResult {
  id: string;
  name: string;
  output: { subject?: string; message?: string };
  throttled: boolean;
  executed_time: number | null;
  error: string | null;
}
export interface QueryLevelTriggerRunResult {
  name: string;
  triggered: boolean;
  error: string | null;
  action_results: Record<string, ActionRunResult>;
}
export interface AggregationResultBucket {
  agg_alert_content: { parent_bucket_path: string; bucket_keys: string[]; bucket: Json };
}
export interface BucketLevelTriggerRunResult {
  name: string;
  error: string | null;
  agg_result_buckets: Record<string, AggregationResultBucket>;
  /** Keyed by the bucket keys joined with "#", then by action. */
  action_results: Record<string, Record<string, ActionRunResult>>;
}

export interface RenderedMessage {
  trigger: string;
  action: string;
  /** Bucket-level per-alert actions: the alert's category and bucket keys. */
  category?: AlertCategory;
  bucketKeys?: string[];
  subject: string;
  message: string;
}

export interface MonitorRunResult {
  monitor_name: string;
  period_start: number;
  period_end: number;
  error: string | null;
  input_results: { results: Json[]; error: string | null };
  trigger_results: Record<string, QueryLevelTriggerRunResult | BucketLevelTriggerRunResult>;
  /** Convenience: every action that ran (not throttled, no error), in order. */
  messages: RenderedMessage[];
  /** The monitor's alerts after this run (COMPLETED ones leave), per trigger id or name: feed to the next run. */
  alerts: Record<string, AlertRecord[]>;
  /** Every search sent (rendered, rewritten), in order. */
  searches: Array<{ indices: string[]; request: SearchRequest }>;
}

// ---------------------------------------------------------------------------------------------
// Monitor definition

interface ParsedAction {
  key: string;
  id: string;
  name: string;
  destinationId: string;
  subject: string | undefined;
  message: string;
  throttleMs: number | undefined;
  perAlert: AlertCategory[] | undefined;
  perExecution: boolean;
}
interface ParsedTrigger {
  key: string;
  id: string;
  name: string;
  severity: string;
  kind: 'query' | 'bucket';
  script: { source: string; params: JavaMap };
  /** Bucket-level: the condition as given (it becomes a bucket_selector_ext). */
  condition: Json;
  parentBucketPath: string;
  actions: ParsedAction[];
}
interface ParsedMonitor {
  id: string;
  name: string;
  enabled: boolean;
  kind: 'query' | 'bucket';
  intervalMs: number;
  indices: string[];
  query: Json;
  triggers: ParsedTrigger[];
}

const UNIT_MS: Record<string, number> = { MINUTES: 60_000, HOURS: 3_600_000, DAYS: 86_400_000 };

function onlyKeys(o: Json, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new UnsupportedFeatureError(`alerting-executor: [${k}] in ${where} is not supported`);
}

function template(t: unknown, where: string): string {
  if (!isObject(t)) throw new UnsupportedFeatureError(`alerting-executor: ${where} must be {source, lang}`);
  onlyKeys(t, ['source', 'lang'], where);
  if (t['lang'] !== undefined && t['lang'] !== 'mustache') throw new UnsupportedFeatureError(`alerting-executor: ${where}.lang [${String(t['lang'])}]`);
  if (typeof t['source'] !== 'string') throw new UnsupportedFeatureError(`alerting-executor: ${where}.source must be a string`);
  return t['source'];
}

function parseAction(a: unknown, kind: 'query' | 'bucket', where: string): ParsedAction {
  if (!isObject(a)) throw new UnsupportedFeatureError(`alerting-executor: ${where} must be an object`);
  onlyKeys(a, ['id', 'name', 'destination_id', 'subject_template', 'message_template', 'throttle_enabled', 'throttle', 'action_execution_policy'], where);
  if (typeof a['name'] !== 'string' || typeof a['destination_id'] !== 'string') throw new UnsupportedFeatureError(`alerting-executor: ${where} needs name and destination_id`);
  let throttleMs: number | undefined;
  if (a['throttle_enabled'] === true) {
    const th = a['throttle'];
    if (!isObject(th) || typeof th['value'] !== 'number' || UNIT_MS[String(th['unit'] ?? 'MINUTES')] === undefined) {
      throw new UnsupportedFeatureError(`alerting-executor: ${where}.throttle must be {value, unit: MINUTES|HOURS|DAYS}`);
    }
    throttleMs = th['value'] * UNIT_MS[String(th['unit'] ?? 'MINUTES')]!;
  }
  let perAlert: AlertCategory[] | undefined;
  let perExecution = false;
  const policy = a['action_execution_policy'];
  if (policy !== undefined) {
    if (kind === 'query') throw new UnsupportedFeatureError(`alerting-executor: ${where}: action_execution_policy on a query-level trigger`);
    const scope = isObject(policy) ? policy['action_execution_scope'] : undefined;
    if (!isObject(scope)) throw new UnsupportedFeatureError(`alerting-executor: ${where}.action_execution_policy.action_execution_scope`);
    if (isObject(scope['per_alert'])) {
      const cats = scope['per_alert']['actionable_alerts'];
      if (!Array.isArray(cats) || !cats.every((c) => c === 'NEW' || c === 'DEDUPED' || c === 'COMPLETED')) {
        throw new UnsupportedFeatureError(`alerting-executor: ${where}: actionable_alerts must be NEW/DEDUPED/COMPLETED`);
      }
      perAlert = [...new Set(cats as AlertCategory[])];
    } else if (isObject(scope['per_execution'])) perExecution = true;
    else throw new UnsupportedFeatureError(`alerting-executor: ${where}: action_execution_scope must be per_alert or per_execution`);
  } else if (kind === 'bucket') {
    perAlert = ['DEDUPED', 'NEW']; // ActionExecutionPolicy.getDefaultConfigurationForBucketLevelMonitor
  }
  const id = typeof a['id'] === 'string' ? a['id'] : '';
  return {
    key: id || a['name'],
    id,
    name: a['name'],
    destinationId: a['destination_id'],
    subject: a['subject_template'] === undefined ? undefined : template(a['subject_template'], `${where}.subject_template`),
    message: template(a['message_template'], `${where}.message_template`),
    throttleMs,
    perAlert,
    perExecution,
  };
}

function parseMonitor(monitor: Json): ParsedMonitor {
  onlyKeys(monitor, ['id', 'type', 'monitor_type', 'name', 'enabled', 'schedule', 'inputs', 'triggers'], 'the monitor');
  const type = monitor['monitor_type'] ?? 'query_level_monitor';
  if (type !== 'query_level_monitor' && type !== 'bucket_level_monitor') throw new UnsupportedFeatureError(`alerting-executor: monitor_type [${String(type)}]`);
  const kind = type === 'query_level_monitor' ? 'query' : 'bucket';
  if (typeof monitor['name'] !== 'string') throw new UnsupportedFeatureError('alerting-executor: the monitor needs a name');
  const period = isObject(monitor['schedule']) ? monitor['schedule']['period'] : undefined;
  if (!isObject(period) || typeof period['interval'] !== 'number' || UNIT_MS[String(period['unit'])] === undefined) {
    throw new UnsupportedFeatureError('alerting-executor: schedule must be {period: {interval, unit: MINUTES|HOURS|DAYS}} (no cron)');
  }
  const inputs = monitor['inputs'];
  if (!Array.isArray(inputs) || inputs.length !== 1) throw new UnsupportedFeatureError('alerting-executor: exactly one input');
  const search = isObject(inputs[0]) ? inputs[0]['search'] : undefined;
  if (!isObject(search) || !Array.isArray(search['indices']) || !isObject(search['query'])) throw new UnsupportedFeatureError('alerting-executor: the input must be {search: {indices, query}}');
  const triggersIn = monitor['triggers'];
  if (!Array.isArray(triggersIn)) throw new UnsupportedFeatureError('alerting-executor: triggers must be a list');
  const triggers = triggersIn.map((t, i): ParsedTrigger => {
    const where = `triggers[${i}]`;
    if (!isObject(t)) throw new UnsupportedFeatureError(`alerting-executor: ${where} must be an object`);
    const wrapped = t['query_level_trigger'] ?? t['bucket_level_trigger'];
    const tkind = t['bucket_level_trigger'] !== undefined ? 'bucket' : 'query';
    const body = isObject(wrapped) ? wrapped : t; // Trigger.parse: no wrapper → query-level
    if (tkind !== kind) throw new UnsupportedFeatureError(`alerting-executor: incompatible trigger ${where} for a ${String(type)}`);
    onlyKeys(body, ['id', 'name', 'severity', 'condition', 'actions'], where);
    const name = body['name'];
    if (typeof name !== 'string') throw new UnsupportedFeatureError(`alerting-executor: ${where} needs a name`);
    const id = typeof body['id'] === 'string' ? body['id'] : '';
    const condition = body['condition'];
    if (!isObject(condition)) throw new UnsupportedFeatureError(`alerting-executor: ${where}.condition`);
    let script: { source: string; params: JavaMap };
    let parentBucketPath = '';
    if (kind === 'query') {
      onlyKeys(condition, ['script'], `${where}.condition`);
      script = scriptSource(condition['script'], `${where}.condition.script`);
    } else {
      onlyKeys(condition, ['buckets_path', 'parent_bucket_path', 'script', 'gap_policy'], `${where}.condition`);
      script = scriptSource(condition['script'], `${where}.condition.script`);
      if (typeof condition['parent_bucket_path'] !== 'string') throw new UnsupportedFeatureError(`alerting-executor: ${where}.condition.parent_bucket_path`);
      parentBucketPath = condition['parent_bucket_path'];
    }
    const actions = body['actions'] ?? [];
    if (!Array.isArray(actions)) throw new UnsupportedFeatureError(`alerting-executor: ${where}.actions must be a list`);
    return {
      key: id || name,
      id,
      name,
      severity: String(body['severity'] ?? '1'),
      kind,
      script,
      condition,
      parentBucketPath,
      actions: actions.map((a, j) => parseAction(a, kind, `${where}.actions[${j}]`)),
    };
  });
  return {
    id: typeof monitor['id'] === 'string' ? monitor['id'] : '',
    name: monitor['name'],
    enabled: monitor['enabled'] !== false,
    kind,
    intervalMs: period['interval'] * UNIT_MS[String(period['unit'])]!,
    indices: search['indices'].map(String),
    query: search['query'],
    triggers,
  };
}

// ---------------------------------------------------------------------------------------------
// Input

interface Page {
  request: SearchRequest | undefined;
  response: SearchResponse | undefined;
  /** ctx.results: the response as Java values. */
  typed: JavaValue[];
  error: string | null;
}

function aggsOf(q: Json): Json | undefined {
  const a = q['aggregations'] ?? q['aggs'];
  return isObject(a) ? a : undefined;
}

/** OpenSearch writes avg/sum/max/min/bucket_script values as doubles ("95.0"): type them so. */
function typeMetricValues(aggsJson: JavaValue, defs: Json | undefined): void {
  if (!defs || !isJavaMap(aggsJson)) return;
  for (const [name, spec] of Object.entries(defs)) {
    if (!isObject(spec)) continue;
    const out = aggsJson[name];
    if (!isJavaMap(out)) continue;
    const type = Object.keys(spec).find((k) => k !== 'aggregations' && k !== 'aggs');
    if (type && ['avg', 'sum', 'max', 'min', 'bucket_script'].includes(type) && typeof out['value'] === 'number') out['value'] = new JavaDouble(out['value']);
    const sub = aggsOf(spec);
    if (!sub) continue;
    if (type === 'filter') typeMetricValues(out, sub);
    const buckets = out['buckets'];
    if (Array.isArray(buckets)) for (const b of buckets) typeMetricValues(b, sub);
    else if (isJavaMap(buckets)) for (const b of Object.values(buckets)) typeMetricValues(b, sub);
  }
}

function toPlain(v: JavaValue): unknown {
  if (v instanceof JavaDouble) return v.value;
  if (v instanceof JavaInstant) return v.epochMillis;
  if (v instanceof JavaBean) return Object.fromEntries(Object.entries(v.fields).map(([k, x]) => [k, toPlain(x)]));
  if (Array.isArray(v)) return v.map(toPlain);
  if (isJavaMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// Running

class Run {
  readonly m: ParsedMonitor;
  readonly opts: ExecuteOptions;
  readonly start: number;
  readonly end: number;
  readonly searches: MonitorRunResult['searches'] = [];
  readonly messages: RenderedMessage[] = [];

  constructor(m: ParsedMonitor, opts: ExecuteOptions) {
    this.m = m;
    this.opts = opts;
    this.end = opts.periodEnd.getTime();
    if (!Number.isFinite(this.end)) throw new UnsupportedFeatureError('alerting-executor: periodEnd is not a valid date');
    this.start = this.end - m.intervalMs;
  }

  /** InputService.collectInputResults for one page: render, search, parse. */
  async collect(query: Json): Promise<Page> {
    let request: SearchRequest;
    try {
      // The query is rendered as a mustache template over its JSON text with epoch millis.
      request = JSON.parse(renderMustache(JSON.stringify(query), { period_start: this.start, period_end: this.end })) as SearchRequest;
    } catch (e) {
      if (e instanceof UnsupportedFeatureError) throw e;
      return { request: undefined, response: undefined, typed: [], error: message(e) };
    }
    this.searches.push({ indices: [...this.m.indices], request });
    let response: SearchResponse;
    try {
      response = await this.opts.search([...this.m.indices], structuredClone(request));
    } catch (e) {
      if (e instanceof UnsupportedFeatureError) throw e;
      return { request, response: undefined, typed: [], error: message(e) };
    }
    const typed = fromJson(response);
    if (isJavaMap(typed)) typeMetricValues(typed['aggregations'] ?? null, aggsOf(request));
    return { request, response, typed: [typed], error: null };
  }

  monitorArg(): JavaMap {
    return { _id: this.m.id, _version: 1, name: this.m.name, enabled: this.m.enabled };
  }

  triggerArg(t: ParsedTrigger): JavaMap {
    const arg: JavaMap = { id: t.id, name: t.name, severity: t.severity, actions: t.actions.map((a) => ({ name: a.name })) };
    if (t.kind === 'bucket') arg['parentBucketPath'] = t.parentBucketPath;
    return arg;
  }

  alertArg(t: ParsedTrigger, a: AlertRecord): JavaMap {
    return {
      acknowledged_time: null,
      id: a.id ?? '',
      version: -1,
      end_time: a.endTime ? a.endTime.getTime() : null,
      error_message: a.errorMessage ?? null,
      execution_id: null,
      workflow_id: '',
      workflow_name: '',
      associated_alert_ids: [],
      last_notification_time: a.lastNotificationTime ? a.lastNotificationTime.getTime() : null,
      severity: t.severity,
      start_time: a.startTime.getTime(),
      state: a.state,
      bucket_keys: a.bucketKeys ? a.bucketKeys.join(',') : null,
      parent_bucket_path: a.bucketKeys ? t.parentBucketPath : null,
      finding_ids: '',
      related_doc_ids: '',
    };
  }

  /** MonitorRunnerService.isActionActionable. */
  actionable(action: ParsedAction, alert: AlertRecord | undefined): boolean {
    if (!alert || action.throttleMs === undefined) return true;
    const last = alert.actionLastRun?.[action.key];
    return last === undefined || last.getTime() < this.end - action.throttleMs;
  }

  /** MonitorRunner.runAction with dryrun = true. */
  runAction(t: ParsedTrigger, action: ParsedAction, ctx: JavaMap, info: Partial<RenderedMessage>): ActionRunResult {
    const base = { id: action.id, name: action.name };
    try {
      const subject = action.subject === undefined ? '' : renderMustache(action.subject, { ctx });
      const msg = renderMustache(action.message, { ctx });
      if (msg === '') throw new Error(`Message content missing in the Destination with id: ${action.destinationId}`);
      this.messages.push({ trigger: t.name, action: action.name, ...info, subject, message: msg });
      return { ...base, output: { subject, message: msg }, throttled: false, executed_time: this.end, error: null };
    } catch (e) {
      if (e instanceof UnsupportedFeatureError) throw e;
      return { ...base, output: {}, throttled: false, executed_time: this.end, error: message(e) };
    }
  }

  previous(t: ParsedTrigger): AlertRecord[] {
    const given = this.opts.previousAlerts?.[t.key] ?? this.opts.previousAlerts?.[t.name] ?? [];
    return given.map((a): AlertRecord => {
      const rec: AlertRecord = Array.isArray(a) ? { bucketKeys: [...(a as readonly string[])], state: 'ACTIVE', startTime: new Date(this.end - this.m.intervalMs) } : { ...(a as AlertRecord) };
      if (rec.state === 'COMPLETED') throw new UnsupportedFeatureError('alerting-executor: previousAlerts holds current alerts only (COMPLETED ones are in the history index)');
      if ((t.kind === 'bucket') !== (rec.bucketKeys !== undefined)) throw new UnsupportedFeatureError(`alerting-executor: previous alert of ${t.name}: bucketKeys are for bucket-level triggers only`);
      return rec;
    });
  }

  // ---- query-level (QueryLevelMonitorRunner)

  async queryLevel(): Promise<MonitorRunResult> {
    const page = await this.collect(this.m.query);
    const triggerResults: Record<string, QueryLevelTriggerRunResult> = {};
    const alerts: Record<string, AlertRecord[]> = {};
    for (const t of this.m.triggers) {
      const prev = this.previous(t);
      if (prev.length > 1) throw new UnsupportedFeatureError(`alerting-executor: a query-level trigger has at most one current alert (${t.name})`);
      const current = prev[0];
      const ctx = new JavaBean('QueryLevelTriggerExecutionContext', {
        monitor: new JavaBean('Monitor', { id: this.m.id, name: this.m.name, enabled: this.m.enabled }),
        trigger: new JavaBean('QueryLevelTrigger', { id: t.id, name: t.name, severity: t.severity }),
        results: page.typed,
        periodStart: new JavaInstant(this.start),
        periodEnd: new JavaInstant(this.end),
        alert: current ? new JavaBean('Alert', this.alertArg(t, current)) : null,
        error: page.error,
      });
      let triggered: boolean;
      let error: string | null = null;
      try {
        const v = runPainless(t.script.source, { ctx, params: t.script.params });
        if (typeof v !== 'boolean') throw new PainlessError('java.lang.ClassCastException', `the condition returned ${javaTypeName(v)}, not a boolean`);
        triggered = v;
      } catch (e) {
        if (!(e instanceof PainlessError)) throw e;
        triggered = true; // "if the script fails we need to send an alert so set triggered = true"
        error = `${e.javaType === 'compile error' ? 'compile error' : 'runtime error'}: ${e.message} — in "${t.script.source}"`;
      }
      const result: QueryLevelTriggerRunResult = { name: t.name, triggered, error, action_results: {} };
      const anyError = error ?? page.error;
      const suppressed = current?.state === 'ACKNOWLEDGED' && error === null && page.error === null;
      const ran: Record<string, Date> = {};
      if (triggered && !suppressed) {
        const tctx: JavaMap = {
          monitor: this.monitorArg(),
          trigger: this.triggerArg(t),
          results: page.typed,
          periodStart: new JavaInstant(this.start),
          periodEnd: new JavaInstant(this.end),
          error: anyError,
          alert: current ? this.alertArg(t, current) : null,
        };
        for (const action of t.actions) {
          if (!this.actionable(action, current)) {
            result.action_results[action.key] = { id: action.id, name: action.name, output: {}, throttled: true, executed_time: null, error: null };
            continue;
          }
          const r = this.runAction(t, action, tctx, {});
          result.action_results[action.key] = r;
          ran[action.key] = new Date(this.end);
        }
      }
      triggerResults[t.key] = result;
      // AlertService.composeQueryLevelAlert
      const next: AlertRecord[] = [];
      if (anyError === null && !triggered) {
        // the current alert, if any, is COMPLETED and leaves the alert index
      } else if (anyError === null && current?.state === 'ACKNOWLEDGED') {
        next.push(current);
      } else {
        const state: AlertState = anyError === null ? 'ACTIVE' : 'ERROR';
        next.push({
          ...(current ?? { startTime: new Date(this.end) }),
          state,
          lastNotificationTime: new Date(this.end),
          errorMessage: anyError,
          actionLastRun: { ...current?.actionLastRun, ...ran },
        });
      }
      alerts[t.key] = next;
    }
    return this.result(page, triggerResults, alerts);
  }

  // ---- bucket-level (BucketLevelMonitorRunner)

  /** AggregationQueryRewriter.rewriteQuery: inject each trigger's selector; page composites. */
  rewrite(afterKeys: Map<string, { afterKey: Json | null; lastPage: boolean }> | undefined): Json {
    const q = structuredClone(this.m.query);
    const aggsKey = q['aggs'] !== undefined && q['aggregations'] === undefined ? 'aggs' : 'aggregations';
    const aggs = (isObject(q[aggsKey]) ? q[aggsKey] : (q[aggsKey] = {})) as Json;
    for (const t of this.m.triggers) {
      if (Object.hasOwn(aggs, t.key)) throw new UnsupportedFeatureError(`alerting-executor: an aggregation is already named like trigger [${t.key}]`);
      aggs[t.key] = { bucket_selector_ext: { ...t.condition, gap_policy: t.condition['gap_policy'] ?? 'skip' } };
      const ak = afterKeys?.get(t.key);
      if (ak) {
        let level: Json = aggs;
        let def: Json | undefined;
        for (const name of t.parentBucketPath.split('>')) {
          def = isObject(level[name]) ? (level[name] as Json) : undefined;
          if (!def) throw new Error(`ParentBucketPath: ${t.parentBucketPath} not found in input query results`);
          level = aggsOf(def) ?? {};
        }
        if (!isObject(def!['composite'])) throw new Error('AfterKeys are not expected to be present in non CompositeAggregationBuilder');
        const composite = def!['composite'] as Json;
        if (ak.afterKey) composite['after'] = ak.afterKey;
        else delete composite['after'];
      }
    }
    return q;
  }

  /** AggregationQueryRewriter.getAfterKeysFromSearchResponse (TriggerAfterKey). */
  afterKeys(page: Page, prev: Map<string, { afterKey: Json | null; lastPage: boolean }> | undefined): Map<string, { afterKey: Json | null; lastPage: boolean }> {
    const out = new Map<string, { afterKey: Json | null; lastPage: boolean }>();
    if (!page.response || !page.request) return out;
    for (const t of this.m.triggers) {
      const names = t.parentBucketPath.split('>');
      let defs = aggsOf(page.request);
      let def: Json | undefined;
      let res: unknown = page.response['aggregations'];
      for (const name of names) {
        def = defs && isObject(defs[name]) ? (defs[name] as Json) : undefined;
        res = isObject(res) ? res[name] : undefined;
        defs = def ? aggsOf(def) : undefined;
      }
      if (!def || !isObject(def['composite'])) continue;
      const afterKey = isObject(res) && isObject(res['after_key']) ? (res['after_key'] as Json) : null;
      const p = prev?.get(t.key);
      out.set(
        t.key,
        p === undefined ? { afterKey, lastPage: afterKey === null } : p.lastPage ? p : afterKey === null ? { afterKey: p.afterKey, lastPage: true } : { afterKey, lastPage: false },
      );
    }
    return out;
  }

  /** TriggerService.runBucketLevelTrigger. */
  bucketTrigger(t: ParsedTrigger, page: Page): { error: string | null; buckets: Map<string, AggregationResultBucket> } {
    const buckets = new Map<string, AggregationResultBucket>();
    try {
      const results = page.typed;
      if (results.length === 0) throw new Error('java.lang.IndexOutOfBoundsException: Index 0 out of bounds for length 0');
      const aggs = isJavaMap(results[0]) ? results[0]['aggregations'] : null;
      if (!isJavaMap(aggs)) throw new Error('java.lang.NullPointerException: null cannot be cast to non-null type java.util.HashMap');
      const sel = aggs[t.key];
      if (!isJavaMap(sel)) throw new Error('java.lang.NullPointerException: null cannot be cast to non-null type java.util.HashMap');
      const indices = sel['bucket_indices'];
      const parentPath = sel['parent_bucket_path'];
      if (!Array.isArray(indices) || typeof parentPath !== 'string') throw new Error('java.lang.ClassCastException: unexpected bucket selector result');
      let parent: JavaValue = aggs;
      for (const name of parentPath.split('>')) {
        parent = isJavaMap(parent) ? (parent[name] ?? null) : null;
        if (!isJavaMap(parent)) throw new Error('java.lang.NullPointerException: null cannot be cast to non-null type java.util.HashMap');
      }
      const list = (parent as JavaMap)['buckets'] ?? null;
      if (!Array.isArray(list)) throw new Error(`java.lang.ClassCastException: class ${javaTypeName(list)} cannot be cast to class java.util.List`);
      for (const i of indices) {
        const bucket = list[i as number];
        if (!isJavaMap(bucket)) throw new Error(`java.lang.IndexOutOfBoundsException: Index ${String(i)} out of bounds for length ${list.length}`);
        const keys = bucketKeyValues(bucket);
        buckets.set(keys.join('#'), { agg_alert_content: { parent_bucket_path: parentPath, bucket_keys: keys, bucket: toPlain(bucket) as Json } });
      }
      return { error: null, buckets };
    } catch (e) {
      if (e instanceof UnsupportedFeatureError) throw e;
      return { error: message(e), buckets: new Map() };
    }
  }

  async bucketLevel(): Promise<MonitorRunResult> {
    const current = new Map<string, Map<string, AlertRecord>>();
    for (const t of this.m.triggers) current.set(t.key, new Map(this.previous(t).map((a) => [a.bucketKeys!.join('#'), a])));
    const original = new Map([...current].map(([k, v]) => [k, new Map(v)]));
    const combined = new Map<string, { error: string | null; buckets: Map<string, AggregationResultBucket> }>();
    const lastTyped = new Map<string, { typed: JavaValue[]; error: string | null }>();
    const next = new Map<string, { DEDUPED: AlertRecord[]; NEW: AlertRecord[]; COMPLETED: AlertRecord[] }>();
    let firstPage: Page | undefined;
    let afterKeys: Map<string, { afterKey: Json | null; lastPage: boolean }> | undefined;
    for (let pages = 0; ; pages++) {
      if (pages >= 1000) throw new UnsupportedFeatureError('alerting-executor: more than 1000 composite pages');
      const page = await this.collect(this.rewrite(afterKeys));
      firstPage ??= page;
      afterKeys = this.afterKeys(page, afterKeys);
      for (const t of this.m.triggers) {
        lastTyped.set(t.key, { typed: page.typed, error: page.error });
        const r = this.bucketTrigger(t, page);
        const prev = combined.get(t.key);
        const merged = prev ? { error: r.error ?? prev.error, buckets: new Map([...prev.buckets, ...r.buckets]) } : r;
        combined.set(t.key, merged);
        if (merged.error !== null) continue;
        const lists = next.get(t.key) ?? { DEDUPED: [], NEW: [], COMPLETED: [] };
        next.set(t.key, lists);
        const candidates = current.get(t.key)!;
        for (const [hash, b] of r.buckets) {
          const existing = candidates.get(hash);
          if (existing) {
            lists.DEDUPED.push({ ...existing, bucketKeys: b.agg_alert_content.bucket_keys });
            candidates.delete(hash);
          } else {
            lists.NEW.push({ bucketKeys: b.agg_alert_content.bucket_keys, state: 'ACTIVE', startTime: new Date(this.end), lastNotificationTime: new Date(this.end) });
          }
        }
      }
      if (![...afterKeys.values()].some((k) => k.afterKey !== null && !k.lastPage)) break;
    }

    const triggerResults: Record<string, BucketLevelTriggerRunResult> = {};
    const alerts: Record<string, AlertRecord[]> = {};
    const maxActionable = this.opts.maxActionableAlertCount ?? 50;
    for (const t of this.m.triggers) {
      const r = combined.get(t.key)!;
      const result: BucketLevelTriggerRunResult = { name: t.name, error: r.error, agg_result_buckets: Object.fromEntries(r.buckets), action_results: {} };
      triggerResults[t.key] = result;
      const lists = next.get(t.key) ?? { DEDUPED: [], NEW: [], COMPLETED: [] };
      if (r.error === null) lists.COMPLETED = [...current.get(t.key)!.values()].map((a) => ({ ...a, state: 'COMPLETED', endTime: new Date(this.end) }));
      // ACKNOWLEDGED alerts stay, but get no actions.
      const acked = lists.DEDUPED.filter((a) => a.state === 'ACKNOWLEDGED');
      lists.DEDUPED = lists.DEDUPED.filter((a) => a.state !== 'ACKNOWLEDGED');
      const page = lastTyped.get(t.key)!;
      const error = r.error;
      const total = lists.DEDUPED.length + lists.NEW.length + lists.COMPLETED.length;
      const perExecutionFallback = error !== null || (maxActionable >= 0 && total > maxActionable);
      const ctxFor = (d: AlertRecord[], n: AlertRecord[], c: AlertRecord[]): JavaMap => ({
        monitor: this.monitorArg(),
        trigger: this.triggerArg(t),
        results: page.typed,
        periodStart: new JavaInstant(this.start),
        periodEnd: new JavaInstant(this.end),
        error,
        dedupedAlerts: d.map((a) => this.alertArg(t, a)),
        newAlerts: n.map((a) => this.alertArg(t, a)),
        completedAlerts: c.map((a) => this.alertArg(t, a)),
      });
      const record = (alert: AlertRecord, action: ParsedAction, res: ActionRunResult): void => {
        const hash = alert.bucketKeys!.join('#');
        (result.action_results[hash] ??= {})[action.key] = res;
        alert.lastNotificationTime = new Date(this.end);
        if (!res.throttled) alert.actionLastRun = { ...alert.actionLastRun, [action.key]: new Date(this.end) };
      };
      for (const action of t.actions) {
        if (action.perAlert && !perExecutionFallback) {
          for (const category of action.perAlert) {
            for (const alert of lists[category]) {
              const ctx = ctxFor(category === 'DEDUPED' ? [alert] : [], category === 'NEW' ? [alert] : [], category === 'COMPLETED' ? [alert] : []);
              const res = this.actionable(action, alert)
                ? this.runAction(t, action, ctx, { category, bucketKeys: alert.bucketKeys! })
                : { id: action.id, name: action.name, output: {}, throttled: true, executed_time: null, error: null };
              record(alert, action, res);
            }
          }
        } else {
          if (error === null && total === 0) continue;
          const res = this.runAction(t, action, ctxFor(lists.DEDUPED, lists.NEW, lists.COMPLETED), {});
          const iterate = error === null ? [...lists.DEDUPED, ...lists.NEW, ...lists.COMPLETED] : [...original.get(t.key)!.values()];
          for (const alert of iterate) record(alert, action, res);
        }
      }
      alerts[t.key] =
        error === null
          ? [...acked, ...lists.DEDUPED, ...lists.NEW]
          : [...original.get(t.key)!.values()].map((a) => ({ ...a, state: 'ERROR' as const, errorMessage: error }));
    }
    return this.result(firstPage!, triggerResults, alerts);
  }

  result(page: Page, triggerResults: MonitorRunResult['trigger_results'], alerts: Record<string, AlertRecord[]>): MonitorRunResult {
    return {
      monitor_name: this.m.name,
      period_start: this.start,
      period_end: this.end,
      error: null,
      input_results: { results: page.response ? [page.response] : [], error: page.error },
      trigger_results: triggerResults,
      messages: this.messages,
      alerts,
      searches: this.searches,
    };
  }
}

/** TriggerService.getBucketKeyValuesList. */
function bucketKeyValues(bucket: JavaMap): string[] {
  const key = bucket['key'] ?? null;
  if (Array.isArray(key) && typeof bucket['key_as_string'] === 'string') return [bucket['key_as_string']];
  if (typeof key === 'string') return [key];
  if (typeof key === 'number' && javaTypeName(key) === 'java.lang.Integer') return [String(key)];
  if (isJavaMap(key)) return javaHashMapOrder(Object.keys(key)).map((k) => javaToString(key[k]));
  throw new Error(`java.lang.IllegalArgumentException: Unexpected format for key in bucket [${javaToString(bucket)}]`);
}

/**
 * Runs `monitor` once, like `POST _plugins/_alerting/monitors/_execute?dryrun=true` with the
 * monitor as body at `periodEnd`. In-band failures (search errors, script exceptions, template
 * errors) land in the result as real Alerting reports them; UnsupportedFeatureError is thrown.
 */
export async function executeMonitor(monitor: Record<string, unknown>, opts: ExecuteOptions): Promise<MonitorRunResult> {
  const m = parseMonitor(monitor);
  const run = new Run(m, opts);
  return m.kind === 'query' ? run.queryLevel() : run.bucketLevel();
}

// ---------------------------------------------------------------------------------------------
// An in-memory cluster for the search function

export interface InMemoryIndex {
  docs: readonly object[];
  /** Field path → mapping type (flattenMapping(datasetMapping(dataset))). */
  mapping?: Readonly<Record<string, string>>;
}

/**
 * A search function over named in-memory indices: names may be patterns with `*` (a pattern that
 * matches nothing searches nothing, as allow_no_indices does; a missing concrete name is an
 * index_not_found_exception). The matched indices are searched as one, their mappings merged.
 */
export function inMemoryCluster(indices: Readonly<Record<string, InMemoryIndex>>): SearchFunction {
  return (names, request) => {
    const matched = new Set<string>();
    for (const name of names) {
      if (name.includes(',') || name.startsWith('-')) throw new UnsupportedFeatureError(`alerting-executor: index expression [${name}]`);
      if (name.includes('*')) {
        const re = new RegExp(`^${name.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
        for (const n of Object.keys(indices)) if (re.test(n)) matched.add(n);
      } else if (Object.hasOwn(indices, name)) matched.add(name);
      else throw new SearchError('index_not_found_exception', `no such index [${name}]`);
    }
    const docs: object[] = [];
    let mapping: Record<string, string> | undefined;
    for (const n of matched) {
      const idx = indices[n]!;
      docs.push(...idx.docs);
      if (idx.mapping) {
        mapping ??= {};
        for (const [f, type] of Object.entries(idx.mapping)) {
          if (mapping[f] !== undefined && mapping[f] !== type) throw new UnsupportedFeatureError(`alerting-executor: field [${f}] is [${mapping[f]}] in one index and [${type}] in another`);
          mapping[f] = type;
        }
      }
    }
    return searchDocuments(docs, request, { mapping, noIndex: matched.size === 0 });
  };
}
