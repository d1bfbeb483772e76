// Walks the config schema: the keys an object allows (for "did you mean") and every leaf with
// its documentation (for the README reference).
import { z } from 'zod';
import type { FieldDoc } from './fields.ts';

type AnySchema = z.ZodType;

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  while (s instanceof z.ZodPrefault || s instanceof z.ZodDefault || s instanceof z.ZodOptional) {
    s = s._zod.def.innerType as AnySchema;
  }
  return s;
}

/** The keys allowed at `path` (an object path), or [] when `path` is not an object. */
export function keysAt(schema: AnySchema, path: readonly PropertyKey[]): string[] {
  let s = unwrap(schema);
  for (const key of path) {
    if (!(s instanceof z.ZodObject)) return [];
    const next = (s.shape as Record<string, AnySchema>)[String(key)];
    if (!next) return [];
    s = unwrap(next);
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

export interface LeafDoc extends FieldDoc {
  path: string;
}

/** Every leaf key with what it expects, its default and a line of documentation, in schema order. */
export function leaves(schema: AnySchema, prefix = ''): LeafDoc[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, AnySchema>).flatMap(([key, child]) =>
      leaves(child, prefix ? `${prefix}.${key}` : key),
    );
  }
  const meta = z.globalRegistry.get(schema) as { field?: FieldDoc } | undefined;
  if (!meta?.field) throw new Error(`config schema: ${prefix} has no field documentation`);
  return [{ path: prefix, ...meta.field }];
}
