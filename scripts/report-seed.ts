// `npm run report:seed -- --url URL [--prefix booth] [--seed 18] [--days 90] [--booths 200]
//   [--until YYYY-MM-DD] [--no-events] [--replicas 0]`: writes a generated fleet's history
// (scripts/report-seed/fleet.ts: 200 booths in 3 countries over 90 days, three injected events) into
// a cluster, for trying `booth-agent report` on. The same connection options as the agent's
// commands (--user/--password-file, --token-file, --aws-region, --ca-file). It ends with the report
// command to run.
import { parseArgs } from 'node:util';
import { CLUSTER_OPTIONS, clusterConnection } from '../agent/cli/cluster-connection.ts';
import { CliError } from '../agent/cli/exit-codes.ts';
import { DEFAULT_FLEET, fleetDocuments, planFleet } from './report-seed/fleet.ts';
import { applyIndexing, writeDocuments } from '../agent/fleet-setup/indexing.ts';

const DAY = 86_400_000;
const { values } = parseArgs({
  options: {
    ...CLUSTER_OPTIONS,
    prefix: { type: 'string', default: 'booth' },
    seed: { type: 'string', default: String(DEFAULT_FLEET.seed) },
    days: { type: 'string', default: String(DEFAULT_FLEET.days) },
    booths: { type: 'string', default: String(DEFAULT_FLEET.booths) },
    until: { type: 'string' },
    'no-events': { type: 'boolean' },
    replicas: { type: 'string', default: '0' },
  },
});

const number = (name: string, min: number, max: number): number => {
  const v = Number(values[name as keyof typeof values]);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name} ${String(values[name as keyof typeof values])}: expected a whole number from ${min} to ${max}`);
  return v;
};

try {
  const { client, shown } = clusterConnection({ ...values, url: values.url ?? process.env['OPENSEARCH_URL'] }, process.env, (m) => new CliError(m, 64));
  const until = values.until ? Date.parse(`${values.until}T00:00:00Z`) + DAY : Math.ceil(Date.now() / DAY) * DAY;
  if (Number.isNaN(until)) throw new Error(`--until ${values.until}: expected YYYY-MM-DD`);
  const days = number('days', 20, 400);
  const spec = { seed: number('seed', 0, 2 ** 31), days, booths: number('booths', 10, 5000), start: until - days * DAY, events: !values['no-events'], maxImages: DEFAULT_FLEET.maxImages };
  const truth = planFleet(spec);
  await applyIndexing(client, values.prefix!, number('replicas', 0, 5));
  process.stdout.write(`report:seed: ${shown}, prefix "${values.prefix}", ${spec.booths} booths, ${days} days from ${new Date(spec.start).toISOString().slice(0, 10)}, seed ${spec.seed}${spec.events ? '' : ', no events'}\n`);
  let shownAt = 0;
  const r = await writeDocuments(client, values.prefix!, fleetDocuments(spec, truth), (p) => {
    if (p.seconds - shownAt >= 5) {
      shownAt = p.seconds;
      process.stdout.write(`  ${p.documents} documents…\n`);
    }
  });
  process.stdout.write(`report:seed: ${r.documents} documents (${r.created} new, ${r.existing} already there) in ${r.requests} requests, ${r.seconds.toFixed(1)} s\n`);
  if (spec.events) {
    const day = (i: number) => new Date(spec.start + i * DAY).toISOString().slice(0, 10);
    process.stdout.write(
      `injected: (a) from ${day(truth.dropDay)}, ${truth.dropped.length} booths of us-east at ~0.9 MB/s, link 1000 → 100 Mbit/s;` +
        ` (b) on ${day(truth.incidentDay)}, time to first byte ×20 on every booth; (c) ${truth.faded}'s Wi-Fi fading from ${day(truth.fadeFrom)} to ${day(truth.fadeUntil)}\n`,
    );
  }
  process.stdout.write(`now: npx booth-agent report --url ${shown} --prefix ${values.prefix} --since ${days}d${values.until ? ` --until ${values.until}` : ''}\n`);
} catch (err) {
  process.stderr.write(`report:seed: ${(err as Error).message}\n`);
  process.exitCode = err instanceof CliError ? 64 : 1;
}
