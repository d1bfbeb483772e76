// Request bodies (agent/sinks/opensearch/encoder.ts), built as one buffer from the documents'
// stored bytes: byte for byte what the plain way — JSON.stringify of each action, the body as
// text — would send, across kinds, months and multi-byte characters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { LeasedDoc } from '../agent/buffer/buffer.ts';
import { encodeBulk, encodeIngest } from '../agent/sinks/opensearch/encoder.ts';
import type { Dataset } from '../shared/documents/schema.ts';
import { indexName } from '../shared/opensearch/index-name.ts';

const leasedDoc = fc.record({
  dataset: fc.constantFrom<Dataset>('booth.upload', 'booth.network', 'booth.heartbeat', 'booth.booking', 'booth.agent'),
  month: fc.constantFrom('2025-12', '2026-01', '2026-11'),
  eventId: fc.uuid(),
  text: fc.string({ unit: fc.constantFrom('a', 'é', '€', '📷', '"', '\\', ' '), maxLength: 40 }),
});

function docs(specs: { dataset: Dataset; month: string; eventId: string; text: string }[]): LeasedDoc[] {
  // The bodies are views into one buffer, as a lease hands them out.
  const texts = specs.map((s) => JSON.stringify({ message: s.text, event: { id: s.eventId, dataset: s.dataset } }));
  const blob = Buffer.from(texts.join('\n'));
  let at = 0;
  return specs.map((s, i) => {
    const length = Buffer.byteLength(texts[i]!);
    const body = blob.subarray(at, at + length);
    at += length + 1;
    return { seq: i, eventId: s.eventId, dataset: s.dataset, timestamp: `${s.month}-15T10:00:00.000Z`, body, attempts: 0, recordedAt: 0 };
  });
}

test('encodeBulk: the same bytes as one JSON.stringify per action and the body as text', () => {
  fc.assert(
    fc.property(fc.array(leasedDoc, { maxLength: 30 }), fc.constantFrom('booth', 'fleet_2'), (specs, prefix) => {
      const batch = docs(specs);
      const plain = batch.map((d) => `${JSON.stringify({ create: { _index: indexName(prefix, d.dataset, d.timestamp), _id: d.eventId } })}\n${d.body.toString()}\n`).join('');
      assert.equal(encodeBulk(batch, prefix).toString(), plain);
    }),
  );
});

test('encodeIngest: a JSON array of the documents as stored', () => {
  fc.assert(
    fc.property(fc.array(leasedDoc, { maxLength: 30 }), (specs) => {
      const batch = docs(specs);
      const body = encodeIngest(batch).toString();
      assert.equal(body, `[${batch.map((d) => d.body.toString()).join(',')}]`);
      assert.deepEqual(JSON.parse(body), batch.map((d) => JSON.parse(d.body.toString())));
    }),
  );
});
