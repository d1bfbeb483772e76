// Logging (SPEC §7): JSON lines; secrets, auth headers and tokens never appear in a log line, whether
// they come from the secret files of the config or turn up in messages, metadata and errors; the
// log file is rotated by size with a bounded number of files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { closeLogger, createLogger } from '../agent/log/logger.ts';
import { runAgentUntilStarted } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { tempDir } from './support/tmp.ts';

// Secret values as they sit in the secret files. Each is also made part of the state_dir path, which
// `run` logs at start-up: the line shows whether the secrets of the config reach the logger.
const PASSWORD = 'pw-Zq8uT3xK9vLmN2';
const TOKEN = 'tok_7f3a9c1e5b2d4a6f8e0c';
// A header value whose scheme no generic pattern knows: only the secret list can hide it.
const HEADER_VALUE = 'Token hdr-5Kp2Wq9Rz4';

function writeSecret(dir: string, name: string, value: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${value}\n`, { mode: 0o600 });
  return p;
}

interface LogLine {
  [key: string]: unknown;
}

/** Parses JSON lines, failing on any line that is not a JSON object. */
function parseLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let parsed: unknown;
    assert.doesNotThrow(() => (parsed = JSON.parse(line)), `a log line is JSON: ${line}`);
    assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), `a log line is a JSON object: ${line}`);
    assert.equal(typeof (parsed as LogLine)['level'], 'string', `has a level: ${line}`);
    assert.equal(typeof (parsed as LogLine)['timestamp'], 'string', `has a timestamp: ${line}`);
    out.push(parsed as LogLine);
  }
  return out;
}

function assertNoSecrets(text: string, secrets: string[], where: string): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} must not contain the secret "${s}":\n${text}`);
}

async function waitForFile(file: string, re: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(fs.existsSync(file) && re.test(fs.readFileSync(file, 'utf8')))) {
    assert.ok(Date.now() < deadline, `${file} gets a line matching ${re}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('run at debug level with basic auth and an Authorization header file: no secret in the log file', async (t) => {
  const dir = tempDir(t);
  const logFile = path.join(dir, 'agent.log');
  const stateDir = path.join(dir, HEADER_VALUE, `state-${PASSWORD}`);
  const cfg = writeConfig(dir, {
    state_dir: stateDir,
    log: { level: 'debug', file: logFile },
    uploads: { url: 'https://fulfil.example.com/{booking_id}/{file}', header_files: { Authorization: writeSecret(dir, 'authorization', HEADER_VALUE) } },
    opensearch: {
      url: 'https://search.example.com:9200',
      auth: { type: 'basic', username: 'booth-writer', password_file: writeSecret(dir, 'password', PASSWORD) },
    },
  });
  const result = await runAgentUntilStarted(cfg.file, { started: () => waitForFile(logFile, /"message":"started"/) });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, '', 'private secret files give no warning, and the log goes to the file');

  const text = fs.readFileSync(logFile, 'utf8');
  assertNoSecrets(text, [PASSWORD, HEADER_VALUE, 'hdr-5Kp2Wq9Rz4'], 'the log file');
  const logged = parseLines(text);
  const started = logged.find((l) => l['message'] === 'started');
  assert.ok(started, text);
  assert.equal(started['level'], 'info');
  assert.equal(started['booth'], 'FB-1042', 'ordinary fields survive');
  assert.equal(started['pid'], result.pid);
  assert.equal(started['state_dir'], path.join(dir, '[REDACTED]', 'state-[REDACTED]'), 'the secrets of the config are scrubbed wherever they appear');
  assert.ok(logged.some((l) => l['message'] === 'stopped' && l['signal'] === 'SIGTERM'), text);
});

test('run with a bearer token file logging to stderr: no secret on stderr, lines are JSON', async (t) => {
  const dir = tempDir(t);
  const stateDir = path.join(dir, `state-${TOKEN}`);
  const cfg = writeConfig(dir, {
    state_dir: stateDir,
    log: { level: 'debug' },
    opensearch: { url: 'https://search.example.com:9200', auth: { type: 'bearer', token_file: writeSecret(dir, 'token', TOKEN) } },
  });
  const result = await runAgentUntilStarted(cfg.file);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, '');
  assertNoSecrets(result.stderr, [TOKEN], 'stderr');
  const logged = parseLines(result.stderr);
  const started = logged.find((l) => l['message'] === 'started');
  assert.ok(started, result.stderr);
  assert.equal(started['booth'], 'FB-1042');
  assert.equal(started['state_dir'], path.join(dir, 'state-[REDACTED]'));
  assert.ok(logged.some((l) => l['message'] === 'stopped'), result.stderr);
});

test('createLogger scrubs secrets from messages, nested metadata, errors, sensitive keys and URLs', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'agent.log');
  const logger = createLogger({ level: 'debug', file, secrets: [PASSWORD, TOKEN, HEADER_VALUE] });
  // Credentials that are not in the secret list but are recognisable by their key or their shape.
  const basicHeader = `Basic ${Buffer.from(`booth-writer:${PASSWORD}`).toString('base64')}`;
  const otherPassword = 'other-pass-1234567';
  const otherToken = 'other-token-abcdefgh';
  const urlPassword = 'hunter2hunter2';
  const apiKey = 'ak-9d8c7b6a5f4e';

  logger.info(`connecting to search.example.com with password ${PASSWORD} and token ${TOKEN}`);
  logger.debug('request', {
    booth: 'FB-1042',
    count: 3,
    request: { method: 'PUT', headers: { 'x-custom': `value ${TOKEN}`, 'content-type': 'image/jpeg' }, notes: [`a ${PASSWORD}`, { deeper: HEADER_VALUE }] },
  });
  logger.error('upload failed', { error: new Error(`server said: bad password ${PASSWORD}`), file: 'IMG_0001.jpg' });
  logger.error(new Error(`token ${TOKEN} was refused`));
  logger.warn('retrying', new Error(`header ${HEADER_VALUE} rejected`));
  logger.info('credentials by key', {
    password: otherPassword,
    authorization: basicHeader,
    token: otherToken,
    'x-api-key': apiKey,
    headers: { Authorization: `Bearer ${otherToken}`, 'Proxy-Authorization': basicHeader, accept: 'application/json' },
    attempt: 2,
  });
  logger.info(`sending to https://booth-writer:${urlPassword}@search.example.com:9200/_bulk`);
  logger.info('target', { url: `https://booth-writer:${urlPassword}@search.example.com:9200/_bulk` });
  logger.info(`got 401 for request with "authorization: ${basicHeader}"`);
  logger.info(`got 401 for request with "authorization: Bearer ${otherToken}"`);
  logger.info({ message: 'object form', password: PASSWORD, nested: { secret: TOKEN }, speed_mb_s: 11.99 });
  await closeLogger(logger);

  const text = fs.readFileSync(file, 'utf8');
  assertNoSecrets(text, [PASSWORD, TOKEN, HEADER_VALUE, 'hdr-5Kp2Wq9Rz4', basicHeader.slice(6), otherPassword, otherToken, urlPassword, apiKey], 'the log file');
  const logged = parseLines(text);
  assert.equal(logged.length, 11, text);

  // Ordinary content survives.
  const [connecting, request, failed, refused, retrying, byKey, sending, target, basic401, bearer401, objectForm] = logged as [LogLine, ...LogLine[]];
  assert.equal(connecting!['message'], 'connecting to search.example.com with password [REDACTED] and token [REDACTED]');
  assert.equal(request!['level'], 'debug');
  assert.equal(request!['booth'], 'FB-1042');
  assert.equal(request!['count'], 3);
  assert.deepEqual(request!['request'], {
    method: 'PUT',
    headers: { 'x-custom': 'value [REDACTED]', 'content-type': 'image/jpeg' },
    notes: ['a [REDACTED]', { deeper: '[REDACTED]' }],
  });
  assert.equal(failed!['level'], 'error');
  assert.equal(failed!['file'], 'IMG_0001.jpg');
  assert.equal((failed!['error'] as LogLine)['message'], 'server said: bad password [REDACTED]');
  assert.equal(refused!['message'], 'token [REDACTED] was refused');
  assert.match(String(refused!['stack']), /^Error: token \[REDACTED\] was refused\n/);
  assert.match(String(retrying!['message']), /header \[REDACTED\] rejected/);
  assert.equal(byKey!['attempt'], 2);
  assert.equal((byKey!['headers'] as LogLine)['accept'], 'application/json');
  for (const key of ['password', 'authorization', 'token', 'x-api-key']) assert.equal(byKey![key], '[REDACTED]', key);
  assert.equal(sending!['message'], 'sending to https://booth-writer:[REDACTED]@search.example.com:9200/_bulk');
  assert.equal(target!['url'], 'https://booth-writer:[REDACTED]@search.example.com:9200/_bulk');
  assert.match(String(basic401!['message']), /^got 401 for request with "authorization: Basic \[REDACTED\]"$/);
  assert.match(String(bearer401!['message']), /^got 401 for request with "authorization: Bearer \[REDACTED\]"$/);
  assert.equal(objectForm!['message'], 'object form');
  assert.equal(objectForm!['speed_mb_s'], 11.99);
});

test('createLogger scrubs a secret nested deep in the metadata', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'agent.log');
  const logger = createLogger({ level: 'info', file, secrets: [TOKEN] });
  // Library errors (an HTTP client's request options, a response) nest this deep and deeper.
  let deep: Record<string, unknown> = { header: `Bearer-less ${TOKEN}` };
  for (let i = 0; i < 12; i++) deep = { level: deep };
  logger.info('deep', { detail: deep, booth: 'FB-1042' });
  await closeLogger(logger);
  const text = fs.readFileSync(file, 'utf8');
  const [line] = parseLines(text);
  assert.equal(line?.['booth'], 'FB-1042');
  assertNoSecrets(text, [TOKEN], 'the log file');
});

// Rotation: `maxSizeBytes` per file, `maxFiles` files kept, the newest lines in the live file.

const BOUND = 2000;

function logLine(i: number): { message: string; meta: Record<string, unknown> } {
  return { message: `line ${String(i).padStart(4, '0')}`, meta: { i, pad: 'x'.repeat(60) } };
}

function assertRotated(dir: string, total: number): void {
  const files = fs.readdirSync(dir).sort();
  const sizes = files.map((f) => `${f}: ${fs.statSync(path.join(dir, f)).size} bytes`).join(', ');
  assert.ok(files.length <= 3, `at most 3 files: ${sizes}`);
  assert.ok(files.includes('agent.log'), `the live file exists: ${sizes}`);
  // agent.log is the newest, then agent.log.1, then agent.log.2.
  const order = ['agent.log.2', 'agent.log.1', 'agent.log'].filter((f) => files.includes(f));
  assert.deepEqual([...order].sort(), files, `only the expected names: ${sizes}`);
  const all: number[] = [];
  let maxLine = 0;
  for (const f of order) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    // The live file may have just been started; a rotated one holds the lines that filled it.
    if (f !== 'agent.log') assert.ok(text.length > 0, `${f} is not empty: ${sizes}`);
    for (const l of parseLines(text)) {
      all.push(Number(l['i']));
      maxLine = Math.max(maxLine, JSON.stringify(l).length + 1);
    }
  }
  for (const f of order) {
    const size = fs.statSync(path.join(dir, f)).size;
    assert.ok(size <= BOUND + maxLine, `${f} is about the bound (${BOUND} bytes): ${sizes}`);
    if (f !== 'agent.log') assert.ok(size >= BOUND - maxLine, `a rotated file was full when rotated: ${sizes}`);
  }
  assert.equal(all.at(-1), total - 1, `the newest line is kept: ${sizes}`);
  assert.deepEqual(all, Array.from({ length: all.length }, (_, k) => total - all.length + k), `the kept lines are the newest, in order: ${sizes}`);
  assert.equal(files.length, 3, `writing ${total} lines filled all 3 files: ${sizes}`);
}

test('log rotation: lines written at a steady pace leave at most 3 files, each about maxSizeBytes', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ level: 'info', file: path.join(dir, 'agent.log'), maxSizeBytes: BOUND, maxFiles: 3 });
  const total = 80;
  for (let i = 0; i < total; i++) {
    const { message, meta } = logLine(i);
    logger.info(message, meta);
    await new Promise((r) => setTimeout(r, 10));
  }
  await closeLogger(logger);
  assertRotated(dir, total);
});

test('log rotation: a burst of lines leaves at most 3 files, each about maxSizeBytes, with the newest lines', async (t) => {
  const dir = tempDir(t);
  const logger = createLogger({ level: 'info', file: path.join(dir, 'agent.log'), maxSizeBytes: BOUND, maxFiles: 3 });
  const total = 300;
  for (let i = 0; i < total; i++) {
    const { message, meta } = logLine(i);
    logger.info(message, meta);
  }
  await closeLogger(logger);
  assertRotated(dir, total);
});
