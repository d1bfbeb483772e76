// The agent against a real OpenSearch (issue 17): the real _bulk, the fleet's real templates and
// pipeline. Every verdict here is the cluster's — item statuses, error types and reasons, what is
// stored where.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { collect, runCli, startCli } from '../support/cli.ts';
import { writeConfig, type TestConfig } from '../support/config.ts';
import { sampleDoc } from '../support/documents.ts';
import { tempDir } from '../support/tmp.ts';
import { call, clusterUrl, idCounts, refresh, testFleet, until, type TestFleet } from './support.ts';

const ndjson = (docs: BoothDocument[]) => docs.map((d) => JSON.stringify(d)).join('\n') + '\n';

/** Bookings of two months: half in November, half in December 2026. */
function bookings(n: number, first = 0): BoothDocument[] {
  return Array.from({ length: n }, (_, i) => sampleDoc('booth.booking', first + i, () => Date.parse(i % 2 === 0 ? '2026-11-20T10:00:00Z' : '2026-12-03T10:00:00Z') + i));
}

function agentConfig(t: TestContext, fleet: TestFleet, extra: Record<string, unknown> = {}): TestConfig {
  return writeConfig(tempDir(t), {
    opensearch: { url: clusterUrl(), index_prefix: fleet.prefix, batch: { max_docs: 200, interval: '50ms' }, retry: { min_delay: '50ms', max_delay: '1s' }, ...extra },
    network: { interval: '1h' },
  });
}

async function count(index: string, query?: unknown): Promise<number> {
  await refresh(index.split('-')[0]!);
  const r = await call<{ count?: number }>('POST', `/${index}/_count?ignore_unavailable=true&allow_no_indices=true`, query ? { query } : undefined);
  return r.body.count ?? 0;
}

interface StatusJson {
  shipping: { queued: number; dead_letters: number };
}

async function status(cfg: TestConfig): Promise<StatusJson> {
  return JSON.parse((await runCli(['status', '--config', cfg.file, '--json'])).stdout) as StatusJson;
}

test('shipped through the real _bulk (gzip): each booking in its monthly index, once, stamped event.ingested by the real pipeline; sent again (create of existing _ids, 409), counted delivered, stored once', { timeout: 120_000 }, async (t) => {
  const fleet = await testFleet(t);
  const docs = bookings(400);
  for (const compression of ['gzip', 'none'] as const) {
    const cfg = agentConfig(t, fleet, { compression });
    assert.equal((await runCli(['record', '--config', cfg.file], { input: ndjson(docs) })).code, 0);
    const child = startCli(['run', '--config', cfg.file]);
    const done = collect(child, undefined, 100_000);
    await until(async () => ((await status(cfg)).shipping.queued === 0 && (await count(`${fleet.prefix}-booking-*`)) === 400 ? true : undefined), 60_000, () => `${compression}: not all shipped`);
    child.kill('SIGTERM');
    assert.equal((await done).code, 0);
    assert.equal((await status(cfg)).shipping.dead_letters, 0, `${compression}: the second sending's 409s are delivered, not dead letters`);
  }
  assert.equal(await count(fleet.index('booking', '2026-11-20T10:00:00Z')), 200);
  assert.equal(await count(fleet.index('booking', '2026-12-03T10:00:00Z')), 200);
  assert.equal(await count(`${fleet.prefix}-booking-*`, { exists: { field: 'event.ingested' } }), 400, 'the pipeline stamped every document');
  const ids = await idCounts(`${fleet.prefix}-booking-*`);
  assert.equal(ids.size, 400);
  assert.deepEqual([...ids.values()].filter((n) => n > 1), [], 'no document twice');
});

test('a document the index mapping refuses becomes a dead letter with the real reason; the rest land', { timeout: 120_000 }, async (t) => {
  const fleet = await testFleet(t);
  const at = '2026-12-03T10:00:00Z';
  // An index created before, by hand, with file.name as a number: every upload's file.name is refused.
  const created = await call('PUT', `/${fleet.index('upload', at)}`, { mappings: { properties: { file: { properties: { name: { type: 'long' } } } } } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const uploads = Array.from({ length: 3 }, (_, i) => sampleDoc('booth.upload', i, () => Date.parse(at)));
  const others = bookings(10);
  const cfg = agentConfig(t, fleet);
  assert.equal((await runCli(['record', '--config', cfg.file], { input: ndjson([...uploads, ...others]) })).code, 0);
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child, undefined, 100_000);
  await until(async () => ((await status(cfg)).shipping.dead_letters === 3 ? true : undefined), 60_000, () => 'three dead letters');
  child.kill('SIGTERM');
  assert.equal((await done).code, 0);
  assert.equal(await count(`${fleet.prefix}-booking-*`), 10, 'the other documents landed');
  const exported = await runCli(['export', '--config', cfg.file, '--kind', 'upload']);
  const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { dead_letter?: { reason: string; status_code: number; error_type: string } });
  const dead = lines.filter((l) => l.dead_letter);
  assert.equal(dead.length, 3, exported.stdout.slice(0, 500));
  for (const d of dead) {
    assert.equal(d.dead_letter!.status_code, 400);
    assert.equal(d.dead_letter!.error_type, 'mapper_parsing_exception');
    assert.match(d.dead_letter!.reason, /failed to parse field \[file\.name\] of type \[long\]/);
  }
});

for (const block of ['closed', 'write-blocked'] as const) {
  test(`an index that is ${block}: its documents are held (not dead letters) and delivered once it is open again`, { timeout: 120_000 }, async (t) => {
    const fleet = await testFleet(t);
    const at = '2026-12-03T10:00:00Z';
    const index = fleet.index('booking', at);
    assert.equal((await call('PUT', `/${index}`)).status, 200);
    if (block === 'closed') assert.equal((await call('POST', `/${index}/_close`)).status, 200);
    else assert.equal((await call('PUT', `/${index}/_settings`, { 'index.blocks.write': true })).status, 200);
    const docs = Array.from({ length: 5 }, (_, i) => sampleDoc('booth.booking', i, () => Date.parse(at)));
    const cfg = agentConfig(t, fleet);
    assert.equal((await runCli(['record', '--config', cfg.file], { input: ndjson(docs) })).code, 0);
    const child = startCli(['run', '--config', cfg.file]);
    const done = collect(child, undefined, 100_000);
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await until(async () => (/index_closed_exception|cluster_block_exception/.test(log) ? true : undefined), 30_000, () => `the refusal logged; log so far:\n${log.slice(-2000)}`);
    const held = await status(cfg);
    assert.equal(held.shipping.dead_letters, 0);
    assert.ok(held.shipping.queued >= 5, `held: ${held.shipping.queued} queued`);
    if (block === 'closed') assert.equal((await call('POST', `/${index}/_open?wait_for_active_shards=1`)).status, 200);
    else assert.equal((await call('PUT', `/${index}/_settings`, { 'index.blocks.write': null })).status, 200);
    await until(async () => ((await count(index)) === 5 ? true : undefined), 60_000, () => 'delivered after the index was opened');
    child.kill('SIGTERM');
    assert.equal((await done).code, 0);
    assert.equal((await status(cfg)).shipping.dead_letters, 0);
  });
}
