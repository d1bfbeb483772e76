// The configuration file of SPEC §4: every key, its default and what it accepts.
// The README's config reference is generated from this file (npm run docs), and a test
// fails when the two differ.
import * as z from 'zod';
import {
  boolean,
  duration,
  integer,
  oneOf,
  optionalPath,
  optionalText,
  path,
  size,
  stringList,
  stringMap,
  text,
  url,
} from './fields.ts';

// Sections may be left out: their keys take their defaults. (The fields' input type is unknown.)
const EMPTY = {} as never;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const BOOTH_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
/** opensearch.index_prefix: the fleet's indices are {prefix}-{kind}-YYYY.MM. */
export const INDEX_PREFIX_RE = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

const tls = (what: string) =>
  z
    .strictObject({
      ca_file: optionalPath(`PEM file of the certificate authority that signed the ${what} certificate`),
      cert_file: optionalPath(`PEM client certificate for mutual TLS with the ${what}`),
      key_file: optionalPath(`PEM private key of the client certificate (keep it 0600)`),
      verify: boolean({ default: true, doc: `check the ${what} certificate; false is logged as a warning` }),
    })
    .prefault(EMPTY);

export const configSchema = z.strictObject({
  booth: z.strictObject({
    id: text(BOOTH_ID_RE, '1–64 characters of A-Z a-z 0-9 . _ -', { doc: 'the booth identity in every document' }),
    country: text(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 country code in upper case, such as US or DE', {
      doc: 'the country the "zero booths online" alert groups by',
    }),
    region: optionalText(/^[A-Za-z0-9._-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 . _ -', 'a free region name'),
    labels: stringMap(/^[A-Za-z0-9_.-]{1,64}$/, 'names of A-Z a-z 0-9 _ . -', 32, 'copied into every document as booth.labels'),
  }),
  state_dir: path({ default: '/var/lib/booth-agent', doc: 'the SQLite buffer lives here; must be writable' }),
  log: z
    .strictObject({
      level: oneOf(['error', 'warn', 'info', 'debug'] as const, { default: 'info', doc: 'least severe level written' }),
      file: optionalPath('log to this file (rotated by size) instead of stderr'),
      max_size: size(100_000, 1e9, { default: '10MB', doc: 'rotate the log file at this size' }),
      max_files: integer(1, 100, { default: 5, doc: 'rotated log files kept' }),
    })
    .prefault(EMPTY),
  uploads: z.strictObject({
    watch_dir: path({ doc: 'one folder per booking: <watch_dir>/<booking_id>/<image>; must exist' }),
    url: url(['http:', 'https:'], {
      doc: 'upload target; {booth_id}, {booking_id} and {file} are replaced (percent-encoded)',
    }),
    method: oneOf(['PUT', 'POST'] as const, { default: 'PUT', doc: 'the raw file is the request body' }),
    headers: stringMap(HEADER_NAME_RE, 'HTTP header names', 64, 'extra request headers (no secrets here)'),
    header_files: stringMap(HEADER_NAME_RE, 'HTTP header names', 16, 'header name → file holding its value, e.g. Authorization', 'file paths'),
    extensions: stringList(/^[A-Za-z0-9]{1,16}$/, 'file extensions without the dot', {
      default: ['jpg', 'jpeg', 'png', 'heic', 'gif', 'mp4', 'mov'],
      doc: 'only these are uploaded (case-insensitive)',
    }),
    concurrency: integer(1, 16, { default: 2, doc: 'uploads in flight at once' }),
    complete_marker: text(/^[^/\0]{1,255}$/, 'a file name', {
      default: '.complete',
      doc: 'the booth software writes this file when a booking is finished',
    }),
    booking_idle_timeout: duration(SECOND, DAY, { default: '10m', doc: 'a booking with no new file for this long is finished' }),
    settle_time: duration(100, 10 * MINUTE, { default: '2s', doc: 'a file is uploaded once it has not grown for this long' }),
    rejected_retry: duration(SECOND, 30 * DAY, { default: '1h', doc: 'a file the server refused (4xx) is tried again after this long' }),
    reconcile_interval: duration(SECOND, HOUR, {
      default: '2m',
      doc: 'the watch folder is listed and compared with the upload state this often: files the watcher missed are taken in, a recreated folder is watched again',
    }),
    stale_after: duration(MINUTE, 30 * DAY, { default: '1h', doc: 'a file seen but not yet tried for this long is a status warning that names it' }),
    speed_window: duration(SECOND, HOUR, {
      default: '5m',
      doc: 'during a booking longer than this, the speed of its uploads in the last window is compared with the baseline',
    }),
    after_upload: oneOf(['keep', 'delete', 'move'] as const, { default: 'keep', doc: 'what happens to a file after a 2xx' }),
    move_to: optionalPath('destination folder when after_upload is move'),
    connect_timeout: duration(100, 5 * MINUTE, { default: '10s', doc: 'TCP + TLS connection setup' }),
    idle_timeout: duration(SECOND, 30 * MINUTE, { default: '60s', doc: 'no bytes moving for this long aborts the attempt' }),
    retry: z
      .strictObject({
        attempts: integer(1, 100, { default: 6, doc: 'attempts before a file waits for the next round' }),
        min_delay: duration(10, HOUR, { default: '2s', doc: 'first retry delay (exponential, with jitter)' }),
        max_delay: duration(100, DAY, { default: '10m', doc: 'longest retry delay' }),
      })
      .prefault(EMPTY),
    tls: tls('upload server'),
  }),
  opensearch: z
    .strictObject({
      url: url(['http:', 'https:'], { optional: true, doc: 'without it the agent measures and buffers only' }),
      mode: oneOf(['bulk', 'ingest'] as const, { default: 'bulk', doc: 'bulk: the _bulk API; ingest: OpenSearch Ingestion / Data Prepper' }),
      ingest_path: text(/^\/\S*$/, 'a path starting with /', { default: '/log/ingest', doc: 'HTTP source path in ingest mode' }),
      index_prefix: text(INDEX_PREFIX_RE, 'a lower-case index name prefix of a-z 0-9 _ -', {
        default: 'booth',
        doc: 'indices are {prefix}-{kind}-YYYY.MM',
      }),
      pipeline: optionalText(/^[A-Za-z0-9._-]{1,255}$/, 'an ingest pipeline name', 'ingest pipeline for bulk mode (fleet-setup installs "booth-ingest")'),
      auth: z
        .strictObject({
          type: oneOf(['none', 'basic', 'bearer', 'sigv4'] as const, { default: 'none', doc: 'how the agent authenticates' }),
          username: optionalText(/^[^\s:]{1,256}$/, 'a user name without spaces or colons', 'basic auth user'),
          password_file: optionalPath('file holding the basic auth password'),
          token_file: optionalPath('file holding the bearer token'),
          region: optionalText(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1', 'sigv4 region'),
          service: oneOf(['es', 'aoss', 'osis'] as const, { default: 'es', doc: 'sigv4 service: es, aoss (serverless) or osis (ingestion)' }),
          access_key_id_file: optionalPath('file holding the AWS access key id'),
          secret_access_key_file: optionalPath('file holding the AWS secret access key'),
        })
        .prefault(EMPTY),
      tls: tls('OpenSearch'),
      compression: oneOf(['gzip', 'none'] as const, { default: 'gzip', doc: 'request body compression' }),
      batch: z
        .strictObject({
          max_docs: integer(1, 10_000, { default: 500, doc: 'documents per request at most' }),
          max_bytes: size(1000, 100e6, { default: '5MB', doc: 'request body size at most (before compression)' }),
          interval: duration(10, 10 * MINUTE, { default: '5s', doc: 'send a partial batch after this long' }),
        })
        .prefault(EMPTY),
      request_timeout: duration(SECOND, 10 * MINUTE, { default: '30s', doc: 'one request, start to end' }),
      concurrency: integer(1, 4, {
        default: 2,
        doc: 'requests in flight at once while a backlog drains and the cluster takes every request; one at a time whenever it fails or pushes back',
      }),
      retry: z
        .strictObject({
          min_delay: duration(10, HOUR, { default: '1s', doc: 'first retry delay (exponential, full jitter); the pace a busy cluster\'s 429s start from' }),
          max_delay: duration(100, DAY, { default: '5m', doc: 'longest retry delay' }),
        })
        .prefault(EMPTY),
    })
    .prefault(EMPTY),
  heartbeat: z
    .strictObject({
      interval: duration(SECOND, HOUR, { default: '30s', doc: 'how often the booth says it is alive' }),
    })
    .prefault(EMPTY),
  network: z
    .strictObject({
      interval: duration(SECOND, HOUR, { default: '60s', doc: 'how often network health is sampled' }),
      probe_timeout: duration(100, MINUTE, { default: '5s', doc: 'each probe (DNS + connect + TLS, or the gateway pings) ends by then' }),
      host_facts_interval: duration(MINUTE, DAY, {
        default: '15m',
        doc: 'how often a child process asks systeminformation for the host and interface facts (model, serial, DHCP, duplex, CPU temperature); killed after 10 s',
      }),
      targets: stringList(/^\S{1,512}$/, 'host:port or URLs', {
        default: [],
        doc: 'extra targets to probe; the gateway, upload host and OpenSearch host are always probed',
      }),
    })
    .prefault(EMPTY),
  buffer: z
    .strictObject({
      max_size: size(1e6, 1e12, { default: '256MB', doc: 'the SQLite buffer never grows past this' }),
      max_age: duration(MINUTE, 365 * DAY, { default: '30d', doc: 'older unsent documents are dropped (and counted)' }),
    })
    .prefault(EMPTY),
});

export type Config = z.output<typeof configSchema>;
