// Field types of the document schema. Each carries the OpenSearch mapping type it is indexed as,
// so fleet-setup's index templates are generated from the very schema the agent validates with.
import * as z from 'zod';

export type MappingType = 'keyword' | 'text' | 'long' | 'integer' | 'float' | 'double' | 'boolean' | 'date' | 'flat_object';

const mapped = <T extends z.ZodType>(schema: T, type: MappingType) => schema.meta({ mapping: type });

export const keyword = (max = 1024) => mapped(z.string().min(1).max(max), 'keyword');
export const text = (max = 8192) => mapped(z.string().max(max), 'text');
export const long = (min = 0) => mapped(z.number().int().min(min).max(Number.MAX_SAFE_INTEGER), 'long');
export const signedLong = () => mapped(z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER), 'long');
export const integer = (min: number, max: number) => mapped(z.number().int().min(min).max(max), 'integer');
export const float = (min = 0) => mapped(z.number().min(min).finite(), 'float');
export const signedFloat = () => mapped(z.number().finite(), 'float');
export const bool = () => mapped(z.boolean(), 'boolean');
export const timestamp = () => mapped(z.iso.datetime({ offset: true }), 'date');
export const labels = () => mapped(z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.string().max(256)), 'flat_object');
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => mapped(z.enum(values), 'keyword');

/** A nested object whose keys are all optional; unknown keys are errors (a typo must not vanish). */
export const group = <S extends z.ZodRawShape>(shape: S) => z.strictObject(shape).partial();

/** Milliseconds of a phase or a duration. */
export const millis = () => float(0);

/** The schema inside optional/default/nullable/prefault wrappers: where field metadata and shapes live. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable || s instanceof z.ZodPrefault) {
    s = s._zod.def.innerType as z.ZodType;
  }
  return s;
}

export function mappingOf(schema: z.ZodType): MappingType | undefined {
  return (z.globalRegistry.get(schema) as { mapping?: MappingType } | undefined)?.mapping;
}
