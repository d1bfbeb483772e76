// The document schema (SPEC §6): what validateDocument accepts and rejects, how stamp fills in the
// common fields, event ids, and the dotted-key form that `record` accepts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_ACTIONS, DATASETS, type Dataset } from '../shared/documents/schema.ts';
import { expandDottedKeys, makeDocument, newEventId, stamp, type BoothIdentity } from '../shared/documents/stamp.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { AGENT_VERSION } from '../shared/version.ts';

type Json = Record<string, unknown>;

const TS = '2025-03-14T09:26:53.589Z';
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const IDENTITY: BoothIdentity = { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2' } };

let idCounter = 0;
/** A fixed-looking, valid UUIDv7 per call, so documents are independent of the clock. */
function fixedId(): string {
  idCounter++;
  return `0195941f-d3ad-7b6c-9a4e-${idCounter.toString(16).padStart(12, '0')}`;
}

function common(dataset: Dataset, event: Json = {}): Json {
  return {
    '@timestamp': TS,
    event: { id: fixedId(), dataset, ...event },
    booth: { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2' } },
    agent: { version: '0.1.0' },
  };
}

/** A complete, valid document of each dataset, with every key field SPEC §6 lists. */
const VALID: Record<Dataset, () => Json> = {
  'booth.upload': () => ({
    ...common('booth.upload'),
    booking: { id: '4711' },
    file: { name: 'IMG_0001.jpg', size: 3_456_789 },
    upload: {
      outcome: 'success',
      bytes: 3_456_789,
      duration_ms: 288.1,
      speed_mb_s: 11.99,
      attempt: 1,
      timings: { dns_ms: 1.2, tcp_ms: 3.4, tls_ms: 12.5, first_byte_ms: 300.2, total_ms: 301.5 },
      url_host: 'fulfil.example.com',
      server_address: '203.0.113.7',
    },
    http: { response: { status_code: 201 } },
    network: { interface: { name: 'eth0', type: 'wired', speed_mbps: 100, mtu: 1500, duplex: 'half', dhcp: true } },
    error: { type: 'none', message: '' },
  }),
  'booth.booking': () => ({
    ...common('booth.booking'),
    message: 'Saved 389 images (1.3 GB) of booking 4711 in 1m 56s',
    booking: {
      id: '4711',
      count_images: 389,
      size_bytes: 1_300_000_000,
      size_in_kb: 1_269_531.25,
      duration_in_seconds: 116,
      speed_in_mb_s: 11.2,
      failed_images: 0,
      image_speed_p50_mb_s: 11.5,
      image_speed_p10_mb_s: 8.1,
    },
  }),
  'booth.network': () => ({
    ...common('booth.network'),
    network: {
      online: true,
      interface: { name: 'wlan0', type: 'wireless', speed_mbps: 144.4, mtu: 1500, duplex: 'unknown', dhcp: true },
      gateway: '192.0.2.1',
      dns_servers: ['192.0.2.1', '2001:db8::53'],
      wifi: { ssid: 'venue-guest', signal_dbm: -61, quality: 78 },
      rx_bytes_per_s: 1234.5,
      tx_bytes_per_s: 12_000_000,
      errors: 0,
      dropped: 3,
      probes: [
        { role: 'gateway', target: '192.0.2.1', ok: true, connect_ms: 0.4 },
        { role: 'upload', target: 'fulfil.example.com:443', ok: true, dns_ms: 3.1, connect_ms: 20.5, tls_ms: 41.2 },
        { role: 'opensearch', target: 'search.example.com:9200', ok: false, error: 'ECONNREFUSED' },
      ],
    },
  }),
  'booth.heartbeat': () => ({
    ...common('booth.heartbeat'),
    agent: { version: '0.1.0', uptime_s: 3600, boot_id: '5f0c2b7e-ffb1-4b9e-9c1e-0a4c1d2e3f40' },
    host: {
      hostname: 'booth-1042',
      os: { platform: 'linux', distro: 'Debian', release: '12', kernel: '6.1.0' },
      arch: 'arm64',
      cpu: { model: 'Cortex-A72', cores: 4, load_1m: 0.12 },
      memory: { total_bytes: 4_000_000_000, free_bytes: 2_500_000_000 },
      disk: { total_bytes: 32_000_000_000, free_bytes: 20_000_000_000 },
      temperature_c: 51.5,
      manufacturer: 'Raspberry Pi Foundation',
      model: 'Raspberry Pi 4 Model B Rev 1.5',
      serial: '10000000abcdef01',
    },
    buffer: { queued: 12, oldest_age_s: 4.5, dropped_total: 0 },
    uploads: { pending: 2, failing: 0 },
    network: { online: true },
    clock: { skew_ms: -1250 },
  }),
  'booth.agent': () => ({
    ...common('booth.agent', { action: 'connectivity_restored', duration_ms: 93_000 }),
    message: 'back online after 1m 33s',
  }),
};

function reasonOf(doc: unknown): string {
  const v = validateDocument(doc);
  assert.equal(v.ok, false, `expected ${JSON.stringify(doc)} to be rejected`);
  const reason = v.ok ? '' : v.reason;
  assert.ok(reason.length > 0, 'a rejection has a reason');
  assert.ok(!reason.includes('\n'), `the reason is one line: ${reason}`);
  return reason;
}

/** Sets a field by its dotted path, creating objects on the way. */
function set(doc: Json, path: string, value: unknown): Json {
  const parts = path.split('.');
  let o = doc;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Json;
  o[parts[parts.length - 1]!] = value;
  return doc;
}

function del(doc: Json, path: string): Json {
  const parts = path.split('.');
  let o = doc;
  for (const p of parts.slice(0, -1)) o = o[p] as Json;
  delete o[parts[parts.length - 1]!];
  return doc;
}

// ── validation ───────────────────────────────────────────────────────────────────────────────

test('a complete valid document of each of the five datasets passes', () => {
  assert.deepEqual(Object.keys(VALID).sort(), [...DATASETS].sort());
  for (const dataset of DATASETS) {
    const doc = VALID[dataset]();
    const v = validateDocument(doc);
    assert.ok(v.ok, `${dataset}: ${v.ok ? '' : v.reason}`);
    assert.deepEqual(v.doc, doc, 'the validated document is the document');
  }
});

test('a minimal document of each dataset (only its required fields) passes', () => {
  const minimal: Record<Dataset, Json> = {
    'booth.upload': { ...common('booth.upload'), booking: { id: '1' }, file: { name: 'a.jpg' }, upload: { outcome: 'failure' } },
    'booth.booking': { ...common('booth.booking'), booking: { id: '1', count_images: 0 } },
    'booth.network': { ...common('booth.network'), network: { online: false } },
    'booth.heartbeat': { ...common('booth.heartbeat') },
    'booth.agent': { ...common('booth.agent', { action: 'started' }) },
  };
  for (const dataset of DATASETS) {
    const v = validateDocument(minimal[dataset]);
    assert.ok(v.ok, `${dataset}: ${v.ok ? '' : v.reason}`);
  }
});

test('every event.action the spec lists is accepted on booth.agent, and outcomes of uploads', () => {
  const specActions = ['started', 'stopped', 'connectivity_lost', 'connectivity_restored', 'interface_changed', 'speed_degraded', 'upload_rejected', 'buffer_dropped', 'state_reset', 'clock_skew'];
  for (const action of specActions) {
    assert.ok((AGENT_ACTIONS as readonly string[]).includes(action), action);
    const v = validateDocument(common('booth.agent', { action }));
    assert.ok(v.ok, `${action}: ${v.ok ? '' : v.reason}`);
  }
  for (const outcome of ['success', 'failure', 'rejected']) {
    const v = validateDocument(set(VALID['booth.upload'](), 'upload.outcome', outcome));
    assert.ok(v.ok, `${outcome}: ${v.ok ? '' : v.reason}`);
  }
});

test('a field of the wrong type is rejected with its path', () => {
  const cases: [Dataset, string, unknown, RegExp][] = [
    ['booth.upload', 'upload.speed_mb_s', 'fast', /^upload\.speed_mb_s: expected number, got "fast"/],
    ['booth.upload', 'upload.attempt', 1.5, /upload\.attempt/],
    ['booth.upload', 'file.name', 42, /file\.name: expected string/],
    ['booth.upload', 'http.response.status_code', 999, /http\.response\.status_code/],
    ['booth.booking', 'booking.count_images', '389', /booking\.count_images: expected number/],
    ['booth.network', 'network.online', 'yes', /network\.online: expected boolean/],
    ['booth.network', 'network.interface.type', 'carrier-pigeon', /network\.interface\.type/],
    ['booth.network', 'network.interface.duplex', 'quarter', /network\.interface\.duplex/],
    ['booth.network', 'network.interface.dhcp', 'yes', /network\.interface\.dhcp: expected boolean/],
    ['booth.network', 'network.dns_servers', '192.0.2.1', /network\.dns_servers: expected array/],
    ['booth.network', 'network.gateway', '', /network\.gateway/],
    ['booth.upload', 'upload.server_address', 203, /upload\.server_address: expected string/],
    ['booth.heartbeat', 'host.model', 4, /host\.model: expected string/],
    ['booth.heartbeat', 'clock.skew_ms', null, /clock\.skew_ms/],
    ['booth.upload', 'booth.country', 'usa', /booth\.country/],
    ['booth.upload', 'booth.labels', { model: 7 }, /booth\.labels\.model/],
  ];
  for (const [dataset, path, value, re] of cases) {
    const reason = reasonOf(set(VALID[dataset](), path, value));
    assert.match(reason, re, `${dataset} ${path}=${JSON.stringify(value)}`);
  }
  const probes = VALID['booth.network']();
  ((probes['network'] as Json)['probes'] as Json[])[1]!['ok'] = 'yes';
  assert.match(reasonOf(probes), /network\.probes\.1\.ok: expected boolean/);
});

test('an unknown field (a typo) is rejected with its path, at any depth', () => {
  assert.match(reasonOf(set(VALID['booth.upload'](), 'upload.speed_mbs', 12)), /upload\.speed_mbs: unknown field/);
  assert.match(reasonOf(set(VALID['booth.upload'](), 'uplaod', { outcome: 'success' })), /uplaod: unknown field/);
  assert.match(reasonOf(set(VALID['booth.upload'](), 'upload.timings.dns', 1)), /upload\.timings\.dns: unknown field/);
  assert.match(reasonOf(set(VALID['booth.network'](), 'network.wifi.signal', -60)), /network\.wifi\.signal: unknown field/);
  assert.match(reasonOf(set(VALID['booth.booking'](), 'booking.speed_mb_s', 11)), /booking\.speed_mb_s: unknown field/);
  assert.match(reasonOf(set(VALID['booth.heartbeat'](), 'event.datset', 'x')), /event\.datset: unknown field/);
  // A field of another dataset is unknown here too.
  assert.match(reasonOf(set(VALID['booth.network'](), 'booking', { id: '1' })), /booking: unknown field/);
});

test('an unknown or missing event.dataset is rejected, naming the field and the datasets', () => {
  const typo = reasonOf(set(VALID['booth.upload'](), 'event.dataset', 'booth.uploads'));
  assert.match(typo, /^event\.dataset: /);
  assert.match(typo, /"booth\.uploads"/);
  for (const d of DATASETS) assert.ok(typo.includes(d), `lists ${d}: ${typo}`);
  assert.match(reasonOf(set(VALID['booth.upload'](), 'event.dataset', 'upload')), /^event\.dataset: .*"upload"/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'event.dataset')), /^event\.dataset: .*got nothing/);
  assert.match(reasonOf({ booking: { id: '1' } }), /^event\.dataset: /);
});

test('a missing required field is rejected with its path', () => {
  assert.match(reasonOf(del(VALID['booth.upload'](), 'booking.id')), /booking\.id: expected string, got nothing/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'booking')), /booking: expected object/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'upload.outcome')), /upload\.outcome/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'file.name')), /file\.name/);
  assert.match(reasonOf(del(VALID['booth.booking'](), 'booking.count_images')), /booking\.count_images/);
  assert.match(reasonOf(del(VALID['booth.network'](), 'network.online')), /network\.online/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'event.id')), /event\.id/);
  assert.match(reasonOf(del(VALID['booth.upload'](), '@timestamp')), /@timestamp/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'booth.id')), /booth\.id/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'booth.country')), /booth\.country/);
  assert.match(reasonOf(del(VALID['booth.upload'](), 'booth')), /booth/);
});

test('a bad or missing event.action on booth.agent is rejected with its path', () => {
  assert.match(reasonOf(set(VALID['booth.agent'](), 'event.action', 'exploded')), /^event\.action: .*connectivity_lost/);
  assert.match(reasonOf(set(VALID['booth.agent'](), 'event.action', 'Started')), /^event\.action: /);
  assert.match(reasonOf(del(VALID['booth.agent'](), 'event.action')), /^event\.action: /);
  // An action is only known from the list, on other datasets too.
  assert.match(reasonOf(set(VALID['booth.upload'](), 'event.action', 'exploded')), /^event\.action: /);
});

test('negative sizes, counts and durations are rejected with their path', () => {
  const cases: [Dataset, string, number][] = [
    ['booth.upload', 'file.size', -1],
    ['booth.upload', 'upload.bytes', -3_456_789],
    ['booth.upload', 'upload.duration_ms', -0.5],
    ['booth.upload', 'upload.speed_mb_s', -11.99],
    ['booth.upload', 'upload.timings.dns_ms', -1],
    ['booth.upload', 'upload.attempt', 0],
    ['booth.booking', 'booking.size_bytes', -1],
    ['booth.booking', 'booking.count_images', -389],
    ['booth.network', 'network.rx_bytes_per_s', -1],
    ['booth.heartbeat', 'buffer.queued', -1],
    ['booth.agent', 'event.duration_ms', -93_000],
  ];
  for (const [dataset, path, value] of cases) {
    const reason = reasonOf(set(VALID[dataset](), path, value));
    assert.ok(reason.startsWith(`${path}: `), `${dataset} ${path}=${value}: ${reason}`);
  }
  // Signed fields stay signed.
  const v = validateDocument(set(VALID['booth.heartbeat'](), 'clock.skew_ms', -5000));
  assert.ok(v.ok, v.ok ? '' : v.reason);
});

test('a bad @timestamp is rejected with its path', () => {
  for (const ts of ['yesterday', '', '2025-03-14', '2025-13-01T00:00:00Z', '2025-02-30T00:00:00Z', '14/03/2025 09:26', 1_741_944_413_589, null]) {
    assert.match(reasonOf(set(VALID['booth.upload'](), '@timestamp', ts)), /^@timestamp: /, JSON.stringify(ts));
  }
  for (const ts of ['2025-03-14T09:26:53Z', '2025-03-14T09:26:53.589Z', '2025-03-14T10:26:53+01:00']) {
    const v = validateDocument(set(VALID['booth.upload'](), '@timestamp', ts));
    assert.ok(v.ok, `${ts}: ${v.ok ? '' : v.reason}`);
  }
});

test('event.id must be a UUID', () => {
  assert.match(reasonOf(set(VALID['booth.upload'](), 'event.id', 'not-a-uuid')), /^event\.id: /);
  assert.match(reasonOf(set(VALID['booth.upload'](), 'event.id', 42)), /^event\.id: /);
});

test('something that is not a JSON object is rejected', () => {
  for (const v of [null, [], [VALID['booth.upload']()], 'booth.upload', 42, true, undefined]) {
    assert.equal(reasonOf(v), 'expected a JSON object');
  }
});

test('a reason lists several problems at once, each with its path', () => {
  const doc = VALID['booth.upload']();
  set(doc, 'upload.speed_mb_s', 'fast');
  set(doc, 'upload.speed_mbs', 1);
  del(doc, 'booking.id');
  const reason = reasonOf(doc);
  assert.match(reason, /upload\.speed_mb_s/);
  assert.match(reason, /upload\.speed_mbs/);
  assert.match(reason, /booking\.id/);
});

// ── stamp ────────────────────────────────────────────────────────────────────────────────────

test('stamp fills @timestamp, event.id, booth.* and agent.version', () => {
  const now = Date.parse(TS);
  const doc = stamp({ event: { dataset: 'booth.network' }, network: { online: true } }, IDENTITY, () => now);
  assert.equal(doc['@timestamp'], TS);
  assert.match(doc.event.id, UUID_V7);
  assert.equal(doc.event.dataset, 'booth.network');
  assert.deepEqual(doc.booth, { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2' } });
  assert.equal(doc.agent?.version, AGENT_VERSION);
  assert.deepEqual(doc['network'], { online: true });
  const v = validateDocument(doc);
  assert.ok(v.ok, v.ok ? '' : v.reason);
  // The clock is used when no function is given.
  const before = Date.now();
  const live = stamp({ event: { dataset: 'booth.heartbeat' } }, IDENTITY);
  const t = Date.parse(live['@timestamp']);
  assert.ok(t >= before && t <= Date.now(), live['@timestamp']);
  assert.match(live['@timestamp'], /Z$/, 'UTC');
});

test('stamp leaves out booth.region and booth.labels the identity does not have', () => {
  const doc = stamp({ event: { dataset: 'booth.heartbeat' } }, { id: 'FB-7', country: 'DE' });
  assert.deepEqual(doc.booth, { id: 'FB-7', country: 'DE' });
  const empty = stamp({ event: { dataset: 'booth.heartbeat' } }, { id: 'FB-7', country: 'DE', labels: {} });
  assert.deepEqual(empty.booth, { id: 'FB-7', country: 'DE' });
  assert.ok(validateDocument(doc).ok);
});

test('stamp keeps every given value, above all a given event.id', () => {
  const given = {
    '@timestamp': '2024-12-31T23:59:59.000Z',
    event: { id: '0190a5e2-1234-7abc-8def-0123456789ab', dataset: 'booth.heartbeat' },
    booth: { id: 'FB-9', country: 'DE', region: 'eu-central', labels: { model: 'classic' } },
    agent: { version: '9.9.9', uptime_s: 12 },
  };
  const copy = structuredClone(given);
  const doc = stamp(given, IDENTITY, () => Date.parse(TS));
  assert.deepEqual(doc, copy);
  assert.deepEqual(given, copy, 'the input is not changed');
  // The same input stamped again gets the same id: recording twice cannot duplicate.
  assert.equal(stamp(given, IDENTITY).event.id, given.event.id);
  // Partly given: the given parts are kept, the rest filled.
  const partly = stamp({ event: { dataset: 'booth.heartbeat', id: given.event.id }, booth: { region: 'eu-west' }, agent: { uptime_s: 5 } }, IDENTITY, () => Date.parse(TS));
  assert.equal(partly.event.id, given.event.id);
  assert.deepEqual(partly.booth, { region: 'eu-west', id: 'FB-1042', country: 'US', labels: { model: 'mirror-2' } });
  assert.deepEqual(partly.agent, { uptime_s: 5, version: AGENT_VERSION });
  assert.equal(partly['@timestamp'], TS);
});

test('stamp does not mutate its input and gives each document without an id a new one', () => {
  const input = { event: { dataset: 'booth.heartbeat' }, booth: {}, agent: {} };
  const copy = structuredClone(input);
  const a = stamp(input, IDENTITY);
  const b = stamp(input, IDENTITY);
  assert.deepEqual(input, copy);
  assert.notEqual(a.event.id, b.event.id);
  assert.notEqual(a.booth, b.booth);
  assert.ok(a.booth.labels !== IDENTITY.labels, 'labels are copied, not shared with the identity');
});

test('stamp does not silently replace a given event.id or @timestamp of the wrong type', () => {
  // A value that is present is not "missing" (SPEC §3 record: only missing fields are filled). If
  // stamp replaced it, a line recorded twice with "event.id": 42 would get two ids (a duplicate in
  // OpenSearch), and "@timestamp": <epoch ms> would be silently moved to the time of recording.
  const doc = stamp({ '@timestamp': 1_741_944_413_589, event: { id: 42, dataset: 'booth.heartbeat' } }, IDENTITY);
  assert.equal(doc['@timestamp'] as unknown, 1_741_944_413_589, '@timestamp is kept, so validation can report it');
  assert.equal(doc.event.id as unknown, 42, 'event.id is kept, so validation can report it');
  const reason = reasonOf(doc);
  assert.match(reason, /@timestamp/);
  assert.match(reason, /event\.id/);
});

test('makeDocument makes a valid, stamped document of the dataset', () => {
  const doc = makeDocument('booth.agent', { event: { action: 'stopped' }, message: 'bye' }, IDENTITY, () => Date.parse(TS));
  assert.equal(doc.event.dataset, 'booth.agent');
  assert.equal(doc.event.action, 'stopped');
  assert.equal(doc['@timestamp'], TS);
  assert.ok(validateDocument(doc).ok);
});

// ── event ids ────────────────────────────────────────────────────────────────────────────────

test('newEventId gives UUIDv7 strings: version 7, RFC 4122 variant, the time in the first 48 bits', () => {
  const before = Date.now();
  const id = newEventId();
  const after = Date.now();
  assert.equal(typeof id, 'string');
  assert.match(id, UUID_V7);
  assert.equal(id[14], '7', 'version nibble');
  assert.ok('89ab'.includes(id[19]!), 'variant bits 10xx');
  const ms = parseInt(id.replaceAll('-', '').slice(0, 12), 16);
  assert.ok(ms >= before && ms <= after, `embedded time ${ms} within [${before}, ${after}]`);
});

test('newEventId is unique over 100,000 calls and ids sort by time', async () => {
  const ids: string[] = [];
  const start = Date.now();
  for (let i = 0; i < 100_000; i++) ids.push(newEventId());
  const end = Date.now();
  assert.equal(new Set(ids).size, ids.length, 'no id repeats');
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i - 1]! < ids[i]!)) assert.fail(`ids ${i - 1} and ${i} are out of order: ${ids[i - 1]} ${ids[i]}`);
  }
  for (const id of [ids[0]!, ids[ids.length - 1]!]) {
    assert.match(id, UUID_V7);
    const ms = parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    assert.ok(ms >= start && ms <= end, `embedded time ${ms} within [${start}, ${end}]`);
  }
  // An id made later sorts after one made earlier, by its time part.
  const early = newEventId();
  await new Promise((r) => setTimeout(r, 5));
  const late = newEventId();
  assert.ok(early < late);
  assert.ok(late.slice(0, 13) > early.slice(0, 13), 'the time prefix grew');
});

// ── dotted keys ──────────────────────────────────────────────────────────────────────────────

test('expandDottedKeys turns dotted keys into nested objects', () => {
  assert.deepEqual(expandDottedKeys({ 'event.dataset': 'x', 'upload.timings.dns_ms': 1 }), {
    event: { dataset: 'x' },
    upload: { timings: { dns_ms: 1 } },
  });
  // @timestamp is one name, not a path; values that are not objects pass through.
  assert.deepEqual(expandDottedKeys({ '@timestamp': TS, message: 'a.b' }), { '@timestamp': TS, message: 'a.b' });
  for (const v of [1, 'a.b', null, true]) assert.equal(expandDottedKeys(v), v);
  // Inside arrays too (network.probes).
  assert.deepEqual(expandDottedKeys({ 'network.probes': [{ role: 'gateway', 'x.y': 1 }] }), {
    network: { probes: [{ role: 'gateway', x: { y: 1 } }] },
  });
  // Already nested input comes out equal, and is not changed.
  const nested = VALID['booth.upload']();
  const copy = structuredClone(nested);
  assert.deepEqual(expandDottedKeys(nested), copy);
  assert.deepEqual(nested, copy);
});

test('expandDottedKeys merges dotted keys into an existing nested object (nested first)', () => {
  const input = { event: { dataset: 'booth.upload' }, 'event.id': 'i', upload: { outcome: 'success', timings: { tcp_ms: 2 } }, 'upload.timings.dns_ms': 1, 'upload.bytes': 5 };
  assert.deepEqual(expandDottedKeys(input), {
    event: { dataset: 'booth.upload', id: 'i' },
    upload: { outcome: 'success', timings: { tcp_ms: 2, dns_ms: 1 }, bytes: 5 },
  });
});

test('expandDottedKeys merges a nested object into what dotted keys made (dotted first), nothing lost', () => {
  const input = { 'event.dataset': 'booth.upload', 'upload.timings.dns_ms': 1, 'upload.bytes': 5, event: { id: 'i' }, upload: { outcome: 'success', timings: { tcp_ms: 2 } } };
  assert.deepEqual(expandDottedKeys(input), {
    event: { dataset: 'booth.upload', id: 'i' },
    upload: { outcome: 'success', timings: { tcp_ms: 2, dns_ms: 1 }, bytes: 5 },
  });
});

test('expandDottedKeys does not let "__proto__" in a key change Object.prototype', () => {
  const input = JSON.parse('{"__proto__.polluted": "yes", "a.__proto__.polluted2": "yes", "event.dataset": "booth.heartbeat"}') as unknown;
  try {
    // Rejecting such a key outright is fine too; what matters is that nothing leaks into Object.prototype.
    assert.throws(() => expandDottedKeys(input), /not allowed/);
    assert.equal(({} as Json)['polluted'], undefined, 'Object.prototype.polluted was set by "__proto__.polluted"');
    assert.equal(({} as Json)['polluted2'], undefined, 'Object.prototype.polluted2 was set by "a.__proto__.polluted2"');
  } finally {
    delete (Object.prototype as Json)['polluted'];
    delete (Object.prototype as Json)['polluted2'];
  }
  assert.ok(validateDocument(VALID['booth.upload']()).ok, 'other documents still validate');
});
