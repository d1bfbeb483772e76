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

/**
 * The most of an answer the agent reads. A `_bulk` answer to a batch of at most 10,000 documents is
 * a few MB at most; a server that sends more (a proxy's error page of 300 MB, a loop) would take the
 * agent's memory with it, so such an answer is a failed request instead.
 */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** An answer cut off at MAX_RESPONSE_BYTES: a failed request, retried like a network error. */
export class ResponseTooLarge extends Error {
  override name = 'ResponseTooLarge';
  readonly code = 'ERESPONSETOOLARGE';
}

/**
 * Where `path` (`/_bulk?…`) is under the configured URL, its path kept: a cluster behind a
 * path-routing proxy (`https://gateway/opensearch/`) is reached at `/opensearch/_bulk`.
 */
export function endpoint(base: URL, path: string): URL {
  return new URL(`${base.origin}${base.pathname.replace(/\/?$/, '/')}${path.replace(/^\//, '')}`);
}

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
    // One socket per request the sink may have in flight (opensearch.concurrency): a second one
    // only while a backlog drains against a cluster that keeps up.
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: settings.concurrency }),
      https: new https.Agent({ keepAlive: true, maxSockets: settings.concurrency }),
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
    const url = endpoint(this.settings.url, path);
    const prepared = typeof body === 'object' && 'bytes' in body ? body : await this.payload(body);
    const payload = prepared.bytes;
    let headers: Headers = { 'content-type': contentType, accept: 'application/json' };
    if (prepared.gzip) headers['content-encoding'] = 'gzip';
    // Signed at send time: SigV4 signatures carry the time and expire.
    headers = authenticate(this.settings.auth, 'POST', url, headers, payload);
    const started = Date.now();
    const cutOff = new AbortController();
    const request = this.client.post(url, { body: payload, headers, signal: signal ? AbortSignal.any([signal, cutOff.signal]) : cutOff.signal });
    request.on('downloadProgress', ({ transferred }: { transferred: number }) => {
      if (transferred > MAX_RESPONSE_BYTES && !cutOff.signal.aborted) cutOff.abort();
    });
    const response = await request.catch((err: unknown) => {
      if (cutOff.signal.aborted) throw new ResponseTooLarge(`${url.host} sent an answer of more than ${MAX_RESPONSE_BYTES / 1024 / 1024} MB; not read`);
      throw err;
    });
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
