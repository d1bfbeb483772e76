// Never lose, never duplicate, against the real cluster (issue 17): 20,000 documents shipped by an
// agent SIGKILLed about every 2 s and started again end as exactly 20,000 documents, each once, in
// their monthly indices — create-by-_id makes the batches resent after each kill harmless.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collect, runCli, startCli } from '../support/cli.ts';
import { writeConfig } from '../support/config.ts';
import { sampleDoc } from '../support/documents.ts';
import { tempDir } from '../support/tmp.ts';
import { call, clusterUrl, idCounts, refresh, testFleet, until } from './support.ts';

test('20,000 bookings, the agent SIGKILLed every ~2 s and restarted: exactly 20,000 in the cluster, none twice, each in its month', { timeout: 600_000 }, async (t) => {
  const fleet = await testFleet(t);
  const months = ['2026-10-15T08:00:00Z', '2026-11-15T08:00:00Z', '2026-12-01T08:00:00Z'];
  const docs = Array.from({ length: 20_000 }, (_, i) => sampleDoc('booth.booking', i, () => Date.parse(months[i % 3]!) + i));
  const cfg = writeConfig(tempDir(t), {
    opensearch: { url: clusterUrl(), index_prefix: fleet.prefix, batch: { max_docs: 20, interval: '50ms' }, retry: { min_delay: '50ms', max_delay: '1s' } },
    network: { interval: '1h' },
  });
  assert.equal((await runCli(['record', '--config', cfg.file], { input: docs.map((d) => JSON.stringify(d)).join('\n') + '\n', timeoutMs: 120_000 })).code, 0);

  const stored = async () => {
    await refresh(fleet.prefix);
    return (await call<{ count: number }>('GET', `/${fleet.prefix}-booking-*/_count`)).body.count ?? 0;
  };
  let kills = 0;
  for (;;) {
    const child = startCli(['run', '--config', cfg.file]);
    const done = collect(child, undefined, 60_000);
    await new Promise((r) => setTimeout(r, 1000 + Math.random() * 1500));
    const queued = JSON.parse((await runCli(['status', '--config', cfg.file, '--json'])).stdout).shipping.queued as number;
    if (queued === 0 || kills >= 100) {
      child.kill('SIGTERM');
      await done;
      break;
    }
    child.kill('SIGKILL');
    await done.catch(() => {});
    kills++;
  }
  t.diagnostic(`${kills} SIGKILLs while shipping`);
  assert.ok(kills >= 2, `the agent was killed mid-shipping (${kills} times)`);
  await until(async () => ((await stored()) >= 20_000 ? true : undefined), 30_000, () => 'all stored');
  assert.equal(await stored(), 20_000);
  for (const [k, at] of months.entries()) {
    const index = fleet.index('booking', at);
    assert.equal((await call<{ count: number }>('GET', `/${index}/_count`)).body.count, docs.filter((_, i) => i % 3 === k).length, index);
  }
  const ids = await idCounts(`${fleet.prefix}-booking-*`);
  assert.equal(ids.size, 20_000, 'every document there');
  assert.deepEqual([...ids.values()].filter((n) => n > 1), [], 'none twice (across indices too)');
  assert.ok(docs.every((d) => ids.has(d.event.id)), 'exactly the documents recorded');
});
