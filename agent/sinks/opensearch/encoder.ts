// Documents → request bodies. The stored JSON text goes into the body as it is: no parse and
// re-serialise of a backlog that may be a million documents long. Bodies are built as Buffers
// from small pieces: one flat multi-megabyte string per request would land in V8's large-object
// space and pile up there until a full collection (hundreds of MB of RSS during a drain).
import type { LeasedDoc } from '../../buffer/buffer.ts';
import { indexName } from '../../../shared/opensearch/index-name.ts';

/**
 * _bulk NDJSON: one `create` per document with _id = event.id, so a document sent twice is
 * stored once (the second gets 409, which counts as delivered).
 */
export function encodeBulk(docs: readonly LeasedDoc[], prefix: string): Buffer {
  const parts = docs.map((d) => {
    const action = { create: { _index: indexName(prefix, d.dataset, d.timestamp), _id: d.eventId } };
    return Buffer.from(`${JSON.stringify(action)}\n${d.body}\n`);
  });
  return Buffer.concat(parts);
}

/** The _bulk path: the pipeline as a query parameter, and only the response fields we read. */
export function bulkPath(pipeline?: string): string {
  const query = new URLSearchParams({ filter_path: 'took,errors,items.*.status,items.*.error.type,items.*.error.reason' });
  if (pipeline) query.set('pipeline', pipeline);
  return `/_bulk?${query.toString()}`;
}

/** Data Prepper / OpenSearch Ingestion: a JSON array of documents; the pipeline sets the id from event.id. */
export function encodeIngest(docs: readonly LeasedDoc[]): Buffer {
  const parts: Buffer[] = [Buffer.from('[')];
  docs.forEach((d, i) => parts.push(Buffer.from(i === 0 ? d.body : `,${d.body}`)));
  parts.push(Buffer.from(']'));
  return Buffer.concat(parts);
}
