// Walks the config schema: the keys an object allows (for "did you mean") and every leaf with
// its documentation (for the README reference).
import * as z from 'zod';
import { unwrapSchema } from '../../shared/documents/fields.ts';
import type { FieldDoc } from './fields.ts';

type AnySchema = z.ZodType;

/** The keys allowed at `path` (an object path), or [] when `path` is not an object. */
export function keysAt(schema: AnySchema, path: readonly PropertyKey[]): string[] {
  let s = unwrapSchema(schema);
  for (const key of path) {
    if (!(s instanceof z.ZodObject)) return [];
    const next = (s.shape as Record<string, AnySchema>)[String(key)];
    if (!next) return [];
    s = unwrapSchema(next);
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

export interface LeafDoc extends FieldDoc {
  path: string;
}

/** Every leaf key with what it expects, its default and a line of documentation, in schema order. */
export function leaves(schema: AnySchema, prefix = ''): LeafDoc[] {
  const s = unwrapSchema(schema);
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, AnySchema>).flatMap(([key, child]) =>
      leaves(child, prefix ? `${prefix}.${key}` : key),
    );
  }
  const meta = z.globalRegistry.get(schema) as { field?: FieldDoc } | undefined;
  if (!meta?.field) throw new Error(`config schema: ${prefix} has no field documentation`);
  return [{ path: prefix, ...meta.field }];
}
