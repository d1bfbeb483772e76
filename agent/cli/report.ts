// `booth-agent report`: "when did it start?" — the fleet's upload speed over time, read from the
// cluster with aggregations, and the days it changed: for the fleet, and for groups of booths that
// changed together (issue 18). First step: speed and its changes; causes and pictures come next.
import { parseDuration } from '../config/units.ts';
import { analyse, describeGroup } from '../report/analyse.ts';
import { readSpeeds } from '../report/read.ts';
import { CLUSTER_OPTIONS, CLUSTER_USAGE, clusterConnection } from './cluster-connection.ts';
import type { Command } from './command.ts';
import { CliError, EXIT } from './exit-codes.ts';

const USAGE = `booth-agent report ${CLUSTER_USAGE}
       [--since 30d] [--until YYYY-MM-DD] [--country CC] [--prefix booth] [--json]`;

const DAY = 86_400_000;

const usage = (message: string) => new CliError(`${message}\nUsage: ${USAGE}`, EXIT.usage);

export const reportCommand: Command = {
  summary: "the fleet's upload speed over time and the days it changed, from the cluster",
  usage: USAGE,
  options: { ...CLUSTER_OPTIONS, since: { type: 'string' }, until: { type: 'string' }, country: { type: 'string' }, prefix: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const v = ctx.values;
    const { client, shown } = clusterConnection(ctx, usage);
    const until = untilOf(v['until']);
    const spanMs = sinceOf(v['since']);
    const prefix = (v['prefix'] as string | undefined) ?? 'booth';
    if (!/^[a-z0-9][a-z0-9_.]{0,99}$/.test(prefix)) throw usage(`--prefix "${prefix}": expected lower-case letters, digits, "_" or "."`);
    const country = v['country'] as string | undefined;
    if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw usage(`--country "${country}": expected a two-letter country code such as US`);
    const since = until - spanMs;
    const data = await readSpeeds(client, { prefix, since, until, ...(country ? { country } : {}) });
    const a = analyse(data);
    const period = { since: new Date(since).toISOString().slice(0, 10), until: new Date(until - 1).toISOString().slice(0, 10) };
    if (v['json']) {
      ctx.stdout.write(`${JSON.stringify({ cluster: shown, period, requests: data.requests, fleet: a.fleet, groups: a.groups, booths: data.booths.length }, null, 1)}\n`);
      return EXIT.ok;
    }
    ctx.stdout.write(`report: ${shown}, prefix "${prefix}", ${period.since} to ${period.until}${country ? `, ${country}` : ''}: ${data.booths.length} booths\n`);
    if (data.fleet.every((d) => d.median === null)) {
      ctx.stdout.write('No uploads in this period.\n');
      return EXIT.ok;
    }
    const first = a.fleet.changes[0];
    const held = a.groups.length > 0 ? "The fleet's median upload speed held; these booths changed:" : "No change in the fleet's upload speed in this period.";
    ctx.stdout.write(first ? `Upload speed changed on ${first.day}: ${first.before.toFixed(2)} → ${first.after.toFixed(2)} MB/s (fleet median per day)\n` : `${held}\n`);
    for (const c of a.fleet.changes.slice(1)) ctx.stdout.write(`  and on ${c.day}: ${c.before.toFixed(2)} → ${c.after.toFixed(2)} MB/s\n`);
    for (const i of a.fleet.incidents) ctx.stdout.write(`Incident on ${i.day}: the fleet's median was ${i.value.toFixed(2)} MB/s for a day (usually ${i.typical.toFixed(2)})\n`);
    for (const g of a.groups) ctx.stdout.write(`  ${describeGroup(g)}\n`);
    return EXIT.ok;
  },
};

function sinceOf(raw: unknown): number {
  if (raw === undefined) return 30 * DAY;
  const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
  if (ms === undefined || ms < DAY) throw usage(`--since "${String(raw)}": expected a duration of a day or more, such as 30d or 90d`);
  return ms;
}

/** The end of the period: the end of the given day (UTC), or the end of today. */
function untilOf(raw: unknown): number {
  if (raw === undefined) return Math.ceil(Date.now() / DAY) * DAY;
  if (typeof raw !== 'string' || !/^\d{4}-\d\d-\d\d$/.test(raw) || Number.isNaN(Date.parse(`${raw}T00:00:00Z`))) throw usage(`--until "${String(raw)}": expected a day, YYYY-MM-DD`);
  return Date.parse(`${raw}T00:00:00Z`) + DAY;
}
