// Bounded buffer (SPEC §6): filling past buffer.max_size keeps the files under the bound, drops
// the oldest documents of the least valuable kind first, and counts every drop exactly.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import type { BoothDocument, Dataset } from '../shared/documents/schema.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

const MAX = 2_000_000;

function filesSize(dir: string): number {
  return fs.readdirSync(dir).filter((f) => f.startsWith('buffer.db')).reduce((sum, f) => sum + fs.statSync(`${dir}/${f}`).size, 0);
}

test('filling past max_size: files stay within 5% of the bound, network then uploads dropped, oldest first, counts exact', (t) => {
  const dir = tempDir(t);
  const buf = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: MAX, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
  t.after(() => buf.close());
  const recorded: Record<Dataset, string[]> = { 'booth.network': [], 'booth.upload': [], 'booth.booking': [], 'booth.agent': [], 'booth.heartbeat': [] };
  let peak = 0;
  // ~4 MB of documents in the mix a booth produces: many network samples and uploads, few summaries.
  for (let batch = 0; batch < 80; batch++) {
    const docs: BoothDocument[] = [];
    for (let i = 0; i < 100; i++) {
      const n = batch * 100 + i;
      const dataset: Dataset = n % 50 === 0 ? 'booth.booking' : n % 97 === 0 ? 'booth.agent' : n % 2 === 0 ? 'booth.network' : 'booth.upload';
      const doc = sampleDoc(dataset, n);
      recorded[dataset].push(doc.event.id);
      docs.push(doc);
    }
    buf.record(docs);
    peak = Math.max(peak, filesSize(dir));
  }
  assert.ok(peak <= MAX * 1.05, `peak size ${peak} must stay within 5% of ${MAX}`);
  assert.ok(filesSize(dir) >= MAX * 0.5, 'the buffer is actually used up to near its bound');

  const remaining = [...buf.documents({ includeDead: false })].map((e) => JSON.parse(e.body) as BoothDocument);
  const left = (d: Dataset) => remaining.filter((r) => r.event.dataset === d).map((r) => r.event.id);
  const stats = buf.stats();
  const dropEvents = remaining.filter((r) => r.event.action === 'buffer_dropped');

  // Booking summaries and agent events are never dropped while cheaper documents remain.
  assert.deepEqual(left('booth.booking'), recorded['booth.booking']);
  for (const id of recorded['booth.agent']) assert.ok(left('booth.agent').includes(id));
  // Uploads were dropped too (the mix is twice the bound), and only after network samples:
  const droppedNetwork = recorded['booth.network'].length - left('booth.network').length;
  const droppedUploads = recorded['booth.upload'].length - left('booth.upload').length;
  assert.ok(droppedNetwork > 0 && droppedUploads > 0);
  assert.ok(droppedNetwork > recorded['booth.network'].length * 0.9, 'nearly all network samples go before uploads');
  // Oldest first: what is left of each kind is the newest part of what was recorded.
  for (const d of ['booth.network', 'booth.upload'] as const) {
    const kept = left(d);
    assert.deepEqual(kept, recorded[d].slice(recorded[d].length - kept.length), `${d}: the newest are kept`);
  }
  // Exact counts: per dataset, in the counters and in the buffer_dropped events.
  assert.equal(stats.droppedByDataset['booth.network'], droppedNetwork);
  assert.equal(stats.droppedByDataset['booth.upload'], droppedUploads);
  assert.equal(stats.droppedTotal, droppedNetwork + droppedUploads);
  assert.equal(dropEvents.reduce((s, e) => s + ((e['buffer'] as { dropped: number }).dropped), 0), stats.droppedTotal);
  assert.ok(dropEvents.every((e) => e.event.reason === 'max_size'));
  assert.equal(buf.integrityCheck(), 'ok');
});

test('dead letters of a kind go before deliverable documents of that kind', (t) => {
  const dir = tempDir(t);
  const buf = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1_000_000, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
  t.after(() => buf.close());
  buf.record(Array.from({ length: 50 }, (_, i) => sampleDoc('booth.upload', i)));
  const poison = buf.lease(50, 1e9);
  buf.settle({ dead: poison.map((p) => ({ seq: p.seq, reason: 'mapper_parsing_exception', statusCode: 400 })) });
  for (let i = 0; i < 40; i++) buf.record(Array.from({ length: 50 }, (_, k) => sampleDoc('booth.upload', 1000 + i * 50 + k)));
  assert.equal(buf.stats().deadLetters, 0, 'the dead uploads went first');
});

test('leased documents are never dropped, so a drop never races a delivery', (t) => {
  const dir = tempDir(t);
  const buf = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1_000_000, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
  t.after(() => buf.close());
  buf.record(Array.from({ length: 20 }, (_, i) => sampleDoc('booth.network', i)));
  const inFlight = buf.lease(20, 1e9);
  for (let i = 0; i < 40; i++) buf.record(Array.from({ length: 50 }, (_, k) => sampleDoc('booth.network', 100 + i * 50 + k)));
  const ids = new Set([...buf.documents()].map((e) => JSON.parse(e.body).event.id));
  for (const l of inFlight) assert.ok(ids.has(l.eventId), 'leased document kept');
  buf.settle({ delivered: inFlight.map((l) => l.seq) });
  const stats = buf.stats();
  assert.equal(stats.deliveredTotal, 20);
});
