// The upload endpoint stand-in (test/support/upload-receiver.ts), exercised with plain node:http
// clients: storage and hashing, decoding of percent-encoded names, the paced (rate-limited) body
// reading as seen by the receiver and by the sender, every fault, and refusing connections.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { test, type TestContext } from 'node:test';
import { needs, openssl } from './support/needs.ts';
import { certificates } from './support/tls.ts';
import { UploadReceiver, type UploadReceiverOptions } from './support/upload-receiver.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

async function start(t: TestContext, opts?: UploadReceiverOptions): Promise<UploadReceiver> {
  const r = await UploadReceiver.start(opts);
  t.after(() => r.close());
  return r;
}

/** Deterministic pseudo-random bytes (mulberry32). */
function bytes(n: number, seed = 42): Buffer {
  const buf = Buffer.alloc(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i += 4) {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    const v = (x ^ (x >>> 14)) >>> 0;
    for (let k = 0; k < 4 && i + k < n; k++) buf[i + k] = (v >>> (8 * k)) & 0xff;
  }
  return buf;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function uploadUrl(r: UploadReceiver, booth: string, booking: string, file: string): string {
  return r.urlTemplate
    .replace('{booth_id}', encodeURIComponent(booth))
    .replace('{booking_id}', encodeURIComponent(booking))
    .replace('{file}', encodeURIComponent(file));
}

interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: Record<string, unknown> | undefined;
  /** performance.now() when the first body byte was handed to the connected socket. */
  firstByteAt: number;
  /** performance.now() when the response head arrived. */
  responseAt: number;
  reusedSocket: boolean;
}

interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  agent?: http.Agent | false;
  /** Bytes per write; the client yields to the event loop between writes (it shares it with the receiver). */
  chunk?: number;
  ca?: string;
}

/**
 * Sends `body` with Content-Length, streamed in chunks once the socket is connected, and times it
 * from the first body byte written to the response head.
 */
function send(url: string, body: Buffer, opts: SendOptions = {}): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const reqOpts: https.RequestOptions = {
      method: opts.method ?? 'PUT',
      headers: { 'content-type': 'image/jpeg', ...opts.headers, 'content-length': String(body.length) },
      agent: opts.agent ?? false,
    };
    if (u.protocol === 'https:') reqOpts.rejectUnauthorized = false;
    const req = (u.protocol === 'https:' ? https : http).request(url, reqOpts);
    const chunk = opts.chunk ?? 64 * 1024;
    let firstByteAt = 0;
    let off = 0;
    let done = false;
    const pump = (): void => {
      if (done || req.destroyed) return;
      if (off >= body.length) return void req.end();
      const piece = body.subarray(off, off + chunk);
      if (off === 0) firstByteAt = performance.now();
      off += piece.length;
      if (req.write(piece)) setImmediate(pump);
      else req.once('drain', pump);
    };
    req.on('socket', (s) => {
      if (s.connecting) s.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', pump);
      else pump();
    });
    req.on('response', (res) => {
      const responseAt = performance.now();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const finish = (): void => {
          done = true;
          let json: Record<string, unknown> | undefined;
          try {
            json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json, firstByteAt, responseAt, reusedSocket: req.reusedSocket });
        };
        // An early answer (404, 401) arrives while the body is still going out: finish sending it.
        if (req.writableFinished) finish();
        else req.once('finish', finish);
      });
    });
    req.on('error', reject);
  });
}

/** Sends and expects a network error; resolves with its code. */
async function sendFails(url: string, body: Buffer, opts: SendOptions = {}): Promise<string> {
  try {
    const s = await send(url, body, opts);
    assert.fail(`expected a network error, got HTTP ${s.status}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

function simple(url: string, method: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const within = (actual: number, expected: number, tolerance: number): boolean => Math.abs(actual / expected - 1) <= tolerance;

// ---------------------------------------------------------------------------------------------
// Storage

test('a PUT is stored with its sha256 and size; POST works too; repeats are counted; GET and HEAD / answer 200', async (t) => {
  const r = await start(t);
  assert.match(r.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(r.urlTemplate, `${r.url}/booths/{booth_id}/bookings/{booking_id}/images/{file}`);

  const body = bytes(300_000);
  const res = await send(uploadUrl(r, 'FB-1042', '4711', 'IMG_0001.jpg'), body, { headers: { 'x-booth': 'FB-1042' } });
  assert.equal(res.status, 201);
  assert.deepEqual(res.json, { ok: true, booth: 'FB-1042', booking: '4711', file: 'IMG_0001.jpg', bytes: 300_000, sha256: sha256(body) });

  const [rec] = r.uploads();
  assert.ok(rec);
  assert.equal(rec.method, 'PUT');
  assert.equal(rec.status, 201);
  assert.equal(rec.bytes, 300_000);
  assert.equal(rec.sha256, sha256(body));
  assert.equal(rec.contentLength, 300_000);
  assert.equal(rec.headers['x-booth'], 'FB-1042');
  assert.equal(rec.fault, undefined);
  assert.equal(rec.rateBytesPerSec, null);
  assert.ok(rec.startedAt !== null && rec.endedAt !== null && rec.endedAt >= rec.startedAt && rec.startedAt >= rec.at - 1);
  assert.ok(rec.receiverSeconds !== null && rec.receiverSeconds >= 0);

  const other = bytes(1234, 7);
  assert.equal((await send(uploadUrl(r, 'FB-1042', '4711', 'IMG_0001.jpg'), other, { method: 'POST' })).status, 201);
  assert.equal((await send(uploadUrl(r, 'FB-1042', '4712', 'IMG_0001.jpg'), body)).status, 201);
  assert.deepEqual(r.stored(), new Map([
    ['4711/IMG_0001.jpg', { bytes: 1234, sha256: sha256(other), count: 2 }],
    ['4712/IMG_0001.jpg', { bytes: 300_000, sha256: sha256(body), count: 1 }],
  ]));
  assert.equal(r.uploads()[1]?.method, 'POST');

  assert.equal((await simple(r.url + '/', 'GET')).status, 200);
  assert.deepEqual(await simple(r.url + '/', 'HEAD'), { status: 200, body: '' });
  assert.equal(r.probes, 2);
  assert.equal((await simple(r.url + '/nope', 'GET')).status, 404);
  assert.equal((await simple(uploadUrl(r, 'b', 'k', 'f.jpg'), 'GET')).status, 405);
  assert.equal(r.uploads().length, 3);
});

test('percent-encoded booth, booking and file names are decoded', async (t) => {
  const r = await start(t);
  const names = [
    ['booth one', 'bk#7 %20', 'Hochzeit Müller – 001 ?#%.jpg'],
    ['FB/ü', '日本語', 'IMG 0001 (copy) & more+plus.jpeg'],
  ] as const;
  for (const [booth, booking, file] of names) {
    const url = uploadUrl(r, booth, booking, file);
    assert.doesNotMatch(new URL(url).pathname, /[ #?]/);
    assert.equal((await send(url, bytes(10))).status, 201);
  }
  assert.deepEqual(r.uploads().map((u) => [u.booth, u.booking, u.file]), names.map((n) => [...n]));
  assert.deepEqual([...r.stored().keys()], names.map(([, booking, file]) => `${booking}/${file}`));
  // Malformed percent-encoding is a 400, not a crash.
  assert.equal((await simple(`${r.url}/booths/b/bookings/%E0%A4%A/images/x.jpg`, 'PUT')).status, 400);
});

// ---------------------------------------------------------------------------------------------
// Rate limiting

for (const rate of [2e6, 10e6]) {
  test(`a 4 MB body at ${rate / 1e6} MB/s takes size/rate within ±3%, for the receiver and for the sender`, async (t) => {
    const r = await start(t, { rateBytesPerSec: rate });
    const body = bytes(4_000_000);
    const res = await send(uploadUrl(r, 'b', 'k', 'big.jpg'), body);
    assert.equal(res.status, 201);
    const rec = r.uploads()[0];
    assert.ok(rec && rec.receiverSeconds !== null);
    assert.equal(rec.sha256, sha256(body));
    assert.equal(rec.rateBytesPerSec, rate);
    const expected = body.length / rate;
    const client = (res.responseAt - res.firstByteAt) / 1000;
    t.diagnostic(`expected ${expected.toFixed(3)} s, receiver ${rec.receiverSeconds.toFixed(4)} s, client ${client.toFixed(4)} s`);
    assert.ok(within(rec.receiverSeconds, expected, 0.03), `receiver took ${rec.receiverSeconds} s, expected ${expected} s`);
    assert.ok(within(client, expected, 0.03), `client saw ${client} s, expected ${expected} s`);
    assert.ok(within(body.length / client, rate, 0.03), `client rate ${body.length / client} B/s`);
  });
}

test('the rate can change between uploads and is then unpaced when cleared', async (t) => {
  const r = await start(t);
  // 2 MB (0.4 s at 5 MB/s): a few ms of event-loop delay on a loaded CI machine stay inside 3%.
  const body = bytes(2_000_000);
  r.rateBytesPerSec = 5e6;
  await send(uploadUrl(r, 'b', 'k', 'a.jpg'), body);
  r.rateBytesPerSec = undefined;
  await send(uploadUrl(r, 'b', 'k', 'b.jpg'), body);
  const [paced, free] = r.uploads();
  assert.ok(paced?.receiverSeconds != null && free?.receiverSeconds != null);
  assert.ok(within(paced.receiverSeconds, 0.4, 0.03), `paced took ${paced.receiverSeconds} s`);
  assert.equal(free.rateBytesPerSec, null);
  assert.ok(free.receiverSeconds < 0.05, `unpaced took ${free.receiverSeconds} s`);
});

// ---------------------------------------------------------------------------------------------
// Faults

test('status500Ratio answers 500 after reading the whole body, and nothing is stored', async (t) => {
  const r = await start(t);
  r.faults.status500Ratio = 1;
  const body = bytes(200_000);
  const res = await send(uploadUrl(r, 'b', 'k', 'x.jpg'), body);
  assert.equal(res.status, 500);
  const rec = r.uploads()[0];
  assert.equal(rec?.fault, 'status500');
  assert.equal(rec?.status, 500);
  assert.equal(rec?.bytes, 200_000);
  assert.equal(rec?.sha256, sha256(body));
  assert.equal(r.stored().size, 0);
  r.faults.status500Ratio = 0;
  assert.equal((await send(uploadUrl(r, 'b', 'k', 'x.jpg'), body)).status, 201);
  assert.equal(r.stored().get('k/x.jpg')?.count, 1);
});

test('status503Ratio answers 503 with Retry-After; status429Ratio answers 429', async (t) => {
  const r = await start(t);
  r.faults = { status503Ratio: 1, retryAfterSeconds: 7 };
  const a = await send(uploadUrl(r, 'b', 'k', 'x.jpg'), bytes(1000));
  assert.equal(a.status, 503);
  assert.equal(a.headers['retry-after'], '7');
  r.faults = { status429Ratio: 1 };
  const b = await send(uploadUrl(r, 'b', 'k', 'x.jpg'), bytes(1000));
  assert.equal(b.status, 429);
  assert.equal(b.headers['retry-after'], undefined);
  assert.deepEqual(r.uploads().map((u) => [u.status, u.fault, u.bytes]), [[503, 'status503', 1000], [429, 'status429', 1000]]);
  assert.equal(r.stored().size, 0);
});

test('resetMidBodyRatio resets the connection after half of the body', async (t) => {
  const r = await start(t);
  r.faults.resetMidBodyRatio = 1;
  const code = await sendFails(uploadUrl(r, 'b', 'k', 'x.jpg'), bytes(1_000_000));
  assert.match(code, /ECONNRESET|EPIPE/);
  const rec = r.uploads()[0];
  assert.equal(rec?.fault, 'reset-mid-body');
  assert.equal(rec?.status, 0);
  assert.equal(rec?.bytes, 500_000);
  assert.equal(r.stored().size, 0);
});

test('fault ratios come from the seeded PRNG: the same seed gives the same outcomes', async (t) => {
  const outcomes = async (seed: number): Promise<string> => {
    const r = await start(t, { seed, faults: { status500Ratio: 0.3, status503Ratio: 0.3, resetMidBodyRatio: 0.2 } });
    let s = '';
    for (let i = 0; i < 24; i++) {
      try {
        s += String((await send(uploadUrl(r, 'b', 'k', `${i}.jpg`), bytes(20_000, i))).status)[0];
      } catch {
        s += 'R';
      }
    }
    return s;
  };
  const a = await outcomes(5);
  assert.equal(await outcomes(5), a);
  assert.notEqual(await outcomes(6), a);
  for (const c of ['2', '5', 'R']) assert.ok(a.includes(c), `${a} has no ${c}`);
});

test('rejectBookings answers 404 before the body is read, then drains it so the connection stays usable', async (t) => {
  const r = await start(t);
  r.faults.rejectBookings = new Set(['4711']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());

  // The answer arrives while most of the body is still unsent: the client writes one chunk and
  // then waits for the answer before writing the rest.
  const body = bytes(2_000_000);
  const early = await new Promise<{ status: number; sentWhenAnswered: number }>((resolve, reject) => {
    let sent = 0;
    const req = http.request(uploadUrl(r, 'b', '4711', 'x.jpg'), { method: 'PUT', agent, headers: { 'content-length': String(body.length) } });
    req.on('error', reject);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const sentWhenAnswered = sent;
      res.resume();
      const rest = body.subarray(sent);
      sent = body.length;
      req.end(rest);
      req.on('finish', () => res.on('end', () => resolve({ status, sentWhenAnswered })));
    });
    req.write(body.subarray(0, 64 * 1024));
    sent = 64 * 1024;
  });
  assert.equal(early.status, 404);
  assert.equal(early.sentWhenAnswered, 64 * 1024);
  await r.waitFor((x) => x.uploads()[0]?.endedAt != null);
  const rec = r.uploads()[0];
  assert.equal(rec?.fault, 'rejected-booking');
  assert.equal(rec?.status, 404);
  assert.equal(rec?.bytes, body.length);

  // Next request on the same (drained) connection; other bookings are accepted.
  const next = await send(uploadUrl(r, 'b', '4712', 'x.jpg'), bytes(1000), { agent });
  assert.equal(next.status, 201);
  assert.equal(next.reusedSocket, true);
  const again = await send(uploadUrl(r, 'b', '4711', 'y.jpg'), bytes(1000), { agent });
  assert.equal(again.status, 404);
  assert.deepEqual(again.json, { error: 'unknown booking', booth: 'b', booking: '4711' });
  assert.deepEqual([...r.stored().keys()], ['4712/x.jpg']);
});

test('requireHeader answers 401 without the header (or with another value) and 201 with it', async (t) => {
  const r = await start(t);
  r.faults.requireHeader = { name: 'X-Upload-Token', value: 's3cret' };
  const url = uploadUrl(r, 'b', 'k', 'x.jpg');
  assert.equal((await send(url, bytes(100_000))).status, 401);
  assert.equal((await send(url, bytes(100), { headers: { 'x-upload-token': 'wrong' } })).status, 401);
  assert.equal((await send(url, bytes(100), { headers: { 'X-Upload-Token': 's3cret' } })).status, 201);
  assert.deepEqual(r.uploads().map((u) => [u.status, u.fault ?? null]), [[401, 'unauthorized'], [401, 'unauthorized'], [201, null]]);
  assert.equal(r.uploads()[2]?.headers['x-upload-token'], 's3cret');
});

test('latencyMs delays the answer', async (t) => {
  const r = await start(t);
  r.faults.latencyMs = 150;
  const t0 = performance.now();
  assert.equal((await send(uploadUrl(r, 'b', 'k', 'x.jpg'), bytes(100))).status, 201);
  assert.ok(performance.now() - t0 >= 145);
});

test('down refuses connections and resets uploads in flight; the same port accepts again afterwards', async (t) => {
  const r = await start(t, { rateBytesPerSec: 1e6 });
  const url = uploadUrl(r, 'b', 'k', 'x.jpg');

  // An upload in flight (paced at 1 MB/s, so it lasts 1 s) is cut when the receiver goes down.
  const inFlight = sendFails(url, bytes(1_000_000));
  await r.waitFor((x) => (x.uploads()[0]?.bytes ?? 0) > 100_000);
  r.faults.down = true;
  assert.match(await inFlight, /ECONNRESET|EPIPE/);
  assert.equal(r.uploads()[0]?.fault, 'down');

  assert.equal(await sendFails(url, bytes(10)), 'ECONNREFUSED');
  await assert.rejects(simple(r.url + '/', 'HEAD'), { code: 'ECONNREFUSED' });

  r.faults.down = false;
  r.rateBytesPerSec = undefined;
  assert.equal((await send(url, bytes(10))).status, 201);

  // Replacing the whole fault object works the same way.
  r.faults = { down: true };
  assert.equal(await sendFails(url, bytes(10)), 'ECONNREFUSED');
  r.faults = {};
  assert.equal((await simple(r.url + '/', 'GET')).status, 200);
  assert.equal(r.uploads().length, 2);
});

// ---------------------------------------------------------------------------------------------
// TLS

test('serves HTTPS with a key and certificate, paced the same way', needs(openssl), async (t) => {
  const pems = certificates();
  const r = await start(t, { rateBytesPerSec: 5e6, tls: { key: pems.serverKey, cert: pems.serverCert } });
  assert.match(r.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const body = bytes(1_000_000);
  const res = await send(uploadUrl(r, 'b', 'k', 'x.jpg'), body);
  assert.equal(res.status, 201);
  const rec = r.uploads()[0];
  assert.equal(rec?.sha256, sha256(body));
  assert.ok(rec?.receiverSeconds != null && within(rec.receiverSeconds, 0.2, 0.03), `took ${rec?.receiverSeconds} s`);
  assert.ok(within((res.responseAt - res.firstByteAt) / 1000, 0.2, 0.03));
});
