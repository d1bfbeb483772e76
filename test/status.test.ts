// `booth-agent status` (SPEC §8, issue 6) against real databases prepared in each state: the exit
// code, the JSON fields and the problem line; and the human screen, golden, with a fixed report.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { STATE_KEYS } from '../agent/buffer/state-keys.ts';
import { PID_FILE } from '../agent/pid-file.ts';
import { SpeedBaseline } from '../agent/sources/uploads/bookings.ts';
import { problemsOf, verdictOf } from '../agent/status/problems.ts';
import { renderStatus, speedBars } from '../agent/status/render.ts';
import type { StatusReport } from '../agent/status/report.ts';
import { runCli } from './support/cli.ts';
import { writeConfig, type TestConfig } from './support/config.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tryMount } from './support/mount.ts';
import { needs, tmpfs } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';

interface Json {
  verdict: string;
  problems: { severity: string; message: string }[];
  agent: { running: boolean; pid?: number };
  shipping: { queued: number; dead_letters: number; dropped_total: number; auth_problem: boolean; oldest_unsent_age_s: number };
  uploads: { rejected: number; failing_codes: Record<string, number>; today_count: number; recent_speeds_mb_s: number[]; baseline_mb_s?: number };
  network: { online?: boolean };
  clock: { skew_ms?: number };
}

/** A state directory as a daemon would leave it; `running` writes a pid file naming this (live) process. */
function prepare(t: TestContext, change: (b: DocumentBuffer) => void, opts: { running?: boolean; dir?: string } = { running: true }): TestConfig {
  const dir = opts.dir ?? tempDir(t);
  const cfg = writeConfig(dir, { opensearch: { url: 'https://search.example.com:9200' } });
  const buffer = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 256e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
  const now = Date.now();
  buffer.setState(STATE_KEYS.heartbeatLast, { at: now - 5000 });
  buffer.setState(STATE_KEYS.networkConnectivity, { online: true, since: now - 86_400_000 });
  buffer.setState(STATE_KEYS.networkLatest, { at: now - 10_000, online: true, interface: { name: 'eth0', type: 'wired', speed_mbps: 1000 }, probes: [{ role: 'upload', target: 'https://x', ok: true, connect_ms: 12 }] });
  change(buffer);
  buffer.close();
  if (opts.running) {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const procStart = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    fs.writeFileSync(path.join(cfg.stateDir, PID_FILE), JSON.stringify({ pid: process.pid, startedAt: now - 3_600_000, version: '0.1.0', procStart }));
  }
  return cfg;
}

async function status(cfg: TestConfig): Promise<{ code: number; json: Json; text: string }> {
  const j = await runCli(['status', '--config', cfg.file, '--json']);
  const h = await runCli(['status', '--config', cfg.file], { env: { NO_COLOR: '1' } });
  assert.equal(h.code, j.code, 'the screen and --json agree');
  return { code: j.code!, json: JSON.parse(j.stdout) as Json, text: h.stdout };
}

const upload = (b: DocumentBuffer, file: string, extra: Record<string, unknown>) =>
  b.putUpload({ path: `4711/${file}`, bookingId: '4711', size: 3_000_000, mtimeMs: 1, status: 'uploaded', attempts: 1, ...extra });

test('status: healthy → OK (0), with today\'s uploads and the speed line', async (t) => {
  const now = Date.now();
  const cfg = prepare(t, (b) => {
    for (let i = 0; i < 5; i++) upload(b, `IMG_${i}.jpg`, { speedMbS: 11 + i * 0.2, startedAt: now - 60_000 + i * 1000, endedAt: now - 59_700 + i * 1000 });
    b.setState(SpeedBaseline.stateKey, { speeds: [12, 12, 11.5], degraded: false });
  });
  const r = await status(cfg);
  assert.equal(r.code, 0, r.text);
  assert.equal(r.json.verdict, 'OK');
  assert.deepEqual(r.json.problems, []);
  assert.equal(r.json.uploads.today_count, 5);
  assert.deepEqual(r.json.uploads.recent_speeds_mb_s, [11, 11.2, 11.4, 11.6, 11.8]);
  assert.equal(r.json.uploads.baseline_mb_s, 12);
  assert.match(r.text, /^Agent +running, pid \d+/m);
  assert.match(r.text, /No problems\./);
});

const cases: { name: string; running?: boolean; change: (b: DocumentBuffer) => void; code: number; line: RegExp; check?: (j: Json) => void }[] = [
  { name: 'daemon not running → CRITICAL', running: false, change: () => {}, code: 2, line: /The agent is not running/, check: (j) => assert.equal(j.agent.running, false) },
  {
    name: 'offline for an hour → CRITICAL',
    change: (b) => b.setState(STATE_KEYS.networkConnectivity, { online: false, since: Date.now() - 2 * 3_600_000 }),
    code: 2,
    line: /Offline for 2h/,
    check: (j) => assert.equal(j.network.online, false),
  },
  {
    name: 'OpenSearch rejects the credentials → CRITICAL',
    change: (b) => {
      const e = { at: Date.now() - 60_000, message: 'OpenSearch answered 401 Unauthorized', status: 401 };
      b.setState(STATE_KEYS.shipLastError, e);
      b.setState(STATE_KEYS.shipAuthProblem, e);
    },
    code: 2,
    line: /OpenSearch rejects our credentials \(401\): check opensearch\.auth in .*config\.yaml/,
    check: (j) => assert.equal(j.shipping.auth_problem, true),
  },
  {
    name: 'dead letters → WARNING',
    change: (b) => {
      b.record([sampleDoc('booth.upload', 1)]);
      const [d] = b.lease(10, 1e6);
      b.settle({ dead: [{ seq: d!.seq, reason: 'mapper_parsing_exception', statusCode: 400 }] });
    },
    code: 1,
    line: /1 document was refused by OpenSearch and kept aside: booth-agent export shows them/,
    check: (j) => assert.equal(j.shipping.dead_letters, 1),
  },
  {
    name: 'files rejected with 404 → WARNING',
    change: (b) => {
      for (const f of ['a.jpg', 'b.jpg']) b.putUpload({ path: `B404/${f}`, bookingId: 'B404', size: 1, mtimeMs: 1, status: 'rejected', attempts: 1, httpStatus: 404 });
    },
    code: 1,
    line: /2 files refused by the upload server \(2 × HTTP 404\)/,
    check: (j) => assert.deepEqual(j.uploads.failing_codes, { '404': 2 }),
  },
  {
    name: 'buffer drops → WARNING',
    change: (b) => b.record([], (tx) => tx.countDropped({ 'booth.upload': 120 })),
    code: 1,
    line: /120 measurements were dropped to keep the buffer within its bounds/,
    check: (j) => assert.equal(j.shipping.dropped_total, 120),
  },
  {
    name: 'clock skew → WARNING',
    change: (b) => b.setState(STATE_KEYS.clockSkew, { value: -600_000, at: Date.now() }),
    code: 1,
    line: /The booth's clock is 10m behind: check time synchronisation/,
    check: (j) => assert.equal(j.clock.skew_ms, -600_000),
  },
];

for (const c of cases) {
  test(`status: ${c.name}`, async (t) => {
    const cfg = prepare(t, c.change, { running: c.running ?? true });
    const r = await status(cfg);
    assert.equal(r.code, c.code, r.text);
    assert.ok(r.json.problems.some((p) => c.line.test(p.message)), JSON.stringify(r.json.problems));
    assert.match(r.text.replace(/\n +/g, ' '), c.line, 'the same problem line on the screen');
    c.check?.(r.json);
  });
}

test('status: no state yet → UNKNOWN (3)', async (t) => {
  const cfg = writeConfig(tempDir(t), {});
  const r = await runCli(['status', '--config', cfg.file, '--json']);
  assert.equal(r.code, 3);
  assert.equal((JSON.parse(r.stdout) as Json).verdict, 'UNKNOWN');
});

for (const [size, code, line] of [
  ['600m', 1, /The disk is getting full: \d+ MB free/],
  ['150m', 2, /The disk is almost full: \d+ MB free/],
] as const) {
  test(`status: a state directory on a ${size} disk → ${code === 1 ? 'WARNING' : 'CRITICAL'}`, needs(tmpfs), async (t) => {
    const dir = fs.mkdtempSync('/tmp/booth-agent-lowdisk-');
    assert.ok(tryMount(dir, size));
    t.after(() => {
      execFileSync('umount', ['-l', dir]);
      fs.rmdirSync(dir);
    });
    const cfg = prepare(t, () => {}, { running: true, dir });
    const r = await status(cfg);
    assert.equal(r.code, code, r.text);
    assert.ok(r.json.problems.some((p) => line.test(p.message)), JSON.stringify(r.json.problems));
  });
}

test('status: low disk space is a warning, almost none critical', () => {
  const golden = goldenReport();
  const base = { ...golden, uploads: { ...golden.uploads, slow: false } };
  const low = problemsOf({ ...base, disk: { ...base.disk, free_bytes: 600e6 } }, { heartbeatIntervalMs: 30_000, configFile: 'c.yaml' });
  assert.deepEqual(low, [{ severity: 'warning', message: 'The disk is getting full: 600 MB free' }]);
  const none = problemsOf({ ...base, disk: { ...base.disk, free_bytes: 50e6 } }, { heartbeatIntervalMs: 30_000, configFile: 'c.yaml' });
  assert.equal(verdictOf(none), 'CRITICAL');
});

function goldenReport(): StatusReport {
  return {
    at: '2026-11-24T17:40:00.000Z',
    booth: { id: 'FB-1042', country: 'US' },
    agent: { running: true, pid: 812, since: '2026-11-24T09:14:00.000Z', version: '0.1.0' },
    shipping: { configured: true, target: 'search.example.com:9200', last_success: '2026-11-24T17:39:48.000Z', queued: 3, oldest_unsent_age_s: 4, dead_letters: 0, dropped_total: 0, auth_problem: false },
    heartbeat: { last: '2026-11-24T17:39:46.000Z' },
    uploads: {
      pending: 2, failing: 0, rejected: 0, failing_codes: {}, not_uploaded: {}, last_file: '4712/IMG_0042.jpg', last_speed_mb_s: 0.95, last_at: '2026-11-24T17:37:00.000Z',
      today_count: 389, today_bytes: 1_300_000_000, missed_by_watcher: 0, stale: [], recent_speeds_mb_s: [11.8, 12.1, 12.4, 11.9, 12, 0.9, 0.95, 0.92], baseline_mb_s: 12, slow: true,
    },
    network: {
      online: true, since: '2026-11-20T08:00:00.000Z', sampled_at: '2026-11-24T17:39:30.000Z',
      interface: { name: 'wlan0', type: 'wireless', mtu: 1500, operstate: 'up' }, wifi: { ssid: 'Venue-Guest', signal_dbm: -78, quality: 46 },
      probes: [{ role: 'gateway', target: '192.168.1.1', ok: true, rtt_ms: 4.2, loss_pct: 0 }, { role: 'upload', target: 'https://fulfil.example.com', ok: true, dns_ms: 12, connect_ms: 88, tls_ms: 95 }],
    },
    disk: { database_bytes: 1_200_000, max_bytes: 256e6, free_bytes: 12.3e9 },
    clock: { skew_ms: 800 },
  };
}

test('status screen, golden: a slow booth on weak Wi-Fi, fixed clock, no colour, 80 columns', () => {
  const report = goldenReport();
  const problems = problemsOf(report, { heartbeatIntervalMs: 30_000, configFile: '/etc/booth-agent/config.yaml' });
  const screen = renderStatus(report, problems, verdictOf(problems), { color: false });
  assert.equal(
    screen,
    [
      'booth FB-1042 (US) · 2026-11-24 17:40 UTC                              WARNING',
      '',
      'Agent      running, pid 812, since 2026-11-24 09:14 UTC (8h 26m), v0.1.0',
      'Shipping   to search.example.com:9200: last success 12s ago',
      '           3 queued, oldest 4s; 0 dead letters',
      'Heartbeat  last 14s ago',
      'Uploads    last 4712/IMG_0042.jpg at 0.95 MB/s, 3m ago',
      '           today 389 files, 1.3 GB; 2 pending, 0 failing',
      'Speed      ▄▅▅▄▅▁▁▁  usual 12 MB/s',
      'Network    online; wlan0 (wireless), "Venue-Guest" -78 dBm',
      '           gateway 4.2 ms · upload 195 ms',
      'Disk       database 1.2 MB of 256 MB; 12.3 GB free',
      'Clock      1 s off the servers\' clocks',
      '',
      'Problems:',
      '  ! Uploads are slow: 0.95 MB/s against this booth\'s usual 12 MB/s',
      '',
    ].join('\n'),
  );
  for (const line of screen.split('\n')) assert.ok([...line].length <= 80, `fits 80 columns: ${line}`);
  assert.ok(renderStatus(report, problems, 'WARNING', { color: true }).includes('\x1b[33m'), 'colour when asked');
  assert.equal(speedBars([0, 6, 12, 24], 12), '▁▃▅█', 'scaled to twice the baseline: the baseline sits mid-height');
});

test('each cause in its own words: an empty file, a vanished one, a 401 (CRITICAL: a bad upload token), a 404, a 503 — and the screen counts what the JSON counts', async (t) => {
  const cfg = prepare(t, (b) => {
    upload(b, 'empty.jpg', { status: 'rejected', lastError: 'empty file', nextAttemptAt: 8.64e15 });
    upload(b, 'gone.jpg', { status: 'rejected', lastError: 'file disappeared', nextAttemptAt: 8.64e15 });
    upload(b, 'IMG_0001.jpg', { status: 'rejected', httpStatus: 401, lastError: 'HTTP 401' });
    upload(b, 'IMG_0002.jpg', { status: 'rejected', httpStatus: 404, lastError: 'HTTP 404' });
    upload(b, 'IMG_0003.jpg', { status: 'failing', httpStatus: 503, lastError: 'HTTP 503' });
  });
  const s = await status(cfg);
  assert.equal(s.code, 2, s.text);
  const u = s.json['uploads'] as unknown as { failing: number; rejected: number; failing_codes: Record<string, number>; not_uploaded: Record<string, number> };
  assert.deepEqual([u.failing, u.rejected], [1, 4]);
  assert.deepEqual(u.failing_codes, { '401': 1, '404': 1, '503': 1 });
  assert.deepEqual(u.not_uploaded, { 'empty file': 1, 'file disappeared': 1 });
  assert.match(s.text, /1 failing, 2 refused, 2 not uploaded/);
  // Problems as one line each (the screen wraps them at 80 columns).
  const flat = s.text.replace(/\n {3,}/g, ' ');
  assert.match(flat, /✗ The upload server refuses our credentials \(1 × HTTP 401\): check the token in uploads\.header_files/);
  assert.match(flat, /! 1 file refused by the upload server \(1 × HTTP 404\): check that the booking exists/);
  assert.match(flat, /! 1 file failing to upload \(1 × HTTP 503\); retried automatically/);
  assert.match(flat, /! 2 files not uploaded: 1 × empty file, 1 × file disappeared/);
  assert.doesNotMatch(flat, /refused by the upload server \([^)]*(network|empty)/);
});
