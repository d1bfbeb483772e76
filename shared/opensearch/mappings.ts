// Index mappings generated from the document schema (shared/documents/schema.ts): every field a
// booth writes gets the type its schema declares, so the index templates cannot drift from what
// the agent sends. Plus the one field the cluster adds: event.ingested (the booth-ingest pipeline).
import * as z from 'zod';
import { mappingOf, unwrapSchema, type MappingType } from '../documents/fields.ts';
import { datasetSchemas, type Dataset } from '../documents/schema.ts';

export interface LeafMapping {
  type: MappingType;
  ignore_above?: number;
  format?: string;
}
export interface ObjectMapping {
  properties: Record<string, FieldMapping>;
}
export type FieldMapping = LeafMapping | ObjectMapping;

/** Options per mapping type: keywords longer than this are kept in _source but not indexed. */
const TYPE_OPTIONS: Partial<Record<MappingType, Omit<LeafMapping, 'type'>>> = {
  keyword: { ignore_above: 1024 },
  date: { format: 'strict_date_optional_time||epoch_millis' },
};

/** Fields the cluster writes, not the booth. */
const SERVER_FIELDS: Record<string, MappingType> = { 'event.ingested': 'date' };

/** The mapping of one schema node; objects recurse, arrays map as their element (OpenSearch has no array type). */
function mappingFor(schema: z.ZodType, path: string): FieldMapping {
  const declared = mappingOf(schema) ?? mappingOf(unwrapSchema(schema));
  if (declared) return { type: declared, ...TYPE_OPTIONS[declared] };
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodArray) return mappingFor(s.element as z.ZodType, path);
  if (s instanceof z.ZodObject) {
    const properties: Record<string, FieldMapping> = {};
    for (const [key, child] of Object.entries(s.shape as Record<string, z.ZodType>)) {
      properties[key] = mappingFor(child, path ? `${path}.${key}` : key);
    }
    return { properties };
  }
  throw new Error(`document schema: field ${path} has no mapping type (declare it with a helper from shared/documents/fields.ts)`);
}

function setPath(root: ObjectMapping, path: string, leaf: LeafMapping): void {
  const parts = path.split('.');
  let node = root;
  for (const part of parts.slice(0, -1)) {
    const next = (node.properties[part] ??= { properties: {} });
    if (!('properties' in next)) throw new Error(`mapping: ${path} needs ${part} to be an object`);
    node = next;
  }
  node.properties[parts[parts.length - 1]!] = leaf;
}

/** The `properties` of the index that holds `dataset`. */
export function datasetMapping(dataset: Dataset): Record<string, FieldMapping> {
  const root = mappingFor(datasetSchemas[dataset], '') as ObjectMapping;
  for (const [path, type] of Object.entries(SERVER_FIELDS)) setPath(root, path, { type, ...TYPE_OPTIONS[type] });
  return root.properties;
}

/** Every leaf as "a.b.c" → type, for tests and for the README. */
export function flattenMapping(properties: Record<string, FieldMapping>, prefix = ''): Record<string, MappingType> {
  const out: Record<string, MappingType> = {};
  for (const [key, m] of Object.entries(properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if ('properties' in m) Object.assign(out, flattenMapping(m.properties, path));
    else out[path] = m.type;
  }
  return out;
}
