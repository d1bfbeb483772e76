// Composable index templates of the OpenSearch stand-in: `PUT/POST/GET/HEAD/DELETE
// /_index_template/{name}` (MetadataIndexTemplateService, RestGet/PutComposableIndexTemplateAction),
// and what a matching template gives an index that `_bulk` creates: its mapping and its settings.
//
// Mappings compile into the stand-in's field types (opensearch.ts): keyword, text, long, integer,
// float, double, boolean, date (with `format`), ip, geo_point, flat_object, object/nested (with
// `properties`, `dynamic`, `enabled`). Real types the stand-in does not model (geo_shape, binary,
// knn_vector, ranges, ...) are accepted and their values not checked. Field parameters other than
// those are accepted without validation, and multi-fields (`fields`) are not mapped. There are no
// component templates (every `composed_of` names a missing one) and no data streams: a template's
// `data_stream` is stored and returned, but indices are still created as plain indices.
import type { Dynamic, LeafMapper, Mapper, ObjectMapper } from './opensearch.ts';
import {
  errorReply,
  globMatch,
  globsOverlap,
  hasWildcard,
  illegalArgument,
  isObject,
  javaList,
  namesMatch,
  objectBody,
  topLevelKeyLocation,
  type ConfigReply,
  type ConfigRequest,
} from './opensearch-config-common.ts';

/** Every mapping type an OpenSearch 2.19 node (with its bundled plugins) knows, as the stand-in checks it. */
const TYPES: Record<string, LeafMapper['type'] | 'object'> = {
  keyword: 'keyword', constant_keyword: 'keyword', wildcard: 'keyword',
  text: 'text', match_only_text: 'text', search_as_you_type: 'text',
  long: 'long', unsigned_long: 'long', integer: 'integer', short: 'integer', byte: 'integer', token_count: 'integer',
  float: 'float', half_float: 'float', scaled_float: 'float', double: 'double',
  boolean: 'boolean', date: 'date', date_nanos: 'date', ip: 'ip', geo_point: 'geo_point', flat_object: 'flat_object',
  object: 'object', nested: 'object',
  geo_shape: 'unchecked', binary: 'unchecked', completion: 'unchecked', knn_vector: 'unchecked', rank_feature: 'unchecked',
  rank_features: 'unchecked', integer_range: 'unchecked', long_range: 'unchecked', float_range: 'unchecked', double_range: 'unchecked',
  date_range: 'unchecked', ip_range: 'unchecked', join: 'unchecked', percolator: 'unchecked', alias: 'unchecked', xy_point: 'unchecked', xy_shape: 'unchecked',
};
// Note: `flattened` is Elasticsearch X-Pack, not OpenSearch (whose equivalent is flat_object), so a
// real node answers it with "No handler for type [flattened]", and so does the stand-in.

const ROOT_KEYS = new Set(['dynamic', 'properties', '_meta', '_source', '_routing', '_field_names', 'date_detection', 'numeric_detection', 'dynamic_templates', 'dynamic_date_formats', '_data_stream_timestamp']);
const TEMPLATE_KEYS = new Set(['index_patterns', 'template', 'composed_of', 'priority', 'version', '_meta', 'data_stream', 'context']);

/** A failure while building the mapping: its message and exception type (MapperParsingException unless said). */
class MappingError extends Error {
  readonly type: string;
  constructor(message: string, type = 'mapper_parsing_exception') {
    super(message);
    this.type = type;
  }
}

function dynamicOf(v: unknown, inherited: Dynamic): Dynamic {
  if (v === true || v === 'true') return 'true';
  if (v === false || v === 'false') return 'false';
  if (v === 'strict') return 'strict';
  return inherited;
}

/** Java's Object.toString for a mapping value, as "unsupported parameters" messages print it. */
function javaString(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(javaString).join(', ')}]`;
  if (isObject(v)) return `{${Object.entries(v).map(([k, x]) => `${k}=${javaString(x)}`).join(', ')}}`;
  return String(v);
}

function compileProperties(props: unknown, dynamic: Dynamic): Map<string, Mapper> {
  const out = new Map<string, Mapper>();
  if (props === undefined || props === null) return out;
  if (Array.isArray(props) && props.length === 0) return out; // `properties: []` is accepted as empty
  if (!isObject(props)) throw new MappingError('properties must be a map type', 'parse_exception');
  for (const [name, def] of Object.entries(props)) out.set(name, compileField(name, def, dynamic));
  return out;
}

function compileField(name: string, def: unknown, dynamic: Dynamic): Mapper {
  // The real message names [fields] and the class of the field's *name*: a long-standing quirk of ObjectMapper.TypeParser.
  if (!isObject(def)) throw new MappingError(`Expected map for property [fields] on field [${name}] but got a class java.lang.String`);
  const typeName = def['type'] === undefined ? 'object' : String(def['type']);
  const type = TYPES[typeName];
  if (type === undefined) throw new MappingError(`No handler for type [${typeName}] declared on field [${name}]`);
  if (type === 'object') {
    const own = dynamicOf(def['dynamic'], dynamic);
    const mapper: ObjectMapper = { type: 'object', props: compileProperties(def['properties'], own), dynamic: own };
    if (def['enabled'] === false || def['enabled'] === 'false') mapper.enabled = false;
    return mapper;
  }
  const leaf: LeafMapper = { type };
  if (type === 'date' && typeof def['format'] === 'string') leaf.format = def['format'];
  return leaf;
}

/** The root object mapper of a template's `mappings` (DocumentMapperParser, RootObjectMapper). */
export function compileMappings(mappings: unknown): ObjectMapper {
  let root = mappings;
  if (isObject(root) && Object.keys(root).length === 1 && isObject(root['_doc'])) root = root['_doc'];
  if (!isObject(root)) throw new MappingError('Failed to parse mapping: expected an object');
  const unsupported = Object.entries(root).filter(([k]) => !ROOT_KEYS.has(k));
  if (unsupported.length > 0) throw new MappingError(`Root mapping definition has unsupported parameters:  ${unsupported.map(([k, v]) => `[${k} : ${javaString(v)}]`).join(' ')}`);
  const dynamic = dynamicOf(root['dynamic'], 'true');
  return { type: 'object', props: compileProperties(root['properties'], dynamic), dynamic };
}

/** Settings.Builder: flat `a.b.c` keys, string values, `index.` prefixed (normalizePrefix). */
export function normaliseSettings(settings: unknown): Record<string, string> {
  const flat: Record<string, string> = {};
  const walk = (v: unknown, prefix: string): void => {
    if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}.${k}` : k);
    } else if (Array.isArray(v)) {
      flat[prefix] = v.map(String).join(',');
    } else if (v !== null && v !== undefined) {
      flat[prefix] = String(v);
    }
  };
  walk(settings, '');
  return Object.fromEntries(Object.entries(flat).map(([k, v]) => [k.startsWith('index.') ? k : `index.${k}`, v]));
}

/** Flat settings as GET renders them: nested objects of strings. */
function nestSettings(flat: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      node = isObject(next) ? next : (node[part] = {}) as Record<string, unknown>;
    }
    node[parts[parts.length - 1] ?? key] = value;
  }
  return out;
}

interface StoredTemplate {
  name: string;
  patterns: string[];
  priority: number;
  /** ComposableIndexTemplate.toXContent: what GET returns. */
  rendered: Record<string, unknown>;
  mapping: ObjectMapper | undefined;
  settings: Record<string, string>;
}

/** What a new index gets from the template that matches it. */
export interface TemplateForIndex {
  template: string;
  mapping: ObjectMapper | undefined;
  settings: Record<string, string>;
}

export class IndexTemplates {
  private readonly byName = new Map<string, StoredTemplate>();

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The highest-priority template whose patterns match `index` (findV2Template). */
  forIndex(index: string): TemplateForIndex | undefined {
    let best: StoredTemplate | undefined;
    for (const t of this.byName.values()) {
      if (!t.patterns.some((p) => globMatch(p, index))) continue;
      if (!best || t.priority > best.priority) best = t;
    }
    return best && { template: best.name, mapping: best.mapping, settings: { ...best.settings } };
  }

  /** `/_index_template` and `/_index_template/{name}`. */
  handle(req: ConfigRequest, name: string | undefined): ConfigReply {
    if (req.method === 'PUT' || req.method === 'POST') {
      if (name === undefined) throw illegalArgument('index template name is missing');
      return this.put(req, name);
    }
    const matching = [...this.byName.values()].filter((t) => name === undefined || namesMatch(name, t.name));
    if (req.method === 'DELETE') {
      if (name === undefined) throw illegalArgument('index template name is missing');
      if (matching.length === 0) throw errorReply(404, { type: 'index_template_missing_exception', reason: `index_template [${name}] missing` });
      for (const t of matching) this.byName.delete(t.name);
      return { status: 200, body: { acknowledged: true } };
    }
    if (matching.length === 0 && name !== undefined && !hasWildcard(name)) {
      if (req.method === 'HEAD') return { status: 404, body: undefined };
      throw errorReply(404, { type: 'resource_not_found_exception', reason: `index template matching [${name}] not found` });
    }
    if (req.method === 'HEAD') return { status: 200, body: undefined };
    return { status: 200, body: { index_templates: matching.map((t) => ({ name: t.name, index_template: t.rendered })) } };
  }

  private put(req: ConfigRequest, name: string): ConfigReply {
    const body = objectBody(req.text);
    for (const key of Object.keys(body)) {
      if (!TEMPLATE_KEYS.has(key)) throw errorReply(400, { type: 'x_content_parse_exception', reason: `[${topLevelKeyLocation(req.text, key)}] [index_template] unknown field [${key}]` });
    }
    const rawPatterns = body['index_patterns'];
    if (rawPatterns === undefined || rawPatterns === null) throw illegalArgument('Required [index_patterns]');
    const patterns = (Array.isArray(rawPatterns) ? rawPatterns : [rawPatterns]).map(String);
    const priority = body['priority'] === undefined || body['priority'] === null ? undefined : Number(body['priority']);
    const composedOf = Array.isArray(body['composed_of']) ? body['composed_of'].map(String) : [];
    const create = req.params.get('create');
    if ((create === '' || create === 'true') && this.byName.has(name)) throw illegalArgument(`index template [${name}] already exists`);
    this.checkOverlap(name, patterns, priority ?? 0);
    if (composedOf.length > 0) {
      throw errorReply(400, {
        type: 'invalid_index_template_exception',
        reason: `index_template [${name}] invalid, cause [index template [${name}] specifies component templates ${javaList(composedOf)} that do not exist]`,
      });
    }
    const template = isObject(body['template']) ? body['template'] : undefined;
    let mapping: ObjectMapper | undefined;
    try {
      mapping = template?.['mappings'] === undefined ? undefined : compileMappings(template['mappings']);
    } catch (e) {
      if (!(e instanceof MappingError)) throw e;
      // validateCompositeTemplate's failure, wrapped by addIndexTemplateV2.
      throw errorReply(400, {
        type: 'illegal_argument_exception',
        reason: `composable template [${name}] template after composition is invalid`,
        caused_by: { type: 'mapper_parsing_exception', reason: `Failed to parse mapping [_doc]: ${e.message}`, caused_by: { type: e.type, reason: e.message } },
      });
    }
    const settings = template?.['settings'] === undefined ? {} : normaliseSettings(template['settings']);
    this.byName.set(name, { name, patterns, priority: priority ?? 0, rendered: render(body, patterns, priority, composedOf, settings), mapping, settings });
    return { status: 200, body: { acknowledged: true } };
  }

  private checkOverlap(name: string, patterns: string[], priority: number): void {
    const clashes = [...this.byName.values()].filter((t) => t.name !== name && t.priority === priority && t.patterns.some((p) => patterns.some((q) => globsOverlap(p, q))));
    if (clashes.length === 0) return;
    throw illegalArgument(
      `index template [${name}] has index patterns ${javaList(patterns)} matching patterns from existing templates [${clashes.map((t) => t.name).join(',')}] ` +
        `with patterns (${clashes.map((t) => `${t.name} => ${javaList(t.patterns)}`).join(',')}) that have the same priority [${priority}], ` +
        'multiple index templates may not match during index creation, please use a different priority',
    );
  }
}

/** ComposableIndexTemplate.toXContent after the round trip through cluster state. */
function render(body: Record<string, unknown>, patterns: string[], priority: number | undefined, composedOf: string[], settings: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = { index_patterns: patterns };
  const template = body['template'];
  if (isObject(template)) {
    const t: Record<string, unknown> = {};
    if (template['settings'] !== undefined) t['settings'] = nestSettings(settings);
    if (template['mappings'] !== undefined) t['mappings'] = template['mappings'];
    if (template['aliases'] !== undefined) t['aliases'] = template['aliases'];
    out['template'] = t;
  }
  out['composed_of'] = composedOf;
  if (priority !== undefined) out['priority'] = priority;
  if (body['version'] !== undefined && body['version'] !== null) out['version'] = Number(body['version']);
  if (body['_meta'] !== undefined && body['_meta'] !== null) out['_meta'] = body['_meta'];
  if (isObject(body['data_stream'])) {
    const field = body['data_stream']['timestamp_field'];
    out['data_stream'] = { timestamp_field: { name: isObject(field) && typeof field['name'] === 'string' ? field['name'] : '@timestamp' } };
  }
  return out;
}
