// What a 200 `_bulk` answer says about each document (agent/sinks/opensearch/classify.ts), and
// what it cannot say (issue 16 item 8): an answer whose items are not verdicts on the documents
// sent — without a status, for another _id, a refusal without a cause — is a failed request, never
// a dead letter. The property: whatever a server answers, a document becomes a dead letter only
// when its own item is a well-formed 4xx refusal of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { LeasedDoc } from '../agent/buffer/buffer.ts';
import { classifyBulkItems } from '../agent/sinks/opensearch/classify.ts';

function batch(n: number): LeasedDoc[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    eventId: `0190c0de-0000-7000-8000-${String(i).padStart(12, '0')}`,
    dataset: 'booth.heartbeat',
    timestamp: '2026-12-06T08:00:00.000Z',
    body: Buffer.from('{}'),
    attempts: 0,
    recordedAt: 0,
  }));
}

const created = (id: string) => ({ create: { _index: 'booth-heartbeat-2026.12', _id: id, status: 201, result: 'created' } });

test('the reviewer\'s answer — {"errors":true,"items":[{}, {"create":{"error":"boom"}}, …]} for 21 documents — is a failed request, not 21 dead letters', () => {
  const docs = batch(21);
  const items = [{}, { create: { error: 'boom' } }, ...docs.slice(2).map((d) => created(d.eventId))];
  assert.throws(() => classifyBulkItems(docs, JSON.stringify({ errors: true, items })), /_bulk answered an item keyed \[\], .* \(item 1 of 21\)/);
  const second = [created(docs[0]!.eventId), { create: { error: 'boom' } }, ...docs.slice(2).map((d) => created(d.eventId))];
  assert.throws(() => classifyBulkItems(docs, JSON.stringify({ errors: true, items: second })), /an item with status undefined \(item 2 of 21\)/);
});

test('items for other _ids, 3xx statuses and refusals without an error type are failed requests', () => {
  const docs = batch(2);
  const ok = created(docs[0]!.eventId);
  for (const [bad, why] of [
    [{ create: { _id: 'someone-else', status: 201 } }, /an item for _id "someone-else"/],
    [{ create: { _id: docs[1]!.eventId, status: 302 } }, /an item with status 302/],
    [{ create: { _id: docs[1]!.eventId, status: 400 } }, /an item with status 400 and no error type/],
    [{ create: { _id: docs[1]!.eventId, status: 400, error: 'mapper_parsing_exception' } }, /an item with status 400 and no error type/],
    [{ explode: { status: 201 } }, /an item keyed \["explode"\]/],
    [null, /an item that is not an object/],
  ] as const) {
    assert.throws(() => classifyBulkItems(docs, JSON.stringify({ errors: true, items: [ok, bad] })), why, JSON.stringify(bad));
  }
});

test('well-formed items keep their meaning: created and 409 delivered, 429 retried, 400 with a cause a dead letter, 404 held', () => {
  const docs = batch(5);
  const [a, b, c, d, e] = docs.map((x) => x.eventId) as [string, string, string, string, string];
  const v = classifyBulkItems(
    docs,
    JSON.stringify({
      errors: true,
      items: [
        created(a),
        { create: { _id: b, status: 409, error: { type: 'version_conflict_engine_exception', reason: 'exists' } } },
        { create: { _id: c, status: 429, error: { type: 'rejected_execution_exception', reason: 'busy' } } },
        { create: { _id: d, status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse' } } },
        { create: { _id: e, status: 404, error: { type: 'index_not_found_exception', reason: 'no such index' } } },
      ],
    }),
  );
  assert.deepEqual(v.delivered, [1, 2]);
  assert.deepEqual(v.retry.map((r) => r.seq), [3]);
  assert.deepEqual(v.dead.map((r) => [r.seq, r.statusCode, r.errorType]), [[4, 400, 'mapper_parsing_exception']]);
  assert.deepEqual(v.hold.map((r) => r.seq), [5]);
  assert.equal(v.throttled, true);
});

/**
 * An item as a server that lies, breaks or is buggy might write it: mostly the right shape with any
 * status, _id and error (so that whole batches of them get through to a verdict), sometimes junk.
 */
const anyItem = (id: string): fc.Arbitrary<unknown> => {
  const shaped = fc.record(
    {
      _id: fc.oneof({ arbitrary: fc.constant(id), weight: 6 }, { arbitrary: fc.string(), weight: 1 }, { arbitrary: fc.anything(), weight: 1 }),
      status: fc.oneof({ arbitrary: fc.integer({ min: 100, max: 650 }), weight: 3 }, { arbitrary: fc.constantFrom(201, 400, 409, 429, 503), weight: 3 }, { arbitrary: fc.anything(), weight: 1 }),
      error: fc.oneof(
        { arbitrary: fc.record({ type: fc.oneof(fc.string(), fc.constantFrom('mapper_parsing_exception', 'version_conflict_engine_exception', 'cluster_block_exception')), reason: fc.string() }), weight: 4 },
        { arbitrary: fc.record({ type: fc.anything(), reason: fc.anything() }, { requiredKeys: [] }), weight: 1 },
        { arbitrary: fc.anything(), weight: 1 },
      ),
    },
    { requiredKeys: ['status'] },
  );
  return fc.oneof(
    { arbitrary: fc.record({ create: shaped }), weight: 12 },
    { arbitrary: fc.record({ index: shaped }), weight: 1 },
    { arbitrary: fc.record({ create: fc.anything() }), weight: 1 },
    { arbitrary: fc.anything(), weight: 1 },
  );
};

test('property: whatever the items, a document is a dead letter only when its own item is a 4xx refusal of it with an error type (2,000 runs)', () => {
  let verdicts = 0;
  let deadLetters = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(fc.constant(batch(n)), fc.tuple(...batch(n).map((d) => anyItem(d.eventId))))),
      ([docs, items]) => {
        let v;
        try {
          v = classifyBulkItems(docs, JSON.stringify({ errors: true, items }));
        } catch {
          return; // a failed request: every document is sent again
        }
        verdicts++;
        deadLetters += v.dead.length;
        const all = [...v.delivered, ...v.retry.map((r) => r.seq), ...v.hold.map((r) => r.seq), ...v.dead.map((r) => r.seq)];
        assert.deepEqual([...all].sort((x, y) => x - y), docs.map((d) => d.seq), 'every document has exactly one verdict');
        for (const dead of v.dead) {
          const i = docs.findIndex((d) => d.seq === dead.seq);
          const item = Object.values(items[i] as Record<string, { _id?: unknown; status: number; error: { type: unknown } }>)[0]!;
          assert.ok(item.status >= 400 && item.status < 500 && item.status !== 429, `dead with status ${item.status}`);
          assert.equal(typeof item.error.type, 'string');
          assert.ok(item._id === undefined || item._id === docs[i]!.eventId);
        }
      },
    ),
    { numRuns: 2000, seed: 16 },
  );
  // Not vacuous: many answers got through to verdicts, dead letters among them.
  assert.ok(verdicts >= 150 && deadLetters >= 30, `${verdicts} verdicts, ${deadLetters} dead letters`);
});
