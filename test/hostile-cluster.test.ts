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
