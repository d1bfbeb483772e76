// `booth-agent record` and `booth-agent export` (SPEC §3), run as real child processes against a
// real config file and a real SQLite buffer.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import type { BoothDocument } from '../shared/documents/schema.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { AGENT_VERSION } from '../shared/version.ts';
import { collect, runCli, startCli, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

type Json = Record<string, unknown>;

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ID_A = '0190a5e2-1234-7abc-8def-0123456789ab';
const ID_B = '0190a5e2-1234-7abc-8def-0123456789ac';

const upload = (i: number, extra: Json = {}): Json => ({
  event: { dataset: 'booth.upload' },
  booking: { id: '4711' },
  file: { name: `IMG_${String(i).padStart(5, '0')}.jpg`, size: 3_456_789 },
  upload: { outcome: 'success', bytes: 3_456_789, duration_ms: 288.1, speed_mb_s: 11.99, attempt: 1, timings: { dns_ms: 1.2, total_ms: 301.5 } },
  http: { response: { status_code: 201 } },
  ...extra,
});
const booking = (id: string): Json => ({ event: { dataset: 'booth.booking' }, booking: { id, count_images: 389, size_bytes: 1_300_000_000, speed_in_mb_s: 11.2 } });
const network = (rx: number): Json => ({ event: { dataset: 'booth.network' }, network: { online: true, rx_bytes_per_s: rx } });
const heartbeat = (): Json => ({ event: { dataset: 'booth.heartbeat' }, agent: { uptime_s: 60 }, network: { online: true } });
const agentEvent = (message: string): Json => ({ event: { dataset: 'booth.agent', action: 'speed_degraded' }, message });

const ndjson = (lines: (Json | string)[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

/** Every document in the buffer under `stateDir`, as stored. */
function buffered(stateDir: string): BoothDocument[] {
  const buf = DocumentBuffer.open({ stateDir, maxSizeBytes: 256e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
  try {
    return [...buf.documents()].map((d) => JSON.parse(d.body) as BoothDocument);
  } finally {
    buf.close();
  }
}

function queued(stateDir: string): number {
  const buf = DocumentBuffer.open({ stateDir, maxSizeBytes: 256e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
  try {
    return buf.stats().queued;
  } finally {
    buf.close();
  }
}

const parseNdjson = (out: string): BoothDocument[] => out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as BoothDocument);

const fileNames = (docs: BoothDocument[]) => docs.filter((d) => d.event.dataset === 'booth.upload').map((d) => (d['file'] as { name: string }).name).sort();

// ── record ───────────────────────────────────────────────────────────────────────────────────

test('record: valid NDJSON on stdin is recorded, with the common fields filled from the config', async (t) => {
  const cfg = writeConfig(tempDir(t), { booth: { region: 'us-east', labels: { model: 'mirror-2', venue: 'hall-b' } } });
  const given = upload(1, { '@timestamp': '2025-03-14T09:26:53.589Z' });
  const lines = [given, booking('B1'), network(1234), heartbeat(), agentEvent('slow')];
  const before = Date.now();
  const r = await runCli(['record', '--config', cfg.file], { input: ndjson(lines) });
  const after = Date.now();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /recorded 5 documents/);

  const docs = buffered(cfg.stateDir);
  assert.equal(docs.length, 5);
  assert.deepEqual(docs.map((d) => d.event.dataset).sort(), ['booth.agent', 'booth.booking', 'booth.heartbeat', 'booth.network', 'booth.upload']);
  for (const d of docs) {
    assert.deepEqual(d.booth, { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2', venue: 'hall-b' } });
    assert.equal(d.agent?.version, AGENT_VERSION);
    assert.match(d.event.id, UUID_V7);
    const v = validateDocument(d);
    assert.ok(v.ok, v.ok ? '' : v.reason);
  }
  assert.equal(new Set(docs.map((d) => d.event.id)).size, 5, 'each document has its own event.id');
  const up = docs.find((d) => d.event.dataset === 'booth.upload')!;
  assert.equal(up['@timestamp'], '2025-03-14T09:26:53.589Z', 'a given @timestamp is kept');
  assert.deepEqual(up['upload'], given['upload'], 'the measurement fields are stored as given');
  assert.deepEqual(up['booking'], { id: '4711' });
  for (const d of docs.filter((x) => x !== up)) {
    const ts = Date.parse(d['@timestamp']);
    assert.match(d['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(ts >= before - 1000 && ts <= after + 1000, `@timestamp ${d['@timestamp']} is the time of recording`);
  }
  const hb = docs.find((d) => d.event.dataset === 'booth.heartbeat')!;
  assert.deepEqual(hb.agent, { uptime_s: 60, version: AGENT_VERSION }, 'given agent fields are kept next to the filled version');
  assert.equal(queued(cfg.stateDir), 5);
});

test('record --file F reads the file (not stdin); a config without region or labels adds none', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  const file = path.join(dir, 'measurements.ndjson');
  fs.writeFileSync(file, ndjson([upload(1), upload(2), booking('B2')]));
  const r = await runCli(['record', '--file', file, '--config', cfg.file], { input: 'this is not JSON and must not be read\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /recorded 3 documents/);
  const docs = buffered(cfg.stateDir);
  assert.equal(docs.length, 3);
  assert.deepEqual(fileNames(docs), ['IMG_00001.jpg', 'IMG_00002.jpg']);
  for (const d of docs) {
    assert.deepEqual(d.booth, { id: 'FB-1042', country: 'US' });
    assert.equal(d.agent?.version, AGENT_VERSION);
    assert.match(d.event.id, UUID_V7);
  }

  // Windows line endings and no newline at the end, via the short option -f.
  const crlf = path.join(dir, 'crlf.ndjson');
  fs.writeFileSync(crlf, [upload(3), upload(4)].map((l) => JSON.stringify(l)).join('\r\n'));
  const r2 = await runCli(['record', '-f', crlf, '--config', cfg.file]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(fileNames(buffered(cfg.stateDir)), ['IMG_00001.jpg', 'IMG_00002.jpg', 'IMG_00003.jpg', 'IMG_00004.jpg']);

  // A file that does not exist: a failure that names it, nothing recorded.
  const missing = path.join(dir, 'nope.ndjson');
  const r3 = await runCli(['record', '--file', missing, '--config', cfg.file]);
  assert.notEqual(r3.code, 0);
  assert.notEqual(r3.code, 65);
  assert.ok(r3.stderr.includes(missing), r3.stderr);
  assert.equal(buffered(cfg.stateDir).length, 5);
});

test('record: empty input records nothing and exits 0', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const r = await runCli(['record', '--config', cfg.file], { input: '' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /recorded 0 documents/);
  assert.equal(buffered(cfg.stateDir).length, 0);
  const blank = await runCli(['record', '--config', cfg.file], { input: '\n\n   \n' });
  assert.equal(blank.code, 0, blank.stderr);
  assert.equal(blank.stderr, '');
});

test('record: invalid lines are reported with line number and reason (exit 65), every valid line is recorded', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const lines: (Json | string)[] = [
    upload(1), //                                                 1 valid
    '', //                                                        2 blank: skipped
    '{"event": {"dataset": "booth.upload"', //                    3 bad JSON
    '[1, 2, 3]', //                                               4 JSON array
    network(10), //                                               5 valid
    { event: { dataset: 'booth.photos' }, photo: 1 }, //          6 unknown dataset
    upload(7, { upload: { outcome: 'success', speed_mb_s: 'fast' } }), // 7 wrong type
    '   \t', //                                                   8 blank: skipped
    booking('B9'), //                                             9 valid
    upload(10, { upload: { outcome: 'success', speed_mbs: 3 } }), // 10 typo
    { event: { dataset: 'booth.upload' }, file: { name: 'x.jpg' }, upload: { outcome: 'success' } }, // 11 no booking.id
    '"just a string"', //                                         12 JSON, not an object
    agentEvent('valid 13'), //                                    13 valid
    upload(14), //                                                14 valid
    'null', //                                                    15 JSON null
  ];
  const r = await runCli(['record', '--config', cfg.file], { input: ndjson(lines) });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stdout, /recorded 5 documents; 8 invalid lines/);

  const reported = r.stderr.trimEnd().split('\n');
  const byLine = new Map(reported.map((l) => [Number(/^line (\d+): /.exec(l)?.[1]), l]));
  assert.deepEqual([...byLine.keys()].sort((a, b) => a - b), [3, 4, 6, 7, 10, 11, 12, 15], r.stderr);
  assert.equal(reported.length, 8, 'one report per invalid line, nothing else');
  assert.match(byLine.get(3)!, /^line 3: .*JSON/);
  assert.match(byLine.get(4)!, /^line 4: .*object/);
  assert.match(byLine.get(6)!, /^line 6: event\.dataset: .*"booth\.photos"/);
  assert.match(byLine.get(7)!, /^line 7: upload\.speed_mb_s: expected number, got "fast"/);
  assert.match(byLine.get(10)!, /^line 10: upload\.speed_mbs: unknown field/);
  assert.match(byLine.get(11)!, /^line 11: booking: expected object/);
  assert.match(byLine.get(12)!, /^line 12: .*object/);
  assert.match(byLine.get(15)!, /^line 15: .*object/);

  const docs = buffered(cfg.stateDir);
  assert.equal(docs.length, 5);
  assert.deepEqual(fileNames(docs), ['IMG_00001.jpg', 'IMG_00014.jpg']);
  assert.deepEqual(docs.map((d) => d.event.dataset).sort(), ['booth.agent', 'booth.booking', 'booth.network', 'booth.upload', 'booth.upload']);
});

test('record: more than 100 invalid lines are summarised, and the valid ones still recorded', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const lines: string[] = [];
  for (let i = 0; i < 150; i++) lines.push(i % 3 === 0 ? JSON.stringify(upload(i)) : '{oops');
  const r = await runCli(['record', '--config', cfg.file], { input: ndjson(lines) });
  assert.equal(r.code, 65);
  assert.match(r.stdout, /recorded 50 documents; 100 invalid lines/);
  assert.match(r.stderr, /^line 2: /m);
  assert.equal(buffered(cfg.stateDir).length, 50);
});

test('record: dotted keys are accepted and stored nested', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const lines = [
    {
      'event.dataset': 'booth.upload',
      'booking.id': '4711',
      'file.name': 'IMG_00001.jpg',
      'file.size': 123,
      'upload.outcome': 'success',
      'upload.timings.dns_ms': 1.5,
      'upload.timings.tcp_ms': 2.5,
      'http.response.status_code': 201,
    },
    { event: { dataset: 'booth.upload' }, 'booking.id': '4711', file: { name: 'IMG_00002.jpg' }, upload: { outcome: 'failure' }, 'upload.attempt': 2, 'error.type': 'ETIMEDOUT' },
    { 'event.dataset': 'booth.agent', 'event.action': 'interface_changed', 'event.id': ID_A },
  ];
  const r = await runCli(['record', '--config', cfg.file], { input: ndjson(lines) });
  assert.equal(r.code, 0, r.stderr);
  const docs = buffered(cfg.stateDir);
  assert.equal(docs.length, 3);
  const one = docs.find((d) => (d['file'] as Json | undefined)?.['name'] === 'IMG_00001.jpg')!;
  assert.deepEqual(one['upload'], { outcome: 'success', timings: { dns_ms: 1.5, tcp_ms: 2.5 } });
  assert.deepEqual(one['http'], { response: { status_code: 201 } });
  assert.deepEqual(one['file'], { name: 'IMG_00001.jpg', size: 123 });
  assert.ok(!Object.keys(one).some((k) => k.includes('.')), `no dotted key stored: ${Object.keys(one).join(', ')}`);
  const two = docs.find((d) => (d['file'] as Json | undefined)?.['name'] === 'IMG_00002.jpg')!;
  assert.deepEqual(two['upload'], { outcome: 'failure', attempt: 2 });
  assert.deepEqual(two['error'], { type: 'ETIMEDOUT' });
  const ev = docs.find((d) => d.event.dataset === 'booth.agent')!;
  assert.equal(ev.event.id, ID_A);
  assert.equal(ev.event.action, 'interface_changed');
  assert.deepEqual(ev.booth, { id: 'FB-1042', country: 'US' });
});

test('record: a dotted key and a nested object for the same group are merged, nothing is lost', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const line = { 'event.dataset': 'booth.upload', 'booking.id': '4711', 'upload.timings.dns_ms': 1.5, file: { name: 'a.jpg' }, upload: { outcome: 'success', timings: { tcp_ms: 2.5 } } };
  const r = await runCli(['record', '--config', cfg.file], { input: ndjson([line]) });
  assert.equal(r.code, 0, r.stderr);
  const [doc] = buffered(cfg.stateDir);
  assert.deepEqual(doc?.['upload'], { outcome: 'success', timings: { dns_ms: 1.5, tcp_ms: 2.5 } });
});

test('record: the same lines recorded twice keep a given event.id in both copies; lines without one get distinct ids', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const withId = upload(1, { '@timestamp': '2025-03-14T09:26:53.589Z', event: { dataset: 'booth.upload', id: ID_A } });
  const withDottedId = { ...booking('B1'), 'event.id': ID_B };
  const input = ndjson([withId, withDottedId, upload(2), network(5)]);
  for (let run = 0; run < 2; run++) {
    const r = await runCli(['record', '--config', cfg.file], { input });
    assert.equal(r.code, 0, r.stderr);
  }
  const docs = buffered(cfg.stateDir);
  assert.equal(docs.length, 8);
  const copiesA = docs.filter((d) => d.event.id === ID_A);
  const copiesB = docs.filter((d) => d.event.id === ID_B);
  assert.equal(copiesA.length, 2, 'both copies carry the given event.id (OpenSearch create-by-_id keeps one)');
  assert.equal(copiesB.length, 2, 'a given dotted "event.id" is kept as well');
  assert.deepEqual(copiesA[0], copiesA[1], 'a fully given document is stored identically both times');
  assert.equal(copiesA[0]!['@timestamp'], '2025-03-14T09:26:53.589Z');
  const generated = docs.filter((d) => d.event.id !== ID_A && d.event.id !== ID_B);
  assert.equal(generated.length, 4);
  assert.equal(new Set(generated.map((d) => d.event.id)).size, 4, 'every line without an id gets its own, each time');
  for (const d of generated) assert.match(d.event.id, UUID_V7);
});

test('record: 20,000 lines in one run are all recorded, quickly', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  const file = path.join(dir, 'big.ndjson');
  const n = 20_000;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify(i % 10 === 9 ? network(i) : upload(i)));
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const started = performance.now();
  const r = await runCli(['record', '--file', file, '--config', cfg.file], { timeoutMs: 25_000 });
  const elapsed = performance.now() - started;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /recorded 20000 documents/);
  assert.ok(elapsed < 15_000, `took ${Math.round(elapsed)} ms`);
  const docs = buffered(cfg.stateDir);
  assert.equal(docs.length, n);
  assert.equal(queued(cfg.stateDir), n);
  assert.equal(new Set(docs.map((d) => d.event.id)).size, n, 'all ids distinct');
  const names = new Set(fileNames(docs));
  assert.equal(names.size, n - n / 10);
  assert.ok(names.has('IMG_00000.jpg') && names.has('IMG_19998.jpg'), 'first and last uploads are there');
  assert.equal(docs.filter((d) => d.event.dataset === 'booth.network').length, n / 10);
});

test('record: a bad config exits 78 naming the key, and records nothing', async (t) => {
  const dir = tempDir(t);
  const bad = writeConfig(dir, { booth: { country: 'usa' } });
  const r = await runCli(['record', '--config', bad.file], { input: ndjson([upload(1)]) });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /booth\.country/);
  assert.match(r.stderr, /"usa"/);
  assert.equal(fs.existsSync(bad.stateDir), false, 'no buffer was created');

  const typo = writeConfig(dir, { buffer: { max_sise: '1MB' } }, 'typo.yaml');
  const r2 = await runCli(['record', '--config', typo.file], { input: ndjson([upload(1)]) });
  assert.equal(r2.code, 78);
  assert.match(r2.stderr, /buffer\.max_sise/);

  // The config path from the environment, when there is no --config.
  const r3 = await runCli(['record'], { input: ndjson([upload(1)]), env: { BOOTH_AGENT_CONFIG: bad.file } });
  assert.equal(r3.code, 78);
  assert.match(r3.stderr, /booth\.country/);
});

test('record: a line with "__proto__" in a dotted key is rejected and does not spoil the lines after it', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const input = ndjson([upload(1), '{"__proto__.polluted": 1, "event.dataset": "booth.heartbeat"}', upload(3), network(4)]);
  const r = await runCli(['record', '--config', cfg.file], { input });
  assert.match(r.stderr, /^line 2: /m, 'the line itself is reported');
  assert.doesNotMatch(r.stderr, /^line [34]: /m, `later valid lines are not rejected:\n${r.stderr}`);
  assert.equal(r.code, 65);
  const docs = buffered(cfg.stateDir);
  assert.deepEqual(fileNames(docs), ['IMG_00001.jpg', 'IMG_00003.jpg']);
  assert.equal(docs.length, 3);
});

// ── export ───────────────────────────────────────────────────────────────────────────────────

test('export prints the buffered documents as NDJSON, one parseable document per line', async (t) => {
  const cfg = writeConfig(tempDir(t), { booth: { labels: { model: 'mirror-2' } } });
  const rec = await runCli(['record', '--config', cfg.file], { input: ndjson([upload(1), upload(2), booking('B1'), network(3), agentEvent('e')]) });
  assert.equal(rec.code, 0, rec.stderr);
  const r = await runCli(['export', '--config', cfg.file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(r.stdout.endsWith('\n'));
  const lines = r.stdout.split('\n').slice(0, -1);
  assert.equal(lines.length, 5);
  const exported = lines.map((l) => JSON.parse(l) as BoothDocument);
  const stored = buffered(cfg.stateDir);
  assert.deepEqual(exported.map((d) => d.event.id).sort(), stored.map((d) => d.event.id).sort());
  for (const d of exported) {
    const v = validateDocument(d);
    assert.ok(v.ok, v.ok ? '' : v.reason);
    assert.deepEqual(d.booth.labels, { model: 'mirror-2' });
  }
  // An empty buffer exports nothing.
  const empty = writeConfig(tempDir(t));
  const r2 = await runCli(['export', '--config', empty.file]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stdout, '');
});

test('export --kind filters by dataset; an unknown --kind exits 64 with a clear message', async (t) => {
  const cfg = writeConfig(tempDir(t));
  const rec = await runCli(['record', '--config', cfg.file], { input: ndjson([upload(1), network(2), upload(3), booking('B1'), heartbeat()]) });
  assert.equal(rec.code, 0, rec.stderr);
  const up = await runCli(['export', '--kind', 'upload', '--config', cfg.file]);
  assert.equal(up.code, 0, up.stderr);
  const ups = parseNdjson(up.stdout);
  assert.equal(ups.length, 2);
  assert.ok(ups.every((d) => d.event.dataset === 'booth.upload'));
  assert.deepEqual(fileNames(ups), ['IMG_00001.jpg', 'IMG_00003.jpg']);

  for (const [kind, n] of [['network', 1], ['booking', 1], ['heartbeat', 1], ['agent', 0]] as const) {
    const r = await runCli(['export', '--kind', kind, '--config', cfg.file]);
    assert.equal(r.code, 0, r.stderr);
    const docs = parseNdjson(r.stdout);
    assert.equal(docs.length, n, kind);
    assert.ok(docs.every((d) => d.event.dataset === `booth.${kind}`));
  }

  const bad = await runCli(['export', '--kind', 'uploads', '--config', cfg.file]);
  assert.equal(bad.code, 64);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /--kind/);
  assert.match(bad.stderr, /"uploads"/);
  assert.match(bad.stderr, /upload, booking, network, heartbeat, agent/);
});

test('export --since DUR leaves out documents recorded before then', async (t) => {
  const cfg = writeConfig(tempDir(t));
  // Two documents recorded two hours ago (the buffer's clock set back), then two now by the CLI.
  const twoHoursAgo = Date.now() - 2 * 3_600_000;
  const old = [sampleDoc('booth.upload', 1), sampleDoc('booth.booking', 1)];
  const buf = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 256e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH, now: () => twoHoursAgo });
  buf.record(old);
  buf.close();
  const rec = await runCli(['record', '--config', cfg.file], { input: ndjson([upload(7), network(8)]) });
  assert.equal(rec.code, 0, rec.stderr);
  const ids = (out: string) => parseNdjson(out).map((d) => d.event.id).sort();
  const oldIds = old.map((d) => d.event.id).sort();
  const recent = buffered(cfg.stateDir).filter((d) => !oldIds.includes(d.event.id));
  assert.equal(recent.length, 2);

  const r1 = await runCli(['export', '--since', '1h', '--config', cfg.file]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.deepEqual(ids(r1.stdout), recent.map((d) => d.event.id).sort());

  const r3 = await runCli(['export', '--since', '3h', '--config', cfg.file]);
  assert.equal(r3.code, 0, r3.stderr);
  assert.deepEqual(ids(r3.stdout), [...oldIds, ...recent.map((d) => d.event.id)].sort());

  const all = await runCli(['export', '--config', cfg.file]);
  assert.equal(ids(all.stdout).length, 4);

  const both = await runCli(['export', '--since', '1h', '--kind', 'upload', '--config', cfg.file]);
  assert.equal(both.code, 0, both.stderr);
  const bothDocs = parseNdjson(both.stdout);
  assert.equal(bothDocs.length, 1);
  assert.deepEqual(fileNames(bothDocs), ['IMG_00007.jpg']);

  const bad = await runCli(['export', '--since', 'soon', '--config', cfg.file]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--since/);
  assert.equal(bad.stdout, '');
});

test('export output can be recorded again elsewhere, unchanged (labels with dots in their names included)', async (t) => {
  const dir = tempDir(t);
  // Label names may contain dots (config: "names of A-Z a-z 0-9 _ . -").
  const cfg = writeConfig(dir, { booth: { region: 'us-east', labels: { model: 'mirror-2', 'hw.rev': '2' } } });
  const rec = await runCli(['record', '--config', cfg.file], { input: ndjson([upload(1), booking('B1'), network(2)]) });
  assert.equal(rec.code, 0, rec.stderr);
  const exported = await runCli(['export', '--config', cfg.file]);
  assert.equal(exported.code, 0, exported.stderr);

  const other = writeConfig(path.join(dir, 'other'), { booth: { id: 'FB-2000' } });
  const again = await runCli(['record', '--config', other.file], { input: exported.stdout });
  assert.equal(again.code, 0, again.stderr);
  const original = buffered(cfg.stateDir).sort((a, b) => a.event.id.localeCompare(b.event.id));
  const copy = buffered(other.stateDir).sort((a, b) => a.event.id.localeCompare(b.event.id));
  assert.deepEqual(copy, original, 'same ids, same booth, same fields');
});

// --- hostile input and a busy database (issue 16 item 16) ---

test('record while another process holds the write lock past the 5 s busy timeout: it waits, says so, records everything once the lock is gone, exits 0', { timeout: 40_000 }, async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH }).close();
  const Database = (await import('better-sqlite3')).default;
  const holder = new Database(path.join(cfg.stateDir, 'buffer.db'));
  holder.pragma('busy_timeout = 0');
  holder.prepare('BEGIN IMMEDIATE').run();
  t.after(() => {
    if (holder.open) holder.close();
  });
  const lines = [upload(1), upload(2), upload(3)].map((d) => JSON.stringify(d)).join('\n');
  const child = startCli(['record', '--config', cfg.file]);
  const result = collect(child, lines, 35_000);
  // Held until the command says it waits (a fixed hold raced the command's start on a busy machine).
  await waitForOutput(child, /the database is locked by another process that is writing to it; waiting/, 25_000);
  holder.prepare('COMMIT').run();
  holder.close();
  const r = await result;
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /SqliteError|    at /);
  assert.match(r.stdout, /recorded 3 documents/);
});

test('record: a 50 MB line without a newline is reported as too long, streamed past (memory stays low), and the lines around it are recorded', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  const file = path.join(dir, 'input.ndjson');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `${JSON.stringify(upload(1))}\n{"pad":"`);
  const chunk = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 50; i++) fs.writeSync(fd, chunk);
  fs.writeSync(fd, `"}\n${JSON.stringify(upload(2))}\n`);
  fs.closeSync(fd);
  // A heap of 48 MB: gathering the line (50 MB) would not fit.
  const r = await runCli(['record', '--config', cfg.file, '--file', file], { input: '', timeoutMs: 50_000, env: { NODE_OPTIONS: '--max-old-space-size=48' } });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /^line 2: longer than 1000000 characters$/m);
  assert.match(r.stdout, /recorded 2 documents; 1 invalid line not recorded/);
});

test('export marks a dead letter with why OpenSearch refused it; record says such a line is a dead letter instead of recording it', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  const rec = await runCli(['record', '--config', cfg.file], { input: [upload(1), upload(2)].map((d) => JSON.stringify(d)).join('\n') });
  assert.equal(rec.code, 0, rec.stderr);
  const buffer = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH });
  const [first] = buffer.lease(1, 1e9);
  buffer.settle({ dead: [{ seq: first!.seq, reason: '400 mapper_parsing_exception: failed to parse field [upload.bytes]', statusCode: 400, errorType: 'mapper_parsing_exception' }] });
  buffer.close();

  const exported = await runCli(['export', '--config', cfg.file]);
  assert.equal(exported.code, 0, exported.stderr);
  const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
  assert.equal(lines.length, 2);
  const dead = lines.find((l) => 'dead_letter' in l) as { dead_letter: Json; document: { event: { id: string } } };
  assert.deepEqual({ ...dead.dead_letter, failed_at: typeof dead.dead_letter['failed_at'] }, { reason: '400 mapper_parsing_exception: failed to parse field [upload.bytes]', status_code: 400, error_type: 'mapper_parsing_exception', failed_at: 'string', attempts: 1 });
  assert.equal(dead.document.event.id, first!.eventId);
  assert.ok(lines.some((l) => !('dead_letter' in l) && (l['event'] as Json)['id'] !== first!.eventId), 'the unsent document is a plain line');

  const again = await runCli(['record', '--config', writeConfig(path.join(dir, 'other')).file], { input: exported.stdout });
  assert.equal(again.code, 65);
  assert.match(again.stderr, /line \d: a dead letter from export \(OpenSearch refused it: 400 mapper_parsing_exception/);
  assert.match(again.stdout, /recorded 1 document; 1 invalid line not recorded/);
});
