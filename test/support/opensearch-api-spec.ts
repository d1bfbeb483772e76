// Checks the HTTP requests we send to OpenSearch against the official OpenSearch API specification
// (opensearch-project/opensearch-api-specification, OpenAPI 3.1 split over many YAML files), read at
// run time from ../shared/opensearch-api-spec beside the checkout and never copied into the repo.
// The unmerged alerting draft in its draft-alerting/ folder is laid over the spec as if merged.
//
// What a merged spec would contain is reproduced from the repository's DEVELOPER_GUIDE: the
// parameters of spec/_global_parameters.yaml are accepted by every operation, and the paths of
// spec/_superseded_operations.yaml exist as aliases of the operations that superseded them.
//
// Schemas are checked with Ajv's JSON Schema 2020-12 build (OpenAPI 3.1's dialect). Every YAML file
// is registered with Ajv under a virtual file URL of the merged layout, so that relative `$ref`s
// between files resolve as written. Parsing all 2.7 MB of YAML costs about a second, so schema
// files are parsed only when a validator first needs them, and validators are compiled per
// operation on first use and cached, like the loaded spec itself (once per process and root).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { API_SPEC_ROOT } from './needs.ts';
import { Ajv2020, MissingRefError, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';


export interface OperationMatch {
  /** e.g. `indices.put_index_template.1` */
  operationId: string;
  /** Lower-case HTTP method, as in the spec. */
  method: string;
  /** The path template that matched, e.g. `/_index_template/{name}`. */
  path: string;
  /** Path parameter values by name, URL-decoded. */
  pathParams: Record<string, string>;
  /** Set when the path is a superseded alias (e.g. `/_opendistro/...`): the template that replaced it. */
  supersededBy?: string;
}

export interface ApiSpec {
  /** The folder the spec was read from. */
  readonly root: string;
  /** The operation the spec defines for this request, or undefined. */
  findOperation(method: string, pathAndQuery: string): OperationMatch | undefined;
  /**
   * Everything wrong with this request according to the spec; empty when it is valid. `body` is the
   * parsed JSON value, or the raw text (string or bytes) as sent; `undefined` means no body.
   */
  validateRequest(method: string, pathAndQuery: string, body?: unknown): string[];
}

const loaded = new Map<string, Promise<ApiSpec>>();

/** Loads the spec once per process and root; later calls share the same instance and its validators. */
export function loadApiSpec(root: string = API_SPEC_ROOT): Promise<ApiSpec> {
  let spec = loaded.get(root);
  if (!spec) {
    spec = SpecValidator.load(root);
    loaded.set(root, spec);
    spec.catch(() => loaded.delete(root)); // a missing folder should not be remembered forever
  }
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Spec files

type Json = unknown;
type JsonObject = Record<string, Json>;

/** Ids are file URLs of the merged layout, independent of where the checkout lives. */
const ID_BASE = 'file:///opensearch-api-spec/spec/';
const GLOBAL_PARAMETERS = '_global_parameters.yaml';
const SUPERSEDED_OPERATIONS = '_superseded_operations.yaml';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'head', 'patch', 'options'] as const;

function isObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Relative name in the merged layout (`schemas/_common.yaml`) → file on disk. */
async function listSpecFiles(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const add = async (sourceDir: string, folder: string): Promise<void> => {
    const dir = join(root, sourceDir, folder);
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort()) {
      const rel = `${folder}/${name}`;
      const existing = files.get(rel);
      if (existing) throw new Error(`${join(dir, name)} would replace ${existing} in the merged spec`);
      files.set(rel, join(dir, name));
    }
  };
  for (const folder of ['namespaces', 'schemas']) await add('spec', folder);
  // The alerting draft (draft-alerting/README.md: files of an unmerged PR, copied verbatim) takes the
  // place in spec/ that merging the PR would give it, so that its relative `$ref`s resolve as written.
  for (const folder of ['namespaces', 'schemas']) await add(join('draft-alerting', 'spec'), folder);
  files.set(GLOBAL_PARAMETERS, join(root, 'spec', GLOBAL_PARAMETERS));
  files.set(SUPERSEDED_OPERATIONS, join(root, 'spec', SUPERSEDED_OPERATIONS));
  return files;
}

/** The texts of all spec files, parsed on first use. */
class SpecDocuments {
  readonly #texts: Map<string, { file: string; text: string }>;
  readonly #parsed = new Map<string, JsonObject>();

  private constructor(texts: Map<string, { file: string; text: string }>) {
    this.#texts = texts;
  }

  static async read(root: string): Promise<SpecDocuments> {
    const files = await listSpecFiles(root);
    const entries = await Promise.all(
      [...files].map(async ([rel, file]) => [rel, { file, text: await readFile(file, 'utf8') }] as const),
    );
    return new SpecDocuments(new Map(entries));
  }

  names(): string[] {
    return [...this.#texts.keys()];
  }

  has(rel: string): boolean {
    return this.#texts.has(rel);
  }

  get(rel: string): JsonObject {
    const cached = this.#parsed.get(rel);
    if (cached) return cached;
    const source = this.#texts.get(rel);
    if (!source) throw new Error(`the spec has no file ${rel}`);
    let doc: Json;
    try {
      doc = parseYaml(source.text);
    } catch (error) {
      throw new Error(`cannot parse ${source.file}: ${(error as Error).message}`, { cause: error });
    }
    if (!isObject(doc)) throw new Error(`${source.file} is not a YAML mapping`);
    this.#parsed.set(rel, doc);
    return doc;
  }

  /** Follows one `$ref` written in file `rel`; undefined when it leads nowhere. */
  resolve(rel: string, ref: string): { rel: string; node: Json; pointer: string[] } | undefined {
    const target = relOfId(new URL(ref, ID_BASE + rel).href);
    if (target === undefined || !this.has(target)) return undefined;
    const hash = ref.indexOf('#');
    const pointer = hash < 0 ? [] : parsePointer(ref.slice(hash + 1));
    let node: Json = this.get(target);
    for (const part of pointer) {
      if (Array.isArray(node)) node = node[Number(part)];
      else if (isObject(node)) node = node[part];
      else return undefined;
      if (node === undefined) return undefined;
    }
    return { rel: target, node, pointer };
  }
}

function relOfId(id: string): string | undefined {
  const withoutFragment = id.split('#')[0] ?? '';
  return withoutFragment.startsWith(ID_BASE) ? decodeURI(withoutFragment.slice(ID_BASE.length)) : undefined;
}

function parsePointer(fragment: string): string[] {
  if (fragment === '' || fragment === '/') return [];
  return decodeURIComponent(fragment)
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** An Ajv `$ref` to a node of a spec file, escaped for both JSON Pointer and URI fragment. */
function refTo(rel: string, pointer: readonly string[]): string {
  const escaped = pointer.map((part) => encodeURIComponent(part.replaceAll('~', '~0').replaceAll('/', '~1')));
  return `${ID_BASE}${rel}#/${escaped.join('/')}`;
}

// ---------------------------------------------------------------------------------------------
// OpenAPI schema dialect → what Ajv understands

/**
 * Rewrites, in place, the OpenAPI parts of a file's schemas that plain JSON Schema reads
 * differently: `discriminator` (see selectByDiscriminator) and OpenAPI 3.0's `nullable` (one file,
 * flow_framework.common.yaml, still declares 3.0.3). Extension keywords (`x-*`), `example`,
 * `deprecated` and the like are left for Ajv to ignore (`strict: false`). Returns the `format`
 * names the file uses, so that each can be registered before Ajv compiles it.
 */
function adaptSchemas(docs: SpecDocuments, rel: string): Set<string> {
  const formats = new Set<string>();
  const seen = new WeakSet<object>();
  const visit = (value: Json): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    const node = value as JsonObject;
    if (typeof node.format === 'string') formats.add(node.format);
    if (node.nullable === true && typeof node.type === 'string') node.type = [node.type, 'null'];
    if (isObject(node.discriminator) && Array.isArray(node.oneOf)) selectByDiscriminator(docs, rel, node);
    Object.values(node).forEach(visit);
  };
  visit(docs.get(rel));
  return formats;
}

/**
 * Turns `oneOf` + `discriminator` into "the branch whose tag the value names". Plain `oneOf` would
 * also accept valid values, but on an invalid one it reports every branch's complaints (about fifty
 * for a mapping property); choosing the branch by its tag yields the one relevant problem, e.g. an
 * unknown `type` reported as not among the allowed values. The repo's `x-default` extension names the
 * branch used when the tag is absent (an object mapping without `type`). Left as written when a
 * branch's tag values cannot be determined.
 */
function selectByDiscriminator(docs: SpecDocuments, rel: string, node: JsonObject): void {
  const discriminator = node.discriminator as JsonObject;
  const tag = discriminator.propertyName;
  const branches = node.oneOf as Json[];
  if (typeof tag !== 'string') return;
  const cases: { values: Json[]; branch: Json }[] = [];
  const mapping = isObject(discriminator.mapping) ? discriminator.mapping : {};
  for (const [value, ref] of Object.entries(mapping)) cases.push({ values: [value], branch: { $ref: ref } });
  for (const branch of branches) {
    const values = tagValues(docs, rel, branch, tag, new Set());
    if (!values) return;
    cases.push({ values: values.filter((v) => !(typeof v === 'string' && v in mapping)), branch });
  }
  const all = cases.flatMap((c) => c.values);
  const fallback = typeof discriminator['x-default'] === 'string' ? discriminator['x-default'] : undefined;
  const defaultCase = fallback === undefined ? undefined : cases.find((c) => c.values.includes(fallback));
  const selection: Json[] = [
    { if: { required: [tag] }, then: { properties: { [tag]: { enum: all } } } },
    ...cases
      .filter((c) => c.values.length > 0)
      .map((c) => ({ if: { required: [tag], properties: { [tag]: { enum: c.values } } }, then: c.branch })),
    { if: { not: { required: [tag] } }, then: defaultCase ? defaultCase.branch : { oneOf: branches } },
  ];
  delete node.oneOf;
  delete node.discriminator;
  node.allOf = [...(Array.isArray(node.allOf) ? node.allOf : []), ...selection];
}

/** The values a branch allows for the tag property, following `$ref`s and `allOf`. */
function tagValues(docs: SpecDocuments, rel: string, schema: Json, tag: string, seen: Set<Json>): Json[] | undefined {
  if (!isObject(schema) || seen.has(schema)) return undefined;
  seen.add(schema);
  const property = isObject(schema.properties) ? schema.properties[tag] : undefined;
  if (isObject(property)) {
    if ('const' in property) return [property.const];
    if (Array.isArray(property.enum)) return property.enum;
    if (typeof property.$ref === 'string') {
      const target = docs.resolve(rel, property.$ref);
      if (target && isObject(target.node) && Array.isArray(target.node.enum)) return target.node.enum;
    }
  }
  if (typeof schema.$ref === 'string') {
    const target = docs.resolve(rel, schema.$ref);
    const found = target && tagValues(docs, target.rel, target.node, tag, seen);
    if (found) return found;
  }
  for (const part of Array.isArray(schema.allOf) ? schema.allOf : []) {
    const found = tagValues(docs, rel, part, tag, seen);
    if (found) return found;
  }
  return undefined;
}

const INT32 = 2 ** 31;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** OpenAPI's numeric formats get their range checks; any other format the spec names is accepted as is. */
function registerFormat(ajv: Ajv2020, name: string): void {
  if (ajv.formats[name] !== undefined) return;
  switch (name) {
    case 'int32':
      ajv.addFormat(name, { type: 'number', validate: (n) => Number.isInteger(n) && n >= -INT32 && n < INT32 });
      return;
    case 'int64':
      ajv.addFormat(name, { type: 'number', validate: (n) => Number.isInteger(n) });
      return;
    case 'float':
    case 'double':
      ajv.addFormat(name, { type: 'number', validate: (n) => Number.isFinite(n) });
      return;
    case 'date-time':
      ajv.addFormat(name, DATE_TIME);
      return;
    default:
      ajv.addFormat(name, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Operations

interface Parameter {
  name: string;
  in: string;
  required: boolean;
  /** Ajv ref of the parameter's schema, or undefined when it has none. */
  schemaRef: string | undefined;
}

interface Operation {
  operationId: string;
  method: string;
  path: string;
  segments: string[];
  rel: string;
  /** Pointer to the operation object inside its file. */
  pointer: string[];
  supersededBy?: string;
}

function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

/** A template segment as a matcher: literal, or a regex capturing `{name}` parts. */
function matchSegment(template: string, actual: string, params: Record<string, string>): boolean {
  if (!template.includes('{')) return template === actual;
  const names: string[] = [];
  const source = template.replace(/\{([^}]+)\}|[^{]+/g, (whole, name: string | undefined) => {
    if (name === undefined) return whole.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    names.push(name);
    return '(.+?)';
  });
  const match = new RegExp(`^${source}$`).exec(actual);
  if (!match) return false;
  names.forEach((name, i) => (params[name] = match[i + 1] ?? ''));
  return true;
}

/** Higher is more specific: literal segments win over `{param}` ones, leftmost first. */
function compareSpecificity(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const literalA = !(a[i] ?? '').includes('{');
    const literalB = !(b[i] ?? '').includes('{');
    if (literalA !== literalB) return literalA ? 1 : -1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The validator

class SpecValidator implements ApiSpec {
  readonly root: string;
  readonly #docs: SpecDocuments;
  readonly #operations: Operation[] = [];
  readonly #ajv: Ajv2020;
  readonly #addedToAjv = new Set<string>();
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #parameters = new Map<Operation, Map<string, Parameter>>();

  private constructor(root: string, docs: SpecDocuments) {
    this.root = root;
    this.#docs = docs;
    // strict: false lets Ajv ignore the OpenAPI keywords it does not know (x-*, example, discriminator).
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
  }

  static async load(root: string): Promise<ApiSpec> {
    try {
      const validator = new SpecValidator(root, await SpecDocuments.read(root));
      validator.#indexOperations();
      return validator;
    } catch (error) {
      const hint = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (it belongs in the shared folder beside the checkout)' : '';
      throw new Error(`cannot load the OpenSearch API spec from ${root}${hint}: ${(error as Error).message}`, { cause: error });
    }
  }

  findOperation(method: string, pathAndQuery: string): OperationMatch | undefined {
    const { path } = splitRequest(pathAndQuery);
    const found = this.#match(method, path);
    if (!found.operation) return undefined;
    const { operation, pathParams } = found;
    return {
      operationId: operation.operationId,
      method: operation.method,
      path: operation.path,
      pathParams,
      ...(operation.supersededBy ? { supersededBy: operation.supersededBy } : {}),
    };
  }

  validateRequest(method: string, pathAndQuery: string, body?: unknown): string[] {
    const { path, query } = splitRequest(pathAndQuery);
    const found = this.#match(method, path);
    if (!found.operation) {
      const elsewhere = found.otherMethods.length ? ` (the path exists for ${found.otherMethods.join(', ')})` : '';
      return [`no operation in the spec for ${method.toUpperCase()} ${path}${elsewhere}`];
    }
    const { operation, pathParams } = found;
    return [
      ...this.#checkPathParams(operation, pathParams),
      ...this.#checkQuery(operation, query),
      ...this.#checkBody(operation, body),
    ];
  }

  // -- finding the operation

  #indexOperations(): void {
    for (const rel of this.#docs.names().filter((name) => name.startsWith('namespaces/'))) {
      const paths = this.#docs.get(rel).paths;
      if (!isObject(paths)) continue;
      for (const [path, item] of Object.entries(paths)) {
        if (!isObject(item)) continue;
        for (const method of HTTP_METHODS) {
          const op = item[method];
          if (!isObject(op)) continue;
          this.#operations.push({
            operationId: typeof op.operationId === 'string' ? op.operationId : `${method} ${path}`,
            method,
            path,
            segments: splitPath(path),
            rel,
            pointer: ['paths', path, method],
          });
        }
      }
    }
    this.#indexSupersededOperations();
  }

  /** As the spec's merger does: an old path answers like the operation that replaced it, if that exists. */
  #indexSupersededOperations(): void {
    const superseded = this.#docs.get(SUPERSEDED_OPERATIONS);
    const shape = (path: string): string => path.replace(/\{[^}]+\}/g, '{}');
    for (const [path, entry] of Object.entries(superseded)) {
      if (!path.startsWith('/') || !isObject(entry) || typeof entry.superseded_by !== 'string') continue;
      const by = shape(entry.superseded_by);
      for (const method of Array.isArray(entry.operations) ? entry.operations : []) {
        const lower = String(method).toLowerCase();
        const target = this.#operations.find((op) => op.method === lower && shape(op.path) === by && !op.supersededBy);
        if (!target) continue;
        // Keep the new path's parameter names so that the operation's path parameters still apply.
        const names = [...target.path.matchAll(/\{[^}]+\}/g)].map((m) => m[0]);
        let i = 0;
        const renamed = path.replace(/\{[^}]+\}/g, () => names[i++] ?? '{}');
        this.#operations.push({ ...target, path: renamed, segments: splitPath(renamed), supersededBy: target.path });
      }
    }
  }

  #match(
    method: string,
    path: string,
  ): { operation?: Operation; pathParams: Record<string, string>; otherMethods: string[] } {
    const actual = splitPath(path).map(decodeSegment);
    const lower = method.toLowerCase();
    let best: { operation: Operation; pathParams: Record<string, string> } | undefined;
    const otherMethods = new Set<string>();
    for (const operation of this.#operations) {
      if (operation.segments.length !== actual.length) continue;
      const pathParams: Record<string, string> = {};
      if (!operation.segments.every((segment, i) => matchSegment(segment, actual[i] ?? '', pathParams))) continue;
      if (operation.method !== lower) {
        otherMethods.add(operation.method.toUpperCase());
        continue;
      }
      if (!best || compareSpecificity(operation.segments, best.operation.segments) > 0) best = { operation, pathParams };
    }
    return best ? { ...best, otherMethods: [] } : { pathParams: {}, otherMethods: [...otherMethods].sort() };
  }

  // -- parameters

  /** The operation's parameters by `in:name`, the global ones included, `$ref`s followed. */
  #parametersOf(operation: Operation): Map<string, Parameter> {
    const cached = this.#parameters.get(operation);
    if (cached) return cached;
    const declared = new Map<string, Parameter>();
    const collect = (rel: string, pointer: string[]): void => {
      const resolved = this.#docs.resolve(rel, refTo(rel, pointer));
      if (!resolved || !Array.isArray(resolved.node)) return;
      resolved.node.forEach((_, i) => {
        const parameter = this.#parameterAt(rel, [...pointer, String(i)]);
        if (parameter) declared.set(`${parameter.in}:${parameter.name}`, parameter);
      });
    };
    collect(operation.rel, operation.pointer.slice(0, -1).concat('parameters')); // path-item level
    collect(operation.rel, [...operation.pointer, 'parameters']); // operation level overrides
    const globals = this.#docs.get(GLOBAL_PARAMETERS).components;
    const globalParameters = isObject(globals) && isObject(globals.parameters) ? globals.parameters : {};
    for (const key of Object.keys(globalParameters)) {
      const parameter = this.#parameterAt(GLOBAL_PARAMETERS, ['components', 'parameters', key]);
      if (parameter && !declared.has(`${parameter.in}:${parameter.name}`)) {
        declared.set(`${parameter.in}:${parameter.name}`, parameter);
      }
    }
    this.#parameters.set(operation, declared);
    return declared;
  }

  #parameterAt(rel: string, pointer: string[]): Parameter | undefined {
    let found = this.#docs.resolve(rel, refTo(rel, pointer));
    for (let hops = 0; found && isObject(found.node) && typeof found.node.$ref === 'string' && hops < 10; hops++) {
      found = this.#docs.resolve(found.rel, found.node.$ref);
    }
    if (!found || !isObject(found.node)) return undefined;
    const { node } = found;
    if (typeof node.name !== 'string' || typeof node.in !== 'string') return undefined;
    return {
      name: node.name,
      in: node.in,
      required: node.required === true,
      schemaRef: 'schema' in node ? refTo(found.rel, [...found.pointer, 'schema']) : undefined,
    };
  }

  #checkPathParams(operation: Operation, values: Record<string, string>): string[] {
    const problems: string[] = [];
    const declared = this.#parametersOf(operation);
    for (const [name, value] of Object.entries(values)) {
      const parameter = declared.get(`path:${name}`);
      if (!parameter?.schemaRef) continue; // an undeclared path parameter is the spec's own inconsistency
      const problem = this.#checkParameterValue(parameter, value);
      if (problem) problems.push(`path parameter ${name}=${JSON.stringify(value)}: ${problem}`);
    }
    return problems;
  }

  #checkQuery(operation: Operation, query: URLSearchParams): string[] {
    const problems: string[] = [];
    const declared = this.#parametersOf(operation);
    for (const [name, value] of query) {
      const parameter = declared.get(`query:${name}`);
      if (!parameter) {
        problems.push(`query parameter ${name} is not declared for ${describe(operation)}`);
        continue;
      }
      const problem = parameter.schemaRef ? this.#checkParameterValue(parameter, value) : undefined;
      if (problem) problems.push(`query parameter ${name}=${JSON.stringify(value)}: ${problem}`);
    }
    for (const parameter of declared.values()) {
      if (parameter.in === 'query' && parameter.required && !query.has(parameter.name)) {
        problems.push(`query parameter ${parameter.name} is required by ${describe(operation)}`);
      }
    }
    return problems;
  }

  /**
   * A query string carries only text, so the value fits if any reading of it does: the text itself,
   * a boolean (a bare `?pretty` means true), a number, or a comma-separated list. Returns the
   * complaint about the plain text when none fits.
   */
  #checkParameterValue(parameter: Parameter, value: string): string | undefined {
    const validate = this.#validator(parameter.schemaRef as string);
    const readings: unknown[] = [value, value.split(',')];
    if (value === '' || value === 'true') readings.push(true);
    if (value === 'false') readings.push(false);
    if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) readings.push(Number(value));
    if (readings.some((reading) => validate(reading))) return undefined;
    validate(value);
    return formatErrors(validate.errors ?? [])
      .map((problem) => problem.replace(/^\/: /, ''))
      .join('; ');
  }

  // -- the body

  #checkBody(operation: Operation, body: unknown): string[] {
    const requestBody = this.#requestBody(operation);
    if (!requestBody) {
      return body === undefined ? [] : [`${describe(operation)} takes no request body, but one was given`];
    }
    if (body === undefined) {
      return requestBody.required ? [`${describe(operation)} requires a request body`] : [];
    }
    const { mediaType, schemaRef } = requestBody;
    const parsed = parseBody(body, mediaType);
    if ('problem' in parsed) return [parsed.problem];
    if (!schemaRef) return [];
    const validate = this.#validator(schemaRef);
    return validate(parsed.value) ? [] : formatErrors(validate.errors ?? []);
  }

  #requestBody(
    operation: Operation,
  ): { required: boolean; mediaType: string; schemaRef: string | undefined } | undefined {
    let found = this.#docs.resolve(operation.rel, refTo(operation.rel, [...operation.pointer, 'requestBody']));
    for (let hops = 0; found && isObject(found.node) && typeof found.node.$ref === 'string' && hops < 10; hops++) {
      found = this.#docs.resolve(found.rel, found.node.$ref);
    }
    if (!found || !isObject(found.node)) return undefined;
    const content = isObject(found.node.content) ? found.node.content : {};
    // JSON when offered; otherwise the operation's own type, e.g. application/x-ndjson for _bulk.
    const mediaType = 'application/json' in content ? 'application/json' : Object.keys(content)[0];
    if (mediaType === undefined) {
      throw new Error(`${describe(operation)}: the requestBody in ${found.rel} declares no content`);
    }
    const media = content[mediaType];
    const schemaRef =
      isObject(media) && 'schema' in media
        ? refTo(found.rel, [...found.pointer, 'content', mediaType, 'schema'])
        : undefined;
    return { required: found.node.required === true, mediaType, schemaRef };
  }

  // -- Ajv

  /**
   * Compiles (once) the schema at `ref`. The files it reaches are registered with Ajv first: letting
   * Ajv fail on each missing file and retrying (as its compileAsync does) leaves recursive schemas
   * compiled against placeholders that are never filled in ("wrapper.validate is not a function").
   */
  #validator(ref: string): ValidateFunction {
    const cached = this.#validators.get(ref);
    if (cached) return cached;
    for (const rel of this.#filesReachableFrom(ref)) if (!this.#addedToAjv.has(rel)) this.#addToAjv(rel);
    let validate: ValidateFunction;
    try {
      validate = this.#ajv.compile({ $ref: ref });
    } catch (error) {
      const detail = error instanceof MissingRefError ? `it needs ${error.missingRef}` : (error as Error).message;
      throw new Error(`cannot compile ${ref}: ${detail}`, { cause: error });
    }
    this.#validators.set(ref, validate);
    return validate;
  }

  /** The spec files whose schemas the schema at `ref` uses, following `$ref`s node by node. */
  #filesReachableFrom(ref: string): Set<string> {
    const rel = relOfId(ref);
    const start = rel === undefined ? undefined : this.#docs.resolve(rel, ref);
    if (!start) throw new Error(`${ref} is not in the spec`);
    const files = new Set<string>([start.rel]);
    const seen = new Set<object>();
    const pending: { rel: string; node: Json }[] = [start];
    for (let next = pending.pop(); next; next = pending.pop()) {
      const { rel: at, node } = next;
      if (typeof node !== 'object' || node === null || seen.has(node)) continue;
      seen.add(node);
      const target = (node as JsonObject).$ref;
      if (typeof target === 'string') {
        const found = this.#docs.resolve(at, target);
        if (!found) throw new Error(`${at}: $ref ${target} leads nowhere (reached from ${ref})`);
        files.add(found.rel);
        pending.push(found);
      }
      for (const child of Object.values(node)) pending.push({ rel: at, node: child });
    }
    return files;
  }

  #addToAjv(rel: string): void {
    for (const format of adaptSchemas(this.#docs, rel)) registerFormat(this.#ajv, format);
    // A whole OpenAPI file is not a schema, but Ajv only needs it as a root that `$ref`s point into.
    this.#ajv.addSchema(this.#docs.get(rel), ID_BASE + rel, undefined, false);
    this.#addedToAjv.add(rel);
  }
}

function describe(operation: Operation): string {
  return `${operation.operationId} (${operation.method.toUpperCase()} ${operation.path})`;
}

/** Accepts `/path?query` or a whole URL; a relative path is taken from the root. */
function splitRequest(pathAndQuery: string): { path: string; query: URLSearchParams } {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(pathAndQuery);
  const url = absolute
    ? new URL(pathAndQuery)
    : new URL(`http://opensearch.invalid${pathAndQuery.startsWith('/') ? '' : '/'}${pathAndQuery}`);
  return { path: url.pathname, query: url.searchParams };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The body as the schema sees it: parsed JSON, or for NDJSON (`_bulk`) the array of its lines. */
function parseBody(body: unknown, mediaType: string): { value: unknown } | { problem: string } {
  const text = typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : undefined;
  if (mediaType === 'application/x-ndjson') {
    if (text === undefined) return Array.isArray(body) ? { value: body } : { problem: 'an NDJSON body must be text' };
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const values: unknown[] = [];
    for (const [i, line] of lines.entries()) {
      try {
        values.push(JSON.parse(line));
      } catch (error) {
        return { problem: `NDJSON line ${i + 1} is not JSON: ${(error as Error).message}` };
      }
    }
    return { value: values };
  }
  if (text === undefined) return { value: body };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { problem: `the ${mediaType} body is not JSON: ${(error as Error).message}` };
  }
}

/** One line per problem, `JSON pointer in the body: what is wrong`, without duplicates. */
function formatErrors(errors: readonly ErrorObject[]): string[] {
  const kept = withoutMismatchedBranches(errors)
    // An `if`/`then` failure is always accompanied by the `then` errors that say what is wrong.
    .filter((error) => error.keyword !== 'if');
  const merged = mergeAlternatives(kept);
  const lines = kept.flatMap((error) => {
    const alternatives = merged.get(error.instancePath);
    if (!alternatives) return [`${error.instancePath || '/'}: ${errorMessage(error)}`];
    if (!MERGED_KEYWORDS.has(error.keyword)) return [`${error.instancePath || '/'}: ${errorMessage(error)}`];
    return alternatives.map((text) => `${error.instancePath || '/'}: ${text}`);
  });
  return [...new Set(lines)];
}

const MERGED_KEYWORDS = new Set(['type', 'enum', 'const', 'oneOf', 'anyOf']);

/**
 * Branches of a `oneOf` that each allow one type or one set of values fail one by one ("must be
 * string", "must be array", "must match exactly one schema in oneOf"); per path, say it once:
 * "must be string or array", or one list of allowed values.
 */
function mergeAlternatives(errors: readonly ErrorObject[]): Map<string, string[]> {
  const byPath = new Map<string, { count: number; types: string[]; values: unknown[] }>();
  for (const error of errors) {
    const params = error.params as Record<string, unknown>;
    const entry = byPath.get(error.instancePath) ?? { count: 0, types: [], values: [] };
    if (error.keyword === 'type') entry.types.push(...[params.type].flat().map(String));
    else if (error.keyword === 'enum') entry.values.push(...(params.allowedValues as unknown[]));
    else if (error.keyword === 'const') entry.values.push(params.allowedValue);
    else continue;
    entry.count++;
    byPath.set(error.instancePath, entry);
  }
  const merged = new Map<string, string[]>();
  for (const [path, { count, types, values }] of byPath) {
    if (count < 2) continue;
    const alternatives = [...new Set(types)];
    if (values.length > 0) alternatives.push(`equal to one of the allowed values: ${listValues([...new Set(values)])}`);
    merged.set(path, [`must be ${alternatives.join(' or ')}`]);
  }
  return merged;
}

function listValues(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return (shown.length > 12 ? [...shown.slice(0, 12), '…'] : shown).join(', ');
}

/**
 * With allErrors, a failed `oneOf`/`anyOf` reports every branch. A branch whose complaints lie
 * inside the value (e.g. `/triggers/0/bucket_level_trigger/condition` lacks `buckets_path`) is the
 * one the value was meant for; complaints of the other branches at the value itself ("must have
 * required property 'query_level_trigger'") only hide that. Ajv reports a combinator's branch errors
 * right before the combinator's own error, so they are the preceding errors at or below its path.
 */
function withoutMismatchedBranches(errors: readonly ErrorObject[]): ErrorObject[] {
  const dropped = new Set<number>();
  const within = (path: string, base: string): boolean => path === base || path.startsWith(`${base}/`);
  errors.forEach((error, k) => {
    if (error.keyword !== 'oneOf' && error.keyword !== 'anyOf') return;
    const base = error.instancePath;
    const group: number[] = [];
    for (let i = k - 1; i >= 0 && within(errors[i]?.instancePath ?? '', base); i--) group.push(i);
    if (!group.some((i) => errors[i]?.instancePath !== base)) return;
    for (const i of group) if (errors[i]?.instancePath === base) dropped.add(i);
    dropped.add(k);
  });
  return errors.filter((_, i) => !dropped.has(i));
}

function errorMessage(error: ErrorObject): string {
  const message = error.message ?? error.keyword;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'enum':
      return `${message}: ${listValues(params.allowedValues as unknown[])}`;
    case 'const':
      return `${message} ${JSON.stringify(params.allowedValue)}`;
    case 'additionalProperties':
      return `${message} (${String(params.additionalProperty)})`;
    case 'unevaluatedProperties':
      return `${message} (${String(params.unevaluatedProperty)})`;
    default:
      return message;
  }
}
