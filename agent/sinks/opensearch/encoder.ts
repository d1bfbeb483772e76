// Documents → request bodies. The stored JSON text goes into the body as it is: no parse and
// re-serialise of a backlog that may be a million documents long.
import type { LeasedDoc } from '../../buffer/buffer.ts';
import { indexName } from '../../../shared/opensearch/index-name.ts';

/**
 * _bulk NDJSON: one `create` per document with _id = event.id, so a document sent twice is
 * stored once (the second gets 409, which counts as delivered).
 */
export function encodeBulk(docs: readonly LeasedDoc[], prefix: string): string {
  let body = '';
  for (const d of docs) {
    const action = { create: { _index: indexName(prefix, d.dataset, d.timestamp), _id: d.eventId } };
    body += `${JSON.stringify(action)}\n${d.body}\n`;
  }
  return body;
}

/** The _bulk path: the pipeline as a query parameter, and only the response fields we read. */
export function bulkPath(pipeline?: string): string {
  const query = new URLSearchParams({ filter_path: 'took,errors,items.*.status,items.*.error.type,items.*.error.reason' });
  if (pipeline) query.set('pipeline', pipeline);
  return `/_bulk?${query.toString()}`;
}

/** Data Prepper / OpenSearch Ingestion: a JSON array of documents; the pipeline sets the id from event.id. */
export function encodeIngest(docs: readonly LeasedDoc[]): string {
  return `[${docs.map((d) => d.body).join(',')}]`;
}
