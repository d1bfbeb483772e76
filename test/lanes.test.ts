// Two requests in flight while a backlog drains (opensearch.concurrency, agent/sinks/opensearch/lanes.ts):
// the real sink and buffer against the OpenSearch stand-in, whose answers are held until the test
// lets them go — so "two at once" is seen, not timed. Whatever happens to one of the two, every
// document arrives, and none is sent twice unless a request failed.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import winston from 'winston';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { ClockSkew } from '../agent/sinks/clock-skew.ts';
import { OpenSearchSink } from '../agent/sinks/opensearch/sink.ts';
import type { HostileAnswer } from './support/hostile.ts';
import { agentSinkSettings } from './support/config.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { tempDir } from './support/tmp.ts';

const silent = winston.createLogger({ level: 'error', silent: true });

async function setUp(t: TestContext, opensearch: Record<string, unknown> = {}) {
  const standIn = await OpenSearchStandIn.start({ seed: 21 });
  const gate = Promise.withResolvers<void>();
  t.after(async () => {
    gate.resolve();
    await standIn.close();
  });
  const settings = agentSinkSettings(standIn.url, { opensearch: { batch: { max_docs: 50, interval: '10ms' }, retry: { min_delay: '20ms', max_delay: '200ms' }, ...opensearch } });
  const buffer = DocumentBuffer.open({ stateDir: tempDir(t), maxSizeBytes: 1e8, maxAgeMs: 86_400_000, booth: BOOTH, check: false });
  const sink = new OpenSearchSink(settings, buffer, silent, new ClockSkew(buffer, BOOTH, silent));
  t.after(async () => {
    await sink.stop(Date.now() + 2000);
    buffer.close();
  });
  const docs = Array.from({ length: 300 }, (_, i) => sampleDoc('booth.upload', i));
  buffer.record(docs);
  return { standIn, buffer, sink, gate, ids: docs.map((d) => d.event.id) };
}

const bulk = (s: OpenSearchStandIn) => s.requests.filter((r) => r.path === '/_bulk');
/** Requests that arrived and have no answer yet (held). */
const unanswered = (s: OpenSearchStandIn) => bulk(s).filter((r) => r.status === 0);

async function until(ok: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets the first request through (a start finds out alone whether the cluster keeps up), then holds every answer. */
async function holdAfterFirst(standIn: OpenSearchStandIn, gate: Promise<void>): Promise<void> {
  await until(() => bulk(standIn).some((r) => r.status === 200), 'the first request answered');
  standIn.faults.hold = gate;
  await until(() => unanswered(standIn).length === 2, 'two requests in flight at once');
}

test('while a backlog drains against a cluster that keeps up, two _bulk requests are in flight at once, with different documents, each sent once', { timeout: 30_000 }, async (t) => {
  const { standIn, sink, gate, ids, buffer } = await setUp(t);
  sink.start();
  await holdAfterFirst(standIn, gate.promise);
  const [a, b] = unanswered(standIn);
  gate.resolve();
  await until(() => ids.every((id) => standIn.ids().has(id)), 'the backlog stored');
  assert.equal(a!.status, 200);
  assert.equal(b!.status, 200);
  assert.notEqual(a!.firstId, b!.firstId, 'two batches, not one sent twice');
  await until(() => buffer.stats().queued === 0, 'the buffer empty');
  const sent = bulk(standIn).reduce((n, r) => n + r.docs, 0);
  assert.equal(sent, ids.length, 'no document sent twice');
  assert.equal(buffer.stats().leased, 0);
});

const failures: [string, HostileAnswer][] = [
  ['a 503', { kind: 'body', status: 503, body: '{"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"},"status":503}', contentType: 'application/json' }],
  ['a busy cluster\'s 429', { kind: 'body', status: 429, body: '{"error":{"type":"rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}', contentType: 'application/json' }],
  ['a connection reset', { kind: 'raw', status: 0, bytes: '', then: 'reset' }],
];

for (const [what, answer] of failures) {
  test(`${what} for one of two requests in flight: its documents go back and arrive with the rest; nothing is lost`, { timeout: 30_000 }, async (t) => {
    const { standIn, sink, gate, ids, buffer } = await setUp(t);
    let held = 0;
    // The first request answered while held fails; the other one, and every later one, goes through.
    standIn.faults.hostile = () => (standIn.faults.hold && ++held === 1 ? answer : undefined);
    sink.start();
    await holdAfterFirst(standIn, gate.promise);
    gate.resolve();
    await until(() => ids.every((id) => standIn.ids().has(id)), 'the backlog stored');
    await until(() => buffer.stats().queued === 0, 'the buffer empty');
    assert.equal(held > 1, true);
    const failed = bulk(standIn).filter((r) => r.fault?.startsWith('hostile'));
    assert.equal(failed.length, 1);
    // Stored once each; sent twice only if in the request that failed.
    const stored = bulk(standIn).filter((r) => r.status === 200).reduce((n, r) => n + r.docs, 0);
    assert.equal(stored, ids.length);
    assert.equal(buffer.stats().leased, 0);
    assert.equal(buffer.stats().deadLetters, 0);
  });
}

test('stopped with two requests held past the deadline: both batches are handed back, none is lost', { timeout: 30_000 }, async (t) => {
  const { standIn, sink, gate, ids, buffer } = await setUp(t);
  sink.start();
  await holdAfterFirst(standIn, gate.promise);
  await sink.stop(Date.now() + 100);
  assert.equal(buffer.stats().leased, 0);
  const stored = ids.filter((id) => standIn.ids().has(id)).length;
  assert.equal(buffer.stats().queued, ids.length - stored, 'every document not stored is still in the buffer');
});

test('opensearch.concurrency: 1 — one request at a time, the next batch prepared meanwhile', { timeout: 30_000 }, async (t) => {
  const { standIn, sink, gate, ids, buffer } = await setUp(t, { concurrency: 1 });
  sink.start();
  await until(() => bulk(standIn).some((r) => r.status === 200), 'the first request answered');
  standIn.faults.hold = gate.promise;
  await until(() => unanswered(standIn).length === 1, 'a request held');
  // The batch after it is leased (prepared), not sent.
  await until(() => buffer.stats().leased === 100, 'the next batch leased while the request is held');
  assert.equal(unanswered(standIn).length, 1);
  gate.resolve();
  await until(() => ids.every((id) => standIn.ids().has(id)), 'the backlog stored');
  assert.equal(bulk(standIn).reduce((n, r) => n + r.docs, 0), ids.length);
});
