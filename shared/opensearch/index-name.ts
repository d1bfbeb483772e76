// Where a document is stored in bulk mode: {prefix}-{kind}-YYYY.MM (SPEC §6), the month taken from
// the document's own @timestamp so a retried document always goes to the same index.
import type { Dataset } from '../documents/schema.ts';

export function indexName(prefix: string, dataset: Dataset, timestamp: string): string {
  const kind = dataset.startsWith('booth.') ? dataset.slice(6) : dataset;
  // "2026-11-24T13:55:12Z" → "2026.11"; an unparsable stamp would have failed validation earlier.
  const month = `${timestamp.slice(0, 4)}.${timestamp.slice(5, 7)}`;
  return `${prefix}-${kind}-${month}`;
}
