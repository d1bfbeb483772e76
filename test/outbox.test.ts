// Leasing and settling on a real SQLite file (agent/buffer/outbox.ts): a lease reads only the
// stretches between documents already in flight, and each body as a view into one blob per
// stretch; delivered documents are deleted by runs of seq. The property: whatever mix of leases,
// settlements, retries and releases, a lease returns exactly the documents a plain reading of the
// rules picks (ready, not leased, heartbeat lane first, then by kind and age, within the size
// limit), each with its own body, byte for byte.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { DocumentBuffer, type LeasedDoc } from '../agent/buffer/buffer.ts';
import { seqRuns } from '../agent/buffer/outbox.ts';
import { SEND_ORDER, PRIORITY } from '../agent/buffer/priority.ts';
import type { BoothDocument, Dataset } from '../shared/documents/schema.ts';
import { makeDocument } from '../shared/documents/stamp.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

function open(t: TestContext, now: () => number): DocumentBuffer {
  const buf = DocumentBuffer.open({ stateDir: tempDir(t), maxSizeBytes: 50e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH, check: false, now });
  t.after(() => buf.close());
  return buf;
}

/** A document whose JSON holds multi-byte characters: offsets into a blob are bytes, not characters. */
function wideDoc(i: number): BoothDocument {
  return makeDocument('booth.agent', { event: { action: 'interface_changed' }, message: `Schnittstelle geändert #${i} — 📷 ✓ ${'é'.repeat(i % 7)}` }, BOOTH);
}

function assertBodies(leased: readonly LeasedDoc[], byId: Map<string, BoothDocument>): void {
  for (const d of leased) assert.equal(d.body.toString(), JSON.stringify(byId.get(d.eventId)), `the body of ${d.eventId}`);
}

test('seqRuns: consecutive numbers make one run', () => {
  assert.deepEqual(seqRuns([]), []);
  assert.deepEqual(seqRuns([5]), [[5, 5]]);
  assert.deepEqual(seqRuns([1, 2, 3, 5, 7, 8]), [[1, 3], [5, 5], [7, 8]]);
});

test('a lease beside batches in flight, broken up by documents waiting for a retry: past 64 runs, and below', (t) => {
  let clock = 1_000_000;
  const buf = open(t, () => clock);
  const docs = Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? wideDoc(i) : sampleDoc('booth.upload', i)));
  buf.record(docs);
  const byId = new Map(docs.map((d) => [d.event.id, d]));
  // Agent events (every third) go before uploads; each kind as recorded.
  const ordered = docs.map((d) => d.event.id).sort(byKind(docs));
  const first = buf.lease(200, 1e9);
  assertBodies(first, byId);
  assert.deepEqual(first.map((d) => d.eventId), ordered.slice(0, 200));
  // Every other one of the first 200 goes back to wait: 100 runs of one stay in flight.
  const waiting = first.filter((_, i) => i % 2 === 1);
  buf.settle({ retry: waiting.map((d) => ({ seq: d.seq, delayMs: 1000, error: '429' })) });
  const next = buf.lease(50, 1e9);
  assertBodies(next, byId);
  assert.deepEqual(next.map((d) => d.eventId), ordered.slice(200, 250));
  clock += 1000;
  // Ready again: the lease finds them between the runs still in flight, oldest first.
  const retried = buf.lease(1000, 1e9);
  assertBodies(retried, byId);
  const inFlight = new Set([...first, ...next].filter((d) => !waiting.includes(d)).map((d) => d.eventId));
  const expected = ordered.filter((id) => !inFlight.has(id));
  assert.deepEqual(retried.map((d) => d.eventId), expected);
  // Delivered by runs: exactly these go, the ones beside them stay.
  const delivered = retried.filter((_, i) => i % 5 !== 0);
  buf.settle({ delivered: delivered.map((d) => d.seq), release: retried.filter((_, i) => i % 5 === 0).map((d) => d.seq) });
  assert.equal(buf.stats().queued, docs.length - delivered.length);
  const left = new Set(buf.lease(1000, 1e9).map((d) => d.eventId));
  for (const d of delivered) assert.equal(left.has(d.eventId), false);
  assert.equal(left.size, docs.length - delivered.length - inFlight.size);
});

/** Sorts event ids as a lease orders documents: by kind (send order), then as recorded. */
function byKind(docs: readonly BoothDocument[]): (a: string, b: string) => number {
  const rank = new Map(docs.map((d, i) => [d.event.id, SEND_ORDER.indexOf(PRIORITY[d.event.dataset] as (typeof SEND_ORDER)[number]) * 1e6 + i]));
  return (a, b) => rank.get(a)! - rank.get(b)!;
}

type Op =
  | { kind: 'record'; datasets: Dataset[] }
  | { kind: 'lease'; maxDocs: number; maxBytes: number }
  | { kind: 'settle'; pick: number[] }
  | { kind: 'tick'; ms: number };

const DATASETS: Dataset[] = ['booth.upload', 'booth.network', 'booth.booking', 'booth.agent'];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('record' as const), datasets: fc.array(fc.constantFrom(...DATASETS), { minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant('lease' as const), maxDocs: fc.integer({ min: 1, max: 60 }), maxBytes: fc.integer({ min: 1, max: 40_000 }) }),
  // Per leased document: 0 delivered, 1 retried (after `tick`s), 2 dead, 3 released, 4 kept in flight.
  fc.record({ kind: fc.constant('settle' as const), pick: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 60 }) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
);

test('property: every lease is exactly what the rules pick, each body its own document', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      let clock = 1_000_000;
      const buf = DocumentBuffer.open({ stateDir: tempDir(t), maxSizeBytes: 50e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH, check: false, now: () => clock });
      try {
        // The model: every unsent document, when it is ready, and whether a lease holds it.
        const model = new Map<string, { doc: BoothDocument; order: number; readyAt: number; bytes: number; seq?: number; leased: boolean }>();
        let recorded = 0;
        let i = 0;
        for (const o of ops) {
          if (o.kind === 'record') {
            const docs = o.datasets.map((d) => (i++ % 4 === 0 ? wideDoc(i) : sampleDoc(d, i)));
            buf.record(docs);
            for (const doc of docs) model.set(doc.event.id, { doc, order: recorded++, readyAt: 0, bytes: Buffer.byteLength(JSON.stringify(doc)), leased: false });
          } else if (o.kind === 'lease') {
            const candidates = [...model.entries()]
              .filter(([, m]) => !m.leased && m.readyAt <= clock)
              .sort(([, a], [, b]) => rank(a.doc) - rank(b.doc) || a.order - b.order);
            const expected: string[] = [];
            let bytes = 0;
            for (const [id, m] of candidates) {
              if (expected.length >= o.maxDocs || (expected.length > 0 && bytes + m.bytes > o.maxBytes)) break;
              expected.push(id);
              bytes += m.bytes;
            }
            const leased = buf.lease(o.maxDocs, o.maxBytes);
            assert.deepEqual(leased.map((d) => d.eventId), expected);
            for (const d of leased) {
              const m = model.get(d.eventId)!;
              assert.equal(d.body.toString(), JSON.stringify(m.doc));
              assert.equal(d.dataset, m.doc.event.dataset);
              Object.assign(m, { leased: true, seq: d.seq });
            }
          } else if (o.kind === 'settle') {
            const held = [...model.entries()].filter(([, m]) => m.leased);
            const s = { delivered: [] as number[], retry: [] as { seq: number; delayMs: number; error: string }[], dead: [] as { seq: number; reason: string }[], release: [] as number[] };
            held.forEach(([id, m], k) => {
              const what = o.pick[k % o.pick.length]!;
              if (what === 4) return;
              if (what === 0) s.delivered.push(m.seq!);
              else if (what === 1) s.retry.push({ seq: m.seq!, delayMs: 500 + (k % 3) * 1000, error: '429' });
              else if (what === 2) s.dead.push({ seq: m.seq!, reason: 'mapper_parsing_exception' });
              else s.release.push(m.seq!);
              if (what === 0 || what === 2) model.delete(id);
              else Object.assign(m, { leased: false, readyAt: what === 1 ? clock + 500 + (k % 3) * 1000 : m.readyAt });
            });
            buf.settle(s);
          } else {
            clock += o.ms;
          }
        }
        assert.equal(buf.stats().queued, model.size);
      } finally {
        buf.close();
      }
    }),
    { numRuns: 100 },
  );
});

function rank(doc: BoothDocument): number {
  return SEND_ORDER.indexOf(PRIORITY[doc.event.dataset] as (typeof SEND_ORDER)[number]);
}
