// TLS for the loopback tests: a throwaway CA with server and client certificates, made once per
// process with the `openssl` command, and an HTTPS server that records every request.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { listen } from './listen.ts';

export interface Pems {
  ca: string;
  serverKey: string;
  serverCert: string;
  /** A server certificate from the same CA, but for IP 127.0.0.2. */
  otherKey: string;
  otherCert: string;
  clientKey: string;
  clientCert: string;
}

/** The CN of the client certificate. */
export const CLIENT_CN = 'booth-FB-1042';

export const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = booth-agent test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[other_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

let pemCache: Pems | undefined;

/**
 * A throwaway CA with a server certificate for 127.0.0.1, one for 127.0.0.2 and a client
 * certificate (made once per process; their folder is removed when the process exits).
 */
export function certificates(): Pems {
  if (pemCache) return pemCache;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-tls-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const openssl = (args: string[]) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT') {
        throw new Error('the TLS tests need the `openssl` command to make their certificates, and it is not on PATH: install OpenSSL (CI does)');
      }
      throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
    }
  };
  fs.writeFileSync(path.join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca_ext', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=booth-agent test CA']);
  const leaf = (name: string, cn: string, ext: string, serial: string) => {
    openssl(['req', '-new', '-config', 'openssl.cnf', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '2', '-extfile', 'openssl.cnf', '-extensions', ext, '-out', `${name}.crt`]);
  };
  leaf('server', '127.0.0.1', 'server_ext', '2');
  leaf('other', '127.0.0.2', 'other_ext', '3');
  leaf('client', CLIENT_CN, 'client_ext', '4');
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  pemCache = {
    ca: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    otherKey: read('other.key'),
    otherCert: read('other.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
  };
  return pemCache;
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  authorized: boolean;
  peerCN: string | undefined;
}

export interface Reply {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
}

export const SERVER_DATE = 'Sun, 30 Aug 2015 12:36:00 GMT';

/**
 * A loopback HTTPS server recording every request (its whole body read) and answering `reply(…)`:
 * status 200, an OpenSearch-like JSON body and Date SERVER_DATE unless told otherwise. Closed when
 * the test ends.
 */
export async function startServer(t: TestContext, tls: https.ServerOptions, reply: (r: Received) => Reply = () => ({})): Promise<{ url: URL; received: Received[] }> {
  const received: Received[] = [];
  const server = https.createServer(tls, async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    const r: Received = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks),
      authorized: socket.authorized,
      peerCN: peer && typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined,
    };
    received.push(r);
    const out = reply(r);
    const body = out.body ?? '{"took":1,"errors":false,"items":[]}';
    res.writeHead(out.status ?? 200, { 'content-type': 'application/json', date: SERVER_DATE, ...out.headers });
    res.end(body);
  });
  const { port } = await listen(t, server);
  return { url: new URL(`https://127.0.0.1:${port}`), received };
}
