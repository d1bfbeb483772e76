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
  if (typeof doc['@timestamp'] !== 'string') doc['@timestamp'] = new Date(now()).toISOString();
  const event = asObject(doc['event']);
  if (typeof event['id'] !== 'string') event['id'] = newEventId();
  doc['event'] = event;
  const b = asObject(doc['booth']);
  b['id'] ??= booth.id;
  b['country'] ??= booth.country;
  if (booth.region !== undefined) b['region'] ??= booth.region;
  if (booth.labels && Object.keys(booth.labels).length > 0) b['labels'] ??= { ...booth.labels };
  doc['booth'] = b;
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

/** Turns {"event.dataset": "x"} into {event: {dataset: "x"}} (OpenSearch accepts both; we store one shape). */
export function expandDottedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandDottedKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const parts = key === '@timestamp' ? [key] : key.split('.');
    let target = out;
    for (const part of parts.slice(0, -1)) {
      const next = target[part];
      target = target[part] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next as Json : {};
    }
    const last = parts[parts.length - 1]!;
    const expanded = expandDottedKeys(v);
    const existing = target[last];
    target[last] =
      isPlainObject(existing) && isPlainObject(expanded) ? { ...existing, ...expanded } : expanded;
  }
  return out;
}

function asObject(v: unknown): Json {
  return isPlainObject(v) ? { ...v } : {};
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
