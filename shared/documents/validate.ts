// Validates one document against its dataset's schema and says what is wrong in one line.
import type { z } from 'zod';
import { datasetSchemas, isDataset, type BoothDocument, DATASETS } from './schema.ts';

export type Validation = { ok: true; doc: BoothDocument } | { ok: false; reason: string };

export function validateDocument(doc: unknown): Validation {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, reason: 'expected a JSON object' };
  }
  const dataset = (doc as { event?: { dataset?: unknown } }).event?.dataset;
  if (!isDataset(dataset)) {
    const got = dataset === undefined ? 'nothing' : JSON.stringify(dataset);
    return { ok: false, reason: `event.dataset: expected one of ${DATASETS.join(', ')}, got ${got}` };
  }
  const result = datasetSchemas[dataset].safeParse(doc, { reportInput: true });
  if (result.success) return { ok: true, doc: doc as BoothDocument };
  return { ok: false, reason: result.error.issues.slice(0, 3).map(describe).join('; ') };
}

function describe(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.') || '(document)';
  if (issue.code === 'unrecognized_keys') return `${path === '(document)' ? '' : `${path}.`}${issue.keys.join(', ')}: unknown field`;
  if (issue.code === 'invalid_type') {
    const got = issue.input === undefined ? 'nothing' : JSON.stringify(issue.input)?.slice(0, 60);
    return `${path}: expected ${issue.expected}, got ${got}`;
  }
  return `${path}: ${issue.message.replace(/^Invalid input: /, '')}`;
}
