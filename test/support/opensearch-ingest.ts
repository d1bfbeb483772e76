// Ingest pipelines of the OpenSearch stand-in: `PUT/GET/DELETE /_ingest/pipeline/{id}` and the
// registry `_bulk` runs documents through (opensearch.ts executes them on the parsed source).
//
// Honest scope: only the `set` processor changes documents (field, value with `{{...}}` templates,
// override, ignore_empty_value, ignore_failure). Every other processor type of OpenSearch 2.x is
// accepted and stored but does nothing, and a `set` with an `if` condition is not run (the stand-in
// has no painless). Validation follows ConfigurationUtils and Pipeline.create: unknown processor
// types, missing required properties and unknown parameters fail with their real parse_exception.
import { errorReply, isObject, namesMatch, hasWildcard, objectBody, type ConfigReply, type ConfigRequest, type ErrorCause } from './opensearch-config-common.ts';

/** The processor types an OpenSearch 2.19 node registers (ingest-common, ingest-geoip, ingest-user-agent). */
const PROCESSOR_TYPES = new Set([
  'append', 'bytes', 'community_id', 'convert', 'copy', 'csv', 'date', 'date_index_name', 'dissect', 'dot_expander', 'drop', 'fail',
  'fingerprint', 'foreach', 'geoip', 'grok', 'gsub', 'html_strip', 'join', 'json', 'kv', 'lowercase', 'pipeline', 'remove',
  'remove_by_pattern', 'rename', 'script', 'set', 'sort', 'split', 'trim', 'uppercase', 'urldecode', 'user_agent',
]);
const COMMON_PROCESSOR_KEYS = ['tag', 'description', 'if', 'ignore_failure', 'on_failure'];
const SET_KEYS = new Set([...COMMON_PROCESSOR_KEYS, 'field', 'value', 'copy_from', 'override', 'ignore_empty_value', 'media_type']);
const PIPELINE_KEYS = new Set(['description', 'processors', 'on_failure', 'version', '_meta']);

export interface SetProcessor {
  kind: 'set';
  field: string;
  value: unknown;
  override: boolean;
  ignoreEmptyValue: boolean;
  ignoreFailure: boolean;
}

/** A processor the stand-in accepts but does not run (see the top of this file). */
export interface InertProcessor {
  kind: 'inert';
  type: string;
}

export type Processor = SetProcessor | InertProcessor;

export interface Pipeline {
  id: string;
  /** The body as PUT, which GET returns. */
  body: Record<string, unknown>;
  processors: Processor[];
}

/** ConfigurationUtils.newConfigurationException: parse_exception with processor metadata. */
function configError(reason: string, meta: { type?: string; tag?: string; property?: string } = {}): never {
  const cause: ErrorCause = { type: 'parse_exception', reason: meta.property ? `[${meta.property}] ${reason}` : reason };
  if (meta.type !== undefined) cause['processor_type'] = meta.type;
  if (meta.tag !== undefined) cause['processor_tag'] = meta.tag;
  if (meta.property !== undefined) cause['property_name'] = meta.property;
  throw errorReply(400, cause);
}

const javaClass = (v: unknown): string =>
  typeof v === 'string' ? 'java.lang.String' : typeof v === 'boolean' ? 'java.lang.Boolean' : typeof v === 'number' ? 'java.lang.Integer' : Array.isArray(v) ? 'java.util.ArrayList' : 'java.util.LinkedHashMap';

function readBoolean(config: Record<string, unknown>, key: string, fallback: boolean, meta: { type: string; tag?: string }): boolean {
  const v = config[key];
  delete config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  return configError(`property isn't a boolean, but of type [${javaClass(v)}]`, { ...meta, property: key });
}

function compileProcessor(type: string, raw: unknown): Processor {
  if (!PROCESSOR_TYPES.has(type)) configError(`No processor type exists with name [${type}]`, { type });
  if (!isObject(raw)) return configError(`property isn't a map, but of type [${javaClass(raw)}]`, { type });
  const config: Record<string, unknown> = { ...raw };
  const tag = typeof config['tag'] === 'string' ? config['tag'] : undefined;
  const meta = tag === undefined ? { type } : { type, tag };
  if (type !== 'set') return { kind: 'inert', type };
  const ignoreFailure = readBoolean(config, 'ignore_failure', false, meta);
  const override = readBoolean(config, 'override', true, meta);
  const ignoreEmptyValue = readBoolean(config, 'ignore_empty_value', false, meta);
  if (config['field'] === undefined || config['field'] === null) configError('required property is missing', { ...meta, property: 'field' });
  if (config['value'] === undefined && config['copy_from'] === undefined) configError('required property is missing', { ...meta, property: 'value' });
  const unknown = Object.keys(config).filter((k) => !SET_KEYS.has(k));
  if (unknown.length > 0) configError(`processor [set] doesn't support one or more provided configuration parameters [${unknown.join(', ')}]`, meta);
  // A `set` with an `if` is never run: the condition is painless, which the stand-in cannot evaluate.
  if (config['if'] !== undefined || config['copy_from'] !== undefined) return { kind: 'inert', type };
  return { kind: 'set', field: String(config['field']), value: config['value'], override, ignoreEmptyValue, ignoreFailure };
}

function compileProcessors(list: unknown, property: string): Processor[] {
  if (!Array.isArray(list)) return configError(`property isn't a list, but of type [${javaClass(list)}]`, { property });
  const out: Processor[] = [];
  for (const entry of list) {
    if (!isObject(entry)) configError(`property isn't a map, but of type [${javaClass(entry)}]`, { property });
    for (const [type, config] of Object.entries(entry)) out.push(compileProcessor(type, config));
  }
  return out;
}

/** Pipeline.create. */
export function compilePipeline(id: string, body: Record<string, unknown>): Pipeline {
  if (body['processors'] === undefined || body['processors'] === null) configError('required property is missing', { property: 'processors' });
  const processors = compileProcessors(body['processors'], 'processors');
  if (body['on_failure'] !== undefined) compileProcessors(body['on_failure'], 'on_failure');
  const unknown = Object.keys(body).filter((k) => !PIPELINE_KEYS.has(k));
  if (unknown.length > 0) configError(`pipeline [${id}] doesn't support one or more provided configuration parameters [${unknown.join(', ')}]`);
  return { id, body, processors };
}

/** The default pipeline the stand-in starts with: what `booth-agent fleet-setup` installs. */
export const BOOTH_PIPELINE_BODY = {
  description: 'booth-agent: stamp the time OpenSearch received each document',
  processors: [{ set: { field: 'event.ingested', value: '{{_ingest.timestamp}}' } }],
};

/**
 * The node's pipelines. `add(id)` keeps the old Set-like use (`standIn.pipelines.add('x')`
 * registers a pipeline without processors); `add(id, body)` registers a real one.
 */
export class PipelineRegistry {
  private readonly byId = new Map<string, Pipeline>();

  add(id: string, body: Record<string, unknown> = { processors: [] }): this {
    this.byId.set(id, compilePipeline(id, body));
    return this;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Pipeline | undefined {
    return this.byId.get(id);
  }

  delete(id: string): boolean {
    return this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }

  get size(): number {
    return this.byId.size;
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** `/_ingest/pipeline` and `/_ingest/pipeline/{id}`. */
  handle(req: ConfigRequest, id: string | undefined): ConfigReply {
    // The routes allow PUT and DELETE only with an id.
    if (req.method === 'PUT' && id !== undefined) {
      this.byId.set(id, compilePipeline(id, objectBody(req.text)));
      return { status: 200, body: { acknowledged: true } };
    }
    const matching = this.ids().filter((p) => id === undefined || namesMatch(id, p));
    if (req.method === 'DELETE' && id !== undefined) {
      if (matching.length === 0 && !hasWildcard(id)) throw errorReply(404, { type: 'resource_not_found_exception', reason: `pipeline [${id}] is missing` });
      for (const p of matching) this.byId.delete(p);
      return { status: 200, body: { acknowledged: true } };
    }
    // GetPipelineResponse: 404 with an empty object when nothing matched, even for "all pipelines".
    const body = Object.fromEntries(matching.map((p) => [p, this.byId.get(p)?.body]));
    return { status: matching.length > 0 ? 200 : 404, body };
  }
}
