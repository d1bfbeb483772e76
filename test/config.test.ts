// The configuration contract (SPEC §3, §4): every bad config is reported with its key path, the bad
// value and what is expected; every problem is listed; the files the config names are checked;
// defaults apply; `check-config` and `run` exit 78 on a bad config; units parse and print.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { DEFAULT_CONFIG_PATH, formatProblem, loadConfig, resolveConfigPath, type LoadResult, type Problem } from '../agent/config/load.ts';
import { COUNTRY_CODES } from '../agent/config/countries.ts';
import { configSchema } from '../agent/config/schema.ts';
import { formatBytes, formatDuration, parseDuration, parseSize } from '../agent/config/units.ts';
import { runCli, type CliResult } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { needs, rootFor, type Need } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';

const UPLOAD_URL = 'http://127.0.0.1:9/booths/{booth_id}/bookings/{booking_id}/images/{file}';

type Obj = Record<string, unknown>;

interface Fixture {
  dir: string;
  file: string;
  outbox: string;
  state: string;
}

function fixture(t: TestContext, dir = tempDir(t)): Fixture {
  const outbox = path.join(dir, 'outbox');
  fs.mkdirSync(outbox);
  return { dir, file: path.join(dir, 'config.yaml'), outbox, state: path.join(dir, 'state') };
}

function base(f: Fixture): Obj {
  return {
    booth: { id: 'FB-1042', country: 'US' },
    state_dir: f.state,
    uploads: { watch_dir: f.outbox, url: UPLOAD_URL },
  };
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(out[k]) && isObj(v) ? merge(out[k] as Obj, v) : v;
  return out;
}

/** The minimal valid config of `f`, deep-merged with `overrides`, minus the dotted keys in `remove`. */
function cfg(f: Fixture, overrides: Obj = {}, ...remove: string[]): Obj {
  const out = merge(base(f), overrides);
  for (const key of remove) {
    const parts = key.split('.');
    let o: unknown = out;
    for (const p of parts.slice(0, -1)) o = (o as Obj)[p];
    delete (o as Obj)[parts.at(-1)!];
  }
  return out;
}

/** A secret file with `mode`, by default private. */
function secretFile(f: Fixture, name: string, value: string, mode = 0o600): string {
  const p = path.join(f.dir, name);
  fs.writeFileSync(p, value);
  fs.chmodSync(p, mode);
  return p;
}

function writeFixture(f: Fixture, config: string | Obj): void {
  fs.writeFileSync(f.file, typeof config === 'string' ? config : stringify(config));
}

function lines(problems: Problem[]): string {
  return problems.map((p) => `  ${formatProblem(p)}`).join('\n') || '  (none)';
}

function assertProblems(result: LoadResult, expected: Expected[]): void {
  assert.equal(result.ok, false, 'the config is rejected');
  const problems = result.ok ? [] : result.problems;
  assert.equal(problems.length, expected.length, `expected ${expected.length} problem(s), got:\n${lines(problems)}`);
  for (const e of expected) {
    const found = problems.find((p) => p.path === e.path && e.includes.every((s) => formatProblem(p).includes(s)));
    assert.ok(found, `expected a problem at "${e.path}" mentioning ${JSON.stringify(e.includes)}; got:\n${lines(problems)}`);
    const line = formatProblem(found);
    assert.ok(line.startsWith(`${e.path}: `), `the line names the key path: ${line}`);
    if (e.exact !== undefined) assert.equal(line, e.exact);
  }
}

interface Expected {
  path: string;
  includes: string[];
  /** The whole line, when it is worth pinning down. */
  exact?: string;
}

interface BadCase {
  name: string;
  config: (f: Fixture) => string | Obj;
  problems: (f: Fixture) => Expected[];
}

const DURATION = 'a duration such as 500ms, 30s, 10m, 2h or 7d';
const SIZE = 'a size such as 512KB, 5MB or 1GB';
const BOOTH_ID = '1–64 characters of A-Z a-z 0-9 . _ -';

const BAD: BadCase[] = [
  // Wrong types.
  {
    name: 'a string where an integer is expected (uploads.concurrency: "two")',
    config: (f) => cfg(f, { uploads: { concurrency: 'two' } }),
    problems: () => [{ path: 'uploads.concurrency', includes: ['expected an integer from 1 to 16', 'got "two"'] }],
  },
  {
    name: 'the SPEC example: opensearch.batch.max_docs: "lots"',
    config: (f) => cfg(f, { opensearch: { batch: { max_docs: 'lots' } } }),
    problems: () => [
      {
        path: 'opensearch.batch.max_docs',
        includes: [],
        exact: 'opensearch.batch.max_docs: expected an integer from 1 to 10000, got "lots"',
      },
    ],
  },
  {
    name: 'requests in flight out of range (opensearch.concurrency: 0)',
    config: (f) => cfg(f, { opensearch: { concurrency: 0 } }),
    problems: () => [{ path: 'opensearch.concurrency', includes: [], exact: 'opensearch.concurrency: expected an integer from 1 to 4, got 0' }],
  },
  {
    name: 'a fraction where an integer is expected (uploads.retry.attempts: 2.5)',
    config: (f) => cfg(f, { uploads: { retry: { attempts: 2.5 } } }),
    problems: () => [{ path: 'uploads.retry.attempts', includes: ['expected an integer from 1 to 100', 'got 2.5'] }],
  },
  {
    name: 'an integer out of range (uploads.concurrency: 0)',
    config: (f) => cfg(f, { uploads: { concurrency: 0 } }),
    problems: () => [{ path: 'uploads.concurrency', includes: ['from 1 to 16', 'got 0'] }],
  },
  {
    name: 'a list where a map is expected (booth.labels: [a, b])',
    config: (f) => cfg(f, { booth: { labels: ['a', 'b'] } }),
    problems: () => [{ path: 'booth.labels', includes: ['expected a map of', 'got a list (["a","b"])'] }],
  },
  {
    name: 'a map where a string is expected (booth.id: {x: 1})',
    config: (f) => cfg(f, { booth: { id: { x: 1 } } }),
    problems: () => [{ path: 'booth.id', includes: [`expected ${BOOTH_ID}`, 'got a map ({"x":1})'] }],
  },
  {
    name: 'a string where a list is expected (uploads.extensions: jpg)',
    config: (f) => cfg(f, { uploads: { extensions: 'jpg' } }),
    problems: () => [{ path: 'uploads.extensions', includes: ['expected a list of file extensions', 'got "jpg"'] }],
  },
  {
    name: 'a value outside an enumeration (log.level: verbose)',
    config: (f) => cfg(f, { log: { level: 'verbose' } }),
    problems: () => [{ path: 'log.level', includes: ['expected one of error | warn | info | debug', 'got "verbose"'] }],
  },
  {
    name: 'a string where a boolean is expected (uploads.tls.verify: "yes")',
    config: (f) => cfg(f, { uploads: { tls: { verify: 'yes' } } }),
    problems: () => [{ path: 'uploads.tls.verify', includes: ['expected true or false', 'got "yes"'] }],
  },
  {
    name: 'an unknown auth type (opensearch.auth.type: oauth)',
    config: (f) => cfg(f, { opensearch: { auth: { type: 'oauth' } } }),
    problems: () => [{ path: 'opensearch.auth.type', includes: ['one of none | basic | bearer | sigv4', 'got "oauth"'] }],
  },
  {
    name: 'an invalid header name in uploads.headers',
    config: (f) => cfg(f, { uploads: { headers: { 'Bad Header': 'x' } } }),
    // Its keys are named; its values are not echoed (a header's value may be a secret).
    problems: () => [{ path: 'uploads.headers', includes: ['HTTP header names', 'got a map (keys "Bad Header") (not shown: it may hold a secret)'] }],
  },
  {
    name: 'an upper-case index prefix (opensearch.index_prefix: Booth)',
    config: (f) => cfg(f, { opensearch: { index_prefix: 'Booth' } }),
    problems: () => [{ path: 'opensearch.index_prefix', includes: ['lower-case index name prefix', 'got "Booth"'] }],
  },
  // Sections given as something other than a map.
  {
    name: 'a section given as a string (booth: FB-1042)',
    config: (f) => cfg(f, { booth: 'FB-1042' }),
    problems: () => [{ path: 'booth', includes: [], exact: 'booth: expected a map of settings, got "FB-1042"' }],
  },
  {
    name: 'a section given as a list (uploads: [a, b])',
    config: (f) => cfg(f, { uploads: ['a', 'b'] }),
    problems: () => [{ path: 'uploads', includes: ['expected a map of settings', 'got a list'] }],
  },
  // Unknown and misspelled keys.
  {
    name: 'an unknown top-level key lists the allowed keys',
    config: (f) => cfg(f, { frobnicate: 1 }),
    problems: () => [
      { path: 'frobnicate', includes: ['unknown key', 'allowed here: booth, state_dir, log, uploads, opensearch, heartbeat, network, buffer'] },
    ],
  },
  {
    name: 'a misspelled key: uploads.concurency → did you mean "concurrency"',
    config: (f) => cfg(f, { uploads: { concurency: 3 } }),
    problems: () => [{ path: 'uploads.concurency', includes: ['unknown key', 'did you mean "concurrency"?'] }],
  },
  {
    name: 'a misspelled section: heartbeet → did you mean "heartbeat"',
    config: (f) => cfg(f, { heartbeet: { interval: '10s' } }),
    problems: () => [{ path: 'heartbeet', includes: ['unknown key', 'did you mean "heartbeat"?'] }],
  },
  {
    name: 'a misspelled nested key: opensearch.batch.max_doc → did you mean "max_docs"',
    config: (f) => cfg(f, { opensearch: { batch: { max_doc: 100 } } }),
    problems: () => [{ path: 'opensearch.batch.max_doc', includes: ['unknown key', 'did you mean "max_docs"?'] }],
  },
  {
    name: 'a misspelled secret key: opensearch.auth.passwrd_file → did you mean "password_file"',
    config: (f) => cfg(f, { opensearch: { auth: { passwrd_file: '/x' } } }),
    problems: () => [{ path: 'opensearch.auth.passwrd_file', includes: ['did you mean "password_file"?'] }],
  },
  // Missing required keys.
  {
    name: 'missing booth.id',
    config: (f) => cfg(f, {}, 'booth.id'),
    problems: () => [{ path: 'booth.id', includes: ['required', BOOTH_ID] }],
  },
  {
    name: 'missing booth.country',
    config: (f) => cfg(f, {}, 'booth.country'),
    problems: () => [{ path: 'booth.country', includes: ['required', 'ISO 3166-1 alpha-2'] }],
  },
  {
    name: 'missing uploads.watch_dir',
    config: (f) => cfg(f, {}, 'uploads.watch_dir'),
    problems: () => [{ path: 'uploads.watch_dir', includes: ['required', 'a file system path'] }],
  },
  {
    name: 'missing uploads.url',
    config: (f) => cfg(f, {}, 'uploads.url'),
    problems: () => [{ path: 'uploads.url', includes: ['required', 'a URL starting with http:// or https://'] }],
  },
  {
    name: 'all four required keys missing at once',
    // state_dir given: the default (/var/lib/booth-agent) cannot be created by a user who is not root.
    config: (f) => `booth: {}\nuploads: {}\nstate_dir: ${f.state}\n`,
    problems: () => ['booth.id', 'booth.country', 'uploads.watch_dir', 'uploads.url'].map((p) => ({ path: p, includes: ['required'] })),
  },
  // Durations.
  {
    name: 'a duration in words (uploads.idle_timeout: 10 minutes)',
    config: (f) => cfg(f, { uploads: { idle_timeout: '10 minutes' } }),
    problems: () => [{ path: 'uploads.idle_timeout', includes: [DURATION, 'from 1s to 30m', 'got "10 minutes"'] }],
  },
  {
    name: 'a duration without a unit (uploads.connect_timeout: 7)',
    config: (f) => cfg(f, { uploads: { connect_timeout: 7 } }),
    problems: () => [{ path: 'uploads.connect_timeout', includes: [DURATION, 'from 100ms to 5m', 'got 7'] }],
  },
  {
    name: 'a negative duration (heartbeat.interval: -5s)',
    config: (f) => cfg(f, { heartbeat: { interval: '-5s' } }),
    problems: () => [{ path: 'heartbeat.interval', includes: [DURATION, 'got "-5s"'] }],
  },
  {
    name: 'a duration above its range (network.interval: 2d)',
    config: (f) => cfg(f, { network: { interval: '2d' } }),
    problems: () => [{ path: 'network.interval', includes: ['from 1s to 1h', 'got "2d"'] }],
  },
  {
    name: 'a duration below its range (opensearch.batch.interval: 5ms)',
    config: (f) => cfg(f, { opensearch: { batch: { interval: '5ms' } } }),
    problems: () => [{ path: 'opensearch.batch.interval', includes: ['from 10ms to 10m', 'got "5ms"'] }],
  },
  // Sizes.
  {
    name: 'a size with an unknown unit (buffer.max_size: 5XB)',
    config: (f) => cfg(f, { buffer: { max_size: '5XB' } }),
    problems: () => [{ path: 'buffer.max_size', includes: [SIZE, 'from 1MB to 1000GB', 'got "5XB"'] }],
  },
  {
    name: 'a zero size (opensearch.batch.max_bytes: 0MB)',
    config: (f) => cfg(f, { opensearch: { batch: { max_bytes: '0MB' } } }),
    problems: () => [{ path: 'opensearch.batch.max_bytes', includes: [SIZE, 'from 1KB to 100MB', 'got "0MB"'] }],
  },
  // Country codes.
  {
    name: 'a lower-case country code (us)',
    config: (f) => cfg(f, { booth: { country: 'us' } }),
    problems: () => [{ path: 'booth.country', includes: ['ISO 3166-1 alpha-2', 'upper case', 'got "us"'] }],
  },
  {
    name: 'a network target that is neither host:port nor a URL',
    config: (f) => cfg(f, { network: { targets: ['1.1.1.1:53', 'example.com', 'https://ok.example.com'] } }),
    problems: () => [{ path: 'network.targets.1', includes: ['host:port or an http(s) URL', 'got "example.com"'] }],
  },
  {
    name: 'UK is not an ISO code: the hint says GB',
    config: (f) => cfg(f, { booth: { country: 'UK' } }),
    problems: () => [{ path: 'booth.country', includes: ['ISO 3166-1 alpha-2', 'got "UK"', 'GB'] }],
  },
  {
    name: 'an unassigned country code (XX)',
    config: (f) => cfg(f, { booth: { country: 'XX' } }),
    problems: () => [{ path: 'booth.country', includes: ['ISO 3166-1 alpha-2', 'got "XX"'] }],
  },
  {
    name: 'an alpha-3 country code (USA)',
    config: (f) => cfg(f, { booth: { country: 'USA' } }),
    problems: () => [{ path: 'booth.country', includes: ['ISO 3166-1 alpha-2', 'got "USA"'] }],
  },
  // Booth ids.
  {
    name: 'a booth id with a space',
    config: (f) => cfg(f, { booth: { id: 'FB 1042' } }),
    problems: () => [{ path: 'booth.id', includes: [BOOTH_ID, 'got "FB 1042"'] }],
  },
  {
    name: 'a booth id of 65 characters',
    config: (f) => cfg(f, { booth: { id: 'B'.repeat(65) } }),
    problems: () => [{ path: 'booth.id', includes: [BOOTH_ID, `got "${'B'.repeat(40)}`] }],
  },
  {
    name: 'a booth id with a non-ASCII letter',
    config: (f) => cfg(f, { booth: { id: 'FB-Zürich' } }),
    problems: () => [{ path: 'booth.id', includes: [BOOTH_ID, 'got "FB-Zürich"'] }],
  },
  // Cross-key rules.
  {
    name: 'after_upload: move without move_to',
    config: (f) => cfg(f, { uploads: { after_upload: 'move' } }),
    problems: () => [{ path: 'uploads.move_to', includes: ['required when uploads.after_upload is move'] }],
  },
  {
    name: 'auth type basic without username',
    config: (f) => cfg(f, { opensearch: { auth: { type: 'basic', password_file: secretFile(f, 'pw', 'hunter2-hunter2') } } }),
    problems: () => [{ path: 'opensearch.auth.username', includes: ['required when opensearch.auth.type is basic'] }],
  },
  {
    name: 'auth type bearer without token_file',
    config: (f) => cfg(f, { opensearch: { auth: { type: 'bearer' } } }),
    problems: () => [{ path: 'opensearch.auth.token_file', includes: ['required when opensearch.auth.type is bearer'] }],
  },
  {
    name: 'auth type sigv4 without region and key files',
    config: (f) => cfg(f, { opensearch: { auth: { type: 'sigv4' } } }),
    problems: () =>
      ['region', 'access_key_id_file', 'secret_access_key_file'].map((k) => ({
        path: `opensearch.auth.${k}`,
        includes: ['required when opensearch.auth.type is sigv4'],
      })),
  },
  {
    name: 'uploads.retry.min_delay greater than max_delay names both values',
    config: (f) => cfg(f, { uploads: { retry: { min_delay: '1h', max_delay: '10m' } } }),
    problems: () => [{ path: 'uploads.retry.min_delay', includes: ['uploads.retry.max_delay', '1h', '10m'] }],
  },
  {
    name: 'opensearch.retry.min_delay greater than max_delay names both values',
    config: (f) => cfg(f, { opensearch: { retry: { min_delay: '10m', max_delay: '5s' } } }),
    problems: () => [{ path: 'opensearch.retry.min_delay', includes: ['opensearch.retry.max_delay', '10m', '5s'] }],
  },
  {
    name: 'uploads.url without {file}',
    config: (f) => cfg(f, { uploads: { url: 'https://fulfil.example.com/booths/{booth_id}/upload' } }),
    problems: () => [{ path: 'uploads.url', includes: ['{file}'] }],
  },
  {
    name: 'uploads.url with an unknown placeholder',
    config: (f) => cfg(f, { uploads: { url: 'https://fulfil.example.com/{booth}/{file}' } }),
    problems: () => [{ path: 'uploads.url', includes: ['unknown placeholder {booth}', '{booth_id}, {booking_id} or {file}'] }],
  },
  {
    name: 'uploads.url with a protocol other than http(s)',
    config: (f) => cfg(f, { uploads: { url: 'ftp://fulfil.example.com/{file}' } }),
    problems: () => [{ path: 'uploads.url', includes: ['a URL starting with http:// or https://', 'got "ftp://fulfil.example.com/{file}"'] }],
  },
  {
    name: 'opensearch.url without a scheme',
    config: (f) => cfg(f, { opensearch: { url: 'search.example.com:9200' } }),
    problems: () => [{ path: 'opensearch.url', includes: ['a URL starting with http:// or https://', 'got "search.example.com:9200"'] }],
  },
  {
    name: 'uploads.tls.cert_file without key_file',
    config: (f) => cfg(f, { uploads: { tls: { cert_file: secretFile(f, 'client.pem', 'CERT', 0o644) } } }),
    problems: () => [{ path: 'uploads.tls.key_file', includes: ['required together with uploads.tls.cert_file'] }],
  },
  {
    name: 'opensearch.tls.key_file without cert_file',
    config: (f) => cfg(f, { opensearch: { tls: { key_file: secretFile(f, 'client.key', 'KEY') } } }),
    problems: () => [{ path: 'opensearch.tls.cert_file', includes: ['required together with opensearch.tls.key_file'] }],
  },
  // Files the config names.
  {
    name: 'a password_file that does not exist',
    config: (f) => cfg(f, { opensearch: { auth: { type: 'basic', username: 'booth', password_file: path.join(f.dir, 'nope.pw') } } }),
    problems: (f) => [{ path: 'opensearch.auth.password_file', includes: [`cannot read the secret file ${path.join(f.dir, 'nope.pw')}`, 'does not exist'] }],
  },
  {
    name: 'a token_file that does not exist',
    config: (f) => cfg(f, { opensearch: { auth: { type: 'bearer', token_file: path.join(f.dir, 'nope.token') } } }),
    problems: (f) => [{ path: 'opensearch.auth.token_file', includes: [`cannot read the secret file ${path.join(f.dir, 'nope.token')}`, 'does not exist'] }],
  },
  {
    name: 'an uploads.header_files entry that does not exist',
    config: (f) => cfg(f, { uploads: { header_files: { Authorization: path.join(f.dir, 'nope.auth') } } }),
    problems: (f) => [
      { path: 'uploads.header_files.Authorization', includes: [`cannot read the secret file ${path.join(f.dir, 'nope.auth')}`, 'does not exist'] },
    ],
  },
  {
    name: 'an empty secret file',
    config: (f) => cfg(f, { opensearch: { auth: { type: 'bearer', token_file: secretFile(f, 'empty.token', '\n') } } }),
    problems: (f) => [{ path: 'opensearch.auth.token_file', includes: ['empty', path.join(f.dir, 'empty.token')] }],
  },
  {
    name: 'a secret file that is a folder',
    config: (f) => {
      fs.mkdirSync(path.join(f.dir, 'token.d'));
      return cfg(f, { opensearch: { auth: { type: 'bearer', token_file: path.join(f.dir, 'token.d') } } });
    },
    problems: () => [{ path: 'opensearch.auth.token_file', includes: ['cannot read the secret file', 'folder'] }],
  },
  {
    name: 'a tls.ca_file that does not exist',
    config: (f) => cfg(f, { opensearch: { tls: { ca_file: path.join(f.dir, 'ca.pem') } } }),
    problems: (f) => [{ path: 'opensearch.tls.ca_file', includes: ['does not exist', path.join(f.dir, 'ca.pem')] }],
  },
  {
    name: 'a watch_dir that does not exist',
    config: (f) => cfg(f, { uploads: { watch_dir: path.join(f.dir, 'missing') } }),
    problems: (f) => [{ path: 'uploads.watch_dir', includes: ['does not exist', path.join(f.dir, 'missing')] }],
  },
  {
    name: 'a watch_dir that is a file',
    config: (f) => cfg(f, { uploads: { watch_dir: secretFile(f, 'afile', 'x', 0o644) } }),
    problems: (f) => [{ path: 'uploads.watch_dir', includes: ['expected a folder, found a file', path.join(f.dir, 'afile')] }],
  },
  {
    name: 'a state_dir under a regular file cannot be created',
    config: (f) => cfg(f, { state_dir: path.join(secretFile(f, 'afile', 'x', 0o644), 'state') }),
    problems: (f) => [{ path: 'state_dir', includes: [`${path.join(f.dir, 'afile')} is a file`, path.join(f.dir, 'afile', 'state')] }],
  },
  {
    name: 'a state_dir that is a regular file',
    config: (f) => cfg(f, { state_dir: secretFile(f, 'afile', 'x', 0o644) }),
    problems: (f) => [{ path: 'state_dir', includes: ['expected a folder, found a file', path.join(f.dir, 'afile')] }],
  },
  {
    name: 'a log.file in a folder that does not exist',
    config: (f) => cfg(f, { log: { file: path.join(f.dir, 'no', 'agent.log') } }),
    problems: (f) => [{ path: 'log.file', includes: ['folder does not exist', path.join(f.dir, 'no', 'agent.log')] }],
  },
  // The file itself.
  {
    name: 'a YAML syntax error (a tab) names file:LINE:COL',
    config: (f) => `booth:\n  id: FB-1042\n\tcountry: US\nuploads:\n  watch_dir: ${f.outbox}\n  url: "${UPLOAD_URL}"\n`,
    problems: (f) => [{ path: `${f.file}:3:1`, includes: ['YAML syntax error'] }],
  },
  {
    name: 'text after a quoted value names file:LINE:COL',
    config: (f) => `booth:\n  id: FB-1042\n  country: US\nuploads:\n  watch_dir: ${f.outbox}\n  method: "PUT" POST\n  url: "${UPLOAD_URL}"\n`,
    problems: (f) => [{ path: `${f.file}:6:17`, includes: ['YAML syntax error'] }],
  },
  {
    name: 'a duplicate top-level key names file:LINE:COL',
    config: (f) => `booth: {id: FB-1042, country: US}\nuploads: {watch_dir: ${f.outbox}, url: "${UPLOAD_URL}"}\nbooth: {id: FB-2, country: DE}\n`,
    problems: (f) => [{ path: `${f.file}:3:1`, includes: ['YAML syntax error', 'unique'] }],
  },
  {
    name: 'a duplicate nested key names file:LINE:COL',
    config: (f) => `booth:\n  id: FB-1042\n  country: US\nuploads:\n  watch_dir: ${f.outbox}\n  url: "${UPLOAD_URL}"\n  watch_dir: /srv/other\n`,
    problems: (f) => [{ path: `${f.file}:7:3`, includes: ['YAML syntax error', 'unique'] }],
  },
  {
    name: 'a top level that is a list',
    config: () => '- booth\n- uploads\n',
    problems: (f) => [{ path: f.file, includes: ['expected a YAML map of settings at the top level'] }],
  },
  {
    name: 'a top level that is a plain string',
    config: () => 'hello\n',
    problems: (f) => [{ path: f.file, includes: ['expected a YAML map of settings at the top level'] }],
  },
];

for (const c of BAD) {
  test(`bad config: ${c.name}`, (t) => {
    const f = fixture(t);
    writeFixture(f, c.config(f));
    assertProblems(loadConfig(f.file), c.problems(f));
  });
}

test('bad config: a config file that does not exist', (t) => {
  const f = fixture(t);
  const result = loadConfig(f.file);
  assertProblems(result, [{ path: f.file, includes: ['cannot read the config file', 'does not exist'] }]);
});

test('bad config: an empty file says booth and uploads are required (no library jargon)', (t) => {
  const f = fixture(t);
  for (const text of ['', '# only a comment\n']) {
    writeFixture(f, text);
    const result = loadConfig(f.file);
    assert.equal(result.ok, false);
    const problems = result.ok ? [] : result.problems;
    const all = lines(problems);
    for (const section of ['booth', 'uploads']) {
      assert.ok(problems.some((p) => p.path === section || p.path.startsWith(`${section}.`)), `names ${section}:\n${all}`);
    }
    // Besides: not root, the default state_dir (/var/lib/booth-agent) cannot be created — true too.
    for (const p of problems.filter((p) => p.path !== 'state_dir')) {
      assert.match(formatProblem(p), /required/, `says what is required:\n${all}`);
      assert.doesNotMatch(formatProblem(p), /Invalid input|received undefined/, `no schema-library wording:\n${all}`);
    }
  }
});

test('every problem is listed, not just the first: 4 problems give 4 lines', (t) => {
  const f = fixture(t);
  writeFixture(f, cfg(f, { booth: { country: 'us' }, uploads: { concurrency: 'two' }, heartbeet: {}, buffer: { max_size: '5XB' } }));
  assertProblems(loadConfig(f.file), [
    { path: 'booth.country', includes: ['got "us"'] },
    { path: 'uploads.concurrency', includes: ['got "two"'] },
    { path: 'heartbeet', includes: ['did you mean "heartbeat"?'] },
    { path: 'buffer.max_size', includes: ['got "5XB"'] },
  ]);
});

test('every problem is listed even when they are of different kinds (type, cross-key, file)', (t) => {
  const f = fixture(t);
  writeFixture(
    f,
    cfg(f, {
      uploads: { concurrency: 'two', url: 'https://fulfil.example.com/upload', watch_dir: path.join(f.dir, 'missing') },
      booth: { country: 'UK' },
    }),
  );
  assertProblems(loadConfig(f.file), [
    { path: 'uploads.concurrency', includes: ['got "two"'] },
    { path: 'booth.country', includes: ['GB'] },
    { path: 'uploads.url', includes: ['{file}'] },
    { path: 'uploads.watch_dir', includes: ['does not exist'] },
  ]);
});

test('a minimal valid config applies every default', (t) => {
  const dir = tempDir(t);
  const written = writeConfig(dir);
  const result = loadConfig(written.file);
  assert.ok(result.ok, result.ok ? '' : lines(result.problems));
  assert.deepEqual(result.warnings, []);
  const c = result.config;
  assert.equal(c.booth.id, 'FB-1042');
  assert.equal(c.booth.country, 'US');
  assert.equal(c.booth.region, undefined);
  assert.deepEqual(c.booth.labels, {});
  assert.equal(c.state_dir, written.stateDir);
  assert.equal(c.log.level, 'info');
  assert.equal(c.log.file, undefined);
  assert.equal(c.log.max_size, 10e6);
  assert.equal(c.log.max_files, 5);
  assert.equal(c.uploads.concurrency, 2);
  assert.equal(c.uploads.method, 'PUT');
  assert.equal(c.uploads.after_upload, 'keep');
  assert.equal(c.uploads.complete_marker, '.complete');
  assert.equal(c.uploads.booking_idle_timeout, 10 * 60_000);
  assert.equal(c.uploads.connect_timeout, 10_000);
  assert.equal(c.uploads.idle_timeout, 60_000);
  assert.deepEqual(c.uploads.extensions, ['jpg', 'jpeg', 'png', 'heic', 'gif', 'mp4', 'mov']);
  assert.deepEqual(c.uploads.headers, {});
  assert.deepEqual(c.uploads.header_files, {});
  assert.deepEqual(c.uploads.retry, { attempts: 6, min_delay: 2000, max_delay: 600_000 });
  assert.equal(c.uploads.tls.verify, true);
  assert.equal(c.opensearch.url, undefined);
  assert.equal(c.opensearch.mode, 'bulk');
  assert.equal(c.opensearch.ingest_path, '/log/ingest');
  assert.equal(c.opensearch.index_prefix, 'booth');
  assert.equal(c.opensearch.auth.type, 'none');
  assert.equal(c.opensearch.auth.service, 'es');
  assert.equal(c.opensearch.compression, 'gzip');
  assert.deepEqual(c.opensearch.batch, { max_docs: 500, max_bytes: 5e6, interval: 5000 });
  assert.equal(c.opensearch.request_timeout, 30_000);
  assert.deepEqual(c.opensearch.retry, { min_delay: 1000, max_delay: 300_000 });
  assert.equal(c.heartbeat.interval, 30_000);
  assert.deepEqual(c.network, { interval: 60_000, probe_timeout: 5000, host_facts_interval: 900_000, targets: [] });
  assert.deepEqual(c.buffer, { max_size: 256e6, max_age: 30 * 86_400_000 });
  assert.equal(result.secrets.size, 0);

  // The four keys alone: state_dir takes its default too.
  const parsed = configSchema.safeParse({
    booth: { id: 'FB-1042', country: 'US' },
    uploads: { watch_dir: written.watchDir, url: UPLOAD_URL },
  });
  assert.ok(parsed.success);
  assert.equal(parsed.data.state_dir, '/var/lib/booth-agent');
  assert.equal(parsed.data.uploads.concurrency, 2);
  assert.equal(parsed.data.buffer.max_size, 256e6);
});

test('a secret file readable by every user (0644) gives a warning naming the key; 0600 gives none', (t) => {
  const f = fixture(t);
  const token = secretFile(f, 'token', 'tok-0123456789abcdef\n', 0o644);
  writeFixture(f, cfg(f, { opensearch: { auth: { type: 'bearer', token_file: token } } }));
  const open = loadConfig(f.file);
  assert.ok(open.ok, open.ok ? '' : lines(open.problems));
  assert.equal(open.warnings.length, 1, lines(open.warnings));
  const w = open.warnings[0]!;
  assert.equal(w.path, 'opensearch.auth.token_file');
  assert.match(formatProblem(w), /^opensearch\.auth\.token_file: .*readable by every user.*644.*chmod 600/);
  assert.ok(w.message.includes(token), 'names the file');
  assert.ok(!formatProblem(w).includes('tok-0123456789abcdef'), 'the warning never shows the secret');
  assert.equal(open.secrets.get('opensearch.auth.token_file'), 'tok-0123456789abcdef', 'the secret is read without its newline');

  fs.chmodSync(token, 0o600);
  const closed = loadConfig(f.file);
  assert.ok(closed.ok);
  assert.deepEqual(closed.warnings, []);
  assert.equal(closed.secrets.get('opensearch.auth.token_file'), 'tok-0123456789abcdef');
});

test('header_files and tls.key_file secrets are read and checked for permissions too', (t) => {
  const f = fixture(t);
  const auth = secretFile(f, 'auth', 'Token abcdef0123456789\n', 0o604);
  const cert = secretFile(f, 'client.pem', 'CERT', 0o644);
  const key = secretFile(f, 'client.key', 'KEY-0123456789', 0o640);
  writeFixture(f, cfg(f, { uploads: { url: 'https://fulfil.example.com/{booking_id}/{file}', header_files: { Authorization: auth }, tls: { cert_file: cert, key_file: key } } }));
  const result = loadConfig(f.file);
  assert.ok(result.ok, result.ok ? '' : lines(result.problems));
  assert.equal(result.secrets.get('uploads.header_files.Authorization'), 'Token abcdef0123456789');
  assert.equal(result.secrets.get('uploads.tls.key_file'), 'KEY-0123456789');
  // 0640 with the file in our own group is fine; 0604 is readable by everyone.
  assert.deepEqual(
    result.warnings.map((w) => w.path),
    ['uploads.header_files.Authorization'],
  );
});

test(
  'a secret file readable by a group we are not in gives a warning',
  needs(rootFor('to give a file to another group')),
  (t) => {
    const f = fixture(t);
    const pw = secretFile(f, 'pw', 'pw-0123456789', 0o640);
    fs.chownSync(pw, 0, 65534);
    writeFixture(f, cfg(f, { opensearch: { auth: { type: 'basic', username: 'booth', password_file: pw } } }));
    const result = loadConfig(f.file);
    assert.ok(result.ok, result.ok ? '' : lines(result.problems));
    assert.equal(result.warnings.length, 1, lines(result.warnings));
    assert.equal(result.warnings[0]!.path, 'opensearch.auth.password_file');
    assert.match(result.warnings[0]!.message, /readable by its group/);
  },
);

test('a secret file of another auth type is not read, only warned about', (t) => {
  const f = fixture(t);
  const pw = secretFile(f, 'pw', 'pw-0123456789');
  writeFixture(f, cfg(f, { opensearch: { auth: { type: 'basic', username: 'booth', password_file: pw, token_file: path.join(f.dir, 'missing') } } }));
  const result = loadConfig(f.file);
  assert.ok(result.ok, result.ok ? '' : lines(result.problems));
  assert.deepEqual([...result.secrets.keys()], ['opensearch.auth.password_file']);
  assert.equal(result.warnings.length, 1, lines(result.warnings));
  assert.equal(result.warnings[0]!.path, 'opensearch.auth.token_file');
  assert.match(result.warnings[0]!.message, /ignored: opensearch\.auth\.type is basic/);
});

test('tls.verify: false is accepted with a warning', (t) => {
  const f = fixture(t);
  writeFixture(f, cfg(f, { opensearch: { tls: { verify: false } } }));
  const result = loadConfig(f.file);
  assert.ok(result.ok);
  assert.deepEqual(result.warnings.map((w) => w.path), ['opensearch.tls.verify']);
});

test('a secret written into the config itself (uploads.headers.Authorization) is flagged', (t) => {
  const f = fixture(t);
  writeFixture(f, cfg(f, { uploads: { headers: { Authorization: 'Bearer abcdef0123456789' } } }));
  const result = loadConfig(f.file);
  const flagged = [...(result.ok ? [] : result.problems), ...result.warnings];
  const hit = flagged.find((p) => p.path.startsWith('uploads.headers'));
  assert.ok(hit, `SPEC §4: no secret is written in the config file itself; got:\n${lines(flagged)}`);
  assert.match(hit.message, /header_files/, 'points to uploads.header_files');
  assert.ok(!formatProblem(hit).includes('abcdef0123456789'), 'without repeating the secret');
});

test('a password written into a URL in the config (https://user:pass@host) is flagged', (t) => {
  const f = fixture(t);
  writeFixture(f, cfg(f, { opensearch: { url: 'https://admin:hunter2-0123@search.example.com:9200' } }));
  const result = loadConfig(f.file);
  const flagged = [...(result.ok ? [] : result.problems), ...result.warnings];
  const hit = flagged.find((p) => p.path === 'opensearch.url');
  assert.ok(hit, `SPEC §4: no secret is written in the config file itself; got:\n${lines(flagged)}`);
  assert.ok(!formatProblem(hit).includes('hunter2-0123'), 'without repeating the password');
});

// --- units ---

test('parseDuration reads ms, s, m, h and d and rejects everything else', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('10m'), 600_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('0s'), 0);
  for (const bad of ['10 minutes', '7', '-5s', '', 's', '5 sec', '1h30m', '5w', 'ten s']) {
    assert.equal(parseDuration(bad), undefined, `"${bad}" is not a duration`);
  }
});

test('parseSize reads decimal and binary units, case-insensitively, and rejects everything else', () => {
  assert.equal(parseSize('512KB'), 512_000);
  assert.equal(parseSize('5MB'), 5_000_000);
  assert.equal(parseSize('1GB'), 1e9);
  assert.equal(parseSize('1TB'), 1e12);
  assert.equal(parseSize('17B'), 17);
  assert.equal(parseSize('5mb'), 5_000_000);
  assert.equal(parseSize('1.5MB'), 1_500_000);
  assert.equal(parseSize('1KiB'), 1024);
  assert.equal(parseSize('2MiB'), 2 * 1024 * 1024);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('0MB'), 0);
  for (const bad of ['5XB', '5', '-1MB', '', 'MB', 'five MB', '5 M']) {
    assert.equal(parseSize(bad), undefined, `"${bad}" is not a size`);
  }
});

test('formatDuration speaks like the booking log line', () => {
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(1000), '1s');
  assert.equal(formatDuration(45_000), '45s');
  assert.equal(formatDuration(116_000), '1m 56s');
  assert.equal(formatDuration(60_000), '1m');
  assert.equal(formatDuration(59_999), '1m');
  assert.equal(formatDuration(3_600_000), '1h');
  assert.equal(formatDuration(7_500_000), '2h 5m');
  assert.equal(formatDuration(90_061_000), '1d 1h');
  assert.equal(formatDuration(7 * 86_400_000), '7d');
});

test('formatBytes prints decimal units', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(17), '17 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1000), '1.0 KB');
  assert.equal(formatBytes(512_000), '512 KB');
  assert.equal(formatBytes(3_456_789), '3.5 MB');
  assert.equal(formatBytes(1_300_000_000), '1.3 GB');
  assert.equal(formatBytes(256e6), '256 MB');
  assert.equal(formatBytes(2e12), '2.0 TB');
  assert.equal(formatBytes(5e15), '5000 TB');
});

test('the config path: --config, else BOOTH_AGENT_CONFIG, else /etc/booth-agent/config.yaml', () => {
  assert.equal(DEFAULT_CONFIG_PATH, '/etc/booth-agent/config.yaml');
  assert.equal(resolveConfigPath(undefined, {}), '/etc/booth-agent/config.yaml');
  assert.equal(resolveConfigPath(undefined, { BOOTH_AGENT_CONFIG: '/tmp/x.yaml' }), '/tmp/x.yaml');
  assert.equal(resolveConfigPath('/tmp/y.yaml', { BOOTH_AGENT_CONFIG: '/tmp/x.yaml' }), '/tmp/y.yaml');
});

// --- the command line ---

/** The "  key: message" lines a command printed. */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^ {2}\S/.test(l)).map((l) => l.trim());
}

function badConfig(f: Fixture): void {
  writeFixture(f, cfg(f, { booth: { country: 'us' }, uploads: { concurrency: 'two' }, heartbeet: {}, buffer: { max_size: '5XB' } }));
}

const FOUR_PROBLEMS = [/^booth\.country: .*got "us"$/, /^uploads\.concurrency: .*got "two"$/, /^heartbeet: .*did you mean "heartbeat"/, /^buffer\.max_size: .*got "5XB"$/];

function assertFour(result: CliResult, what: string): void {
  const got = problemLines(result.stderr);
  assert.equal(got.length, 4, `${what} lists 4 problems:\n${result.stderr}`);
  for (const re of FOUR_PROBLEMS) assert.ok(got.some((l) => re.test(l)), `${what} lists ${re}:\n${result.stderr}`);
}

test('check-config exits 0 on a valid config and says OK', async (t) => {
  const written = writeConfig(tempDir(t));
  const result = await runCli(['check-config', '--config', written.file]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `${written.file}: OK (booth FB-1042, US)\n`);
  assert.equal(result.stderr, '');
});

test('check-config exits 78 on an invalid config and lists every problem with its key path', async (t) => {
  const f = fixture(t);
  badConfig(f);
  const result = await runCli(['check-config', '--config', f.file]);
  assert.equal(result.code, 78, result.stderr);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, new RegExp(`^${f.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 4 problems\n`));
  assertFour(result, 'check-config');
});

test('check-config exits 78 when the config file does not exist', async (t) => {
  const f = fixture(t);
  const result = await runCli(['check-config', '--config', f.file]);
  assert.equal(result.code, 78);
  assert.match(result.stderr, /cannot read the config file: it does not exist/);
});

test('run --config BAD exits 78 with the same messages and touches nothing', async (t) => {
  const f = fixture(t);
  badConfig(f);
  const check = await runCli(['check-config', '--config', f.file]);
  const result = await runCli(['run', '--config', f.file], { timeoutMs: 15_000 });
  assert.equal(result.code, 78, result.stderr);
  assert.equal(result.stdout, '');
  assertFour(result, 'run');
  assert.deepEqual(problemLines(result.stderr).sort(), problemLines(check.stderr).sort());
  assert.equal(fs.existsSync(f.state), false, 'no state dir is created for a bad config');
});

test('BOOTH_AGENT_CONFIG names the config when --config is not given; --config wins over it', async (t) => {
  const good = writeConfig(tempDir(t));
  const f = fixture(t);
  badConfig(f);
  const viaEnv = await runCli(['check-config'], { env: { BOOTH_AGENT_CONFIG: good.file } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.equal(viaEnv.stdout, `${good.file}: OK (booth FB-1042, US)\n`);
  const badEnv = await runCli(['check-config'], { env: { BOOTH_AGENT_CONFIG: f.file } });
  assert.equal(badEnv.code, 78);
  assertFour(badEnv, 'check-config via BOOTH_AGENT_CONFIG');
  const runEnv = await runCli(['run'], { env: { BOOTH_AGENT_CONFIG: f.file }, timeoutMs: 15_000 });
  assert.equal(runEnv.code, 78);
  assertFour(runEnv, 'run via BOOTH_AGENT_CONFIG');
  const flagWins = await runCli(['check-config', '--config', good.file], { env: { BOOTH_AGENT_CONFIG: f.file } });
  assert.equal(flagWins.code, 0, flagWins.stderr);
});

// --- permissions, checked as a user that file permissions apply to ---
// Root reads and writes everything, so as root the check runs as nobody (65534); as another user it
// runs as that user, for whom a mode of 000 or 555 is just as binding.

function unprivilegedSpawn(): { opts: SpawnOptions; need: Need } {
  if (process.getuid?.() !== 0) return { opts: {}, need: { missing: () => undefined } };
  const opts = { uid: 65534, gid: 65534 };
  const probe = spawnSync(process.execPath, ['-e', ''], opts);
  const denied = (probe.error as NodeJS.ErrnoException | undefined)?.code === 'EACCES';
  const why = !probe.error && probe.status === 0 ? undefined
    : denied ? `uid 65534 cannot reach ${process.execPath}: a folder above the checkout is not searchable by other users (chmod o+x it)`
    : `cannot run a process as uid 65534: ${probe.error?.message ?? probe.status}`;
  return { opts, need: { missing: () => why } };
}
const UNPRIVILEGED = unprivilegedSpawn();

/** A fixture every user can read, with a state dir every user can write. */
function openFixture(t: TestContext): Fixture {
  const f = fixture(t, fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-test-')));
  // Give the owner access back before the folder is removed (a non-root owner cannot list a 000 folder).
  t.after(() => {
    for (const d of [f.outbox, f.state, path.join(f.dir, 'ro'), path.join(f.dir, 'log')]) if (fs.existsSync(d)) fs.chmodSync(d, 0o755);
    fs.rmSync(f.dir, { recursive: true, force: true });
  });
  fs.chmodSync(f.dir, 0o755);
  fs.chmodSync(f.outbox, 0o755);
  fs.mkdirSync(f.state);
  fs.chmodSync(f.state, 0o777);
  return f;
}

async function checkAsUnprivileged(f: Fixture, config: Obj): Promise<CliResult> {
  writeFixture(f, config);
  fs.chmodSync(f.file, 0o644);
  return runCli(['check-config', '--config', f.file], UNPRIVILEGED.opts);
}

function assertOneProblem(result: CliResult, key: string, ...parts: string[]): void {
  assert.equal(result.code, 78, result.stderr);
  const got = problemLines(result.stderr);
  assert.equal(got.length, 1, `one problem:\n${result.stderr}`);
  assert.ok(got[0]!.startsWith(`${key}: `), `names ${key}:\n${result.stderr}`);
  for (const p of parts) assert.ok(got[0]!.includes(p), `mentions "${p}":\n${result.stderr}`);
}

const skipUnprivileged = needs(UNPRIVILEGED.need);

test('the control case: the permission fixture is valid for the unprivileged user', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  const result = await checkAsUnprivileged(f, cfg(f));
  assert.equal(result.code, 0, result.stderr);
});

test('a state_dir that is not writable', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  fs.chmodSync(f.state, 0o555);
  assertOneProblem(await checkAsUnprivileged(f, cfg(f)), 'state_dir', 'not writable', f.state);
});

test('a state_dir that cannot be created because its parent is not writable', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  const ro = path.join(f.dir, 'ro');
  fs.mkdirSync(ro, { mode: 0o555 });
  fs.chmodSync(ro, 0o555);
  const state = path.join(ro, 'booth-agent');
  assertOneProblem(await checkAsUnprivileged(f, cfg(f, { state_dir: state })), 'state_dir', 'cannot be created', `${ro} is not writable`, state);
});

test('a watch_dir that is not readable', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  fs.chmodSync(f.outbox, 0o000);
  assertOneProblem(await checkAsUnprivileged(f, cfg(f)), 'uploads.watch_dir', 'not readable', f.outbox);
});

test('a log.file whose folder is not writable', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  const logDir = path.join(f.dir, 'log');
  fs.mkdirSync(logDir);
  fs.chmodSync(logDir, 0o555);
  assertOneProblem(await checkAsUnprivileged(f, cfg(f, { log: { file: path.join(logDir, 'agent.log') } })), 'log.file', 'not writable');
});

test('an unreadable password_file', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  const pw = secretFile(f, 'pw', 'pw-0123456789', 0o000);
  const result = await checkAsUnprivileged(f, cfg(f, { opensearch: { auth: { type: 'basic', username: 'booth', password_file: pw } } }));
  assertOneProblem(result, 'opensearch.auth.password_file', `cannot read the secret file ${pw}`, 'permission denied');
});

test('an unreadable token_file', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  const token = secretFile(f, 'token', 'tok-0123456789', 0o000);
  const result = await checkAsUnprivileged(f, cfg(f, { opensearch: { auth: { type: 'bearer', token_file: token } } }));
  assertOneProblem(result, 'opensearch.auth.token_file', `cannot read the secret file ${token}`, 'permission denied');
});

test('an unreadable uploads.header_files entry', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  const auth = secretFile(f, 'auth', 'Token abcdef0123456789', 0o000);
  const result = await checkAsUnprivileged(f, cfg(f, { uploads: { header_files: { Authorization: auth } } }));
  assertOneProblem(result, 'uploads.header_files.Authorization', `cannot read the secret file ${auth}`, 'permission denied');
});

test('an unreadable tls.ca_file', skipUnprivileged, async (t) => {
  const f = openFixture(t);
  const ca = secretFile(f, 'ca.pem', 'CA', 0o000);
  assertOneProblem(await checkAsUnprivileged(f, cfg(f, { uploads: { tls: { ca_file: ca } } })), 'uploads.tls.ca_file', 'not readable', ca);
});

test('booth.country: the ISO 3166-1 list — every code is one ICU knows; withdrawn and non-country codes are not in it', () => {
  const icu = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  assert.equal(COUNTRY_CODES.size, 250, '249 assigned codes and XK');
  for (const code of COUNTRY_CODES) assert.ok(icu.of(code), `${code} is a region ICU knows`);
  for (const code of ['SU', 'YU', 'CS', 'AN', 'UK', 'EU', 'UN', 'ZZ', 'QO', 'XA', 'AC']) assert.ok(!COUNTRY_CODES.has(code), `${code} is not an ISO 3166-1 country`);
  for (const code of ['US', 'DE', 'GB', 'JP', 'BR', 'ZA', 'XK']) assert.ok(COUNTRY_CODES.has(code), code);
});

// --- secrets never echoed, hostile files (issue 16 items 13 and 16) ---

test('config problems never echo what may be a secret: an inline header_files value, headers as a string, a URL with user:password, a credential header in headers', (t) => {
  const f = fixture(t);
  writeFixture(f, cfg(f, { uploads: { header_files: { Authorization: 'Bearer Inline-Secret-4412' }, url: 'ftp://user:Url-Secret-9931@host/{file}' } }));
  const first = loadConfig(f.file);
  assert.equal(first.ok, false);
  const all = lines(first.ok ? [] : first.problems);
  assert.ok(!all.includes('Inline-Secret-4412') && !all.includes('Url-Secret-9931'), all);
  assert.match(all, /uploads\.header_files\.Authorization: cannot read the secret file \(the value given is not a path and is not shown/);
  assert.match(all, /uploads\.url: .*ftp:\/\/…@host/);

  writeFixture(f, `${stringify(cfg(f))}`.replace(/uploads:\n/, 'uploads:\n  headers: "Authorization: Bearer String-Secret-5521"\n'));
  const second = lines((loadConfig(f.file) as { problems: Problem[] }).problems);
  assert.ok(!second.includes('String-Secret-5521'), second);
  assert.match(second, /uploads\.headers: .*got a string \(not shown: it may hold a secret\)/);

  writeFixture(f, cfg(f, { uploads: { headers: { 'X-Upload-Key': 'Key-Secret-1' } } }));
  const third = lines((loadConfig(f.file) as { problems: Problem[] }).problems);
  assert.match(third, /uploads\.headers\.X-Upload-Key: a credential must not be written in the config file/);
});

test('a header file whose value holds a line break: check-config says so (78), without the value', async (t) => {
  const f = fixture(t);
  const file = secretFile(f, 'upload-auth', 'Bearer Line-Secret-77\r\nX-Injected: 1', 0o600);
  writeFixture(f, cfg(f, { uploads: { header_files: { Authorization: file } } }));
  const r = await runCli(['check-config', '--config', f.file]);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /uploads\.header_files\.Authorization: .* holds a line break or a control character inside the value/);
  assert.ok(!r.stderr.includes('Line-Secret-77'));
});

test('a YAML alias bomb ("billion laughs"): exit 78 naming the problem, no stack', async (t) => {
  const f = fixture(t);
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  fs.writeFileSync(f.file, `${levels.join('\n')}\n`);
  const r = await runCli(['check-config', '--config', f.file]);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /the YAML expands too many aliases/);
  assert.doesNotMatch(r.stderr, /ReferenceError|    at /);
});

test('credentials over plain http: a warning for OpenSearch auth and for upload header_files; none over https', (t) => {
  const f = fixture(t);
  const pw = secretFile(f, 'pw', 'pw-0123456789');
  writeFixture(f, cfg(f, { uploads: { url: 'http://fulfil.example.com/{booking_id}/{file}', header_files: { Authorization: pw } }, opensearch: { url: 'http://search.example.com:9200', auth: { type: 'basic', username: 'booth', password_file: pw } } }));
  const plain = loadConfig(f.file);
  assert.ok(plain.ok, plain.ok ? '' : lines(plain.problems));
  assert.deepEqual(plain.warnings.map((w) => w.path).sort(), ['opensearch.url', 'uploads.url']);
  assert.match(formatProblem(plain.warnings.find((w) => w.path === 'opensearch.url')!), /credentials \(opensearch\.auth\.type basic\) over plain http/);
  writeFixture(f, cfg(f, { uploads: { url: 'https://fulfil.example.com/{booking_id}/{file}', header_files: { Authorization: pw } }, opensearch: { url: 'https://search.example.com:9200', auth: { type: 'basic', username: 'booth', password_file: pw } } }));
  const secure = loadConfig(f.file);
  assert.ok(secure.ok);
  assert.deepEqual(secure.warnings, []);
});
