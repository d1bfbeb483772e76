// Booking summaries, the operator's log line, the speed baseline, and upload URLs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuffer, type UploadRow } from '../agent/buffer/buffer.ts';
import { createLogger } from '../agent/log/logger.ts';
import { Recorder } from '../agent/sources/recorder.ts';
import { percentile, SpeedBaseline, summarize, summaryLine } from '../agent/sources/uploads/bookings.ts';
import { heartbeatUploads, uploadFacts } from '../agent/sources/uploads/facts.ts';
import { encodeSegment, uploadUrl } from '../agent/sources/uploads/url.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { BOOTH } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

const row = (i: number, speed: number, status: UploadRow['status'] = 'uploaded'): UploadRow => ({
  path: `4711/IMG_${i}.jpg`,
  bookingId: '4711',
  size: 3_000_000,
  mtimeMs: 1,
  status,
  attempts: 1,
  speedMbS: speed,
  startedAt: 1_000_000 + i * 250,
  endedAt: 1_000_000 + i * 250 + 250,
});

test('summarize: count, bytes, wall-clock duration first start → last end, MB/s, failures, p50/p10', () => {
  const files = [...Array.from({ length: 10 }, (_, i) => row(i, 10 + i)), row(10, 0, 'rejected'), row(11, 0, 'failing')];
  const s = summarize('4711', files);
  assert.equal(s.count_images, 10);
  assert.equal(s.size_bytes, 30_000_000);
  assert.equal(s.size_in_kb, 30_000);
  assert.equal(s.duration_in_seconds, 2.5);
  assert.equal(s.speed_in_mb_s, 12);
  assert.equal(s.rejected_images, 1);
  assert.equal(s.failed_images, 1);
  assert.equal(s.image_speed_p50_mb_s, 14);
  assert.equal(s.image_speed_p10_mb_s, 10);
  assert.equal(summaryLine(s), 'Saved 10 images (30.0 MB) of booking 4711 in 3s (12.0 MB/s); 2 not uploaded');
});

test('the summary line reads like the company\'s: "Saved 389 images (1.3 GB) of booking 4711 in 1m 56s"', () => {
  const files = Array.from({ length: 389 }, (_, i) => ({ ...row(i, 11), size: 3_341_902, startedAt: 0, endedAt: 116_000 }));
  assert.equal(summaryLine(summarize('4711', files)), 'Saved 389 images (1.3 GB) of booking 4711 in 1m 56s (11.2 MB/s)');
});

test('percentile is nearest-rank', () => {
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10), 1);
  assert.equal(percentile([7], 10), 7);
  assert.equal(percentile([], 50), 0);
});

test('speed baseline: speed_degraded once below half the median of recent bookings, speed_recovered once back', (t) => {
  const dir = tempDir(t);
  const buffer = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 1e12, booth: BOOTH });
  t.after(() => buffer.close());
  const logger = createLogger({ level: 'error', file: `${dir}/agent.log` });
  const recorder = new Recorder(buffer, BOOTH, logger);
  const baseline = new SpeedBaseline(buffer, recorder, logger);
  const run = (id: string, speed: number) => {
    const judged = baseline.judgeBooking(id, speed);
    buffer.setState(SpeedBaseline.stateKey, judged.next);
    return judged.event;
  };
  assert.equal(run('1', 12), undefined, 'no baseline yet');
  assert.equal(run('2', 11.5), undefined);
  assert.equal(run('3', 12.3), undefined);
  const degraded = run('4', 0.95);
  assert.ok(degraded, 'the incident is recorded');
  assert.equal(degraded.event.action, 'speed_degraded');
  assert.deepEqual(degraded['speed'], { current_mb_s: 0.95, baseline_mb_s: 12 });
  assert.match(String(degraded['message']), /fell to 0\.95 MB\/s in booking 4, below half of this booth's usual 12\.0 MB\/s/);
  assert.ok(validateDocument(degraded).ok);
  assert.equal(run('5', 0.9), undefined, 'one event for the slowdown, not one per booking');
  assert.equal(run('6', 0.97), undefined, 'slow bookings do not become the new normal');
  const recovered = run('7', 11.8);
  assert.equal(recovered?.event.action, 'speed_recovered');
  assert.equal(run('8', 12), undefined);
});

test('rolling speed: a slowdown inside a long booking is recorded while it runs, with the window; its end does not count as a recovery', (t) => {
  const dir = tempDir(t);
  const buffer = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 1e12, booth: BOOTH });
  t.after(() => buffer.close());
  const logger = createLogger({ level: 'error', file: `${dir}/agent.log` });
  const recorder = new Recorder(buffer, BOOTH, logger);
  const moment = { network: { online: true, interface: { name: 'wlan0', type: 'wireless' } } };
  const baseline = new SpeedBaseline(buffer, recorder, logger, () => moment);
  const apply = (judged: ReturnType<SpeedBaseline['judgeBooking']>) => {
    buffer.setState(SpeedBaseline.stateKey, judged.next);
    return judged.event;
  };
  for (const [id, speed] of [['1', 12], ['2', 12], ['3', 12]] as const) apply(baseline.judgeBooking(id, speed));
  assert.equal(baseline.usual(), 12);

  assert.equal(apply(baseline.judgeRolling('4711', 11, 300)), undefined, 'healthy so far');
  const degraded = apply(baseline.judgeRolling('4711', 0.95, 300));
  assert.equal(degraded?.event.action, 'speed_degraded');
  assert.deepEqual(degraded['speed'], { current_mb_s: 0.95, baseline_mb_s: 12, window_s: 300 });
  assert.deepEqual(degraded['network'], moment.network, 'the network facts of that moment');
  assert.match(String(degraded['message']), /fell to 0\.95 MB\/s over the last 5m in booking 4711/);
  assert.ok(validateDocument(degraded).ok, JSON.stringify(validateDocument(degraded)));
  assert.equal(apply(baseline.judgeRolling('4711', 0.9, 300)), undefined, 'one event per slowdown');

  // The booking ends: 8 MB/s on average (a fast first hour), but its last window was slow.
  assert.equal(apply(baseline.judgeBooking('4711', 8, 0.9)), undefined, 'not a recovery while the end is slow');
  assert.equal(baseline.usual(), 12, 'a slow booking does not enter the baseline');

  const recovered = apply(baseline.judgeRolling('4712', 11.5, 300));
  assert.equal(recovered?.event.action, 'speed_recovered');
  assert.match(String(recovered['message']), /back to 11\.5 MB\/s over the last 5m in booking 4712/);

  // A booking fast on average whose last window is slow is itself the start of a slowdown.
  const late = apply(baseline.judgeBooking('4713', 10, 2));
  assert.equal(late?.event.action, 'speed_degraded');
  assert.equal((late['speed'] as { current_mb_s: number }).current_mb_s, 2);
});

test('upload URLs percent-encode every value as a path segment', () => {
  const url = uploadUrl('https://fulfil.example.com/booths/{booth_id}/bookings/{booking_id}/images/{file}', 'FB-1042', 'wedding 24/11', "IMG #1 ü?%(1)!.jpg");
  assert.equal(url, 'https://fulfil.example.com/booths/FB-1042/bookings/wedding%2024%2F11/images/IMG%20%231%20%C3%BC%3F%25%281%29%21.jpg');
  assert.equal(decodeURIComponent(encodeSegment("a b/c'd")), "a b/c'd");
});

test('upload facts for the heartbeat and status: pending, failing with codes, rejected, the last upload, today since local midnight', (t) => {
  const dir = tempDir(t);
  const buffer = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 1e12, booth: BOOTH });
  t.after(() => buffer.close());
  const now = new Date(2026, 10, 24, 15, 0, 0);
  const midnight = new Date(2026, 10, 24).getTime();
  const put = (path: string, status: UploadRow['status'], extra: Partial<UploadRow> = {}) =>
    buffer.putUpload({ path, bookingId: path.split('/')[0]!, size: 1_000_000, mtimeMs: 1, status, attempts: 1, ...extra });
  put('B0/yesterday.jpg', 'uploaded', { speedMbS: 9, startedAt: midnight - 3_600_000, endedAt: midnight - 3_599_000 });
  put('B1/a.jpg', 'uploaded', { size: 2_000_000, speedMbS: 11, startedAt: midnight + 1000, endedAt: midnight + 2000 });
  put('B1/b.jpg', 'uploaded', { size: 3_000_000, speedMbS: 0.95, startedAt: midnight + 5000, endedAt: midnight + 8000 });
  put('B2/c.jpg', 'failing', { httpStatus: 503 });
  put('B2/d.jpg', 'failing', { httpStatus: null, lastError: 'the upload server refused the connection' });
  put('B3/e.jpg', 'rejected', { httpStatus: 404 });
  put('B3/f.jpg', 'rejected', { httpStatus: 404 });
  put('B4/g.jpg', 'pending');

  assert.deepEqual(uploadFacts(buffer, now), {
    pending: 1,
    failing: 2,
    rejected: 2,
    failing_codes: { '503': 1, network: 1, '404': 2 },
    not_uploaded: {},
    today_count: 2,
    today_bytes: 5_000_000,
    last_file: 'B1/b.jpg',
    last_at: new Date(midnight + 8000).toISOString(),
    last_speed_mb_s: 0.95,
    missed_by_watcher: 0,
    stale: [],
  });
  // The heartbeat carries the counts, which the document schema accepts.
  const hb = heartbeatUploads(uploadFacts(buffer, now));
  assert.deepEqual(hb, { pending: 1, failing: 2, rejected: 2, today_count: 2, today_bytes: 5_000_000, missed_by_watcher: 0, last_speed_mb_s: 0.95 });
  // A day later, nothing is "today".
  assert.equal(uploadFacts(buffer, new Date(2026, 10, 25, 9)).today_count, 0);
});
