// OpenSearch answers no healthy cluster gives (issue 16): a huge error body must not take the
// agent's memory with it, and a cluster behind a path-routing proxy must be reached at its path.
// The real agent in a child process, with the service's own Node memory flags.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collect, runCli, startCli } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { sampleDoc } from './support/documents.ts';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { tempDir } from './support/tmp.ts';
import { waitUntil } from './support/uploads.ts';

/** NODE_OPTIONS of deploy/booth-agent.env: the heap a booth gives the agent. */
const SERVICE_NODE_OPTIONS = /^NODE_OPTIONS=(.*)$/m.exec(fs.readFileSync(fileURLToPath(new URL('../deploy/booth-agent.env', import.meta.url)), 'utf8'))![1]!;

function lines(n: number): { ids: string[]; ndjson: string } {
  const docs = Array.from({ length: n }, (_, i) => sampleDoc('booth.upload', i));
  return { ids: docs.map((d) => d.event.id), ndjson: docs.map((d) => JSON.stringify(d)).join('\n') + '\n' };
}

test('a 200 MB error body from OpenSearch: a failed request, retried — the agent (service heap flags) neither grows nor dies, and delivers once the cluster answers', { timeout: 90_000 }, async (t) => {
  const standIn = await OpenSearchStandIn.start({ seed: 4 });
  t.after(() => standIn.close());
  standIn.faults.hostile = { kind: 'huge', status: 503, bytes: 200 * 1024 * 1024 };
  const dir = tempDir(t);
  const cfg = writeConfig(dir, { opensearch: { url: standIn.url, batch: { max_docs: 100, interval: '50ms' }, retry: { min_delay: '50ms', max_delay: '300ms' } } });
  const { ids, ndjson } = lines(200);
  assert.equal((await runCli(['record', '--config', cfg.file], { input: ndjson })).code, 0);
  const child = startCli(['run', '--config', cfg.file], { env: { NODE_OPTIONS: SERVICE_NODE_OPTIONS } });
  const done = collect(child, undefined, 80_000);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  await waitUntil(() => exited !== undefined || standIn.requests.filter((r) => r.fault === 'hostile-huge').length >= 3, 40_000, () => 'three huge answers');
  assert.equal(exited, undefined, 'the agent is still running after three 200 MB answers');
  standIn.faults.hostile = undefined;
  await waitUntil(() => exited !== undefined || ids.every((id) => standIn.ids().has(id)), 30_000, () => `${standIn.count()} of ${ids.length} stored`);
  child.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0, result.stderr.slice(-2000));
  assert.match(result.stderr, /sent an answer of more than 16 MB; not read/);
  assert.ok(ids.every((id) => standIn.ids().has(id)), 'every document delivered');
});

for (const mode of ['bulk', 'ingest'] as const) {
  test(`${mode}: opensearch.url with a path (a cluster behind a path-routing proxy) is reached under that path`, { timeout: 30_000 }, async (t) => {
    const standIn = await OpenSearchStandIn.start({ seed: 5, pathPrefix: '/opensearch' });
    t.after(() => standIn.close());
    const dir = tempDir(t);
    const cfg = writeConfig(dir, { opensearch: { url: `${standIn.url}/opensearch/`, mode, batch: { max_docs: 100, interval: '50ms' } } });
    const { ids, ndjson } = lines(50);
    assert.equal((await runCli(['record', '--config', cfg.file], { input: ndjson })).code, 0);
    const child = startCli(['run', '--config', cfg.file]);
    const done = collect(child);
    await waitUntil(() => ids.every((id) => standIn.ids().has(id)), 20_000, () => `${standIn.count()} stored; paths ${[...new Set(standIn.requests.map((r) => r.path))].join(' ')}`);
    child.kill('SIGTERM');
    assert.equal((await done).code, 0);
    const expected = mode === 'bulk' ? '/opensearch/_bulk' : '/opensearch/log/ingest';
    assert.ok(standIn.requests.every((r) => r.path === expected), [...new Set(standIn.requests.map((r) => r.path))].join(' '));
  });
}

test('fleet-setup --url with a path applies every resource under that path', { timeout: 60_000 }, async (t) => {
  const standIn = await OpenSearchStandIn.start({ seed: 6, pathPrefix: '/opensearch', boothPipeline: false });
  t.after(() => standIn.close());
  const r = await runCli(['fleet-setup', '--url', `${standIn.url}/opensearch`], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /13 created, 0 updated, 0 unchanged/, 'every resource but the Slack channel (no webhook given)');
  assert.ok(standIn.requests.length > 0 && standIn.requests.every((q) => q.path.startsWith('/opensearch/')), [...new Set(standIn.requests.map((q) => q.path))].join(' '));
});

test('a 401 that echoes the decoded Basic credential: the password is in neither the stored state, status --json, status nor the log', { timeout: 30_000 }, async (t) => {
  const password = 'pw-Echo-7781-secret';
  const standIn = await OpenSearchStandIn.start({ seed: 7 });
  t.after(() => standIn.close());
  const reason = `authentication failed for [booth-writer:${password}] (Basic ${Buffer.from(`booth-writer:${password}`).toString('base64')})`;
  standIn.faults.hostile = { kind: 'body', status: 401, body: JSON.stringify({ error: { type: 'security_exception', reason }, status: 401 }) };
  const dir = tempDir(t);
  fs.writeFileSync(`${dir}/password`, password, { mode: 0o600 });
  const cfg = writeConfig(dir, { opensearch: { url: standIn.url, auth: { type: 'basic', username: 'booth-writer', password_file: `${dir}/password` }, retry: { min_delay: '20ms', max_delay: '2s' } } });
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child);
  await waitUntil(() => standIn.requests.some((r) => r.status === 401), 10_000, () => 'a 401');
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0, result.stderr);
  const json = await runCli(['status', '--config', cfg.file, '--json']);
  const text = await runCli(['status', '--config', cfg.file]);
  const message = (JSON.parse(json.stdout) as { shipping: { last_error?: { message: string } } }).shipping.last_error?.message ?? '';
  assert.match(message, /security_exception authentication failed for \[\[REDACTED\]\]/, 'the reason is kept, the secret is not');
  const stored = fs.readFileSync(`${cfg.stateDir}/buffer.db`).toString('latin1') + (fs.existsSync(`${cfg.stateDir}/buffer.db-wal`) ? fs.readFileSync(`${cfg.stateDir}/buffer.db-wal`).toString('latin1') : '');
  for (const [where, out] of [['status --json', json.stdout], ['status', text.stdout], ['the log', result.stderr], ['the database', stored]] as const) {
    assert.ok(!out.includes(password), `${where} holds the password`);
    assert.ok(!out.includes(Buffer.from(`booth-writer:${password}`).toString('base64')), `${where} holds the encoded credential`);
  }
});
