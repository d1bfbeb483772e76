// The upload client (agent/sources/uploads/client.ts) against real loopback servers, each made in
// its test: HTTPS with the test CA, with no CA, with verification off, and with a client
// certificate required (certificates from test/support/tls.ts); an idle server (the socket
// timeout), an early 413 for a body the server never reads, and a 503 with Retry-After.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { TlsMaterial } from '../agent/config/tls.ts';
import { UploadClient, type AttemptResult, type UploadBody } from '../agent/sources/uploads/client.ts';
import { answerHostile } from './support/hostile.ts';
import { needs, openssl } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';
import { certificates, startServer } from './support/tls.ts';

const MB = 1024 * 1024;

/** A file of `size` random bytes in a temp dir removed when the test ends. */
function writeFile(t: TestContext, size: number, name = 'IMG_0001.jpg'): { file: string; bytes: Buffer } {
  const file = path.join(tempDir(t, 'booth-agent-upload-client-'), name);
  const bytes = crypto.randomBytes(size);
  fs.writeFileSync(file, bytes);
  return { file, bytes };
}

/** The whole file as an attempt's body, opened afresh by each attempt. */
function fileBody(file: string, size: number): UploadBody {
  return { name: path.basename(file), size, open: () => fsp.open(file, 'r') };
}

function client(tls: TlsMaterial, idleTimeoutMs = 5_000): UploadClient {
  return new UploadClient({ method: 'PUT', headers: {}, connectTimeoutMs: 2_000, idleTimeoutMs, tls });
}

/** Listens on loopback; the server's sockets are recorded, destroyed and the server closed when the test ends. */
async function listen(t: TestContext, server: http.Server): Promise<{ url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  server.on('connection', (s: Socket) => sockets.push(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

/**
 * A TCP relay in front of `target` that holds back the server's first bytes (the TLS ServerHello)
 * for `delayMs`: a loopback handshake otherwise often takes under the millisecond that got's
 * Date.now()-based timings can resolve, and would read as 0.
 */
async function slowHandshakeRelay(t: TestContext, target: URL, delayMs: number): Promise<URL> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const relay = net.createServer((down) => {
    const up = net.connect(Number(target.port), target.hostname);
    track(down);
    track(up);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.pipe(up);
    up.once('data', (first: Buffer) => {
      up.pause();
      setTimeout(() => {
        down.write(first);
        up.pipe(down);
      }, delayMs);
    });
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, '127.0.0.1', () => resolve());
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  );
  return new URL(`https://127.0.0.1:${(relay.address() as AddressInfo).port}`);
}

/** Resolves when the socket has closed; rejects after `ms`. */
function closed(socket: Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server's socket was still open ${ms} ms after the attempt ended`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A failed attempt that still resolved: no status, an error with a type and a message. */
function assertFailed(result: AttemptResult): { type: string; message: string } {
  assert.equal(result.ok, false);
  assert.equal(result.status, undefined, 'no HTTP status: the request never got an answer');
  assert.ok(result.error, 'the failure is reported as an error');
  assert.equal(typeof result.error.message, 'string');
  assert.ok(result.error.message.length > 0);
  return result.error;
}

const PUT_RESPONSE = '{"stored":true}';

test('HTTPS with tls.ca and verify: the file arrives byte for byte with its Content-Length; 201 is ok; the TLS phase is timed', { timeout: 20_000, ...needs(openssl) }, async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert }, () => ({ status: 201, body: PUT_RESPONSE }));
  const handshakeDelayMs = 30;
  const relay = await slowHandshakeRelay(t, server.url, handshakeDelayMs);
  const { file, bytes } = writeFile(t, MB);

  const result = await client({ verify: true, ca: pems.ca }).attempt(`${relay.origin}/uploads/FB-1042/4711/IMG_0001.jpg`, fileBody(file, MB));

  assert.equal(result.error, undefined, `no error: ${JSON.stringify(result.error)}`);
  assert.equal(result.ok, true);
  assert.equal(result.status, 201);
  assert.equal(result.bytes, MB, 'every byte of the file was sent');
  assert.ok(result.durationMs > 0 && Number.isFinite(result.durationMs));
  assert.ok(result.speedMbS > 0 && Number.isFinite(result.speedMbS));
  assert.equal(typeof result.timings.tls_ms, 'number', `timings: ${JSON.stringify(result.timings)}`);
  assert.ok(result.timings.tls_ms! > 0, `a TLS handshake took time: ${JSON.stringify(result.timings)}`);
  // The relay held the ServerHello back for 30 ms: the TLS phase covers it (a few ms of slack for
  // timer and Date.now() rounding).
  assert.ok(result.timings.tls_ms! >= handshakeDelayMs - 5, `the TLS phase includes the delayed ServerHello: ${JSON.stringify(result.timings)}`);
  assert.equal(typeof result.timings.tcp_ms, 'number');
  assert.ok(result.endedAt >= result.startedAt);
  assert.equal(result.serverAddress, '127.0.0.1', 'the address the TLS connection went to (upload.server_address)');

  assert.equal(server.received.length, 1, 'one request');
  const got = server.received[0]!;
  assert.equal(got.method, 'PUT');
  assert.equal(got.url, '/uploads/FB-1042/4711/IMG_0001.jpg');
  assert.equal(got.headers['content-length'], String(MB));
  assert.equal(got.headers['transfer-encoding'], undefined, 'sent with Content-Length, not chunked');
  assert.equal(got.headers['content-type'], 'application/octet-stream');
  assert.equal(got.body.length, MB);
  assert.ok(got.body.equals(bytes), 'the server received exactly the file\'s bytes');
});

test('HTTPS with verify and no tls.ca: the attempt resolves with UNABLE_TO_VERIFY_LEAF_SIGNATURE; the server never sees a request', { timeout: 20_000, ...needs(openssl) }, async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert }, () => ({ status: 201 }));
  const { file } = writeFile(t, 64 * 1024);

  // A throw here fails the test: attempt() must report, not throw.
  const result = await client({ verify: true }).attempt(`${server.url.origin}/uploads/FB-1042/4711/IMG_0001.jpg`, fileBody(file, 64 * 1024));

  const error = assertFailed(result);
  // The server sends its leaf certificate alone; without the CA Node cannot build the chain.
  assert.equal(error.type, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', JSON.stringify(error));
  assert.match(error.message, /unable to verify the first certificate/);
  assert.equal(result.bytes, 0, 'no body byte left before the handshake failed');
  assert.equal(server.received.length, 0, 'the request never reached the server');
});

test('mutual TLS: with tls.cert/key the upload succeeds and the server sees the client certificate; without them the attempt fails', { timeout: 20_000, ...needs(openssl) }, async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert, ca: pems.ca, requestCert: true, rejectUnauthorized: true }, () => ({ status: 201 }));
  const { file, bytes } = writeFile(t, 256 * 1024);
  const url = `${server.url.origin}/uploads/FB-1042/4711/IMG_0001.jpg`;

  const withCert = await client({ verify: true, ca: pems.ca, cert: pems.clientCert, key: pems.clientKey }).attempt(url, fileBody(file, bytes.length));
  assert.equal(withCert.error, undefined, `no error: ${JSON.stringify(withCert.error)}`);
  assert.equal(withCert.ok, true);
  assert.equal(withCert.status, 201);
  assert.equal(server.received.length, 1);
  assert.equal(server.received[0]!.authorized, true, 'the client certificate chains to the test CA');
  assert.equal(server.received[0]!.peerCN, 'booth-FB-1042');
  assert.ok(server.received[0]!.body.equals(bytes));

  // Without a client certificate (TLS 1.3): the server's certificate_required alert, or the reset
  // that follows it, arrives while the client is already sending.
  const without = await client({ verify: true, ca: pems.ca }).attempt(url, fileBody(file, bytes.length));
  const error = assertFailed(without);
  assert.match(`${error.type} ${error.message}`, /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE|socket hang up/i, JSON.stringify(error));
  assert.equal(server.received.length, 1, 'the second request never reached the server');
});

test('HTTPS with verify: false: the untrusted certificate is accepted and the upload succeeds', { timeout: 20_000, ...needs(openssl) }, async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert }, () => ({ status: 200 }));
  const { file, bytes } = writeFile(t, 300_000);

  const result = await client({ verify: false }).attempt(`${server.url.origin}/up`, fileBody(file, bytes.length));

  assert.equal(result.error, undefined, `no error: ${JSON.stringify(result.error)}`);
  assert.equal(result.ok, true);
  assert.equal(result.status, 200);
  assert.equal(result.bytes, bytes.length);
  assert.equal(server.received.length, 1);
  assert.ok(server.received[0]!.body.equals(bytes));
});

test('idle timeout: a server that reads the whole body and never answers ends the attempt with ETIMEDOUT after idleTimeoutMs, and the connection is closed', { timeout: 20_000 }, async (t) => {
  const { file } = writeFile(t, MB);
  let receivedBytes = 0;
  let bodyComplete = false;
  const server = http.createServer((req) => {
    req.on('data', (c: Buffer) => (receivedBytes += c.length));
    req.on('end', () => (bodyComplete = true));
    // …and never a response.
  });
  const { url, sockets } = await listen(t, server);

  const started = performance.now();
  const result = await client({ verify: true }, 500).attempt(`${url}/up`, fileBody(file, MB));
  const elapsed = performance.now() - started;

  const error = assertFailed(result);
  assert.equal(error.type, 'ETIMEDOUT', JSON.stringify(error));
  assert.match(error.message, /^no progress for too long \(.+\)$/, 'the message of describeUploadError');
  assert.ok(elapsed >= 450, `the attempt waited for the idle timeout (${elapsed.toFixed(0)} ms)`);
  assert.ok(elapsed < 3_000, `the idle timeout (500 ms) ended the attempt, not something slower (${elapsed.toFixed(0)} ms)`);
  assert.equal(bodyComplete, true, 'the server read the whole body: the timeout came while waiting for the answer');
  assert.equal(receivedBytes, MB);
  assert.equal(result.bytes, MB);
  assert.equal(result.serverAddress, '127.0.0.1', 'a failed attempt whose connection was made still says where it went');

  assert.equal(sockets.length, 1);
  await closed(sockets[0]!, 2_000);
});

test('an early 413 for a 20 MB body the server never reads: the attempt resolves promptly with status 413 and does not hang', { timeout: 20_000 }, async (t) => {
  const size = 20 * MB;
  const { file } = writeFile(t, size, 'IMG_0002.jpg');
  let request: http.IncomingMessage | undefined;
  let receivedBytes = 0;
  const server = http.createServer((req, res) => {
    // Answered as soon as the head arrives. The request body is not consumed (so the server stops
    // reading the socket once its buffers fill), and the response is not ended, so Node does not
    // drain the body either: the connection stays open with the body unread.
    request = req;
    const body = '{"error":"too large"}';
    res.writeHead(413, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    res.write(body);
  });
  const { url, sockets } = await listen(t, server);

  const started = performance.now();
  const result = await client({ verify: true }).attempt(`${url}/uploads/FB-1042/4711/IMG_0002.jpg`, fileBody(file, size));
  const elapsed = performance.now() - started;

  assert.equal(result.error, undefined, `the answer is the outcome, not an error: ${JSON.stringify(result.error)}`);
  assert.equal(result.ok, false);
  assert.equal(result.status, 413);
  assert.ok(elapsed < 3_000, `resolved promptly (${elapsed.toFixed(0)} ms)`);
  assert.ok(result.bytes < size, `the attempt did not wait for the whole body to go out (${result.bytes} of ${size} bytes)`);

  // The unsent rest of the body makes the connection unusable: the client must close it rather
  // than go on sending (or keep it for another request). The server, reading again, gets what was
  // already in flight, then the end of the connection — not the remaining 20 MB.
  assert.equal(sockets.length, 1);
  assert.ok(request, 'the server got the request');
  request.on('data', (c: Buffer) => (receivedBytes += c.length));
  request.on('error', () => {}); // the body ends early: "aborted"
  request.resume();
  await closed(sockets[0]!, 2_000);
  assert.ok(receivedBytes < size, `the server got ${receivedBytes} of ${size} bytes before the connection closed`);
});

test('503 with Retry-After: 7: status 503, not ok, retryAfter "7"', { timeout: 20_000 }, async (t) => {
  const { file } = writeFile(t, 100_000);
  let receivedBytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (receivedBytes += c.length));
    req.on('end', () => {
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'text/plain' });
      res.end('busy');
    });
  });
  const { url } = await listen(t, server);

  const result = await client({ verify: true }).attempt(`${url}/up`, fileBody(file, 100_000));

  assert.equal(result.error, undefined, `an HTTP status is not an error: ${JSON.stringify(result.error)}`);
  assert.equal(result.ok, false);
  assert.equal(result.status, 503);
  assert.equal(result.retryAfter, '7');
  assert.equal(result.bytes, 100_000);
  assert.equal(receivedBytes, 100_000);
  assert.equal(result.serverAddress, '127.0.0.1');
});

test('the server address of each attempt: a reused keep-alive connection gives it too; a refused connection has none', { timeout: 20_000 }, async (t) => {
  const { file } = writeFile(t, 10_000);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201).end());
  });
  const { url, sockets } = await listen(t, server);
  const c = client({ verify: true });
  const first = await c.attempt(`${url}/up/1`, fileBody(file, 10_000));
  const second = await c.attempt(`${url}/up/2`, fileBody(file, 10_000));
  assert.deepEqual([first.status, second.status], [201, 201]);
  assert.equal(sockets.length, 1, 'the second attempt went over the first one\'s connection');
  assert.equal(first.serverAddress, '127.0.0.1');
  assert.equal(second.serverAddress, '127.0.0.1');

  const closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const refused = await c.attempt(`http://127.0.0.1:${closedPort}/up`, fileBody(file, 10_000));
  assert.equal(refused.error?.type, 'ECONNREFUSED');
  assert.equal(refused.serverAddress, undefined);
});

// ---------------------------------------------------------------------------------------------
// Answers that trickle or flood (issue 16 items 6 and 7): the status is the verdict; the body is
// read at most 64 KiB and 5 s, and the head must come within the idle timeout once the body is sent.

for (const [what, answer] of [
  ['trickles its body one byte a second behind a Content-Length of 100,000', { kind: 'trickle', status: 200, declaredBytes: 100_000, intervalMs: 1000 }],
  ['sends a body of 300 MB', { kind: 'huge', status: 200, bytes: 300 * MB }],
] as const) {
  test(`a server that answers 200 and ${what}: the attempt ends as a success within seconds, and the connection is closed`, { timeout: 20_000 }, async (t) => {
    const { file, bytes } = writeFile(t, 100_000);
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => void answerHostile(res, answer));
    });
    const { url, sockets } = await listen(t, server);
    const started = performance.now();
    // An idle timeout of 2 s: a body that trickles is cut after 2 s (the grace is 5 s, or less).
    const result = await client({ verify: true }, 2_000).attempt(`${url}/up`, fileBody(file, bytes.length));
    const elapsed = performance.now() - started;
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.equal(result.status, 200);
    assert.ok(elapsed < 5_000, `the answer's body held the attempt for ${elapsed.toFixed(0)} ms`);
    await closed(sockets[0]!, 2_000);
  });
}

test('a server that reads the body and then trickles the head of its answer, a byte a second: ETIMEDOUT after the idle timeout', { timeout: 20_000 }, async (t) => {
  const { file } = writeFile(t, 100_000);
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  const server = net.createServer((sock) => {
    let got = 0;
    sock.on('data', (d) => {
      got += d.length;
      if (got < 100_000) return;
      let i = 0;
      const timer = setInterval(() => (i < head.length && !sock.destroyed ? sock.write(head[i++]!) : clearInterval(timer)), 1000);
      sock.once('close', () => clearInterval(timer));
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const sockets: Socket[] = [];
  server.on('connection', (s) => sockets.push(s));
  const started = performance.now();
  const result = await client({ verify: true }, 1_500).attempt(`http://127.0.0.1:${(server.address() as AddressInfo).port}/up`, fileBody(file, 100_000));
  const elapsed = performance.now() - started;
  const error = assertFailed(result);
  assert.equal(error.type, 'ETIMEDOUT', JSON.stringify(error));
  assert.ok(elapsed < 5_000, `the trickled head held the attempt for ${elapsed.toFixed(0)} ms`);
  await closed(sockets[0]!, 2_000);
});

test('a server reading slowly behind large socket buffers: the bytes still moving are progress, and the upload succeeds (issue 16 item 11)', { timeout: 30_000 }, async (t) => {
  // 1.5 MB read at 300 kB/s takes 5 s; once the last bytes were handed to the kernel (its buffers
  // on loopback hold megabytes) nothing moves in Node, yet the kernel's send queue drains.
  const size = 1.5 * MB;
  const { file, bytes } = writeFile(t, size);
  const hash = crypto.createHash('sha256');
  let received = 0;
  const server = http.createServer((req, res) => {
    const tick = setInterval(() => {
      const chunk = req.read(30_000) as Buffer | null ?? (req.readableLength > 0 ? (req.read() as Buffer | null) : null);
      if (chunk) {
        hash.update(chunk);
        received += chunk.length;
      }
      if (received >= size) {
        clearInterval(tick);
        res.writeHead(201).end();
      }
    }, 100);
    req.once('close', () => clearInterval(tick));
  });
  const { url } = await listen(t, server);
  const started = performance.now();
  const result = await client({ verify: true }, 1_500).attempt(`${url}/up`, fileBody(file, size));
  const elapsed = performance.now() - started;
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.status, 201);
  assert.ok(elapsed > 3_000, `the server took its time (${elapsed.toFixed(0)} ms), longer than twice the idle timeout`);
  assert.equal(hash.digest('hex'), crypto.createHash('sha256').update(bytes).digest('hex'));
});
