// The report's speed (issue 18): `booth-agent report` over 90 days × 200 booths of the generated
// fleet (npm run report:seed's, with its three events) against a real local OpenSearch — the
// command as an operator runs it, process start included. $OPENSEARCH_URL when set, else the node
// of `npm run opensearch` (started here and stopped after when it was not running). The fleet is
// seeded once under the prefix `benchreport` and kept: a second run measures at once.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClusterClient } from '../agent/fleet-setup/client.ts';
import type { ReportModel } from '../agent/report/model.ts';
import { DEFAULT_FLEET, fleetDocuments } from '../scripts/report-seed/fleet.ts';
import { applyIndexing, writeDocuments } from '../agent/fleet-setup/indexing.ts';
import { ensureOpenSearch, opensearch } from '../scripts/opensearch/control.ts';
import { fleetNames } from '../shared/opensearch/fleet-options.ts';
import type { Result } from './table.ts';

const BIN = fileURLToPath(new URL('../agent/cli/booth-agent.js', import.meta.url));
const PREFIX = 'benchreport';
const DAY = 86_400_000;
const UNTIL = '2026-11-29';

function run(args: string[]): Promise<{ code: number; out: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? 1, out, ms: performance.now() - started }));
  });
}

export async function reportBenchmarks(opts: { runs: number }): Promise<Result[]> {
  let url = process.env['OPENSEARCH_URL'];
  let stop = false;
  if (!url) {
    const node = await ensureOpenSearch();
    url = node.vars['OPENSEARCH_URL']!;
    stop = node.started;
  }
  try {
    const client = new ClusterClient(new URL(url), { type: 'none' }, { verify: true }, 120_000);
    const spec = { ...DEFAULT_FLEET, start: Date.parse(`${UNTIL}T00:00:00Z`) + DAY - DEFAULT_FLEET.days * DAY };
    const count = await client.send({ method: 'GET', path: `/${fleetNames(PREFIX).allIndices}/_count?allow_no_indices=true` });
    let documents = (count.body as { count?: number }).count ?? 0;
    if (documents === 0) {
      await applyIndexing(client, PREFIX, 0);
      const seeded = await writeDocuments(client, PREFIX, fleetDocuments(spec));
      documents = seeded.documents;
      console.log(`report benchmark: seeded ${seeded.documents} documents in ${seeded.seconds.toFixed(0)} s`);
    }
    const times: number[] = [];
    let model: ReportModel | undefined;
    for (let i = 0; i < opts.runs; i++) {
      const r = await run([BIN, 'report', '--url', url, '--prefix', PREFIX, '--since', `${DEFAULT_FLEET.days}d`, '--until', UNTIL, '--json']);
      if (r.code !== 0) throw new Error(`report benchmark: booth-agent report exited ${r.code}`);
      model = JSON.parse(r.out) as ReportModel;
      times.push(r.ms / 1000);
    }
    const label = `report: ${DEFAULT_FLEET.days} days × ${model!.booths} booths (${documents.toLocaleString('en-US')} docs)`;
    return [
      { name: `${label}, slowest of ${opts.runs} runs`, value: Math.max(...times), unit: 's', target: { op: '<=', value: 10 } },
      { name: `${label}, first run`, value: times[0]!, unit: 's' },
      { name: 'report: requests to the cluster (aggregations only)', value: model!.requests, unit: 'requests' },
    ];
  } finally {
    if (stop) await opensearch('stop');
  }
}
