// The HTTP side of the OpenSearch sinks: one keep-alive connection, a timeout on every request,
// gzip, authentication, TLS. got's own retry is off — the sink decides what a failure means.
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import got, { type Got } from 'got';
import { gotHttpsOptions } from '../../config/tls.ts';
import { authenticate, type Headers } from './auth.ts';
import type { SinkSettings } from './settings.ts';

const gzip = promisify(zlib.gzip);

export interface ServiceResponse {
  status: number;
  body: string;
  retryAfter: string | undefined;
  /** The server's Date header, for measuring the booth's clock skew. */
  date: string | undefined;
  /** Local wall-clock time halfway through the request (the best guess of when Date was stamped). */
  midpointMs: number;
}

/** A request body ready to go: compressed if the sink compresses. */
export interface Payload {
  bytes: Buffer;
  gzip: boolean;
}

export class OpenSearchService {
  private readonly client: Got;
  private readonly settings: SinkSettings;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(settings: SinkSettings) {
    this.settings = settings;
    // One socket: one request in flight, so shipping never competes with photo uploads for the uplink.
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: 1 }),
      https: new https.Agent({ keepAlive: true, maxSockets: 1 }),
    };
    const tls = settings.tls;
    this.client = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      timeout: { request: settings.requestTimeoutMs },
      agent: this.agents,
      https: gotHttpsOptions(tls),
    });
  }

  /** Compresses a body (on libuv's thread pool) when the sink is configured to. */
  async payload(body: Buffer | string): Promise<Payload> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    return this.settings.gzip ? { bytes: await gzip(bytes, { level: 3 }), gzip: true } : { bytes, gzip: false };
  }

  /** POSTs `body` (JSON or NDJSON) to `path`; network errors throw, HTTP statuses do not. */
  async post(path: string, body: Buffer | string | Payload, contentType: string, signal?: AbortSignal): Promise<ServiceResponse> {
    const url = new URL(path, this.settings.url);
    const prepared = typeof body === 'object' && 'bytes' in body ? body : await this.payload(body);
    const payload = prepared.bytes;
    let headers: Headers = { 'content-type': contentType, accept: 'application/json' };
    if (prepared.gzip) headers['content-encoding'] = 'gzip';
    // Signed at send time: SigV4 signatures carry the time and expire.
    headers = authenticate(this.settings.auth, 'POST', url, headers, payload);
    const started = Date.now();
    const response = await this.client.post(url, { body: payload, headers, ...(signal ? { signal } : {}) });
    const header = (name: string) => {
      const v = response.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      status: response.statusCode,
      body: response.body,
      retryAfter: header('retry-after'),
      date: header('date'),
      midpointMs: (started + Date.now()) / 2,
    };
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
