// What the OpenSearch sinks need from the config and the secret files, in one place.
import type { Secrets } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { tlsMaterial, type TlsMaterial } from '../../config/tls.ts';

export type AuthSettings =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'sigv4'; region: string; service: 'es' | 'aoss' | 'osis'; accessKeyId: string; secretAccessKey: string };

export type TlsSettings = TlsMaterial;

export interface SinkSettings {
  url: URL;
  mode: 'bulk' | 'ingest';
  ingestPath: string;
  indexPrefix: string;
  pipeline?: string | undefined;
  auth: AuthSettings;
  tls: TlsSettings;
  gzip: boolean;
  maxDocs: number;
  maxBytes: number;
  intervalMs: number;
  requestTimeoutMs: number;
  /** Requests in flight at once while a backlog drains and the cluster keeps up (1: one at a time). */
  concurrency: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** heartbeat.interval: how fresh a delivered heartbeat must be for the booth to yield to others. */
  heartbeatIntervalMs: number;
}

/** undefined when no OpenSearch URL is configured (the agent then measures and buffers only). */
export function sinkSettings(config: Config, secrets: Secrets): SinkSettings | undefined {
  const os = config.opensearch;
  if (!os.url) return undefined;
  const secret = (key: string) => {
    const v = secrets.get(key);
    if (v === undefined) throw new Error(`${key}: the secret was not loaded`);
    return v;
  };
  const a = os.auth;
  const auth: AuthSettings =
    a.type === 'basic'
      ? { type: 'basic', username: a.username!, password: secret('opensearch.auth.password_file') }
      : a.type === 'bearer'
        ? { type: 'bearer', token: secret('opensearch.auth.token_file') }
        : a.type === 'sigv4'
          ? {
              type: 'sigv4',
              region: a.region!,
              service: a.service,
              accessKeyId: secret('opensearch.auth.access_key_id_file'),
              secretAccessKey: secret('opensearch.auth.secret_access_key_file'),
            }
          : { type: 'none' };
  const tls = tlsMaterial('opensearch', config, secrets);
  return {
    url: new URL(os.url),
    mode: os.mode,
    ingestPath: os.ingest_path,
    indexPrefix: os.index_prefix,
    pipeline: os.pipeline,
    auth,
    tls,
    gzip: os.compression === 'gzip',
    maxDocs: os.batch.max_docs,
    maxBytes: os.batch.max_bytes,
    intervalMs: os.batch.interval,
    requestTimeoutMs: os.request_timeout,
    concurrency: os.concurrency,
    minDelayMs: os.retry.min_delay,
    maxDelayMs: os.retry.max_delay,
    heartbeatIntervalMs: config.heartbeat.interval,
  };
}
