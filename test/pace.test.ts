// The sink's pace under a busy cluster's 429s (agent/sinks/opensearch/pace.ts): the rules on a
// fake clock, then the real sink against the OpenSearch stand-in — retries at the pace rather than
// an outage's doubling, a booth OpenSearch heard recently yields, a lone heartbeat waits.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import winston from 'winston';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { ClockSkew } from '../agent/sinks/clock-skew.ts';
import { fadedWait, Pace } from '../agent/sinks/opensearch/pace.ts';
import { OpenSearchSink } from '../agent/sinks/opensearch/sink.ts';
import type { Dataset } from '../shared/documents/schema.ts';
import { agentSinkSettings } from './support/config.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { tempDir } from './support/tmp.ts';

function fakePace(random = 0.5) {
  let now = 0;
  const pace = new Pace({ minDelayMs: 1000, maxDelayMs: 300_000, now: () => now, random: () => random });
  return { pace, advance: (ms: number) => (now += ms) };
}

test('pace: each push-back adds half (from min_delay, up to max_delay); it fades by half every 3 s and shrinks on clean answers', () => {
  const { pace, advance } = fakePace();
  assert.equal(pace.current(), 0);
  assert.equal(pace.waitMs(false), 0, 'no push-back yet: no wait');
  pace.pushback(true, true);
  assert.equal(pace.current(), 1000);
  pace.pushback(true, true);
  pace.pushback(true, true);
  assert.equal(pace.current(), 2250);
  advance(3000);
  assert.equal(pace.current(), 1125);
  pace.accepted();
  assert.equal(pace.current(), 1012.5);
  for (let i = 0; i < 40; i++) pace.pushback(false, true);
  assert.equal(pace.current(), 300_000, 'never beyond max_delay');
  advance(30_000 * 1.5);
  assert.equal(pace.current(), 0, 'faded below a tenth of min_delay: gone');
});

test('pace: the wait is the pace ±50 % as it will have faded by then; eight times that for a booth OpenSearch heard recently, at most 1.5 × min_delay for one it has not', () => {
  // The defining property: the booth waits until its wait equals the pace faded over that wait.
  for (const ms of [1, 500, 1000, 8000, 60_000]) {
    const w = fadedWait(ms);
    assert.ok(Math.abs(w - ms * 0.5 ** (w / 3000)) < 1e-6, `${ms} → ${w}`);
    assert.ok(w > 0 && w <= ms);
  }
  assert.equal(fadedWait(0), 0);
  for (const [random, factor] of [[0, 0.5], [0.5, 1], [0.999, 1.499]] as const) {
    const { pace } = fakePace(random);
    pace.pushback(true, true);
    assert.equal(pace.waitMs(false), Math.round(fadedWait(1000 * factor)));
    assert.equal(pace.waitMs(true), Math.round(fadedWait(8000 * factor)));
    for (let i = 0; i < 4; i++) pace.pushback(true, true);
    assert.equal(pace.current(), 5062.5);
    assert.equal(pace.waitMs(false), Math.round(fadedWait(1500 * factor)), 'not heard yet: never long');
    assert.equal(pace.waitMs(true), Math.round(fadedWait(8 * 5062.5 * factor)));
  }
});

test('pace: a booth not heard yet waits half as long for every 10 s it has been refused (down to a quarter), and its pace grows no further than 1.5 × that cap', () => {
  const { pace, advance } = fakePace(0.5);
  for (let i = 0; i < 20; i++) pace.pushback(true, false);
  assert.equal(pace.current(), 2250, 'an unheard booth\'s pace stops at 1.5 × 1.5 × min_delay');
  const waits: number[] = [];
  for (let s = 0; s < 50; s += 10) {
    waits.push(pace.waitMs(false));
    advance(5000);
    pace.pushback(true, false);
    advance(5000);
    pace.pushback(true, false);
  }
  const cap = (share: number) => Math.round(fadedWait(1500 * share));
  assert.deepEqual(waits, [cap(1), cap(0.5), cap(0.25), cap(0.25), cap(0.25)], `waits after 0, 10, 20, 30, 40 s of refusals: ${waits.join(', ')} ms`);
  // Heard (its heartbeat stored lately), the same booth yields: eight times its pace.
  assert.equal(pace.waitMs(true), Math.round(fadedWait(8 * pace.current())));
  pace.accepted();
  for (let i = 0; i < 3; i++) pace.pushback(false, true);
  assert.ok(pace.current() > 1500);
  assert.equal(pace.waitMs(false), Math.round(fadedWait(1500)), 'a request got through: the run of refusals is over, the cap whole again');
});

test('pace: refused for over a minute without one success, the booth backs off as in an outage; one success ends that', () => {
  const { pace, advance } = fakePace(0.5);
  const waits: number[] = [];
  for (let minute = 0; minute < 12; minute++) {
    for (let s = 0; s < 60; s += 2) {
      pace.pushback(true, true);
      advance(2000);
    }
    waits.push(pace.waitMs(false));
  }
  // Refused every 2 s: the pace alone would stay near min_delay (each push-back against 2 s of
  // fade) — a fleet retrying every second or two for as long as a cluster in trouble refuses it
  // is what this rule stops.
  assert.ok(waits[0]! >= 1500 && waits[0]! <= 3000, `after the first minute: ${waits[0]} ms`);
  for (let i = 1; i < waits.length; i++) assert.ok(waits[i]! >= waits[i - 1]!, `never shorter while the storm lasts: ${waits.join(', ')}`);
  assert.ok(waits[5]! >= 16_000, `after 6 minutes at least min_delay·2^6/2: ${waits[5]} ms`);
  assert.equal(waits[11], 300_000 * 0.75, 'after 12 minutes: max_delay (its upper half, jittered)');
  pace.accepted();
  assert.ok(pace.waitMs(false) < 3000, 'a request got through: back to the pace');
  pace.pushback(true, true);
  assert.ok(pace.waitMs(false) < 4000, 'a new run of refusals starts from the pace again');
});

test('pace: item push-back never counts as the cluster refusing the booth', () => {
  const { pace, advance } = fakePace(0.5);
  for (let s = 0; s < 600; s += 2) {
    pace.pushback(false, true);
    advance(2000);
  }
  assert.ok(pace.waitMs(false) < 4000, 'some items refused, the rest taken: the cluster is working');
  assert.equal(pace.throttled(), true);
  advance(120_000);
  assert.equal(pace.throttled(), false, 'two minutes without push-back: not throttled any more');
});

// ── the sink against the stand-in ────────────────────────────────────────────────────────────

const silent = winston.createLogger({ level: 'error', silent: true });

/** A logger that prints nothing and hands `waits` each retry_in_ms the sink logs: the waits it chose. */
function retryWaits(waits: number[]): winston.Logger {
  const collect = winston.format((info) => {
    if (typeof info['retry_in_ms'] === 'number') waits.push(info['retry_in_ms']);
    return false;
  });
  return winston.createLogger({ level: 'debug', format: collect(), transports: [new winston.transports.Console()] });
}

async function startSink(t: TestContext, standIn: OpenSearchStandIn, opensearch: Record<string, unknown>, heartbeatInterval: string, logger = silent) {
  const stateDir = tempDir(t);
  const settings = agentSinkSettings(standIn.url, { opensearch, heartbeat: { interval: heartbeatInterval } });
  const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: 1e8, maxAgeMs: 86_400_000, booth: BOOTH, check: false });
  // random 0.5: every jitter factor is exactly 1, so the waits are the pace itself.
  const sink = new OpenSearchSink(settings, buffer, logger, new ClockSkew(buffer, BOOTH, silent), { random: () => 0.5 });
  t.after(async () => {
    await sink.stop(Date.now() + 2000);
    buffer.close();
  });
  return { buffer, sink };
}

function record(buffer: DocumentBuffer, dataset: Dataset, n: number, from = 0): string[] {
  const docs = Array.from({ length: n }, (_, i) => sampleDoc(dataset, from + i));
  buffer.record(docs);
  return docs.map((d) => d.event.id);
}

async function until(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const bulk = (s: OpenSearchStandIn) => s.requests.filter((r) => r.path === '/_bulk');

/** A stand-in answering every `_bulk` request 429, closed when the test ends. */
async function busyStandIn(t: TestContext, seed: number): Promise<OpenSearchStandIn> {
  const standIn = await OpenSearchStandIn.start({ seed });
  t.after(() => standIn.close());
  standIn.faults.whole429Ratio = 1;
  return standIn;
}

/** Lets the stand-in (answering every request 429) refuse `n` requests, then take them again. */
async function refuseThenTake(s: OpenSearchStandIn, n: number): Promise<void> {
  // A request is logged when it arrives and gets its status once answered: wait for the status.
  await until(() => bulk(s).filter((r) => r.status === 429).length >= n, 15_000, `${n} refused request(s)`);
  s.faults.whole429Ratio = 0;
}

test('a busy cluster\'s whole-request 429s: the sink retries at its pace (min_delay, then about half as long again), not with an outage\'s doubling', { timeout: 30_000 }, async (t) => {
  const standIn = await busyStandIn(t, 11);
  const chosen: number[] = [];
  const { buffer, sink } = await startSink(t, standIn, { batch: { max_docs: 100, interval: '10ms' }, retry: { min_delay: '400ms', max_delay: '5m' } }, '1h', retryWaits(chosen));
  const ids = record(buffer, 'booth.upload', 50);
  sink.start();
  await refuseThenTake(standIn, 6);
  await until(() => ids.every((id) => standIn.ids().has(id)), 10_000, 'the batch stored');

  // The waits the sink chose, not the gaps a loaded machine stretches: an outage's backoff (full
  // jitter at 0.5) would wait 200, 400, 800, 1600 ms, each twice the last. The pace: min_delay
  // faded over the wait (367 ms), then half as long again (492 ms), then no more than
  // 1.5 × min_delay (531 ms faded) — this booth's heartbeat has not got through.
  const waits = chosen.slice(0, 5);
  assert.equal(waits.length, 5, `a wait chosen after each refusal: ${chosen.join(', ')} ms`);
  assert.ok(waits[0]! >= 340 && waits[0]! <= 480, `the first retry after min_delay: ${waits.join(', ')} ms`);
  assert.ok(waits[1]! / waits[0]! >= 1.1, `the second wait longer: ${waits.join(', ')} ms`);
  for (const wait of waits) assert.ok(wait <= 600, `never more than 1.5 × min_delay: ${waits.join(', ')} ms`);
  // And it kept them: no retry came sooner than its wait (timers fire late under load, never early).
  const times = bulk(standIn).map((r) => r.at);
  const gaps = times.slice(1, 6).map((at, i) => at - times[i]!);
  gaps.forEach((gap, i) => assert.ok(gap >= waits[i]! - 2, `retry ${i + 1} after ${gap} ms, chosen ${waits[i]} ms`));
  assert.equal(bulk(standIn).at(-1)!.status, 200);
});

test('a batch a busy cluster refused goes again as it was, read and encoded once, until a heartbeat is recorded: that leads the next try', { timeout: 30_000 }, async (t) => {
  const standIn = await busyStandIn(t, 15);
  const { buffer, sink } = await startSink(t, standIn, { batch: { max_docs: 20, interval: '10ms' }, retry: { min_delay: '100ms', max_delay: '5m' } }, '1h');
  // Counts what the sink reads from the buffer (the real buffer underneath).
  const leases: number[] = [];
  const lease = buffer.lease.bind(buffer);
  buffer.lease = (maxDocs, maxBytes) => {
    const batch = lease(maxDocs, maxBytes);
    if (batch.length > 0) leases.push(batch.length);
    return batch;
  };
  const uploads = record(buffer, 'booth.upload', 30);
  sink.start();
  const refused = (n: number) => until(() => bulk(standIn).filter((r) => r.status === 429).length >= n, 10_000, `${n} refused requests`);
  await refused(1);
  // An agent event would lead a fresh lease (it ranks above uploads): the refused batch goes as it was.
  record(buffer, 'booth.agent', 1);
  const before = bulk(standIn).length;
  await until(() => bulk(standIn).filter((r, i) => i >= before && r.status === 429).length >= 2, 10_000, 'two more refusals');
  const [heartbeat] = record(buffer, 'booth.heartbeat', 1);
  const beforeBeat = bulk(standIn).length;
  await until(() => bulk(standIn).some((r, i) => i >= beforeBeat && r.status === 429), 10_000, 'a refusal after the heartbeat');
  const leasesWhileRefused = leases.length;
  standIn.faults.whole429Ratio = 0;
  await until(() => uploads.every((id) => standIn.ids().has(id)), 10_000, 'the backlog stored');

  const sent = bulk(standIn);
  const firstAfterBeat = sent.findIndex((r, i) => i >= beforeBeat && r.firstId === heartbeat);
  assert.ok(firstAfterBeat >= beforeBeat, 'a try after the heartbeat was recorded leads with it');
  for (const r of sent.slice(0, firstAfterBeat)) {
    assert.equal(r.firstId, uploads[0], 'every try before it sent the refused batch as it was');
    assert.equal(r.docs, 20);
  }
  // One read for the first batch, one when the heartbeat came: not one per try, and nothing read
  // ahead before the cluster took a request.
  assert.equal(leasesWhileRefused, 2, `batches read while refused: ${leases.slice(0, leasesWhileRefused).join(', ')} (tries: ${sent.length})`);
});

test('a booth whose heartbeat OpenSearch has just stored yields to the others: eight times the pace', { timeout: 30_000 }, async (t) => {
  const standIn = await busyStandIn(t, 12);
  const chosen: number[] = [];
  const { buffer, sink } = await startSink(t, standIn, { batch: { max_docs: 10, interval: '10ms' }, retry: { min_delay: '200ms', max_delay: '5m' } }, '1h', retryWaits(chosen));
  record(buffer, 'booth.heartbeat', 1);
  const ids = record(buffer, 'booth.upload', 30);
  sink.start();
  await refuseThenTake(standIn, 1);
  await until(() => ids.every((id) => standIn.ids().has(id)), 15_000, 'the backlog stored');

  const sent = bulk(standIn);
  assert.equal(sent[0]!.status, 429);
  assert.equal(sent[1]!.status, 200, 'the retry, heartbeat first, got through');
  const gapBeforeRetry = sent[1]!.at - sent[0]!.at;
  const gapAfterHeard = sent[2]!.at - sent[1]!.at;
  // Not heard yet: the retry waits the pace (min_delay, faded: 191 ms). Heard: the next waits
  // 8 × the pace, which has faded and shrunk a little since (~172 ms): 1.07 s once faded, where
  // a booth not yielding would wait ~170 ms.
  assert.ok(chosen[0]! >= 180 && chosen[0]! <= 220, `retry chosen after ${chosen[0]} ms`);
  assert.ok(gapBeforeRetry >= chosen[0]! - 2, `retry after ${gapBeforeRetry} ms, chosen ${chosen[0]} ms`);
  assert.ok(gapAfterHeard >= 850 && gapAfterHeard < 1800, `after the heartbeat was stored: ${gapAfterHeard} ms (retry after ${gapBeforeRetry} ms)`);
});

test('a booth counts as heard for two heartbeat intervals: refused between one and two intervals after its heartbeat was stored, it still yields', { timeout: 30_000 }, async (t) => {
  const standIn = await busyStandIn(t, 16);
  const { buffer, sink } = await startSink(t, standIn, { batch: { max_docs: 10, interval: '10ms' }, retry: { min_delay: '200ms', max_delay: '5m' } }, '1s');
  record(buffer, 'booth.heartbeat', 1);
  const ids = record(buffer, 'booth.upload', 40);
  sink.start();
  await refuseThenTake(standIn, 1);
  await until(() => bulk(standIn)[1]?.status === 200, 5000, 'the heartbeat stored');
  standIn.faults.whole429Ratio = 1;
  await until(() => bulk(standIn)[3]?.status === 429, 10_000, 'two more refusals');
  standIn.faults.whole429Ratio = 0;
  await until(() => ids.every((id) => standIn.ids().has(id)), 15_000, 'the backlog stored');

  const [, heard, refused, next] = bulk(standIn);
  const since = refused!.at - heard!.at;
  assert.ok(since > 1000 && since < 2000, `refused ${since} ms after the heartbeat was stored (between 1 and 2 intervals)`);
  // Heard: eight times the pace (~210 ms): ~1.25 s. Counted as unheard after one interval, it
  // would retry after at most the pace itself, ~0.2 s.
  const wait = next!.at - refused!.at;
  assert.ok(wait >= 900, `the retry waited ${wait} ms`);
});

test('while the cluster is busy, a heartbeat with nothing else to send waits until two heartbeat intervals after the last delivery', { timeout: 30_000 }, async (t) => {
  const standIn = await busyStandIn(t, 13);
  const { buffer, sink } = await startSink(t, standIn, { batch: { max_docs: 100, interval: '10ms' }, retry: { min_delay: '100ms', max_delay: '5m' } }, '1s');
  const ids = record(buffer, 'booth.upload', 5);
  sink.start();
  await refuseThenTake(standIn, 1);
  await until(() => ids.every((id) => standIn.ids().has(id)), 5000, 'the batch stored');
  const deliveredAt = bulk(standIn).at(-1)!.at;

  const [heartbeat] = record(buffer, 'booth.heartbeat', 1);
  await until(() => standIn.ids().has(heartbeat!), 5000, 'the heartbeat stored');
  const lone = bulk(standIn).at(-1)!;
  assert.equal(lone.firstId, heartbeat);
  assert.equal(lone.docs, 1);
  const after = lone.at - deliveredAt;
  assert.ok(after >= 1900 && after < 3000, `the lone heartbeat went ${after} ms after the last delivery (2 × 1 s)`);

  // Not busy (no 429 in the last two minutes): a heartbeat goes at once, as ever.
  const quiet = await OpenSearchStandIn.start({ seed: 14 });
  t.after(() => quiet.close());
  const fresh = await startSink(t, quiet, { batch: { max_docs: 100, interval: '10ms' } }, '1s');
  const first = record(fresh.buffer, 'booth.upload', 5);
  fresh.sink.start();
  await until(() => first.every((id) => quiet.ids().has(id)), 5000, 'the batch stored');
  const recordedAt = Date.now();
  const [beat] = record(fresh.buffer, 'booth.heartbeat', 1);
  await until(() => quiet.ids().has(beat!), 5000, 'the heartbeat stored');
  assert.ok(Date.now() - recordedAt < 500, 'sent at once');
});
