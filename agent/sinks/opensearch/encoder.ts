// Documents → request bodies. The stored JSON text goes into the body as it is: no parse and
// re-serialise of a backlog that may be a million documents long. A body is one Buffer, sized
// first and then filled: the documents' bytes are copied from the buffer they were read into,
// never turned into strings (one flat multi-megabyte string per request would land in V8's
// large-object space and pile up there until a full collection).
import type { LeasedDoc } from '../../buffer/buffer.ts';
import { indexName } from '../../../shared/opensearch/index-name.ts';

const NEWLINE = 10;

/**
 * _bulk NDJSON: one `create` per document with _id = event.id, so a document sent twice is
 * stored once (the second gets 409, which counts as delivered).
 */
export function encodeBulk(docs: readonly LeasedDoc[], prefix: string): Buffer {
  const actions = new Array<string>(docs.length);
  let size = 0;
  // A backlog is mostly one kind in one month: the action's head is made once per index.
  let head = '';
  let headIndex: string | undefined;
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i]!;
    const index = indexName(prefix, d.dataset, d.timestamp);
    if (index !== headIndex) {
      head = `{"create":{"_index":${JSON.stringify(index)},"_id":`;
      headIndex = index;
    }
    const action = `${head}${JSON.stringify(d.eventId)}}}\n`;
    actions[i] = action;
    size += Buffer.byteLength(action) + d.body.length + 1;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < docs.length; i++) {
    at += out.write(actions[i]!, at);
    at += docs[i]!.body.copy(out, at);
    out[at++] = NEWLINE;
  }
  return out;
}

/** The _bulk path: the pipeline as a query parameter, and only the response fields we read. */
export function bulkPath(pipeline?: string): string {
  const query = new URLSearchParams({ filter_path: 'took,errors,items.*.status,items.*.error.type,items.*.error.reason' });
  if (pipeline) query.set('pipeline', pipeline);
  return `/_bulk?${query.toString()}`;
}

/** Data Prepper / OpenSearch Ingestion: a JSON array of documents; the pipeline sets the id from event.id. */
export function encodeIngest(docs: readonly LeasedDoc[]): Buffer {
  let size = 2 + Math.max(0, docs.length - 1);
  for (const d of docs) size += d.body.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = 0x5b; // [
  docs.forEach((d, i) => {
    if (i > 0) out[at++] = 0x2c; // ,
    at += d.body.copy(out, at);
  });
  out[at++] = 0x5d; // ]
  return out;
}
