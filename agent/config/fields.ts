// Field builders for the config schema. Each field validates its value itself and reports one
// message of the form "expected <what>" so that every error reads the same way:
//   opensearch.batch.max_docs: expected an integer from 1 to 10000, got "lots"
// zod gives us the structure (strict objects, key paths, static types); the messages are ours.
import * as z from 'zod';
import { parseDuration, parseSize } from './units.ts';

/** What the README's config reference shows for a key. */
export interface FieldDoc {
  expect: string;
  default?: unknown;
  doc: string;
}

type Parse<T> = (value: unknown) => T | undefined;

interface FieldOptions<T> {
  /** Used when the key is absent. Without it the key is required (or optional with `optional`). */
  default?: T;
  optional?: boolean;
  doc: string;
}

function field<T>(expect: string, parse: Parse<T>, opts: FieldOptions<T>) {
  const hasDefault = Object.hasOwn(opts, 'default');
  // optional() on the input: an absent key still reaches the transform, which applies the default.
  const schema = z.unknown().optional().transform((value, ctx): T => {
    if (value === undefined || (value === null && (hasDefault || opts.optional))) {
      if (hasDefault) return opts.default as T;
      if (opts.optional) return undefined as T;
      ctx.addIssue({ code: 'custom', message: `required: expected ${expect}`, input: value });
      return z.NEVER;
    }
    const parsed = parse(value);
    if (parsed === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${expect}`, input: value });
      return z.NEVER;
    }
    return parsed;
  });
  const doc: FieldDoc = { expect, doc: opts.doc };
  if (hasDefault) doc.default = opts.default;
  else if (opts.optional) doc.default = null;
  return schema.meta({ field: doc });
}

export function text(re: RegExp, expect: string, opts: FieldOptions<string>) {
  return field(expect, (v) => (typeof v === 'string' && re.test(v) ? v : undefined), opts);
}

export function optionalText(re: RegExp, expect: string, doc: string) {
  return field<string | undefined>(expect, (v) => (typeof v === 'string' && re.test(v) ? v : undefined), {
    optional: true,
    doc,
  });
}

export function path(opts: FieldOptions<string>) {
  return text(/^\S.*$/, 'a file system path', opts);
}

export function optionalPath(doc: string) {
  return optionalText(/^\S.*$/, 'a file system path', doc);
}

export function integer(min: number, max: number, opts: FieldOptions<number>) {
  return field(
    `an integer from ${min} to ${max}`,
    (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined),
    opts,
  );
}

export function boolean(opts: FieldOptions<boolean>) {
  return field('true or false', (v) => (typeof v === 'boolean' ? v : undefined), opts);
}

export function oneOf<const T extends readonly string[]>(values: T, opts: FieldOptions<T[number]>) {
  return field<T[number]>(
    `one of ${values.join(' | ')}`,
    (v) => (typeof v === 'string' && values.includes(v) ? (v as T[number]) : undefined),
    opts,
  );
}

/** A duration in milliseconds, written "500ms", "30s", "10m", "2h", "7d". */
export function duration(minMs: number, maxMs: number, opts: FieldOptions<string> & { default: string }) {
  const expect = `a duration such as 500ms, 30s, 10m, 2h or 7d, from ${describeMs(minMs)} to ${describeMs(maxMs)}`;
  return field<number>(
    expect,
    (v) => {
      const ms = typeof v === 'string' ? parseDuration(v) : undefined;
      return ms !== undefined && ms >= minMs && ms <= maxMs ? ms : undefined;
    },
    { doc: opts.doc, default: parseDuration(opts.default)! },
  ).meta({ field: { expect, default: opts.default, doc: opts.doc } });
}

/** A size in bytes, written "512KB", "5MB", "1GB" (decimal units). */
export function size(minBytes: number, maxBytes: number, opts: FieldOptions<string> & { default: string }) {
  const expect = `a size such as 512KB, 5MB or 1GB, from ${describeBytes(minBytes)} to ${describeBytes(maxBytes)}`;
  return field<number>(
    expect,
    (v) => {
      const bytes = typeof v === 'string' ? parseSize(v) : undefined;
      return bytes !== undefined && bytes >= minBytes && bytes <= maxBytes ? bytes : undefined;
    },
    { doc: opts.doc, default: parseSize(opts.default)! },
  ).meta({ field: { expect, default: opts.default, doc: opts.doc } });
}

/** A map of string to string, e.g. labels or headers. */
export function stringMap(keyRe: RegExp, keyExpect: string, maxEntries: number, doc: string, valueExpect = 'text') {
  const expect = `a map of ${keyExpect} to ${valueExpect} (at most ${maxEntries} entries)`;
  return field<Record<string, string>>(
    expect,
    (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
      const entries = Object.entries(v);
      if (entries.length > maxEntries) return undefined;
      for (const [k, val] of entries) if (!keyRe.test(k) || typeof val !== 'string') return undefined;
      return { ...(v as Record<string, string>) };
    },
    { default: {}, doc },
  );
}

export function stringList(itemRe: RegExp, itemExpect: string, opts: FieldOptions<string[]>) {
  return field<string[]>(
    `a list of ${itemExpect}`,
    (v) => (Array.isArray(v) && v.every((i) => typeof i === 'string' && itemRe.test(i)) ? [...v] : undefined),
    opts,
  );
}

/** A URL with one of the given protocols. */
export function url(protocols: string[], opts: FieldOptions<string>) {
  return field<string>(
    `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    (v) => {
      if (typeof v !== 'string') return undefined;
      try {
        return protocols.includes(new URL(v).protocol) ? v : undefined;
      } catch {
        return undefined;
      }
    },
    opts,
  );
}

function describeMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function describeBytes(bytes: number): string {
  for (const [unit, size] of [['GB', 1e9], ['MB', 1e6], ['KB', 1e3]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
