// `booth-agent report` on the real cluster (issue 18, first step): from upload documents of a
// generated fleet, the day a group of booths changed speed — and nothing on a fleet that did not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { runCli } from '../support/cli.ts';
import { sampleDoc } from '../support/documents.ts';
import { mulberry32 } from '../support/random.ts';
import { call, clusterUrl, refresh, testFleet, type TestFleet } from './support.ts';

const DAY = 86_400_000;
const START = Date.parse('2026-09-01T00:00:00Z');
const dayOf = (i: number) => new Date(START + i * DAY).toISOString().slice(0, 10);

/** 20 booths × 40 days × 3 uploads a day (none on some days), speeds ±10 % around `speed(booth, day)`. */
async function seedFleet(fleet: TestFleet, seed: number, speed: (booth: number, day: number) => number): Promise<void> {
  const rnd = mulberry32(seed);
  let lines = '';
  let n = 0;
  for (let b = 0; b < 20; b++) {
    for (let d = 0; d < 40; d++) {
      if (rnd() < 0.1) continue; // a day without bookings
      for (let k = 0; k < 3; k++) {
        const at = START + d * DAY + (10 + k) * 3_600_000;
        const base = sampleDoc('booth.upload', n++, () => at) as BoothDocument & { upload: Record<string, unknown> };
        const doc = {
          ...base,
          booth: { ...base.booth, id: `FB-${String(b).padStart(4, '0')}`, country: b < 12 ? 'US' : 'FR', region: b < 8 ? 'us-east' : b < 12 ? 'us-west' : 'fr' },
          upload: { ...base.upload, speed_mb_s: speed(b, d) * (0.9 + rnd() * 0.2) },
        };
        lines += `{"create":{"_index":"${fleet.index('upload', at)}","_id":"${doc.event.id}"}}\n${JSON.stringify(doc)}\n`;
      }
    }
  }
  const r = await call<{ errors: boolean }>('POST', '/_bulk?pipeline=_none', lines, { ndjson: true });
  assert.equal(r.body.errors, false);
  await refresh(fleet.prefix);
}

const report = (fleet: TestFleet) => runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '40d', '--until', dayOf(39), '--json'], { timeoutMs: 60_000 });

interface ReportJson {
  days: { day: string; bookings: number; bookingMedianS: number | null; boothsSeen: Record<string, number>; rejections: number; images: number; speedMedian: number | null }[];
  requests: number;
  booths: number;
  fleet: { changes: { day: string }[]; incidents: unknown[] };
  groups: { day: string; kind: string; direction: string; before: number; after: number; booths: string[]; where: string[] }[];
}

test('report: 8 booths of us-east dropping from ~12 to ~0.9 MB/s on day 25 are one group, on that day, and nothing else changed', { timeout: 120_000 }, async (t) => {
  const fleet = await testFleet(t);
  await seedFleet(fleet, 25, (b, d) => (b < 8 && d >= 25 ? 0.9 : 12));
  const r = await report(fleet);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ReportJson;
  assert.equal(out.booths, 20);
  assert.equal(out.requests, 2, 'aggregations only: speeds, and the rest of each day');
  assert.equal(out.groups.length, 1, JSON.stringify(out.groups));
  const g = out.groups[0]!;
  assert.deepEqual([g.day, g.kind, g.direction, g.booths.length, g.where], [dayOf(25), 'step', 'dropped', 8, ['us-east']]);
  assert.ok(Math.abs(g.before - 12) < 1 && Math.abs(g.after - 0.9) < 0.15, JSON.stringify(g));
  const screen = await runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '40d', '--until', dayOf(39)]);
  t.diagnostic(screen.stdout);
  assert.match(screen.stdout, new RegExp(`us-east: 8 booths dropped from 1\\d\\.\\d to 0\\.\\d\\d MB/s on ${dayOf(25)}`));
});

test('report: a fleet without events shows no change and no group', { timeout: 120_000 }, async (t) => {
  const fleet = await testFleet(t);
  await seedFleet(fleet, 7, () => 12);
  const out = JSON.parse((await report(fleet)).stdout) as ReportJson;
  assert.deepEqual(out.fleet.changes, []);
  assert.deepEqual(out.groups, []);
});

test('report --json per day: bookings and their median duration, booths seen per country (heartbeats), images refused', { timeout: 120_000 }, async (t) => {
  const fleet = await testFleet(t);
  const at = (day: number, hour: number) => START + day * DAY + hour * 3_600_000;
  const withBooth = (doc: BoothDocument, id: string, country: string) => ({ ...doc, booth: { ...doc.booth, id, country } });
  const docs: BoothDocument[] = [];
  for (const [i, seconds] of [60, 120, 180, 240, 300].entries()) {
    const b = sampleDoc('booth.booking', i, () => at(0, 10 + i)) as BoothDocument & { booking: Record<string, unknown> };
    docs.push({ ...b, booking: { ...b.booking, duration_in_seconds: seconds } } as BoothDocument);
  }
  for (const [id, country] of [['FB-1', 'US'], ['FB-2', 'US'], ['FB-3', 'FR']] as const) {
    for (const hour of [9, 12, 15]) docs.push(withBooth(sampleDoc('booth.heartbeat', hour, () => at(1, hour)), id, country) as BoothDocument);
  }
  for (const i of [0, 1]) {
    const u = sampleDoc('booth.upload', i, () => at(1, 11)) as BoothDocument & { upload: Record<string, unknown>; http: Record<string, unknown> };
    docs.push({ ...u, upload: { ...u.upload, outcome: 'rejected' }, http: { response: { status_code: 404 } } } as BoothDocument);
  }
  const lines = docs.map((d) => `{"create":{"_index":"${fleet.index(d.event.dataset.replace('booth.', ''), d['@timestamp'])}","_id":"${d.event.id}"}}\n${JSON.stringify(d)}\n`).join('');
  assert.equal((await call<{ errors: boolean }>('POST', '/_bulk?pipeline=_none&refresh=true', lines, { ndjson: true })).body.errors, false);
  const r = await runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '3d', '--until', dayOf(2), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ReportJson;
  assert.deepEqual(out.days.map((d) => d.day), [dayOf(0), dayOf(1), dayOf(2)]);
  assert.deepEqual(out.days.map((d) => [d.bookings, d.bookingMedianS, d.boothsSeen, d.rejections]), [
    [5, 180, {}, 0],
    [0, null, { US: 2, FR: 1 }, 2],
    [0, null, {}, 0],
  ]);
  const screen = await runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '3d', '--until', dayOf(2)]);
  assert.match(screen.stdout, new RegExp(`Over the period: 5 bookings \\(median day 3m\\), 2 images refused by the upload server; booths seen on ${dayOf(1)}: FR 1, US 2`));
});
