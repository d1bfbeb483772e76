// `booth-agent report` on the real cluster (issue 18): the generated fleet of `npm run report:seed`
// (scripts/report-seed/fleet.ts: 200 booths, 3 countries, 90 days) with its three injected events —
// each found, dated and attributed, and nothing else — and the same fleet without events, where
// the report must find nothing at all.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ClusterClient } from '../../agent/fleet-setup/client.ts';
import type { ReportModel } from '../../agent/report/model.ts';
import { DEFAULT_FLEET, fleetDocuments, planFleet, type FleetSpec, type FleetTruth } from '../../scripts/report-seed/fleet.ts';
import { writeDocuments } from '../../agent/fleet-setup/indexing.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { runCli } from '../support/cli.ts';
import { sampleDoc } from '../support/documents.ts';
import { call, clusterUrl, testFleet, type TestFleet } from './support.ts';

const DAY = 86_400_000;
const START = Date.parse('2026-09-01T00:00:00Z');
const dayOf = (i: number) => new Date(START + i * DAY).toISOString().slice(0, 10);

/** A fleet for a whole suite; `remove` deletes it (the suite's after hook calls it). */
async function seededFleet(spec: FleetSpec): Promise<{ fleet: TestFleet; truth: FleetTruth; remove: () => Promise<void> }> {
  let remove = async () => {};
  const fleet = await testFleet({ after: (fn: () => Promise<void>) => (remove = fn) } as unknown as TestContext);
  const truth = planFleet(spec);
  const client = new ClusterClient(new URL(clusterUrl()), { type: 'none' }, { verify: true }, 120_000);
  const r = await writeDocuments(client, fleet.prefix, fleetDocuments(spec, truth));
  assert.equal(r.created, r.documents);
  return { fleet, truth, remove };
}

const report = async (fleet: TestFleet, ...extra: string[]): Promise<ReportModel> => {
  const r = await runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '90d', '--until', dayOf(89), '--json', ...extra], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ReportModel;
};

describe('report on the generated fleet with events a, b and c (90 days, 200 booths)', { timeout: 600_000 }, () => {
  let fleet: TestFleet;
  let truth: FleetTruth;
  let model: ReportModel;
  let remove: () => Promise<void>;
  before(async () => {
    ({ fleet, truth, remove } = await seededFleet({ ...DEFAULT_FLEET, start: START }));
    model = await report(fleet);
  });
  after(() => remove());

  test('(a) the 40 booths of us-east whose link dropped to 100 Mbit/s: one group, on day 61 exactly, link speed the first cause', () => {
    const g = model.groups.find((x) => x.kind === 'step');
    assert.ok(g, JSON.stringify(model.verdict));
    assert.deepEqual([g.day, g.direction, g.where], [dayOf(truth.dropDay), 'dropped', ['us-east']]);
    assert.deepEqual(g.booths, [...truth.dropped].sort());
    assert.ok(g.before > 8 && g.after < 1.2, `${g.before} → ${g.after}`);
    const first = g.causes[0]!;
    assert.deepEqual([first.field, first.before, first.after, first.moved, first.of], ['network.interface.speed_mbps', '1000', '100', 40, 40]);
    assert.match(first.text, /^link speed 1000 → 100 Mbit\/s on every booth \(40\)/);
  });

  test('(b) the day the upload server answered 20× slower: a one-day fleet-wide incident, time to first byte the cause, the server side', () => {
    assert.deepEqual(model.fleet.incidents.map((i) => i.day), [dayOf(truth.incidentDay)]);
    const i = model.fleet.incidents[0]!;
    assert.ok(i.typical / i.value > 3, `${i.value} vs ${i.typical}`);
    const first = i.causes[0]!;
    assert.equal(first.field, 'upload.timings.first_byte_ms');
    assert.equal(first.moved, first.of);
    assert.ok(Number(first.after) / Number(first.before) > 10, first.text);
    assert.match(first.text, /on every booth .*: the server side$/);
  });

  test('(c) the booth whose Wi-Fi faded over three weeks: a gradual decline within those weeks, Wi-Fi signal the cause', () => {
    const g = model.groups.find((x) => x.kind === 'gradual');
    assert.ok(g, JSON.stringify(model.verdict));
    assert.deepEqual([g.booths, g.direction], [[truth.faded], 'dropped']);
    assert.ok(g.day >= dayOf(truth.fadeFrom) && g.until! <= dayOf(truth.fadeUntil + 1), `${g.day} to ${g.until}`);
    assert.equal(g.causes[0]?.field, 'network.wifi.signal_dbm');
    assert.ok(Number(g.causes[0]!.after) < Number(g.causes[0]!.before) - 15, g.causes[0]!.text);
  });

  test('and nothing else: no fleet-wide change, two groups, one incident; aggregations only (2 + one request per change or incident)', () => {
    assert.deepEqual(model.fleet.changes, []);
    assert.equal(model.groups.length, 2, model.verdict.join('\n'));
    assert.equal(model.fleet.incidents.length, 1);
    assert.equal(model.requests, 5);
    assert.equal(model.booths, 200);
  });

  test('the terminal report: the verdict first, sparklines with the change marked, the causes table', async (t) => {
    const r = await runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '90d', '--until', dayOf(89)], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[2]!, /^The fleet's median upload speed held, but some booths changed:/);
    assert.match(lines[3]!, new RegExp(`^us-east: 40 booths dropped from \\d+\\.\\d+ to 0\\.9\\d MB/s on ${dayOf(truth.dropDay)} — link speed 1000 → 100 Mbit/s`));
    assert.ok(lines.some((l) => /^ {2}us-east \(40\) +[▁▂▃▄▅▆▇█·]+ /.test(l)), r.stdout);
    assert.ok(lines.some((l) => /^ +\^$/.test(l)), 'a caret under a change');
    assert.ok(lines.some((l) => /^ {2}link speed +1000 → 100 Mbit\/s +40 of 40 +0 %$/.test(l)), r.stdout);
    t.diagnostic(r.stdout);
  });

  test('--booth narrows the report to the named booths; --country to a country', async () => {
    const two = await report(fleet, '--booth', truth.dropped[0]!, '--booth', truth.faded);
    assert.equal(two.booths, 2);
    assert.deepEqual(two.groups.map((g) => g.booths).sort(), [[truth.dropped[0]], [truth.faded]].sort());
    const fr = await report(fleet, '--country', 'DE');
    assert.equal(fr.booths, 30);
    assert.deepEqual(fr.groups, []);
  });

  test('a short period is read per hour: 48 buckets for --since 48h, the incident day among them', async () => {
    const r = await runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '48h', '--until', dayOf(truth.incidentDay), '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as ReportModel;
    assert.equal(m.period.resolution, 'hour');
    assert.equal(m.fleet.series.length, 48);
    assert.equal(m.fleet.series[0]!.at, `${dayOf(truth.incidentDay - 1)}T00`);
    assert.ok(m.fleet.series.some((p) => p.images > 0));
  });
});

describe('report on the same fleet without events', { timeout: 600_000 }, () => {
  test('finds no change, no group and no incident', async () => {
    const { fleet, remove } = await seededFleet({ ...DEFAULT_FLEET, seed: 81, start: START, events: false });
    const m = await report(fleet).finally(remove);
    assert.deepEqual([m.fleet.changes, m.groups, m.fleet.incidents], [[], [], []], m.verdict.join('\n'));
    assert.deepEqual(m.verdict, ["No change in the fleet's upload speed in this period."]);
    assert.equal(m.requests, 2);
  });
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
  const out = JSON.parse(r.stdout) as ReportModel;
  assert.deepEqual(out.days.map((d) => d.at), [dayOf(0), dayOf(1), dayOf(2)]);
  assert.deepEqual(out.days.map((d) => [d.bookings, d.bookingMedianS, d.boothsSeen, d.rejections]), [
    [5, 180, {}, 0],
    [0, null, { US: 2, FR: 1 }, 2],
    [0, null, {}, 0],
  ]);
  const screen = await runCli(['report', '--url', clusterUrl(), '--prefix', fleet.prefix, '--since', '3d', '--until', dayOf(2)]);
  assert.match(screen.stdout, new RegExp(`Over the period: 5 bookings \\(median booking 3m\\), 2 images refused by the upload server; booths seen on ${dayOf(1)}: FR 1, US 2`));
});
