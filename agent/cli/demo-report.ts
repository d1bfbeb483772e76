// The demo's last step (issue 18): `booth-agent report` on what the demo just shipped. The report
// reads a cluster with aggregations the stand-in does not answer, so it needs a real OpenSearch:
// with OPENSEARCH_URL set (npm run opensearch -- start prints one), the demo's documents are
// written there under a prefix of their own, reported on per hour, and removed again. Without it
// the demo says what it would take.
import crypto from 'node:crypto';
import { applyResources } from '../fleet-setup/apply.ts';
import { ClusterClient } from '../fleet-setup/client.ts';
import { fleetResources } from '../fleet-setup/resources.ts';
import { buildReport } from '../report/build.ts';
import { renderText } from '../report/text.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { DEFAULT_FLEET_OPTIONS } from '../../shared/opensearch/fleet-options.ts';
import { indexName } from '../../shared/opensearch/index-name.ts';

const HOUR = 3_600_000;

export async function demoReport(docs: BoothDocument[], env: NodeJS.ProcessEnv, say: (line?: string) => void): Promise<void> {
  const url = env['OPENSEARCH_URL'];
  if (!url) {
    say('   booth-agent report reads a real OpenSearch with aggregations, which the stand-in does not answer.');
    say('   To see it here: npm run opensearch -- start (Java 17 and Maven), then OPENSEARCH_URL=<its URL> npm run demo;');
    say('   npm run report:seed -- --url <its URL> gives it a fleet\'s 90 days to find changes in (README, "When did it start?").');
    return;
  }
  const client = new ClusterClient(new URL(url), { type: 'none' }, { verify: true });
  const prefix = `demo${crypto.randomBytes(3).toString('hex')}`;
  const resources = fleetResources({ ...DEFAULT_FLEET_OPTIONS, prefix, replicas: 0 }).filter((r) => r.kind === 'ingest pipeline' || r.kind === 'index template');
  try {
    const failed = (await applyResources(client, resources)).filter((r) => r.outcome === 'failed');
    if (failed.length > 0) throw new Error(failed.map((r) => r.detail).join('; '));
    const ndjson = docs.map((d) => `${JSON.stringify({ create: { _index: indexName(prefix, d.event.dataset, d['@timestamp']), _id: d.event.id } })}\n${JSON.stringify(d)}\n`).join('');
    const written = await client.send({ method: 'POST', path: '/_bulk?refresh=true', ndjson });
    if (written.status !== 200) throw new Error(`_bulk answered ${written.status}`);
    say(`   ${docs.length} documents written to ${new URL(url).origin} under the prefix "${prefix}" (removed afterwards):\n`);
    const until = Math.ceil(Date.now() / HOUR) * HOUR;
    const model = await buildReport(client, { prefix, since: until - 6 * HOUR, until, interval: 'hour' }, new URL(url).origin);
    say(renderText(model).replace(/^/gm, '   ').trimEnd());
  } catch (err) {
    say(`   could not report on ${new URL(url).origin}: ${(err as Error).message}`);
  } finally {
    await client.send({ method: 'DELETE', path: `/${prefix}-*?expand_wildcards=all&allow_no_indices=true` }).catch(() => undefined);
    for (const r of resources) {
      const path = r.kind === 'ingest pipeline' ? `/_ingest/pipeline/${r.id}` : `/_index_template/${r.id}`;
      await client.send({ method: 'DELETE', path }).catch(() => undefined);
    }
  }
}
