import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuffer, type BufferOptions } from '../agent/buffer/buffer.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

function open(dir: string, extra: Partial<BufferOptions> = {}) {
  return DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 50e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH, ...extra });
}

test('sample documents are valid against the schema', () => {
  for (const d of ['booth.upload', 'booth.booking', 'booth.network', 'booth.heartbeat', 'booth.agent'] as const) {
    const v = validateDocument(sampleDoc(d, 1));
    assert.ok(v.ok, `${d}: ${v.ok ? '' : v.reason}`);
  }
});

test('records survive close and reopen, and lease returns them as stored JSON', (t) => {
  const dir = tempDir(t);
  const docs = [sampleDoc('booth.upload', 1), sampleDoc('booth.upload', 2)];
  let buf = open(dir);
  buf.record(docs);
  buf.close();
  buf = open(dir);
  t.after(() => buf.close());
  const leased = buf.lease(10, 1e6);
  assert.deepEqual(leased.map((l) => l.eventId), docs.map((d) => d.event.id));
  assert.deepEqual(JSON.parse(leased[0]!.body.toString()), docs[0]);
  assert.equal(leased[0]!.timestamp, docs[0]!['@timestamp']);
  assert.equal(leased[0]!.dataset, 'booth.upload');
});

test('lease order: newest heartbeat first, then agent events, bookings, uploads, network; oldest first within a kind', (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  t.after(() => buf.close());
  const net = sampleDoc('booth.network', 1);
  const up1 = sampleDoc('booth.upload', 1);
  const hb1 = sampleDoc('booth.heartbeat', 1);
  const up2 = sampleDoc('booth.upload', 2);
  const booking = sampleDoc('booth.booking', 1);
  const agent = sampleDoc('booth.agent', 1);
  const hb2 = sampleDoc('booth.heartbeat', 2);
  for (const d of [net, up1, hb1, up2, booking, agent, hb2]) buf.record([d]);
  const order = buf.lease(100, 1e9).map((l) => l.eventId);
  assert.deepEqual(order, [hb2, agent, booking, up1, up2, net].map((d) => d.event.id));
});

test('only the newest unsent heartbeat is kept, but a heartbeat in flight is not touched', (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  t.after(() => buf.close());
  for (let i = 0; i < 5; i++) buf.record([sampleDoc('booth.heartbeat', i)]);
  assert.equal(buf.stats().queuedByDataset['booth.heartbeat'], 1);
  const [inFlight] = buf.lease(1, 1e9);
  const newer = sampleDoc('booth.heartbeat', 99);
  buf.record([newer]);
  assert.equal(buf.stats().queuedByDataset['booth.heartbeat'], 2, 'the leased heartbeat stays until settled');
  buf.settle({ delivered: [inFlight!.seq] });
  const next = buf.lease(10, 1e9);
  assert.deepEqual(next.map((l) => l.eventId), [newer.event.id]);
});

test('heartbeatNewerThan: whether the outbox holds a heartbeat newer than the one a batch holds (any, if it holds none)', (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  t.after(() => buf.close());
  buf.record(Array.from({ length: 5 }, (_, i) => sampleDoc('booth.upload', i)));
  const without = buf.lease(3, 1e9);
  assert.equal(buf.heartbeatNewerThan(without), false, 'no heartbeat at all');
  buf.record([sampleDoc('booth.agent', 1)]);
  assert.equal(buf.heartbeatNewerThan(without), false, 'other documents do not count');
  buf.record([sampleDoc('booth.heartbeat', 1)]);
  assert.equal(buf.heartbeatNewerThan(without), true);
  buf.settle({ release: without.map((d) => d.seq) });
  const withBeat = buf.lease(3, 1e9);
  assert.equal(withBeat[0]!.dataset, 'booth.heartbeat');
  assert.equal(buf.heartbeatNewerThan(withBeat), false, 'the batch holds the newest heartbeat');
  buf.record([sampleDoc('booth.heartbeat', 2)]);
  assert.equal(buf.heartbeatNewerThan(withBeat), true);
});

test('a leased document is not leased again until settled or released', (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  t.after(() => buf.close());
  buf.record(Array.from({ length: 10 }, (_, i) => sampleDoc('booth.upload', i)));
  const a = buf.lease(4, 1e9);
  const b = buf.lease(4, 1e9);
  assert.equal(new Set([...a, ...b].map((l) => l.seq)).size, 8);
  buf.settle({ release: a.map((l) => l.seq) });
  const c = buf.lease(100, 1e9);
  assert.equal(c.length, 6, 'released four plus the two never leased');
});

test('lease respects max bytes but always returns at least one document', (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  t.after(() => buf.close());
  buf.record(Array.from({ length: 10 }, (_, i) => sampleDoc('booth.upload', i)));
  const size = Buffer.byteLength(JSON.stringify(sampleDoc('booth.upload', 0)));
  assert.equal(buf.lease(100, size * 3 + 10).length, 3);
  assert.equal(buf.lease(100, 1).length, 1);
});

test('settle: delivered are deleted, retried wait for their time, dead letters are kept apart', (t) => {
  const dir = tempDir(t);
  let clock = 1_000_000;
  const buf = open(dir, { now: () => clock });
  t.after(() => buf.close());
  buf.record(Array.from({ length: 3 }, (_, i) => sampleDoc('booth.upload', i)));
  const [a, b, c] = buf.lease(10, 1e9);
  buf.settle({
    delivered: [a!.seq],
    retry: [{ seq: b!.seq, delayMs: 5000, error: 'item 429 rejected_execution_exception' }],
    dead: [{ seq: c!.seq, reason: 'mapper_parsing_exception: failed to parse field [upload.bytes]', statusCode: 400, errorType: 'mapper_parsing_exception' }],
  });
  assert.equal(buf.lease(10, 1e9).length, 0, 'the retried one waits');
  clock += 5000;
  const again = buf.lease(10, 1e9);
  assert.deepEqual(again.map((l) => l.eventId), [b!.eventId]);
  assert.equal(again[0]!.attempts, 1);
  const stats = buf.stats();
  assert.equal(stats.deadLetters, 1);
  assert.equal(stats.deliveredTotal, 1);
  assert.equal(stats.queued, 1);
  const exported = [...buf.documents()];
  assert.ok(exported.some((e) => e.dead && JSON.parse(e.body).event.id === c!.eventId));
});

test('documents and a state change commit together or not at all', (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  t.after(() => buf.close());
  const doc = sampleDoc('booth.upload', 1);
  assert.throws(
    () =>
      buf.record([doc], (tx) => {
        tx.putUpload({ path: '4711/IMG_1.jpg', bookingId: '4711', size: 10, mtimeMs: 1, status: 'uploaded', attempts: 1 });
        throw new Error('boom inside the transaction');
      }),
    /boom/,
  );
  assert.equal(buf.stats().queued, 0);
  assert.equal(buf.getUpload('4711/IMG_1.jpg'), undefined);
  buf.record([doc], (tx) => tx.putUpload({ path: '4711/IMG_1.jpg', bookingId: '4711', size: 10, mtimeMs: 1, status: 'uploaded', attempts: 1, speedMbS: 11.9 }));
  assert.equal(buf.stats().queued, 1);
  assert.equal(buf.getUpload('4711/IMG_1.jpg')?.status, 'uploaded');
  assert.equal(buf.getUpload('4711/IMG_1.jpg')?.speedMbS, 11.9);
});

test('documents older than max_age are dropped, counted and reported in a buffer_dropped event', (t) => {
  const dir = tempDir(t);
  let clock = Date.parse('2026-11-01T00:00:00Z');
  const buf = open(dir, { now: () => clock, maxAgeMs: 86_400_000 });
  t.after(() => buf.close());
  buf.record(Array.from({ length: 30 }, (_, i) => sampleDoc('booth.network', i, () => clock)));
  buf.record(Array.from({ length: 20 }, (_, i) => sampleDoc('booth.upload', i, () => clock)));
  clock += 12 * 3_600_000;
  buf.record([sampleDoc('booth.upload', 99, () => clock)]);
  clock += 13 * 3_600_000;
  assert.equal(buf.pruneExpired(), 50);
  const stats = buf.stats();
  assert.equal(stats.droppedTotal, 50);
  assert.deepEqual(stats.droppedByDataset, { 'booth.network': 30, 'booth.upload': 20 });
  const events = [...buf.documents()].map((e) => JSON.parse(e.body)).filter((d) => d.event.action === 'buffer_dropped');
  assert.equal(events.length, 1);
  assert.equal(events[0].event.reason, 'max_age');
  assert.equal(events[0].buffer.dropped, 50);
  assert.ok(validateDocument(events[0]).ok);
  assert.equal(stats.queued, 2, 'the young upload and the buffer_dropped event remain');
});

test('event ids stay unique when the database is lost and recreated', (t) => {
  const ids = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const dir = tempDir(t);
    const buf = open(dir);
    for (let i = 0; i < 2000; i++) ids.add(sampleDoc('booth.network', i).event.id);
    buf.close();
  }
  assert.equal(ids.size, 6000);
});

test('MAP_FIELDS lists exactly the schema fields that are free maps (flat_object)', async () => {
  const { z } = await import('zod');
  type ZodType = import('zod').ZodType;
  const { datasetSchemas } = await import('../shared/documents/schema.ts');
  const { MAP_FIELDS } = await import('../shared/documents/stamp.ts');
  const found = new Set<string>();
  const walk = (schema: ZodType, path: string) => {
    let s: ZodType = schema;
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s._zod.def.innerType as ZodType;
    const meta = z.globalRegistry.get(s) as { mapping?: string } | undefined;
    if (meta?.mapping === 'flat_object') found.add(path);
    else if (s instanceof z.ZodObject) for (const [k, v] of Object.entries(s.shape as Record<string, ZodType>)) walk(v, path ? `${path}.${k}` : k);
  };
  for (const schema of Object.values(datasetSchemas)) walk(schema, '');
  assert.deepEqual([...found].sort(), [...MAP_FIELDS].sort());
});

test('read-only open (for status): sees what the daemon commits, refuses writes, changes nothing, needs an existing file', (t) => {
  const dir = tempDir(t);
  const opts = { stateDir: dir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH };
  assert.throws(() => DocumentBuffer.open({ ...opts, readOnly: true }), /unable to open|does not exist/i, 'no database: no new file either');
  const daemon = DocumentBuffer.open(opts);
  t.after(() => daemon.close());
  daemon.record([sampleDoc('booth.upload', 1)]);
  const reader = DocumentBuffer.open({ ...opts, readOnly: true });
  t.after(() => reader.close());
  assert.equal(reader.stats().queued, 1);
  daemon.record([sampleDoc('booth.upload', 2)]);
  assert.equal(reader.stats().queued, 2, 'the next read sees the new commit');
  assert.throws(() => reader.record([sampleDoc('booth.upload', 3)]), /readonly/);
  // The daemon keeps writing while the reader is open.
  daemon.record([sampleDoc('booth.upload', 4)]);
  assert.equal(daemon.stats().queued, 3);
});
