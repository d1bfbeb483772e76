// `booth-agent report --html` (agent/report/html/): one self-contained page. Checked as a string
// (every section, no reference to anything outside the file, the world's strings escaped, empty and
// hourly models) and in a real browser, Debian's headless chromium with every host name made
// unresolvable: it exits 0, draws a 1200-pixel-wide picture, logs no console message, requests
// nothing, and its DOM has every section, the change markers and no script. A control page that
// does log and does request shows that those two checks see what they are looking for.
// REPORT_PNG_OUT=path keeps the screenshot (the README's picture).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { Cause, ReportDay, ReportGroup, ReportModel, SpeedPoint } from '../agent/report/model.ts';
import { renderHtml } from '../agent/report/html/page.ts';
import { chromium, needs, onPath } from './support/needs.ts';
import { mulberry32 } from './support/random.ts';
import { tempDir } from './support/tmp.ts';

const SECTIONS = ['period', 'verdict', 'fleet', 'groups', 'causes', 'incidents', 'days'];
const HOSTILE = '<script>alert(1)</script>';
const HOSTILE_TEXT = '&lt;script&gt;alert(1)&lt;/script&gt;';
/** The cluster's address as the operator typed it: a quote and markup in it must stay text. */
const CLUSTER = 'https://search.example.net:9200/?x="quoted"&y=<b>';
const CLUSTER_TEXT = 'https://search.example.net:9200/?x=&quot;quoted&quot;&amp;y=&lt;b&gt;';

// ---- a realistic model ----------------------------------------------------------------------

const START = Date.UTC(2026, 4, 19);
const dayOf = (i: number) => new Date(START + i * 86_400_000).toISOString().slice(0, 10);
const DROP = 60; // 2026-07-18
const INCIDENT = 40; // 2026-06-28
const GRADUAL = [25, 33]; // 2026-06-13 to 2026-06-21
const NO_UPLOADS = 15; // a day the whole fleet was closed

/**
 * 90 days of a 70-booth fleet: 40 booths in us-east drop from 12 to 0.9 MB/s on 2026-07-18 (one of
 * them with a hostile id, and a hostile region), 8 in eu-west slide from 10 to 4 MB/s over nine
 * days, the others hold; the whole fleet has a one-day outage on 2026-06-28 and no uploads at all on
 * 2026-06-03.
 */
function fleetModel(): ReportModel {
  const rnd = mulberry32(18);
  const noisy = (v: number) => v * (1 + (rnd() * 2 - 1) * 0.08);
  const booths = [
    ...Array.from({ length: 40 }, (_, k) => ({ id: k === 7 ? HOSTILE : `us-east-${String(k + 1).padStart(3, '0')}`, level: (i: number) => (i < DROP ? 12 : 0.9) })),
    ...Array.from({ length: 8 }, (_, k) => ({ id: `eu-west-${k + 1}`, level: (i: number) => 10 * 0.4 ** Math.min(1, Math.max(0, (i - GRADUAL[0]! + 1) / (GRADUAL[1]! - GRADUAL[0]! + 2))) })),
    ...Array.from({ length: 22 }, (_, k) => ({ id: `us-west-${k + 1}`, level: () => 11 })),
  ];
  const speed = booths.map((b) => Array.from({ length: 90 }, (_, i) => (i === NO_UPLOADS ? null : noisy(b.level(i)) * (i === INCIDENT ? 0.03 : 1))));
  const series: SpeedPoint[] = Array.from({ length: 90 }, (_, i) => {
    const today = speed.map((s) => s[i]).filter((v): v is number => v !== null && v !== undefined);
    return { at: dayOf(i), images: today.length * 14, median: today.length ? quantile(today, 0.5) : null, p10: today.length ? quantile(today, 0.1) * 0.8 : null };
  });
  const seriesOf = (k: number) => ({ booth: booths[k]!.id, points: speed[k]!.map((v, i): SpeedPoint => ({ at: dayOf(i), images: v === null ? 0 : 14, median: v, p10: v === null ? null : v * 0.7 })) });
  const usEast: ReportGroup = {
    day: dayOf(DROP),
    kind: 'step',
    direction: 'dropped',
    before: 12,
    after: 0.9,
    booths: booths.slice(0, 40).map((b) => b.id),
    where: ['us-east', HOSTILE],
    text: `us-east, ${HOSTILE}: 40 booths dropped from 12.0 to 0.90 MB/s on ${dayOf(DROP)}`,
    causes: [
      cause('network.interface.speed_mbps', 'link speed', 'Mbit/s', '1000', '100', 40, 40, 0.02),
      cause('network.dns.server', 'DNS server', '', '10.0.0.2', '192.168.1.1', 38, 40, 0.05),
      cause('agent.version', 'agent version', '', '1.4.2', '1.5.0', 40, 40, 0.97),
    ],
    series: Array.from({ length: 24 }, (_, k) => seriesOf(k)),
  };
  const euWest: ReportGroup = {
    day: dayOf(GRADUAL[0]!),
    until: dayOf(GRADUAL[1]!),
    kind: 'gradual',
    direction: 'dropped',
    before: 10,
    after: 4,
    booths: booths.slice(40, 48).map((b) => b.id),
    where: ['eu-west'],
    text: `eu-west: 8 booths dropped from 10.0 to 4.00 MB/s gradually from ${dayOf(GRADUAL[0]!)}`,
    causes: [cause('network.wifi.signal_dbm', 'Wi-Fi signal', 'dBm', '-52', '-71', 7, 8, 0.04)],
    series: Array.from({ length: 8 }, (_, k) => seriesOf(40 + k)),
  };
  const days = Array.from({ length: 90 }, (_, i) => day(i, series[i]!, rnd));
  const incident = series[INCIDENT]!.median!;
  const typical = (series[INCIDENT - 1]!.median! + series[INCIDENT + 1]!.median!) / 2;
  const fleetBefore = quantile(series.slice(0, DROP).flatMap((p) => (p.median === null || p.at === dayOf(INCIDENT) ? [] : [p.median])), 0.5);
  const fleetAfter = quantile(series.slice(DROP).flatMap((p) => (p.median === null ? [] : [p.median])), 0.5);
  return {
    cluster: CLUSTER,
    prefix: 'booth',
    period: { since: dayOf(0), until: dayOf(89), resolution: 'day' },
    generatedAt: '2026-08-17T06:12:09Z',
    requests: 3,
    booths: booths.length,
    verdict: [
      `Upload speed dropped on ${dayOf(DROP)}: ${fleetBefore.toFixed(1)} → ${fleetAfter.toFixed(2)} MB/s (fleet median per day)`,
      `${usEast.text}; probably link speed 1000 → 100 Mbit/s on 40 of 40 booths (2 % elsewhere)`,
      `${euWest.text}; probably Wi-Fi signal -52 → -71 dBm on 7 of 8 booths`,
      `Incident on ${dayOf(INCIDENT)}: the fleet's median was ${incident.toFixed(2)} MB/s for a day (usually ${typical.toFixed(1)})`,
    ],
    fleet: {
      series,
      changes: [{ kind: 'step', day: dayOf(DROP), before: fleetBefore, after: fleetAfter }],
      incidents: [
        {
          day: dayOf(INCIDENT),
          value: incident,
          typical,
          causes: [cause('upload.http.status', 'upload server answer', '', '201', '503', 66, 70, 0)],
          text: `Incident on ${dayOf(INCIDENT)}: the fleet's median was ${incident.toFixed(2)} MB/s for a day (usually ${typical.toFixed(1)})`,
        },
      ],
    },
    groups: [usEast, euWest],
    days,
    summary: `Over the period: ${days.reduce((n, d) => n + d.bookings, 0)} bookings (median day 1m 52s), ${days.reduce((n, d) => n + d.rejections, 0)} images refused by the upload server; booths seen on ${dayOf(89)}: US 62, DE 8`,
  };
}

function day(i: number, p: SpeedPoint, rnd: () => number): ReportDay {
  const weekend = [0, 6].includes(new Date(START + i * 86_400_000).getUTCDay());
  const closed = i === NO_UPLOADS;
  return {
    at: p.at,
    images: p.images,
    speedMedian: p.median,
    speedP10: p.p10,
    bookings: closed ? 0 : Math.round((weekend ? 520 : 300) * (0.9 + rnd() * 0.2)),
    bookingMedianS: closed ? null : 100 + rnd() * 30,
    boothsSeen: closed ? {} : { US: 62, DE: 8, [HOSTILE]: 1 },
    rejections: i === INCIDENT ? 180 : Math.floor(rnd() * 3),
  };
}

function cause(field: string, label: string, unit: string, before: string, after: string, moved: number, of: number, elsewhere: number): Cause {
  const text = `${label} ${before} → ${after}${unit ? ` ${unit}` : ''} on ${moved} of ${of} booths (${Math.round(elsewhere * 100)} % elsewhere)`;
  return { field, label, unit, before, after, moved, of, elsewhere, score: moved / of - elsewhere, text };
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** A report with nothing in it: no uploads, no days, no verdict. */
function emptyModel(resolution: 'day' | 'hour' = 'day'): ReportModel {
  return {
    cluster: 'http://localhost:9200',
    prefix: 'booth',
    period: { since: '2026-08-01', until: '2026-08-03', resolution },
    generatedAt: '2026-08-04T00:00:00Z',
    requests: 2,
    booths: 0,
    verdict: [],
    fleet: { series: [], changes: [], incidents: [] },
    groups: [],
    days: [],
    summary: '',
  };
}

/** Three days by the hour: a step at 2026-08-02T14, one hour's outage, values missing overnight. */
function hourModel(): ReportModel {
  const hours = Array.from({ length: 72 }, (_, h) => new Date(Date.UTC(2026, 7, 1, h)).toISOString().slice(0, 13));
  const series = hours.map((at, h): SpeedPoint => {
    const night = h % 24 < 6;
    const v = (h < 38 ? 11 : 2.5) * (h === 20 ? 0.05 : 1);
    return { at, images: night ? 0 : 30, median: night ? null : v, p10: night ? null : v * 0.6 };
  });
  return {
    ...emptyModel('hour'),
    booths: 12,
    verdict: ['Upload speed dropped on 2026-08-02T14: 11.0 → 2.50 MB/s (fleet median per hour)'],
    fleet: { series, changes: [{ kind: 'step', day: '2026-08-02T14', before: 11, after: 2.5 }], incidents: [{ day: hours[20]!, value: 0.55, typical: 11, causes: [], text: 'Incident at 2026-08-01T20' }] },
    days: hours.map((at, h) => ({ at, images: series[h]!.images, speedMedian: series[h]!.median, speedP10: series[h]!.p10, bookings: 3, bookingMedianS: 110, boothsSeen: { US: 12 }, rejections: 0 })),
  };
}

// ---- the string -----------------------------------------------------------------------------

const count = (s: string, part: string) => s.split(part).length - 1;
const literally = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function assertSections(page: string): void {
  for (const id of SECTIONS) assert.equal(count(page, `<section id="${id}">`), 1, `section #${id}, once`);
  assert.ok(SECTIONS.every((id) => new RegExp(`<section id="${id}"><h2>[^<]+</h2>`).test(page)), 'every section opens with its heading');
  assert.doesNotMatch(page, /NaN|Infinity|undefined/, 'no number or value that was not there');
}

test('the page: every section once with its heading, one change marker per fleet change and per group change day, one incident marker per incident', () => {
  const page = renderHtml(fleetModel());
  assert.match(page, /^<!doctype html>\n<html lang="en">/);
  assert.match(page, /<\/html>\n$/);
  assertSections(page);
  const fleet = page.slice(page.indexOf('<section id="fleet">'), page.indexOf('<section id="groups">'));
  // One fleet change (2026-07-18) and two group days (2026-07-18, 2026-06-13): three markers.
  assert.equal(count(fleet, 'class="change-marker '), 3);
  assert.equal(count(fleet, 'class="change-marker fleet-change"'), 1);
  assert.equal(count(fleet, 'class="change-marker group-change"'), 2);
  assert.equal(count(fleet, 'class="incident-marker"'), 1);
  assert.equal(count(fleet, 'class="transition"'), 1, 'the gradual group\'s nine days are shaded');
  // Small multiples: the 24 us-east booths the model carries and the 8 of eu-west, each with its change day.
  const groups = page.slice(page.indexOf('<section id="groups">'), page.indexOf('<section id="causes">'));
  assert.equal(count(groups, '<div class="multiple">'), 32);
  assert.equal(count(groups, 'class="booth-change"'), 32);
  assert.match(groups, /\(24 of 40 shown\)/);
  // Causes: a table per group and per incident, with its before → after, booths and elsewhere.
  const causes = page.slice(page.indexOf('<section id="causes">'), page.indexOf('<section id="incidents">'));
  assert.equal(count(causes, '<table class="causes">'), 3);
  assert.match(causes, /link speed<br><code>network\.interface\.speed_mbps<\/code><\/td><td>1000 Mbit\/s &rarr; 100 Mbit\/s<\/td><td class="num">40 of 40<span class="bar" style="width:60px"><\/span><\/td><td class="num">2 %<\/td>/);
  assert.match(causes, /upload server answer.*201 &rarr; 503.*66 of 70/s);
  assert.match(page.slice(page.indexOf('<section id="incidents">')), /<td>2026-06-28<\/td><td class="num">0\.\d\d<\/td><td class="num">1\d\.\d<\/td><td class="num">÷\d\d\.\d<\/td>/);
  assert.match(page.slice(page.indexOf('<section id="days">')), /<details><summary>Every day \(90\)<\/summary>/);
});

test('no reference to anything outside the file: no script, stylesheet, image, frame or font; no "//" but the SVG namespace and the cluster\'s address as text', () => {
  const page = renderHtml(fleetModel());
  assert.doesNotMatch(page, /<(script|link|img|iframe|object|embed|image|use|audio|video|source|base|form)\b/i);
  assert.doesNotMatch(page, /\s(src|href|xlink:href|srcset|action|poster|background)\s*=/i);
  assert.doesNotMatch(page, /@import|url\s*\(|@font-face/i);
  assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
  const rest = page.replaceAll('xmlns="http://www.w3.org/2000/svg"', '').replaceAll(CLUSTER_TEXT, '');
  assert.ok(page.includes(CLUSTER_TEXT), 'the cluster is shown, escaped');
  assert.equal(rest.match(/.{0,40}\/\/.{0,40}/g), null, 'no other "//"');
  assert.doesNotMatch(rest, /https?:/);
});

test('the world\'s strings are text: a booth id and a region "<script>…", a cluster address with quotes', () => {
  const page = renderHtml(fleetModel());
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /"quoted"|<b>/);
  assert.ok(count(page, HOSTILE_TEXT) >= 6, 'the booth id (label, title, list), the region (texts, verdict), the country');
  assert.match(page, new RegExp(literally(`<div class="booth" title="${HOSTILE_TEXT}">${HOSTILE_TEXT}</div>`)));
  assert.match(page, /<title>Upload speed — https:\/\/search\.example\.net:9200\/\?x=&quot;quoted&quot;&amp;y=&lt;b&gt; — 2026-05-19 to 2026-08-16<\/title>/);
});

test('an empty report: valid page, every section, a sentence in each saying there is nothing, no chart', () => {
  const page = renderHtml(emptyModel());
  assertSections(page);
  assert.equal(count(page, '<p class="muted nothing">'), 6, 'one sentence in each section but the period, which is there');
  assert.match(page, /No successful uploads in this period: there is nothing to judge\./);
  assert.doesNotMatch(page, /<svg[^>]*class="chart"/);
  assert.doesNotMatch(page, /change-marker|incident-marker/);
});

test('by the hour: the fleet chart on an hour axis (midnights named, hours between), the marker on its hour', () => {
  const page = renderHtml(hourModel());
  assertSections(page);
  assert.match(page, /per hour/);
  assert.equal(count(page, 'class="change-marker fleet-change"'), 1);
  assert.equal(count(page, 'class="incident-marker"'), 1);
  assert.match(page, />Aug 2<\/text>/);
  assert.match(page, />12:00<\/text>/);
  assert.match(page, />Aug 2 14:00: fleet 11\.0 → 2\.50 MB\/s<\/text>/);
  assert.match(page, /<details><summary>Every hour \(72\)<\/summary>/);
});

// ---- in a real browser ----------------------------------------------------------------------

const WIDTH = 1200;
/** The realistic report's height, so that the README's picture has no empty space below it. */
const HEIGHT = 2900;
const TIMEOUT_MS = 60_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The browser's NetLog: every request it made. */
  netLog: string;
}

/**
 * Headless chromium on `args`, in a fresh profile, with every host name unresolvable, killed
 * (with the processes it started) when it outlives the timeout.
 */
function runChromium(t: TestContext, args: string[]): Promise<Run> {
  const dir = tempDir(t, 'booth-agent-chromium-');
  const netLog = path.join(dir, 'net-log.json');
  const child = spawn(
    onPath('chromium')!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      `--window-size=${WIDTH},${HEIGHT}`,
      '--force-device-scale-factor=1',
      '--no-first-run',
      '--disable-extensions',
      '--enable-logging=stderr',
      '--v=0',
      '--host-resolver-rules=MAP * ~NOTFOUND',
      `--user-data-dir=${path.join(dir, 'profile')}`,
      `--log-net-log=${netLog}`,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // Its own process group: the renderer and GPU processes go with it.
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`chromium did not finish within ${TIMEOUT_MS} ms\n${stderr.slice(-2000)}`));
    }, TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, netLog: fs.existsSync(netLog) ? fs.readFileSync(netLog, 'utf8') : '' });
    });
  });
}

/**
 * The console messages the page caused. This chromium logs them as `INFO:CONSOLE:<line>] "…"`
 * without their level, so any is counted: the report has no script, and what the browser itself
 * writes to the console (a refusal by the Content-Security-Policy, a failed load) is a fault.
 */
function consoleLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /:CONSOLE[:(]/.test(line) || /Uncaught/.test(line));
}

/**
 * The requests the page made, from the NetLog. The browser's own (update checks and the like, all
 * failing here) have no initiator; the page's have its file:// origin.
 */
function pageRequests(netLog: string): string[] {
  const log = JSON.parse(netLog) as { constants: { logEventTypes: Record<string, number> }; events: { type: number; params?: { url?: string; initiator?: string; network_isolation_key?: string } }[] };
  const start = log.constants.logEventTypes['URL_REQUEST_START_JOB'];
  assert.ok(start !== undefined, 'the NetLog names its request event');
  return log.events
    .filter((e) => e.type === start && e.params?.url !== undefined)
    .filter((e) => e.params!.initiator !== 'not an origin' || e.params!.network_isolation_key?.includes('file://'))
    .map((e) => e.params!.url!);
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function writePage(t: TestContext, name: string, content: string): string {
  const file = path.join(tempDir(t, 'booth-agent-report-'), name);
  fs.writeFileSync(file, content);
  return file;
}

describe('in headless chromium', { concurrency: 3 }, () => {
  test('the screenshot: exit 0, a PNG 1200 pixels wide with something drawn, no console message, no request', { timeout: TIMEOUT_MS + 10_000, ...needs(chromium) }, async (t) => {
    const page = writePage(t, 'report.html', renderHtml(fleetModel()));
    const png = path.join(path.dirname(page), 'report.png');
    const run = await runChromium(t, [`--screenshot=${png}`, `file://${page}`]);
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const bytes = fs.readFileSync(png);
    assert.deepEqual(pngSize(bytes), { width: WIDTH, height: HEIGHT });
    // A blank page of this size is a few KB; the charts, tables and text make far more.
    assert.ok(bytes.length > 100_000, `the picture has content (${bytes.length} bytes)`);
    assert.deepEqual(consoleLines(run.stderr), []);
    assert.deepEqual(pageRequests(run.netLog), []);
    const out = process.env['REPORT_PNG_OUT'];
    if (out) fs.copyFileSync(png, out);
  });

  test('the DOM: every section, three change markers and the incident, the hostile strings as text and no script', { timeout: TIMEOUT_MS + 10_000, ...needs(chromium) }, async (t) => {
    const page = writePage(t, 'report.html', renderHtml(fleetModel()));
    const run = await runChromium(t, ['--dump-dom', `file://${page}`]);
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const dom = run.stdout;
    for (const id of SECTIONS) assert.match(dom, new RegExp(`<section id="${id}"><h2>`), `#${id} in the DOM`);
    assert.equal(count(dom, 'class="change-marker '), 3);
    assert.equal(count(dom, 'class="incident-marker"'), 1);
    assert.equal(count(dom, '<div class="multiple">'), 32);
    // Had the id reached the parser as markup, it would be a <script> element here.
    assert.doesNotMatch(dom, /<script/i);
    assert.match(dom, new RegExp(`<div class="booth" title="[^"]*">${literally(HOSTILE_TEXT)}</div>`));
    assert.deepEqual(consoleLines(run.stderr), []);
  });

  test('the control: a page that logs and loads an image by URL is caught by both checks', { timeout: TIMEOUT_MS + 10_000, ...needs(chromium) }, async (t) => {
    const page = writePage(t, 'control.html', '<!doctype html><title>control</title><img src="https://images.example.net/x.png"><script>console.error("control page")</script>');
    const run = await runChromium(t, ['--dump-dom', `file://${page}`]);
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    assert.equal(consoleLines(run.stderr).filter((l) => l.includes('control page')).length, 1, run.stderr.slice(-2000));
    assert.deepEqual(pageRequests(run.netLog), ['https://images.example.net/x.png']);
  });
});
