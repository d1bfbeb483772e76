// Authentication and TLS of the OpenSearch sinks (agent/sinks/opensearch/{auth,service}.ts):
// SigV4 against AWS's published Signature Version 4 Test Suite, the payload-hash header Serverless
// (aoss) needs, basic and bearer headers, and OpenSearchService.post against a loopback HTTPS
// server whose certificates (throwaway CA, server and client certificates) are made with the
// `openssl` command by test/support/tls.ts. Reference: /work/shared/reference/opensearch.md §5.3.
//
// Expected Authorization values are AWS's published vectors (credentials AKIDEXAMPLE, region
// us-east-1, service "service", 20150830T123600Z), as carried by awslabs/aws-c-auth
// tests/aws-signing-test-suite/v4/*/header-signed-request.txt and by the AWS SDK for JavaScript v3
// (@aws-sdk/signature-v4 suite.fixture).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import aws4 from 'aws4';
import { authenticate, signV4, type Headers } from '../agent/sinks/opensearch/auth.ts';
import { OpenSearchService } from '../agent/sinks/opensearch/service.ts';
import type { AuthSettings, SinkSettings, TlsSettings } from '../agent/sinks/opensearch/settings.ts';
import { needs, openssl } from './support/needs.ts';
import { certificates, SERVER_DATE, startServer, type Received } from './support/tls.ts';

type SigV4 = Extract<AuthSettings, { type: 'sigv4' }>;

const SUITE_DATE = new Date('2015-08-30T12:36:00Z');
const SUITE_KEY = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
// The suite's service name is "service", which AuthSettings does not list (it allows es, aoss, osis).
const SUITE_AUTH: SigV4 = { type: 'sigv4', region: 'us-east-1', service: 'service' as string as 'es', ...SUITE_KEY };
const SUITE_SCOPE = 'AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

/** The three parts of an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header. */
function parseAuthorization(value: string | undefined): { credential: string; signedHeaders: string[]; signature: string } {
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(value ?? '');
  assert.ok(m, `not a SigV4 Authorization header: ${value}`);
  return { credential: m[1]!, signedHeaders: m[2]!.split(';'), signature: m[3]! };
}

// ---------------------------------------------------------------------------------------------
// 1. SigV4: AWS's published test suite, signed without the payload-hash header

interface Vector {
  name: string;
  method: string;
  url: string;
  headers: Headers;
  body: string;
  authorization: string;
}

const VECTORS: Vector[] = [
  {
    name: 'get-vanilla',
    method: 'GET',
    url: 'https://example.amazonaws.com/',
    headers: {},
    body: '',
    authorization: `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31`,
  },
  {
    name: 'post-vanilla',
    method: 'POST',
    url: 'https://example.amazonaws.com/',
    headers: {},
    body: '',
    authorization: `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b`,
  },
  {
    // Query parameters are sorted by key in the canonical request (Param1 before Param2).
    name: 'get-vanilla-query-order-key-case',
    method: 'GET',
    url: 'https://example.amazonaws.com/?Param2=value2&Param1=value1',
    headers: {},
    body: '',
    authorization: `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500`,
  },
  {
    // A body: its SHA-256 is the last line of the canonical request.
    name: 'post-x-www-form-urlencoded',
    method: 'POST',
    url: 'https://example.amazonaws.com/',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'Param1=value1',
    authorization: `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a`,
  },
  {
    // Header values are trimmed and runs of spaces collapse to one (my-header2:"a b c").
    name: 'get-header-value-trim',
    method: 'GET',
    url: 'https://example.amazonaws.com/',
    headers: { 'My-Header1': ' value1', 'My-Header2': ' "a   b   c"' },
    body: '',
    authorization: `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736`,
  },
];

for (const v of VECTORS) {
  test(`SigV4 test suite ${v.name}: signV4(…, payloadHashHeader=false) gives AWS's exact Authorization header`, () => {
    const out = signV4(SUITE_AUTH, v.method, new URL(v.url), { ...v.headers }, Buffer.from(v.body), SUITE_DATE, false);
    assert.equal(out['authorization'], v.authorization);
    assert.equal(out['x-amz-date'], '20150830T123600Z');
    assert.equal(out['host'], 'example.amazonaws.com');
    assert.equal(out['x-amz-content-sha256'], undefined, 'no payload-hash header when it is turned off');
  });
}

test('SigV4 default (payload hash header on) matches aws-c-auth\'s post-x-www-form-urlencoded vector with x-amz-content-sha256', () => {
  // aws-c-auth's current version of the vector sends Content-Length and signs the payload-hash header.
  const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '13' };
  const out = signV4(SUITE_AUTH, 'POST', new URL('https://example.amazonaws.com/'), headers, Buffer.from('Param1=value1'), SUITE_DATE);
  assert.equal(out['x-amz-content-sha256'], '9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e');
  assert.equal(
    out['authorization'],
    `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, ` +
      'Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b',
  );
});

test('SigV4 default: x-amz-content-sha256 is sha256(body), is signed, and the caller\'s headers are kept', () => {
  const body = Buffer.from('{"create":{}}\n{"booth":{"id":"FB-1042"}}\n');
  const input = { 'content-type': 'application/x-ndjson', accept: 'application/json' };
  const inputCopy = { ...input };
  const out = signV4(SUITE_AUTH, 'POST', new URL('https://search-booths-abc.us-east-1.es.amazonaws.com/_bulk'), input, body, SUITE_DATE);
  assert.deepEqual(input, inputCopy, 'the caller\'s headers object is not modified');
  assert.equal(out['x-amz-content-sha256'], sha256(body));
  assert.equal(out['content-type'], 'application/x-ndjson');
  assert.equal(out['accept'], 'application/json');
  assert.equal(out['host'], 'search-booths-abc.us-east-1.es.amazonaws.com');
  assert.equal(out['x-amz-date'], '20150830T123600Z');
  const auth = parseAuthorization(out['authorization']);
  for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256', 'content-type']) assert.ok(auth.signedHeaders.includes(h), `${h} is signed: ${auth.signedHeaders.join(';')}`);
  assert.deepEqual([...auth.signedHeaders].sort(), auth.signedHeaders, 'SignedHeaders are sorted');

  const empty = signV4(SUITE_AUTH, 'POST', new URL('https://example.amazonaws.com/'), {}, Buffer.alloc(0), SUITE_DATE);
  assert.equal(empty['x-amz-content-sha256'], EMPTY_SHA256);
  assert.ok(parseAuthorization(empty['authorization']).signedHeaders.includes('x-amz-content-sha256'));
});

test('SigV4: the service (es, aoss, osis) and region are in the credential scope; the signing key differs per service', () => {
  const signatures = new Set<string>();
  for (const service of ['es', 'aoss', 'osis'] as const) {
    const auth: SigV4 = { type: 'sigv4', region: 'eu-west-1', service, ...SUITE_KEY };
    const out = signV4(auth, 'POST', new URL('https://abc123.eu-west-1.aoss.amazonaws.com/_bulk'), { 'content-type': 'application/x-ndjson' }, Buffer.from('{}\n'), SUITE_DATE);
    const parsed = parseAuthorization(out['authorization']);
    assert.equal(parsed.credential, `AKIDEXAMPLE/20150830/eu-west-1/${service}/aws4_request`);
    signatures.add(parsed.signature);
  }
  assert.equal(signatures.size, 3);
});

test('SigV4 signs the exact bytes given (the gzip-compressed body): other bytes, other signature', () => {
  const text = '{"create":{}}\n{"network":{"rtt_ms":41.5}}\n'.repeat(20);
  const gz = zlib.gzipSync(text, { level: 3 });
  const url = new URL('https://search-booths-abc.us-east-1.es.amazonaws.com/_bulk');
  const headers = { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' };
  const auth: SigV4 = { type: 'sigv4', region: 'us-east-1', service: 'es', ...SUITE_KEY };
  const sig = (body: Buffer, hashHeader = true) => signV4(auth, 'POST', url, { ...headers }, body, SUITE_DATE, hashHeader);

  const signed = sig(gz);
  assert.equal(signed['x-amz-content-sha256'], sha256(gz), 'the hash of the compressed bytes, not of the text');
  assert.notEqual(signed['x-amz-content-sha256'], sha256(text));
  assert.deepEqual(sig(Buffer.from(gz)), signed, 'deterministic for the same bytes and time');

  const tampered = Buffer.from(gz);
  tampered[tampered.length - 5]! ^= 0x01;
  const signature = (h: Headers) => parseAuthorization(h['authorization']).signature;
  assert.notEqual(signature(sig(tampered)), signature(signed), 'one flipped byte changes the signature');
  assert.notEqual(signature(sig(Buffer.from(text))), signature(signed), 'the uncompressed text signs differently');
  // Without the payload-hash header the body still enters the canonical request.
  assert.notEqual(signature(sig(tampered, false)), signature(sig(gz, false)));
});

test('authenticate() with sigv4 is signV4 with the payload-hash header', () => {
  const auth: SigV4 = { type: 'sigv4', region: 'us-west-2', service: 'aoss', ...SUITE_KEY };
  const url = new URL('https://abc123.us-west-2.aoss.amazonaws.com/_bulk');
  const body = Buffer.from('{"index":{}}\n{}\n');
  const headers = { 'content-type': 'application/x-ndjson' };
  const viaAuthenticate = authenticate(auth, 'POST', url, { ...headers }, body, SUITE_DATE);
  assert.deepEqual(viaAuthenticate, signV4(auth, 'POST', url, { ...headers }, body, SUITE_DATE, true));
  assert.equal(viaAuthenticate['x-amz-content-sha256'], sha256(body));
});

// ---------------------------------------------------------------------------------------------
// 2. basic and bearer

test('basic auth: Authorization is "Basic " + base64(username:password) (RFC 7617 examples), other headers kept', () => {
  const url = new URL('https://127.0.0.1:9200/_bulk');
  const headers = { 'content-type': 'application/x-ndjson', accept: 'application/json' };
  const out = authenticate({ type: 'basic', username: 'Aladdin', password: 'open sesame' }, 'POST', url, headers, Buffer.from('x'));
  assert.deepEqual(out, { ...headers, authorization: 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==' });
  assert.equal(headers['content-type'], 'application/x-ndjson');
  assert.equal('authorization' in headers, false, 'the input headers are not modified');
  // UTF-8, and a colon in the password stays in the password.
  assert.equal(authenticate({ type: 'basic', username: 'test', password: '123£' }, 'POST', url, {}, Buffer.alloc(0))['authorization'], 'Basic dGVzdDoxMjPCow==');
  assert.equal(authenticate({ type: 'basic', username: 'u', password: 'a:b' }, 'POST', url, {}, Buffer.alloc(0))['authorization'], `Basic ${Buffer.from('u:a:b').toString('base64')}`);
});

test('bearer auth: Authorization is "Bearer <token>" exactly; none adds nothing', () => {
  const url = new URL('https://127.0.0.1:9200/_bulk');
  const headers = { 'content-type': 'application/json' };
  assert.deepEqual(authenticate({ type: 'bearer', token: 'eyJhbGciOiJIUzI1NiJ9.e30.sig' }, 'POST', url, headers, Buffer.from('{}')), {
    'content-type': 'application/json',
    authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig',
  });
  assert.deepEqual(authenticate({ type: 'none' }, 'POST', url, headers, Buffer.from('{}')), { 'content-type': 'application/json' });
});

// ---------------------------------------------------------------------------------------------
// 3. TLS against a loopback HTTPS server, certificates made with openssl (test/support/tls.ts)

function sinkSettings(url: URL, over: { tls: TlsSettings; auth?: AuthSettings; gzip?: boolean }): SinkSettings {
  return {
    url,
    mode: 'bulk',
    ingestPath: '/log/ingest',
    indexPrefix: 'booth',
    pipeline: undefined,
    auth: over.auth ?? { type: 'none' },
    tls: over.tls,
    gzip: over.gzip ?? false,
    maxDocs: 500,
    maxBytes: 5_000_000,
    intervalMs: 5_000,
    requestTimeoutMs: 5_000,
    concurrency: 1,
    minDelayMs: 1_000,
    maxDelayMs: 60_000,
    heartbeatIntervalMs: 30_000,
  };
}

function service(t: TestContext, settings: SinkSettings): OpenSearchService {
  const svc = new OpenSearchService(settings);
  t.after(() => svc.close());
  return svc;
}

const NDJSON = '{"create":{"_index":"booth-network-2015.08"}}\n{"@timestamp":"2015-08-30T12:36:00Z","network":{"rtt_ms":41.5}}\n';

/** Codes Node gives a certificate that does not chain to a trusted CA. */
const UNTRUSTED_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT']);

test('HTTPS with tls.ca: post succeeds; status, body, the server\'s Date and Retry-After come back as sent', needs(openssl), async (t) => {
  const pems = certificates();
  const reply = '{"error":{"type":"es_rejected_execution_exception"},"status":429}';
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert }, () => ({ status: 429, body: reply, headers: { 'retry-after': '7' } }));
  const svc = service(t, sinkSettings(server.url, { tls: { ca: pems.ca, verify: true } }));

  const before = Date.now();
  const res = await svc.post('/_bulk?filter_path=errors', NDJSON, 'application/x-ndjson');
  const afterMs = Date.now();
  assert.equal(res.status, 429, 'HTTP statuses do not throw');
  assert.equal(res.body, reply);
  assert.equal(res.retryAfter, '7');
  assert.equal(res.date, SERVER_DATE);
  assert.ok(res.midpointMs >= before && res.midpointMs <= afterMs, 'midpoint lies within the request');

  assert.equal(server.received.length, 1);
  const got = server.received[0]!;
  assert.equal(got.method, 'POST');
  assert.equal(got.url, '/_bulk?filter_path=errors');
  assert.equal(got.headers['content-type'], 'application/x-ndjson');
  assert.equal(got.headers['content-encoding'], undefined, 'gzip: false sends the body as is');
  assert.equal(got.headers['authorization'], undefined, 'auth none sends no Authorization');
  assert.equal(got.body.toString(), NDJSON);
});

test('HTTPS with verify: true and no tls.ca: post fails with a certificate verification error, the server sees no request', needs(openssl), async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert });
  const svc = service(t, sinkSettings(server.url, { tls: { verify: true } }));
  await assert.rejects(svc.post('/_bulk', NDJSON, 'application/x-ndjson'), (err: NodeJS.ErrnoException) => {
    assert.ok(UNTRUSTED_CODES.has(err.code ?? ''), `a TLS verification error, got ${err.code}: ${err.message}`);
    return true;
  });
  assert.equal(server.received.length, 0);
});

test('HTTPS with tls.ca but a certificate for another address: the name check fails (ERR_TLS_CERT_ALTNAME_INVALID)', needs(openssl), async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.otherKey, cert: pems.otherCert });
  const svc = service(t, sinkSettings(server.url, { tls: { ca: pems.ca, verify: true } }));
  await assert.rejects(svc.post('/_bulk', NDJSON, 'application/x-ndjson'), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID', err.message);
    return true;
  });
  assert.equal(server.received.length, 0);
});

test('HTTPS with verify: false: an untrusted certificate is accepted; no Retry-After gives undefined', needs(openssl), async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert });
  const svc = service(t, sinkSettings(server.url, { tls: { verify: false } }));
  const res = await svc.post('/_bulk', NDJSON, 'application/x-ndjson');
  assert.equal(res.status, 200);
  assert.equal(res.retryAfter, undefined);
  assert.equal(res.date, SERVER_DATE);
  assert.equal(server.received.length, 1);
  assert.equal(server.received[0]!.body.toString(), NDJSON);
});

test('HTTPS requiring a client certificate: post fails without tls.cert/key', needs(openssl), async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert, ca: pems.ca, requestCert: true, rejectUnauthorized: true });
  const svc = service(t, sinkSettings(server.url, { tls: { ca: pems.ca, verify: true } }));
  await assert.rejects(svc.post('/_bulk', NDJSON, 'application/x-ndjson'), (err: NodeJS.ErrnoException) => {
    // TLS 1.3: the server's certificate_required alert (or the reset that follows it).
    assert.match(`${err.code} ${err.message}`, /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE|socket hang up/i);
    return true;
  });
  assert.equal(server.received.length, 0, 'the request never reached the server');
});

test('HTTPS requiring a client certificate: post succeeds with tls.cert/key, the server sees the client certificate', needs(openssl), async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert, ca: pems.ca, requestCert: true, rejectUnauthorized: true });
  const svc = service(t, sinkSettings(server.url, { tls: { ca: pems.ca, cert: pems.clientCert, key: pems.clientKey, verify: true } }));
  const res = await svc.post('/log/ingest', '[{"a":1}]', 'application/json');
  assert.equal(res.status, 200);
  assert.equal(server.received.length, 1);
  assert.equal(server.received[0]!.authorized, true);
  assert.equal(server.received[0]!.peerCN, 'booth-FB-1042');
  assert.equal(server.received[0]!.body.toString(), '[{"a":1}]');
});

test('gzip: true sends Content-Encoding: gzip and a body that gunzips to what was posted', needs(openssl), async (t) => {
  const pems = certificates();
  const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert });
  const svc = service(t, sinkSettings(server.url, { tls: { ca: pems.ca, verify: true }, gzip: true, auth: { type: 'basic', username: 'booth', password: 's3cret' } }));
  const text = NDJSON.repeat(50);
  const res = await svc.post('/_bulk', text, 'application/x-ndjson');
  assert.equal(res.status, 200);
  const got = server.received[0]!;
  assert.equal(got.headers['content-encoding'], 'gzip');
  assert.equal(got.headers['content-type'], 'application/x-ndjson');
  assert.equal(got.headers['authorization'], `Basic ${Buffer.from('booth:s3cret').toString('base64')}`);
  assert.ok(got.body.length < Buffer.byteLength(text), 'the body on the wire is compressed');
  assert.equal(got.body[0], 0x1f);
  assert.equal(got.body[1], 0x8b);
  assert.equal(zlib.gunzipSync(got.body).toString(), text);
  if (got.headers['content-length'] !== undefined) assert.equal(Number(got.headers['content-length']), got.body.length);
});

// ---------------------------------------------------------------------------------------------
// 4. SigV4 on the wire: the server recomputes the signature from what it received

/** What a SigV4 server does: rebuild the canonical request from the received bytes and sign it again. */
function recomputeAuthorization(r: Received, auth: SigV4, body: Buffer = r.body): string {
  const { signedHeaders } = parseAuthorization(r.headers['authorization']);
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const v = r.headers[name];
    assert.ok(v !== undefined, `signed header ${name} arrived`);
    headers[name] = Array.isArray(v) ? v.join(',') : v;
  }
  const signer = new aws4.RequestSigner(
    { method: r.method, host: r.headers['host'], path: r.url, service: auth.service, region: auth.region, headers, body, doNotModifyHeaders: true },
    { accessKeyId: auth.accessKeyId, secretAccessKey: auth.secretAccessKey },
  );
  signer.datetime = headers['x-amz-date'];
  const signed = signer.sign();
  return String((signed.headers as Record<string, unknown>)['Authorization']);
}

for (const { service: svcName, gzip } of [
  { service: 'es', gzip: true },
  { service: 'aoss', gzip: true },
  { service: 'osis', gzip: false },
] as const) {
  test(`SigV4 (${svcName}, gzip ${gzip}) over HTTPS: the signed headers arrive and the server recomputes the same signature from the received bytes`, needs(openssl), async (t) => {
    const pems = certificates();
    const auth: SigV4 = { type: 'sigv4', region: 'eu-central-1', service: svcName, accessKeyId: 'AKIDBOOTH', secretAccessKey: 'booth/secret+key' };
    const server = await startServer(t, { key: pems.serverKey, cert: pems.serverCert });
    const svc = service(t, sinkSettings(server.url, { tls: { ca: pems.ca, verify: true }, gzip, auth }));
    const text = NDJSON.repeat(10);
    const started = Date.now();
    const res = await svc.post('/_bulk?pipeline=booth-enrich&filter_path=errors,items.*.error', text, 'application/x-ndjson');
    assert.equal(res.status, 200);

    const r = server.received[0]!;
    for (const h of ['authorization', 'x-amz-date', 'x-amz-content-sha256', 'host']) assert.ok(r.headers[h], `${h} arrived`);
    assert.equal(r.headers['host'], server.url.host);
    assert.match(r.headers['x-amz-date'] as string, /^\d{8}T\d{6}Z$/);
    const signedAt = Date.parse((r.headers['x-amz-date'] as string).replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    assert.ok(Math.abs(signedAt - started) < 60_000, 'x-amz-date is the time of the request');
    assert.equal(r.headers['x-amz-content-sha256'], sha256(r.body), 'the payload hash is the hash of the bytes on the wire');
    const parsed = parseAuthorization(r.headers['authorization'] as string);
    assert.equal(parsed.credential, `AKIDBOOTH/${(r.headers['x-amz-date'] as string).slice(0, 8)}/eu-central-1/${svcName}/aws4_request`);
    for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256', 'content-type']) assert.ok(parsed.signedHeaders.includes(h), `${h} is signed`);
    if (gzip) {
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.ok(parsed.signedHeaders.includes('content-encoding'), 'content-encoding is signed');
      assert.equal(zlib.gunzipSync(r.body).toString(), text);
    } else {
      assert.equal(r.body.toString(), text);
    }

    assert.equal(recomputeAuthorization(r, auth), r.headers['authorization'], 'the server\'s signature matches');
    // The check can fail: other bytes (here the uncompressed text, or one flipped byte) do not verify.
    const flipped = Buffer.from(r.body);
    flipped[0]! ^= 0x01;
    const tamperedHeaders = { ...r, headers: { ...r.headers, 'x-amz-content-sha256': sha256(flipped) } };
    assert.notEqual(recomputeAuthorization(tamperedHeaders, auth, flipped), r.headers['authorization']);
    assert.notEqual(recomputeAuthorization(r, { ...auth, secretAccessKey: 'another/secret' }), r.headers['authorization']);
  });
}
