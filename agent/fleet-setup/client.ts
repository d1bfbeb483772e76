// HTTP to the cluster for fleet-setup: JSON in and out, a timeout on every request, the same
// authentication as the agent's sink (basic, bearer, SigV4). got's retry is off: a configuration
// request that fails is reported, not repeated behind the operator's back.
import got, { type Got } from 'got';
import { gotHttpsOptions } from '../config/tls.ts';
import { authenticate } from '../sinks/opensearch/auth.ts';
import { endpoint } from '../sinks/opensearch/service.ts';
import type { AuthSettings, TlsSettings } from '../sinks/opensearch/settings.ts';

export interface ClusterResponse {
  status: number;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: unknown;
}

export interface ClusterRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path and query, e.g. /_index_template/booth-upload */
  path: string;
  body?: unknown;
  /** Newline-delimited JSON, sent as is (a _bulk body) instead of `body`. */
  ndjson?: string;
}

export class ClusterClient {
  readonly url: URL;
  private readonly auth: AuthSettings;
  private readonly http: Got;

  constructor(url: URL, auth: AuthSettings, tls: TlsSettings, timeoutMs = 30_000) {
    this.url = url;
    this.auth = auth;
    this.http = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      timeout: { request: timeoutMs },
      https: gotHttpsOptions(tls),
    });
  }

  async send(req: ClusterRequest): Promise<ClusterResponse> {
    // The cluster may live under a path (a proxy): kept, as the sinks keep it.
    const url = endpoint(this.url, req.path);
    const hasBody = req.body !== undefined || req.ndjson !== undefined;
    const body = req.ndjson !== undefined ? Buffer.from(req.ndjson) : req.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(req.body));
    let headers: Record<string, string> = { accept: 'application/json' };
    if (hasBody) headers['content-type'] = req.ndjson !== undefined ? 'application/x-ndjson' : 'application/json';
    headers = authenticate(this.auth, req.method, url, headers, body);
    let response;
    try {
      response = await this.http(url, { method: req.method, headers, ...(hasBody ? { body } : {}) });
    } catch (err) {
      throw new Error(`${req.method} ${url.origin}${url.pathname}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: unknown = response.body;
    try {
      parsed = response.body === '' ? undefined : JSON.parse(response.body);
    } catch {
      // not JSON (a proxy's error page, a plain 401): kept as text for the error message
    }
    return { status: response.statusCode, body: parsed };
  }
}

/** An answer that is not what the request needed, with its status for the caller to judge. */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** The reason OpenSearch gives in an error body, in one line. */
export function errorReason(body: unknown): string {
  if (typeof body === 'string') return body.trim().slice(0, 300) || '(empty body)';
  if (typeof body !== 'object' || body === null) return '(no body)';
  const b = body as { error?: unknown; message?: unknown; status?: unknown };
  if (typeof b.error === 'object' && b.error !== null) {
    const e = b.error as { type?: string; reason?: string };
    return [e.type, e.reason].filter(Boolean).join(': ');
  }
  if (typeof b.error === 'string') return b.error;
  if (typeof b.message === 'string') return b.message;
  return JSON.stringify(body).slice(0, 300);
}
