// Clock skew (SPEC §6 "Clock"): measured from the Date header of every OpenSearch response,
// reported in the heartbeat, and recorded as a clock_skew event beyond two minutes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { STATE_KEYS } from '../agent/buffer/state-keys.ts';
import { createLogger } from '../agent/log/logger.ts';
import { ClockSkew } from '../agent/sinks/clock-skew.ts';
import { collect, startCli, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH } from './support/documents.ts';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { tempDir } from './support/tmp.ts';

const HOUR = 3_600_000;

function skewEvents(buf: DocumentBuffer) {
  return [...buf.documents({ dataset: 'booth.agent' })].map((e) => JSON.parse(e.body)).filter((d) => d.event.action === 'clock_skew');
}

test('ClockSkew: one event when the skew passes two minutes, none for repeats, one when back in step', (t) => {
  const dir = tempDir(t);
  const buf = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 1e12, booth: BOOTH });
  t.after(() => buf.close());
  const logger = createLogger({ level: 'error', file: `${dir}/agent.log` });
  const clock = new ClockSkew(buf, BOOTH, logger);
  const server = Date.parse('2026-11-24T12:00:00Z');
  const at = (skewMs: number) => clock.sample(new Date(server).toUTCString(), server + 500 + skewMs, 'the OpenSearch server');

  at(30_000);
  assert.equal(skewEvents(buf).length, 0, 'half a minute is not worth an event');
  assert.equal(buf.getState<{ value: number }>(STATE_KEYS.clockSkew)?.value, 30_000);
  at(2 * HOUR);
  at(2 * HOUR + 5_000);
  at(2 * HOUR - 3_000);
  let events = skewEvents(buf);
  assert.equal(events.length, 1, 'one event for a two-hour skew, not one per response');
  assert.equal(events[0].clock.skew_ms, 2 * HOUR);
  assert.match(events[0].message, /The booth clock is 2h ahead of the OpenSearch server/);
  at(-3 * HOUR);
  events = skewEvents(buf);
  assert.equal(events.length, 2, 'a jump of the skew is a new event');
  assert.match(events[1].message, /3h behind/);
  at(1_000);
  events = skewEvents(buf);
  assert.equal(events.length, 3);
  assert.match(events[2].message, /in step with the OpenSearch server again/);
  at(2_000);
  assert.equal(skewEvents(buf).length, 3);
});

test('the agent measures its skew against OpenSearch, reports it in the heartbeat and records a clock_skew event', async (t) => {
  const standIn = await OpenSearchStandIn.start({ seed: 5 });
  t.after(() => standIn.close());
  // The booth's clock runs three hours ahead of the server's.
  standIn.clockOffsetMs = -3 * HOUR;
  const dir = tempDir(t);
  const cfg = writeConfig(dir, { opensearch: { url: standIn.url, batch: { interval: '50ms' } }, heartbeat: { interval: '1s' } });
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child);
  await waitForOutput(child, /booth clock is off/);
  const deadline = Date.now() + 10_000;
  const hasSkewedHeartbeat = () =>
    standIn.documents().some((d) => {
      const s = d.source as { event: { dataset: string }; clock?: { skew_ms: number } };
      return s.event.dataset === 'booth.heartbeat' && s.clock !== undefined && Math.abs(s.clock.skew_ms - 3 * HOUR) < 3000;
    });
  while (!hasSkewedHeartbeat()) {
    assert.ok(Date.now() < deadline, 'a heartbeat with the skew reaches OpenSearch');
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  assert.equal((await done).code, 0);
  const event = standIn.documents().find((d) => (d.source as { event: { action?: string } }).event.action === 'clock_skew');
  assert.ok(event, 'the clock_skew event was shipped');
  const skew = (event.source as { clock: { skew_ms: number } }).clock.skew_ms;
  assert.ok(Math.abs(skew - 3 * HOUR) < 3000, `measured ${skew} ms`);
});
