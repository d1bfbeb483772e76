// Network probes (SPEC §5 "Network health", issue 5) against real servers on loopback: a plain TCP
// server, a TLS server with a generated certificate, a closed port, a name that does not resolve, and
// servers that accept and then say nothing — each ends within its bound, with the error in words.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { parseTarget, probe } from '../agent/sources/network/probe.ts';
import { listen } from './support/listen.ts';
import { needs, openssl } from './support/needs.ts';
import { certificates } from './support/tls.ts';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test('targets: URLs (with the upload template), host:port and IPv6; anything else is refused', () => {
  assert.deepEqual(parseTarget('upload', 'https://fulfil.example.com/booths/{booth_id}/{file}'), { role: 'upload', target: 'https://fulfil.example.com', host: 'fulfil.example.com', port: 443, tls: true });
  assert.deepEqual(parseTarget('opensearch', 'http://10.0.0.5:9200'), { role: 'opensearch', target: 'http://10.0.0.5:9200', host: '10.0.0.5', port: 9200, tls: false });
  assert.deepEqual(parseTarget('target', '1.1.1.1:53'), { role: 'target', target: '1.1.1.1:53', host: '1.1.1.1', port: 53, tls: false });
  assert.deepEqual(parseTarget('target', '[::1]:8080'), { role: 'target', target: '[::1]:8080', host: '::1', port: 8080, tls: false });
  assert.equal(parseTarget('target', 'example.com'), undefined);
  assert.equal(parseTarget('target', 'example.com:0'), undefined);
  assert.equal(parseTarget('target', 'example.com:70000'), undefined);
});

test('a plain TCP server: ok, the connect time, no DNS time for an address; a name is resolved and timed', async (t) => {
  const { port } = await listen(t, net.createServer());
  const byAddress = await probe(parseTarget('target', `127.0.0.1:${port}`)!, 2000);
  assert.equal(byAddress.ok, true, byAddress.error);
  assert.equal(typeof byAddress.connect_ms, 'number');
  assert.equal(byAddress.dns_ms, undefined);
  assert.equal(byAddress.tls_ms, undefined);
  const byName = await probe(parseTarget('target', `localhost:${port}`)!, 2000);
  assert.equal(byName.ok, true, byName.error);
  assert.equal(typeof byName.dns_ms, 'number');
});

test('a TLS server with a generated certificate: the handshake is timed (> 0)', needs(openssl), async (t) => {
  const pems = certificates();
  const server = tls.createServer({ key: pems.serverKey, cert: pems.serverCert }, (s) => s.end());
  server.on('tlsClientError', () => {});
  const { port } = await listen(t, server);
  const result = await probe(parseTarget('upload', `https://127.0.0.1:${port}/x`)!, 2000);
  assert.equal(result.ok, true, result.error);
  assert.ok(result.tls_ms! > 0, `tls_ms ${result.tls_ms}`);
  assert.equal(result.target, `https://127.0.0.1:${port}`);
});

test('a closed port: not ok, "refused the connection" in words', async () => {
  const port = await closedPort();
  const result = await probe(parseTarget('opensearch', `http://127.0.0.1:${port}`)!, 2000);
  assert.equal(result.ok, false);
  assert.equal(result.error, `127.0.0.1:${port} refused the connection (nothing listening on port ${port})`);
  assert.equal(result.connect_ms, undefined);
});

test('a name that does not resolve: a DNS error naming it', async () => {
  const started = performance.now();
  const result = await probe(parseTarget('upload', 'https://no-such-host.invalid/up')!, 3000);
  assert.equal(result.ok, false);
  assert.match(result.error!, /no-such-host\.invalid/);
  assert.match(result.error!, /does not resolve|no DNS server answered|resolving/);
  assert.equal(result.connect_ms, undefined, 'it never got to connecting');
  assert.ok(performance.now() - started < 3500);
});

test('a server that accepts and then stalls the TLS handshake: over within the bound, in words', async (t) => {
  const { port } = await listen(t, net.createServer(() => {}));
  const started = performance.now();
  const result = await probe(parseTarget('upload', `https://127.0.0.1:${port}`)!, 500);
  const elapsed = performance.now() - started;
  assert.equal(result.ok, false);
  assert.equal(result.error, `no answer within 0.5 s while the TLS handshake with 127.0.0.1:${port}`);
  assert.equal(typeof result.connect_ms, 'number', 'the connection itself was fine');
  assert.ok(elapsed >= 450 && elapsed < 1500, `took ${elapsed.toFixed(0)} ms`);
});
