// Fills in the common fields of a document (SPEC §6): @timestamp, event.id, booth.*, agent.version.
// Fields already present are kept — above all a given event.id, so recording the same document
// twice never duplicates it in OpenSearch.
import { v7 as uuidv7 } from 'uuid';
import { AGENT_VERSION } from '../version.ts';
import type { BoothDocument, Dataset } from './schema.ts';

export interface BoothIdentity {
  id: string;
  country: string;
  region?: string | undefined;
  labels?: Record<string, string>;
}

type Json = Record<string, unknown>;

/**
 * event.id is a UUIDv7: 48 bits of wall-clock milliseconds and 74 random bits, so ids sort by
 * time (kind to OpenSearch's _id index) and never repeat even if the state database is lost.
 */
export function newEventId(): string {
  return uuidv7();
}

export function stamp(partial: Json, booth: BoothIdentity, now: () => number = Date.now): BoothDocument {
  const doc: Json = { ...partial };
  // Only absent fields are filled: a given value of the wrong type is left for validation to report.
  if (doc['@timestamp'] === undefined) doc['@timestamp'] = new Date(now()).toISOString();
  if (doc['event'] !== undefined && !isPlainObject(doc['event'])) return doc as BoothDocument;
  const event = asObject(doc['event']);
  if (event['id'] === undefined) event['id'] = newEventId();
  doc['event'] = event;
  if (doc['booth'] !== undefined && !isPlainObject(doc['booth'])) return doc as BoothDocument;
  const b = asObject(doc['booth']);
  b['id'] ??= booth.id;
  b['country'] ??= booth.country;
  if (booth.region !== undefined) b['region'] ??= booth.region;
  if (booth.labels && Object.keys(booth.labels).length > 0) b['labels'] ??= { ...booth.labels };
  doc['booth'] = b;
  if (doc['agent'] !== undefined && !isPlainObject(doc['agent'])) return doc as BoothDocument;
  const agent = asObject(doc['agent']);
  agent['version'] ??= AGENT_VERSION;
  doc['agent'] = agent;
  return doc as BoothDocument;
}

/** A new document of `dataset` with the given fields, stamped. */
export function makeDocument(dataset: Dataset, fields: Json, booth: BoothIdentity, now?: () => number): BoothDocument {
  const event = { ...asObject(fields['event']), dataset };
  return stamp({ ...fields, event }, booth, now);
}

/**
 * Field paths whose value is a free map (indexed as `flat_object`): dots inside their keys are part
 * of the key, not nesting. Kept here rather than read from the schema so the buffer does not load
 * the validator; a test checks it against the schema.
 */
export const MAP_FIELDS: ReadonlySet<string> = new Set(['booth.labels', 'buffer.dropped_by_dataset']);

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Turns {"event.dataset": "x"} into {event: {dataset: "x"}} (OpenSearch accepts both; we store one
 * shape). Nested objects and dotted keys for the same group are merged deeply. Throws on keys that
 * could reach Object.prototype.
 */
export function expandDottedKeys(value: unknown, at = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => expandDottedKeys(v, at));
  if (!isPlainObject(value)) return value;
  if (MAP_FIELDS.has(at)) return { ...value };
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const parts = key === '@timestamp' ? [key] : key.split('.');
    for (const part of parts) if (FORBIDDEN_KEYS.has(part)) throw new Error(`field name "${key}" is not allowed`);
    // Build the dotted key as nested objects, then merge it in like any nested value.
    const path = at ? `${at}.${key}` : key;
    let nested: unknown = expandDottedKeys(v, path);
    for (let i = parts.length - 1; i > 0; i--) nested = { [parts[i]!]: nested };
    const head = parts[0]!;
    out[head] = Object.hasOwn(out, head) ? deepMerge(out[head], nested) : nested;
  }
  return out;
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(a) || !isPlainObject(b)) return b;
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(out, k) ? deepMerge(out[k], v) : v;
  return out;
}

function asObject(v: unknown): Json {
  return isPlainObject(v) ? { ...v } : {};
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
