// The demo's last step (issue 18): `booth-agent report` on what the demo just shipped. The report
// reads a cluster with aggregations the stand-in does not answer, so it needs a real OpenSearch:
// with OPENSEARCH_URL set (npm run opensearch -- start prints one), the demo's documents are
// written there under a prefix of their own, reported on per hour, and removed again. Without it
// the demo says what it would take.
import crypto from 'node:crypto';
import { ClusterClient } from '../fleet-setup/client.ts';
import { applyIndexing, removeIndexing, writeDocuments } from '../fleet-setup/indexing.ts';
import { buildReport } from '../report/build.ts';
import { renderText } from '../report/text.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { redactedOrigin } from './cluster-connection.ts';

const HOUR = 3_600_000;

export async function demoReport(docs: BoothDocument[], env: NodeJS.ProcessEnv, say: (line?: string) => void): Promise<void> {
  const url = env['OPENSEARCH_URL'];
  if (!url) {
    say('   booth-agent report reads a real OpenSearch with aggregations, which the stand-in does not answer.');
    say('   To see it here: npm run opensearch -- start (Java 17 and Maven), then OPENSEARCH_URL=<its URL> npm run demo;');
    say('   npm run report:seed -- --url <its URL> gives it a fleet\'s 90 days to find changes in (README, "When did it start?").');
    return;
  }
  let origin = url;
  try {
    const target = new URL(url);
    origin = redactedOrigin(target);
    const client = new ClusterClient(target, { type: 'none' }, { verify: true });
    const prefix = `demo${crypto.randomBytes(3).toString('hex')}`;
    try {
      await applyIndexing(client, prefix, 0);
      await writeDocuments(client, prefix, docs);
      say(`   ${docs.length} documents written to ${origin} under the prefix "${prefix}" (removed afterwards):\n`);
      const until = Math.ceil(Date.now() / HOUR) * HOUR;
      const model = await buildReport(client, { prefix, since: until - 6 * HOUR, until, interval: 'hour' }, origin);
      say(renderText(model).replace(/^/gm, '   ').trimEnd());
    } finally {
      await removeIndexing(client, prefix).catch(() => undefined);
    }
  } catch (err) {
    say(`   could not report on ${origin}: ${(err as Error).message}`);
  }
}
