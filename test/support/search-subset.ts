// A small search engine over plain JSON documents implementing exactly the OpenSearch query DSL
// and aggregations our alerting monitors use (shared/opensearch/monitors.ts) — and nothing else:
// any other clause, option or aggregation throws UnsupportedFeatureError naming it. Test support.
//
// What it mirrors (OpenSearch 2.x server sources: BoolQueryBuilder, RangeQueryBuilder +
// DateMathParser, TermQuery/TermsQuery/ExistsQuery, InternalAvg/Sum/Max/Min (CompensatedSum),
// InternalCardinality, InternalValueCount, InternalTerms + InternalOrder, InternalComposite,
// InternalFilter(s), BucketScript/BucketSelectorPipelineAggregator, BucketHelpers.
// resolveBucketValue, AggregatorFactories.resolvePipelineAggregatorOrder; and the Alerting
// plugin's BucketSelectorExtAggregator from common-utils, which Alerting injects for
// bucket-level triggers):
// - Fields: dotted paths into nested objects (or literal dotted keys); arrays count each value.
//   With a mapping (flattenMapping(datasetMapping(…))) values are typed as the index would store
//   them: keyword exact strings, long/integer truncated numbers, float as float32 (so an avg of
//   floats is 0.9499999… not 0.95, as on a real cluster), date as epoch millis from ISO strings.
//   Without a mapping, types are inferred from the values.
// - Query: bool (filter/must, array or single), term, terms, exists, match_all, range (gte, gt,
//   lte, lt; date math "<anchor>||-10m" with + and - of y M w d h H m s; format epoch_millis or the
//   date mapping's strict_date_optional_time||epoch_millis).
// - hits.total: {value, relation: "eq"}, capped at 10000 with "gte" (default track_total_hits).
// - Metrics: avg/max/min (null over no values), sum (0.0), cardinality (exact: HyperLogLog++ is
//   exact far beyond our volumes), value_count.
// - Buckets: terms (field, size, order by _count/_key/a sub-metric, default _count desc then _key
//   asc, _key asc tie-breaker; doc_count_error_upper_bound 0 as on one shard,
//   sum_other_doc_count), composite (terms sources with order, size, after; after_key = last
//   bucket's key whenever there are buckets), filter, filters (named; buckets keyed and sorted by
//   name).
// - Pipelines: bucket_script and bucket_selector inside a multi-bucket aggregation, run after
//   that aggregation's ordering and truncation; buckets_path "agg", "agg>metric", "agg>_count",
//   "_count", "agg.value"; gap_policy skip / insert_zeros exactly as BucketHelpers does (NaN,
//   infinite, or an empty bucket → NaN or 0.0; an unknown path → null; a path whose first element
//   is not a sibling aggregation → "No aggregation found for path [...]" at request time).
//   bucket_selector_ext (Alerting): {parent_bucket_path, bucket_indices}.
// - Painless scripts in pipelines run in painless-subset.ts; their runtime errors (e.g. a null
//   compared with <) fail the search like a real script_exception.
//
// What it does not cover: relevance, hits (size must be 0), text analysis, nested/object field
// semantics beyond dotted paths, date math rounding (/d), "now", multi-shard effects
// (doc_count_error, cardinality approximation), runtime fields, any other query, aggregation,
// option or parameter. A mapping that lacks a referenced field is an error here (OpenSearch
// would silently treat the field as unmapped: no match, empty aggregation) so a typo cannot pass.
import { JavaDouble, PainlessError, runPainless, scriptSource, UnsupportedFeatureError, type JavaMap, type JavaValue } from './painless-subset.ts';

export type SearchRequest = Record<string, unknown>;
export type SearchResponse = Record<string, unknown>;

export interface SearchOptions {
  /** Field path → mapping type, as `flattenMapping(datasetMapping(dataset))` gives it. */
  mapping?: Readonly<Record<string, string>> | undefined;
  /** No index matched the request's pattern: OpenSearch answers with no shards and no aggregations at all. */
  noIndex?: boolean;
}

/** An error OpenSearch itself would answer (an HTTP 4xx/5xx with this type): in-band. */
export class SearchError extends Error {
  override name = 'SearchError';
  readonly type: string;
  constructor(type: string, reason: string) {
    super(`[${type}] ${reason}`);
    this.type = type;
  }
}

type Json = Record<string, unknown>;
type Scalar = string | number | boolean;
type Pred = (doc: unknown) => boolean;

const unsupported = (what: string) => new UnsupportedFeatureError(`search-subset: ${what} is not supported`);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Json, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw unsupported(`[${k}] in ${where}`);
}

function single(o: unknown, where: string): [string, unknown] {
  if (!isObject(o)) throw new SearchError('parsing_exception', `${where}: expected an object`);
  const entries = Object.entries(o);
  if (entries.length !== 1) throw new SearchError('parsing_exception', `${where}: expected exactly one key, got [${Object.keys(o).join(', ')}]`);
  return entries[0]!;
}

// ---------------------------------------------------------------------------------------------
// Fields and values

type Kind = 'keyword' | 'numeric' | 'date' | 'boolean';
interface Field {
  name: string;
  kind: Kind;
  /** The mapping type, or "inferred". */
  type: string;
  integer: boolean;
  float32: boolean;
}

const MAPPED_KINDS: Record<string, { kind: Kind; integer?: boolean; float32?: boolean }> = {
  keyword: { kind: 'keyword' },
  long: { kind: 'numeric', integer: true },
  integer: { kind: 'numeric', integer: true },
  short: { kind: 'numeric', integer: true },
  byte: { kind: 'numeric', integer: true },
  float: { kind: 'numeric', float32: true },
  double: { kind: 'numeric' },
  date: { kind: 'date' },
  boolean: { kind: 'boolean' },
};

function rawValues(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown, parts: string[]): void => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, parts);
      return;
    }
    if (parts.length === 0) {
      out.push(v);
      return;
    }
    if (!isObject(v)) return;
    for (let i = 1; i <= parts.length; i++) {
      const key = parts.slice(0, i).join('.');
      if (Object.hasOwn(v, key)) walk(v[key], parts.slice(i));
    }
  };
  walk(doc, path.split('.'));
  return out;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;

function parseIsoDate(s: string, where: string): number {
  if (!ISO_DATE.test(s)) throw new SearchError('parse_exception', `failed to parse date field [${s}] with format [strict_date_optional_time||epoch_millis] (${where})`);
  const hasZone = /(Z|[+-]\d{2}(:?\d{2})?)$/.test(s) && s.includes('T');
  const ms = Date.parse(s.includes('T') && !hasZone ? `${s}Z` : s.replace(',', '.'));
  if (Number.isNaN(ms)) throw new SearchError('parse_exception', `failed to parse date field [${s}] (${where})`);
  return ms;
}

class Index {
  private readonly docs: readonly unknown[];
  private readonly mapping: Readonly<Record<string, string>> | undefined;
  constructor(docs: readonly unknown[], mapping: Readonly<Record<string, string>> | undefined) {
    this.docs = docs;
    this.mapping = mapping;
  }

  /** The field's type; null when nothing is known about it (no mapping, no values anywhere). */
  field(name: string, where: string): Field | null {
    if (this.mapping) {
      const type = this.mapping[name];
      if (type === undefined) {
        throw new UnsupportedFeatureError(
          `search-subset: field [${name}] (${where}) is not in the mapping — OpenSearch would silently treat it as unmapped (no match, empty aggregation); fix the field name or the mapping`,
        );
      }
      const k = MAPPED_KINDS[type];
      if (!k) throw unsupported(`field [${name}] of mapping type [${type}] (${where})`);
      return { name, type, kind: k.kind, integer: k.integer ?? false, float32: k.float32 ?? false };
    }
    for (const doc of this.docs) {
      for (const v of rawValues(doc, name)) {
        const kind: Kind | undefined = typeof v === 'string' ? 'keyword' : typeof v === 'number' ? 'numeric' : typeof v === 'boolean' ? 'boolean' : undefined;
        if (kind) return { name, type: 'inferred', kind, integer: false, float32: false };
      }
    }
    return null;
  }

  /** The field's values in one document, as the index stores them. */
  values(doc: unknown, f: Field): Scalar[] {
    const out: Scalar[] = [];
    for (const v of rawValues(doc, f.name)) {
      const where = `field [${f.name}] of type [${f.type}]`;
      switch (f.kind) {
        case 'keyword':
          if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
          else throw new SearchError('mapper_parsing_exception', `${where}: cannot index ${JSON.stringify(v)}`);
          break;
        case 'numeric': {
          const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
          if (!Number.isFinite(n)) throw new SearchError('mapper_parsing_exception', `${where}: cannot index ${JSON.stringify(v)}`);
          out.push(f.integer ? Math.trunc(n) : f.float32 ? Math.fround(n) : n);
          break;
        }
        case 'date':
          if (typeof v === 'number') out.push(v);
          else if (typeof v === 'string') out.push(/^-?\d+$/.test(v) ? Number(v) : parseIsoDate(v, where));
          else throw new SearchError('mapper_parsing_exception', `${where}: cannot index ${JSON.stringify(v)}`);
          break;
        case 'boolean':
          if (typeof v === 'boolean') out.push(v);
          else if (v === 'true' || v === 'false') out.push(v === 'true');
          else throw new SearchError('mapper_parsing_exception', `${where}: cannot index ${JSON.stringify(v)}`);
          break;
      }
    }
    return out;
  }

  hasValue(doc: unknown, name: string): boolean {
    return rawValues(doc, name).length > 0;
  }
}

/** A query value as the field's type would parse it (TermQueryBuilder → MappedFieldType.termQuery). */
function queryValue(v: unknown, f: Field, where: string): Scalar {
  if (v === null || typeof v === 'object') throw new SearchError('parsing_exception', `${where}: [${f.name}] value must be a scalar`);
  switch (f.kind) {
    case 'keyword':
      return String(v);
    case 'numeric': {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
      if (!Number.isFinite(n)) throw new SearchError('number_format_exception', `For input string: "${String(v)}" (${where})`);
      return f.integer ? n : f.float32 ? Math.fround(n) : n;
    }
    case 'date':
      return typeof v === 'number' ? v : parseIsoDate(String(v), where);
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw new SearchError('illegal_argument_exception', `Can't parse boolean value [${String(v)}] (${where})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Date math (DateMathParser / JavaDateMathParser, without rounding and without "now")

const DATE_UNITS = 'yMwdhHms';

function parseDateBound(value: unknown, format: string | undefined, where: string): number {
  if (typeof value === 'number') {
    if (format !== undefined && format !== 'epoch_millis') throw unsupported(`range format [${format}] (${where})`);
    return value;
  }
  if (typeof value !== 'string') throw new SearchError('parsing_exception', `${where}: a date bound must be a string or a number`);
  const [anchor, math, ...more] = value.split('||');
  if (more.length) throw new SearchError('parse_exception', `${where}: more than one "||" in [${value}]`);
  if (anchor === undefined || anchor === '' || anchor.startsWith('now')) throw unsupported(`date math anchor [${anchor ?? ''}] (${where}; only an explicit date)`);
  let ms: number;
  if (format === 'epoch_millis') {
    if (!/^-?\d+$/.test(anchor)) throw new SearchError('parse_exception', `failed to parse date field [${anchor}] with format [epoch_millis] (${where})`);
    ms = Number(anchor);
  } else if (format === undefined) {
    ms = /^-?\d+$/.test(anchor) ? Number(anchor) : parseIsoDate(anchor, where);
  } else throw unsupported(`range format [${format}] (${where})`);
  if (math === undefined) return ms;
  const d = new Date(ms);
  let rest = math;
  while (rest.length) {
    if (rest.startsWith('/')) throw unsupported(`date math rounding [${rest}] (${where})`);
    const m = /^([+-])(\d+)([a-zA-Z])/.exec(rest);
    if (!m || !DATE_UNITS.includes(m[3]!)) throw new SearchError('parse_exception', `${where}: unsupported or invalid date math [${math}]`);
    const n = Number(m[2]) * (m[1] === '-' ? -1 : 1);
    switch (m[3]) {
      case 'y':
        d.setUTCFullYear(d.getUTCFullYear() + n);
        break;
      case 'M':
        d.setUTCMonth(d.getUTCMonth() + n);
        break;
      case 'w':
        d.setTime(d.getTime() + n * 7 * 86_400_000);
        break;
      case 'd':
        d.setTime(d.getTime() + n * 86_400_000);
        break;
      case 'h':
      case 'H':
        d.setTime(d.getTime() + n * 3_600_000);
        break;
      case 'm':
        d.setTime(d.getTime() + n * 60_000);
        break;
      case 's':
        d.setTime(d.getTime() + n * 1000);
        break;
    }
    rest = rest.slice(m[0].length);
  }
  return d.getTime();
}

// ---------------------------------------------------------------------------------------------
// Queries

function compileQuery(q: unknown, index: Index, where: string): Pred {
  const [type, body] = single(q, where);
  const at = `${where} > ${type}`;
  switch (type) {
    case 'match_all':
      if (!isObject(body)) throw new SearchError('parsing_exception', `${at}: expected an object`);
      onlyKeys(body, [], at);
      return () => true;
    case 'bool': {
      if (!isObject(body)) throw new SearchError('parsing_exception', `${at}: expected an object`);
      onlyKeys(body, ['filter', 'must'], at);
      const preds: Pred[] = [];
      for (const clause of ['filter', 'must'] as const) {
        const v = body[clause];
        if (v === undefined) continue;
        for (const [i, sub] of (Array.isArray(v) ? v : [v]).entries()) preds.push(compileQuery(sub, index, `${at}.${clause}[${i}]`));
      }
      return (doc) => preds.every((p) => p(doc));
    }
    case 'term': {
      const [fieldName, spec] = single(body, at);
      let value: unknown = spec;
      if (isObject(spec)) {
        onlyKeys(spec, ['value'], `${at} [${fieldName}]`);
        value = spec['value'];
      }
      const f = index.field(fieldName, at);
      if (!f) return () => false;
      const want = queryValue(value, f, at);
      return (doc) => index.values(doc, f).some((v) => v === want);
    }
    case 'terms': {
      const [fieldName, list] = single(body, at);
      if (!Array.isArray(list)) throw unsupported(`terms lookup or non-array terms (${at})`);
      const f = index.field(fieldName, at);
      if (!f) return () => false;
      const want = new Set(list.map((v) => queryValue(v, f, at)));
      return (doc) => index.values(doc, f).some((v) => want.has(v));
    }
    case 'exists': {
      if (!isObject(body)) throw new SearchError('parsing_exception', `${at}: expected an object`);
      onlyKeys(body, ['field'], at);
      const name = body['field'];
      if (typeof name !== 'string') throw new SearchError('parsing_exception', `${at}: field must be a string`);
      index.field(name, at); // a typo is an error with a mapping
      return (doc) => index.hasValue(doc, name);
    }
    case 'range': {
      const [fieldName, spec] = single(body, at);
      if (!isObject(spec)) throw new SearchError('parsing_exception', `${at}: expected an object for [${fieldName}]`);
      onlyKeys(spec, ['gte', 'gt', 'lte', 'lt', 'format'], `${at} [${fieldName}]`);
      const format = spec['format'];
      if (format !== undefined && typeof format !== 'string') throw new SearchError('parsing_exception', `${at}: format must be a string`);
      let f = index.field(fieldName, at);
      if (!f) return () => false;
      const dateLike = format !== undefined || ['gte', 'gt', 'lte', 'lt'].some((k) => typeof spec[k] === 'string' && (String(spec[k]).includes('||') || ISO_DATE.test(String(spec[k]))));
      if (f.type === 'inferred' && f.kind === 'keyword' && dateLike) f = { ...f, kind: 'date' };
      if (f.kind !== 'date' && f.kind !== 'numeric') throw unsupported(`range on a ${f.kind} field [${fieldName}] (${at})`);
      if (f.kind === 'numeric' && dateLike) throw new SearchError('parse_exception', `${at}: date math on the numeric field [${fieldName}]`);
      const field = f;
      const bound = (k: string): number | undefined => {
        const v = spec[k];
        if (v === undefined || v === null) return undefined;
        return field.kind === 'date' ? parseDateBound(v, format, `${at} [${fieldName}].${k}`) : (queryValue(v, field, at) as number);
      };
      const gte = bound('gte');
      const gt = bound('gt');
      const lte = bound('lte');
      const lt = bound('lt');
      return (doc) =>
        index
          .values(doc, field)
          .some((v) => typeof v === 'number' && (gte === undefined || v >= gte) && (gt === undefined || v > gt) && (lte === undefined || v <= lte) && (lt === undefined || v < lt));
    }
    default:
      throw unsupported(`query [${type}] (${where})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Aggregations: definitions

const METRICS = ['avg', 'sum', 'max', 'min', 'cardinality', 'value_count'] as const;
type MetricType = (typeof METRICS)[number];
const MULTI = ['terms', 'composite', 'filters'] as const;
const PARENT_PIPELINES = ['bucket_script', 'bucket_selector'] as const;

type GapPolicy = 'skip' | 'insert_zeros';
interface PipelineDef {
  name: string;
  type: 'bucket_script' | 'bucket_selector' | 'bucket_selector_ext';
  bucketsPath: Record<string, string>;
  script: { source: string; params: JavaMap };
  gapPolicy: GapPolicy;
  parentBucketPath?: string;
}
type OrderKey = { by: '_count' | '_key'; dir: 1 | -1 } | { by: 'agg'; path: string[]; dir: 1 | -1 };
interface AggDef {
  name: string;
  type: MetricType | 'terms' | 'composite' | 'filter' | 'filters';
  field?: Field | null;
  size?: number;
  order?: OrderKey[];
  sources?: Array<{ name: string; field: Field | null; dir: 1 | -1 }>;
  after?: Json | undefined;
  filter?: Pred;
  filters?: Array<[string, Pred]>;
  subs: AggDef[];
  pipelines: PipelineDef[];
}
interface Level {
  aggs: AggDef[];
  /** Sibling pipelines at this level (bucket_selector_ext at the top). */
  siblings: PipelineDef[];
  /** Parent pipelines declared at this level: they run on the enclosing aggregation's buckets. */
  pipelines: PipelineDef[];
}

/** AggregationPath.parse(...).getPathElementsAsStringList(), for the forms we support. */
function pathElements(path: string, where: string): string[] {
  if (path.includes('[')) throw unsupported(`bucket key paths like [${path}] (${where})`);
  const parts = path.split('>');
  const last = parts.pop()!;
  const dot = last.indexOf('.');
  const out = [...parts, ...(dot >= 0 ? [last.slice(0, dot), last.slice(dot + 1)] : [last])];
  if (out.some((p) => p === '')) throw new SearchError('illegal_argument_exception', `Invalid path [${path}] (${where})`);
  return out;
}

function compilePipeline(name: string, type: PipelineDef['type'], body: unknown, where: string): PipelineDef {
  if (!isObject(body)) throw new SearchError('parsing_exception', `${where}: expected an object`);
  onlyKeys(body, type === 'bucket_selector_ext' ? ['buckets_path', 'parent_bucket_path', 'script', 'gap_policy'] : ['buckets_path', 'script', 'gap_policy'], where);
  const bp = body['buckets_path'];
  if (!isObject(bp)) throw unsupported(`buckets_path other than an object of variables (${where})`);
  const bucketsPath: Record<string, string> = {};
  for (const [k, v] of Object.entries(bp)) {
    if (typeof v !== 'string') throw new SearchError('parsing_exception', `${where}: buckets_path [${k}] must be a string`);
    pathElements(v, where);
    bucketsPath[k] = v;
  }
  const gap = body['gap_policy'] ?? 'skip';
  if (gap !== 'skip' && gap !== 'insert_zeros') throw unsupported(`gap_policy [${String(gap)}] (${where})`);
  const def: PipelineDef = { name, type, bucketsPath, script: scriptSource(body['script'], where), gapPolicy: gap };
  if (type === 'bucket_selector_ext') {
    const p = body['parent_bucket_path'];
    if (typeof p !== 'string') throw new SearchError('parsing_exception', `${where}: parent_bucket_path must be a string`);
    if (p.includes('>')) throw unsupported(`a multi-level parent_bucket_path [${p}] (${where})`);
    def.parentBucketPath = p;
  }
  return def;
}

function compileOrder(order: unknown, where: string): OrderKey[] {
  const list = order === undefined ? [] : Array.isArray(order) ? order : [order];
  const keys: OrderKey[] = list.map((o) => {
    const [k, d] = single(o, `${where}.order`);
    if (d !== 'asc' && d !== 'desc') throw new SearchError('parsing_exception', `${where}: order direction must be asc or desc`);
    const dir = d === 'asc' ? 1 : -1;
    if (k === '_count' || k === '_key') return { by: k, dir };
    if (k === '_term') throw unsupported(`order by _term (${where})`);
    return { by: 'agg', path: pathElements(k, where), dir };
  });
  if (keys.length === 0) return [{ by: '_count', dir: -1 }, { by: '_key', dir: 1 }];
  const last = keys[keys.length - 1]!;
  if (last.by !== '_key') keys.push({ by: '_key', dir: 1 });
  return keys;
}

function compileLevel(aggs: unknown, index: Index, parent: AggDef | null, where: string): Level {
  if (!isObject(aggs)) throw new SearchError('parsing_exception', `${where}: aggregations must be an object`);
  const level: Level = { aggs: [], siblings: [], pipelines: [] };
  const pipelines: PipelineDef[] = [];
  for (const [name, spec] of Object.entries(aggs)) {
    const at = `${where} > ${name}`;
    if (!isObject(spec)) throw new SearchError('parsing_exception', `${at}: expected an object`);
    const { aggregations, aggs: aggs2, ...types } = spec;
    if (aggregations !== undefined && aggs2 !== undefined) throw new SearchError('parsing_exception', `${at}: both aggregations and aggs`);
    const subSpec = aggregations ?? aggs2;
    const [type, body] = single(types, at);
    if ((PARENT_PIPELINES as readonly string[]).includes(type) || type === 'bucket_selector_ext') {
      if (subSpec !== undefined) throw new SearchError('illegal_argument_exception', `Aggregator [${name}] of type [${type}] cannot accept sub-aggregations`);
      const p = compilePipeline(name, type as PipelineDef['type'], body, `${at} (${type})`);
      if (type === 'bucket_selector_ext') {
        if (parent) throw unsupported(`bucket_selector_ext below the top level (${at})`);
        level.siblings.push(p);
      } else {
        if (!parent) throw new SearchError('illegal_argument_exception', `${type} aggregation [${name}] must be declared inside of another aggregation`);
        if (!(MULTI as readonly string[]).includes(parent.type)) throw unsupported(`${type} under a [${parent.type}] aggregation (${at})`);
        pipelines.push(p);
      }
      continue;
    }
    const def: AggDef = { name, type: type as AggDef['type'], subs: [], pipelines: [] };
    if (!isObject(body)) throw new SearchError('parsing_exception', `${at} (${type}): expected an object`);
    if ((METRICS as readonly string[]).includes(type)) {
      onlyKeys(body, ['field'], `${at} (${type})`);
      if (typeof body['field'] !== 'string') throw unsupported(`${type} without a field (scripts, missing) (${at})`);
      def.field = index.field(body['field'], `${at} (${type})`);
      if (def.field && type !== 'cardinality' && type !== 'value_count' && def.field.kind !== 'numeric') {
        throw new SearchError('illegal_argument_exception', `Field [${def.field.name}] of type [${def.field.type}] is not supported for aggregation [${type}]`);
      }
      if (subSpec !== undefined) throw new SearchError('aggregation_initialization_exception', `Aggregator [${name}] of type [${type}] cannot accept sub-aggregations`);
    } else if (type === 'terms') {
      onlyKeys(body, ['field', 'size', 'order'], `${at} (terms)`);
      if (typeof body['field'] !== 'string') throw unsupported(`terms without a field (${at})`);
      def.field = index.field(body['field'], `${at} (terms)`);
      if (def.field && def.field.kind !== 'keyword' && def.field.kind !== 'numeric') throw unsupported(`terms on a ${def.field.kind} field (${at})`);
      const size = body['size'] ?? 10;
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new SearchError('illegal_argument_exception', `[size] must be greater than 0. Found [${String(size)}] in [${name}]`);
      def.size = size;
      def.order = compileOrder(body['order'], `${at} (terms)`);
    } else if (type === 'composite') {
      onlyKeys(body, ['size', 'sources', 'after'], `${at} (composite)`);
      if (parent) throw new SearchError('illegal_argument_exception', `[composite] aggregation cannot be used with a parent aggregation of type: [${parent.type}]`);
      const size = body['size'] ?? 10;
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new SearchError('illegal_argument_exception', `[size] must be greater than 0 in [${name}]`);
      def.size = size;
      const sources = body['sources'];
      if (!Array.isArray(sources) || sources.length === 0) throw new SearchError('illegal_argument_exception', `Composite [sources] cannot be null or empty`);
      def.sources = sources.map((s, i) => {
        const [sourceName, src] = single(s, `${at}.sources[${i}]`);
        const [sourceType, sbody] = single(src, `${at}.sources[${i}].${sourceName}`);
        if (sourceType !== 'terms') throw unsupported(`composite source type [${sourceType}] (${at})`);
        if (!isObject(sbody)) throw new SearchError('parsing_exception', `${at}: a source must be an object`);
        onlyKeys(sbody, ['field', 'order'], `${at}.sources.${sourceName}.terms`);
        if (typeof sbody['field'] !== 'string') throw unsupported(`composite source without a field (${at})`);
        const o = sbody['order'] ?? 'asc';
        if (o !== 'asc' && o !== 'desc') throw new SearchError('parsing_exception', `${at}: source order must be asc or desc`);
        const field = index.field(sbody['field'], `${at}.sources.${sourceName}`);
        if (field && field.kind !== 'keyword' && field.kind !== 'numeric') throw unsupported(`composite terms source on a ${field.kind} field (${at})`);
        return { name: sourceName, field, dir: o === 'asc' ? 1 : -1 };
      });
      if (body['after'] !== undefined) {
        if (!isObject(body['after'])) throw new SearchError('parsing_exception', `${at}: after must be an object`);
        const missing = def.sources.filter((s) => !Object.hasOwn(body['after'] as Json, s.name));
        if (missing.length || Object.keys(body['after']).length !== def.sources.length) {
          throw new SearchError('illegal_argument_exception', `[after] has ${Object.keys(body['after']).length} value(s) but [sources] has ${def.sources.length}`);
        }
        def.after = body['after'];
      }
    } else if (type === 'filter') {
      def.filter = compileQuery(body, index, `${at} (filter)`);
    } else if (type === 'filters') {
      onlyKeys(body, ['filters'], `${at} (filters)`);
      const fs = body['filters'];
      if (!isObject(fs)) throw unsupported(`anonymous (array) filters (${at}); name them`);
      def.filters = Object.keys(fs)
        .sort()
        .map((k) => [k, compileQuery(fs[k], index, `${at} (filters.${k})`)] as [string, Pred]);
    } else {
      throw unsupported(`aggregation type [${type}] (${at})`);
    }
    if (subSpec !== undefined) {
      const sub = compileLevel(subSpec, index, def, at);
      def.subs = sub.aggs;
      def.pipelines = sub.pipelines;
    }
    level.aggs.push(def);
  }
  // AggregatorFactories.resolvePipelineAggregatorOrder: a pipeline's paths must start at a sibling.
  const names = new Set([...level.aggs.map((a) => a.name), ...pipelines.map((p) => p.name), ...level.siblings.map((p) => p.name)]);
  for (const p of [...pipelines, ...level.siblings]) {
    const paths = p.type === 'bucket_selector_ext' ? [p.parentBucketPath!] : Object.values(p.bucketsPath);
    for (const path of paths) {
      if (path === '_count' || path === '_key') continue;
      if (!names.has(pathElements(path, p.name)[0]!)) throw new SearchError('illegal_argument_exception', `No aggregation found for path [${path}]`);
    }
  }
  const ordered: PipelineDef[] = [];
  const visit = (p: PipelineDef, stack: string[]): void => {
    if (ordered.includes(p)) return;
    if (stack.includes(p.name)) throw new SearchError('illegal_argument_exception', `Cyclical dependency found with pipeline aggregator [${p.name}]`);
    for (const path of Object.values(p.bucketsPath)) {
      const dep = pipelines.find((q) => q.name === pathElements(path, p.name)[0]);
      if (dep) visit(dep, [...stack, p.name]);
    }
    ordered.push(p);
  };
  for (const p of pipelines) visit(p, []);
  level.pipelines = ordered;
  return level;
}

// ---------------------------------------------------------------------------------------------
// Aggregations: results (the Internal* objects) and their JSON

type Res =
  | { kind: 'metric'; type: MetricType | 'simple_value'; value: number; count: number }
  | { kind: 'single'; docCount: number; subs: Map<string, Res> }
  | { kind: 'multi'; def: AggDef; buckets: Bucket[]; otherDocCount: number; afterKey: Json | null }
  | { kind: 'selector_ext'; parentBucketPath: string; indices: number[] };
interface Bucket {
  key: Scalar | Json;
  docCount: number;
  subs: Map<string, Res>;
}

/** CompensatedSum (Kahan), as InternalSum/InternalAvg add doubles. */
function compensatedSum(values: readonly number[]): number {
  let value = 0;
  let delta = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) value = v + value;
    if (Number.isFinite(value)) {
      const corrected = v + delta;
      const updated = value + corrected;
      delta = corrected - (updated - value);
      value = updated;
    }
  }
  return value;
}

/** Double.compare. */
function doubleCompare(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  if (a === 0 && b === 0) return Object.is(a, -0) === Object.is(b, -0) ? 0 : Object.is(a, -0) ? -1 : 1;
  return 0;
}

/** Terms/composite key order: numbers by value, strings by their UTF-8 bytes (BytesRef). */
function compareKeys(a: Scalar, b: Scalar): number {
  if (typeof a === 'number' && typeof b === 'number') return doubleCompare(a, b);
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  throw new SearchError('illegal_argument_exception', `cannot compare keys [${String(a)}] and [${String(b)}] of different types`);
}

class InvalidPath extends Error {}

class Evaluator {
  private readonly index: Index;
  constructor(index: Index) {
    this.index = index;
  }

  level(level: Pick<Level, 'aggs' | 'siblings'>, docs: readonly unknown[]): Map<string, Res> {
    const out = new Map<string, Res>();
    for (const def of level.aggs) out.set(def.name, this.agg(def, docs));
    for (const p of level.siblings) out.set(p.name, this.selectorExt(p, out));
    return out;
  }

  private agg(def: AggDef, docs: readonly unknown[]): Res {
    const f = def.field;
    const values = (): number[] => (f ? docs.flatMap((d) => this.index.values(d, f) as number[]) : []);
    switch (def.type) {
      case 'avg': {
        const v = values();
        return { kind: 'metric', type: 'avg', value: compensatedSum(v) / v.length, count: v.length };
      }
      case 'sum': {
        const v = values();
        return { kind: 'metric', type: 'sum', value: compensatedSum(v), count: v.length };
      }
      case 'max': {
        const v = values();
        return { kind: 'metric', type: 'max', value: v.reduce((m, x) => Math.max(m, x), -Infinity), count: v.length };
      }
      case 'min': {
        const v = values();
        return { kind: 'metric', type: 'min', value: v.reduce((m, x) => Math.min(m, x), Infinity), count: v.length };
      }
      case 'cardinality': {
        const distinct = new Set(f ? docs.flatMap((d) => this.index.values(d, f)) : []);
        return { kind: 'metric', type: 'cardinality', value: distinct.size, count: distinct.size };
      }
      case 'value_count': {
        const n = f ? docs.reduce((c: number, d) => c + this.index.values(d, f).length, 0) : 0;
        return { kind: 'metric', type: 'value_count', value: n, count: n };
      }
      case 'filter': {
        const matched = docs.filter(def.filter!);
        return { kind: 'single', docCount: matched.length, subs: this.level({ aggs: def.subs, siblings: [] }, matched) };
      }
      case 'filters': {
        const buckets = def.filters!.map(([name, pred]) => {
          const matched = docs.filter(pred);
          return { key: name, docCount: matched.length, subs: this.level({ aggs: def.subs, siblings: [] }, matched) };
        });
        return this.pipelines(def, { kind: 'multi', def, buckets, otherDocCount: 0, afterKey: null });
      }
      case 'terms': {
        const groups = new Map<Scalar, unknown[]>();
        if (f) {
          for (const d of docs) {
            for (const v of new Set(this.index.values(d, f))) {
              const g = groups.get(v);
              if (g) g.push(d);
              else groups.set(v, [d]);
            }
          }
        }
        let buckets: Bucket[] = [...groups].map(([key, ds]) => ({ key, docCount: ds.length, subs: this.level({ aggs: def.subs, siblings: [] }, ds) }));
        buckets.sort((a, b) => this.compareBuckets(def, a, b));
        const kept = buckets.slice(0, def.size);
        const other = buckets.slice(def.size).reduce((n, b) => n + b.docCount, 0);
        buckets = kept;
        return this.pipelines(def, { kind: 'multi', def, buckets, otherDocCount: other, afterKey: null });
      }
      case 'composite': {
        const sources = def.sources!;
        const groups = new Map<string, { key: Scalar[]; docs: unknown[] }>();
        for (const d of docs) {
          let combos: Scalar[][] = [[]];
          for (const s of sources) {
            const vs = s.field ? [...new Set(this.index.values(d, s.field))] : [];
            combos = combos.flatMap((c) => vs.map((v) => [...c, v]));
          }
          for (const c of combos) {
            const id = JSON.stringify(c);
            const g = groups.get(id) ?? { key: c, docs: [] };
            g.docs.push(d);
            groups.set(id, g);
          }
        }
        const cmp = (a: Scalar[], b: Scalar[]): number => {
          for (let i = 0; i < sources.length; i++) {
            const c = compareKeys(a[i]!, b[i]!) * sources[i]!.dir;
            if (c !== 0) return c;
          }
          return 0;
        };
        let keys = [...groups.values()].sort((a, b) => cmp(a.key, b.key));
        if (def.after) {
          const after = sources.map((s) => {
            const v = def.after![s.name];
            if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new SearchError('illegal_argument_exception', `invalid value in [after] for [${s.name}]`);
            return v;
          });
          keys = keys.filter((g) => cmp(g.key, after) > 0);
        }
        keys = keys.slice(0, def.size);
        const asMap = (k: Scalar[]): Json => Object.fromEntries(sources.map((s, i) => [s.name, k[i]]));
        const buckets = keys.map((g) => ({ key: asMap(g.key), docCount: g.docs.length, subs: this.level({ aggs: def.subs, siblings: [] }, g.docs) }));
        const last = keys[keys.length - 1];
        return this.pipelines(def, { kind: 'multi', def, buckets, otherDocCount: 0, afterKey: last ? asMap(last.key) : null });
      }
    }
  }

  /** InternalOrder.CompoundOrder over the terms buckets. */
  private compareBuckets(def: AggDef, a: Bucket, b: Bucket): number {
    for (const o of def.order!) {
      let c: number;
      if ('path' in o) c = doubleCompare(this.orderValue(def, a, o.path), this.orderValue(def, b, o.path));
      else if (o.by === '_count') c = a.docCount - b.docCount;
      else c = compareKeys(a.key as Scalar, b.key as Scalar);
      if (c !== 0) return c * o.dir;
    }
    return 0;
  }

  private orderValue(def: AggDef, bucket: Bucket, path: string[]): number {
    const [head, ...rest] = path;
    const sub = def.subs.find((s) => s.name === head);
    if (!sub) {
      throw new SearchError(
        'aggregation_execution_exception',
        `Invalid aggregation order path [${path.join('>')}]. Buckets can only be sorted on a sub-aggregator path that is built out of zero or more single-bucket aggregations within the path and a final single-bucket or a metrics aggregation at the path end.`,
      );
    }
    const res = bucket.subs.get(head!)!;
    if (res.kind === 'metric' && (rest.length === 0 || (rest.length === 1 && rest[0] === 'value'))) return res.value;
    if (res.kind === 'single' && (rest.length === 0 || (rest.length === 1 && rest[0] === '_count'))) return res.docCount;
    throw unsupported(`terms order path [${path.join('>')}]`);
  }

  /** The parent pipeline aggregations of a multi-bucket aggregation, in dependency order. */
  private pipelines(def: AggDef, res: Res & { kind: 'multi' }): Res {
    for (const p of def.pipelines) {
      const kept: Bucket[] = [];
      for (const bucket of res.buckets) {
        const vars: JavaMap = { ...p.script.params };
        let skip = false;
        for (const [name, path] of Object.entries(p.bucketsPath)) {
          const value = this.resolveBucketValue(bucket, pathElements(path, p.name), p.gapPolicy);
          if (p.type === 'bucket_script' && p.gapPolicy === 'skip' && (value === null || Number.isNaN(value))) {
            skip = true;
            break;
          }
          vars[name] = value === null ? null : new JavaDouble(value);
        }
        if (p.type === 'bucket_script') {
          if (!skip) {
            const returned = this.script(p, vars);
            if (returned !== null) {
              const n = typeof returned === 'number' ? returned : returned instanceof JavaDouble ? returned.value : undefined;
              if (n === undefined) throw new SearchError('script_exception', `runtime error: bucket_script [${p.name}] must return a Number, got ${JSON.stringify(returned)}`);
              bucket.subs.set(p.name, { kind: 'metric', type: 'simple_value', value: n, count: 1 });
            }
          }
          kept.push(bucket);
        } else {
          const returned = this.script(p, vars);
          if (typeof returned !== 'boolean') throw new SearchError('script_exception', `runtime error: java.lang.ClassCastException: bucket_selector [${p.name}] must return a boolean`);
          if (returned) kept.push(bucket);
        }
      }
      res.buckets = kept;
    }
    return res;
  }

  /** BucketSelectorExtAggregator.doReduce (Alerting, common-utils). */
  private selectorExt(p: PipelineDef, siblings: Map<string, Res>): Res {
    const parent = siblings.get(p.parentBucketPath!);
    if (!parent || parent.kind !== 'multi') {
      throw new SearchError('class_cast_exception', `parent_bucket_path [${p.parentBucketPath}] of [${p.name}] is not a multi-bucket aggregation`);
    }
    const indices: number[] = [];
    parent.buckets.forEach((bucket, i) => {
      const vars: JavaMap = { ...p.script.params };
      for (const [name, path] of Object.entries(p.bucketsPath)) {
        const value = this.resolveBucketValue(bucket, pathElements(path, p.name), p.gapPolicy);
        vars[name] = value === null ? null : new JavaDouble(value);
      }
      const returned = this.script(p, vars);
      if (typeof returned !== 'boolean') throw new SearchError('script_exception', `runtime error: java.lang.ClassCastException: the condition of [${p.name}] must return a boolean`);
      if (returned) indices.push(i);
    });
    return { kind: 'selector_ext', parentBucketPath: p.parentBucketPath!, indices };
  }

  private script(p: PipelineDef, vars: JavaMap): JavaValue {
    try {
      return runPainless(p.script.source, { params: vars });
    } catch (e) {
      if (e instanceof PainlessError) {
        const phase = e.javaType === 'compile error' ? 'compile error' : 'runtime error';
        throw new SearchError('script_exception', `${phase}: ${e.message} — in ${p.type} [${p.name}] script "${p.script.source}"`);
      }
      throw e;
    }
  }

  /** BucketHelpers.resolveBucketValue: a Double, NaN, 0.0 or null. */
  private resolveBucketValue(bucket: Bucket, path: string[], gap: GapPolicy): number | null {
    let prop: number | Res | Bucket | Scalar | Json;
    try {
      prop = this.bucketProperty(bucket, path);
    } catch (e) {
      if (e instanceof InvalidPath) return null;
      throw e;
    }
    let value: number;
    if (typeof prop === 'number') value = prop;
    else if (isObject(prop) && 'kind' in prop && prop.kind === 'metric') value = (prop as Res & { kind: 'metric' }).value;
    else {
      throw new SearchError(
        'aggregation_execution_exception',
        `buckets_path must reference either a number value or a single value numeric metric aggregation, got: [${typeof prop === 'string' ? 'String' : 'an aggregation'}] at aggregation [${path[0] ?? ''}]`,
      );
    }
    const isDocCount = path.length === 1 && path[0] === '_count';
    if (!Number.isFinite(value) || (bucket.docCount === 0 && !isDocCount)) return gap === 'insert_zeros' ? 0 : NaN;
    return value;
  }

  private bucketProperty(bucket: Bucket, path: string[]): number | Res | Bucket | Scalar | Json {
    if (path.length === 0) return bucket;
    const [head, ...rest] = path;
    if (head === '_count') {
      if (rest.length) throw new InvalidPath('_count must be the last element in the path');
      return bucket.docCount;
    }
    if (head === '_key') {
      if (rest.length) throw new InvalidPath('_key must be the last element in the path');
      return bucket.key;
    }
    const sub = bucket.subs.get(head!);
    if (!sub) throw new InvalidPath(`Cannot find an aggregation named [${head}]`);
    return this.aggProperty(sub, rest);
  }

  private aggProperty(res: Res, path: string[]): number | Res {
    if (path.length === 0) return res;
    if (res.kind === 'metric') {
      if (path.length === 1 && path[0] === 'value') return res.value;
      throw new InvalidPath(`path not supported: ${path.join('>')}`);
    }
    if (res.kind === 'single') {
      const [head, ...rest] = path;
      if (head === '_count') {
        if (rest.length) throw new InvalidPath('_count must be the last element in the path');
        return res.docCount;
      }
      const sub = res.subs.get(head!);
      if (!sub) throw new InvalidPath(`Cannot find an aggregation named [${head}]`);
      return this.aggProperty(sub, rest);
    }
    throw unsupported(`a buckets_path through a multi-bucket aggregation (${path.join('>')})`);
  }
}

function toJson(res: Res): Json {
  switch (res.kind) {
    case 'metric':
      switch (res.type) {
        case 'avg':
          return { value: res.count !== 0 ? res.value : null };
        case 'max':
        case 'min':
        case 'simple_value':
          return { value: Number.isFinite(res.value) ? res.value : null };
        default:
          return { value: res.value };
      }
    case 'single':
      return { doc_count: res.docCount, ...subsJson(res.subs) };
    case 'selector_ext':
      return { parent_bucket_path: res.parentBucketPath, bucket_indices: [...res.indices] };
    case 'multi':
      if (res.def.type === 'filters') {
        return { buckets: Object.fromEntries(res.buckets.map((b) => [b.key as string, { doc_count: b.docCount, ...subsJson(b.subs) }])) };
      }
      if (res.def.type === 'composite') {
        const buckets = res.buckets.map((b) => ({ key: { ...(b.key as Json) }, doc_count: b.docCount, ...subsJson(b.subs) }));
        return res.afterKey ? { after_key: { ...res.afterKey }, buckets } : { buckets };
      }
      return {
        doc_count_error_upper_bound: 0,
        sum_other_doc_count: res.otherDocCount,
        buckets: res.buckets.map((b) => ({ key: b.key, doc_count: b.docCount, ...subsJson(b.subs) })),
      };
  }
}

function subsJson(subs: Map<string, Res>): Json {
  return Object.fromEntries([...subs].map(([k, v]) => [k, toJson(v)]));
}

/**
 * Runs `request` (a search body) over `docs` as one OpenSearch index with `options.mapping`
 * would. Throws SearchError for what OpenSearch would reject or fail on, and
 * UnsupportedFeatureError for anything outside the supported subset.
 */
export function searchDocuments(docs: readonly object[], request: SearchRequest, options: SearchOptions = {}): SearchResponse {
  if (!isObject(request)) throw new SearchError('parsing_exception', 'the search body must be an object');
  onlyKeys(request, ['size', 'query', 'aggregations', 'aggs'], 'the search body');
  if (request['size'] !== 0) throw unsupported(`size ${JSON.stringify(request['size'] ?? '(default 10)')} (hits are not implemented: use "size": 0)`);
  if (request['aggregations'] !== undefined && request['aggs'] !== undefined) throw new SearchError('parsing_exception', 'both aggregations and aggs');
  const index = new Index(docs, options.mapping);
  // Everything is compiled (validated) before any document is looked at, so an unsupported
  // clause fails even on an empty index.
  const match = request['query'] === undefined ? () => true : compileQuery(request['query'], index, 'query');
  const aggSpec = request['aggregations'] ?? request['aggs'];
  const level = aggSpec === undefined ? undefined : compileLevel(aggSpec, index, null, 'aggregations');
  if (options.noIndex) {
    return { took: 0, timed_out: false, _shards: { total: 0, successful: 0, skipped: 0, failed: 0 }, hits: { total: { value: 0, relation: 'eq' }, max_score: 0, hits: [] } };
  }
  const matched = docs.filter(match);
  const response: SearchResponse = {
    took: 1,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: { total: { value: Math.min(matched.length, 10000), relation: matched.length > 10000 ? 'gte' : 'eq' }, max_score: null, hits: [] },
  };
  if (level) response['aggregations'] = subsJson(new Evaluator(index).level(level, matched));
  return response;
}
