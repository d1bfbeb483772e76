// `booth-agent report`: "when did it start?" — the fleet's upload speed over time, read from the
// cluster with aggregations, and the days it changed: for the fleet, and for groups of booths that
// changed together (issue 18). First step: speed and its changes; causes and pictures come next.
import { formatDuration, parseDuration } from '../config/units.ts';
import { analyse, describeGroup } from '../report/analyse.ts';
import { readFleetDays, readSpeeds, type FleetDay } from '../report/read.ts';
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
    const query = { prefix, since, until, ...(country ? { country } : {}) };
    const [data, days] = await Promise.all([readSpeeds(client, query), readFleetDays(client, query)]);
    const requests = data.requests + 1;
    const a = analyse(data);
    const period = { since: new Date(since).toISOString().slice(0, 10), until: new Date(until - 1).toISOString().slice(0, 10) };
    if (v['json']) {
      const speeds = new Map(data.fleet.map((d) => [d.day, d]));
      const perDay = days.map((d) => ({ ...d, images: speeds.get(d.day)?.images ?? 0, speedMedian: speeds.get(d.day)?.median ?? null, speedP10: speeds.get(d.day)?.p10 ?? null }));
      ctx.stdout.write(`${JSON.stringify({ cluster: shown, period, requests, fleet: a.fleet, groups: a.groups, booths: data.booths.length, days: perDay }, null, 1)}\n`);
      return EXIT.ok;
    }
    ctx.stdout.write(`report: ${shown}, prefix "${prefix}", ${period.since} to ${period.until}${country ? `, ${country}` : ''}: ${data.booths.length} booths\n`);
    if (data.fleet.every((d) => d.median === null)) {
      ctx.stdout.write(`No successful uploads in this period.\n${summary(days)}\n`);
      return EXIT.ok;
    }
    const first = a.fleet.changes[0];
    const held = a.groups.length > 0 ? "The fleet's median upload speed held; these booths changed:" : "No change in the fleet's upload speed in this period.";
    ctx.stdout.write(first ? `Upload speed changed on ${first.day}: ${first.before.toFixed(2)} → ${first.after.toFixed(2)} MB/s (fleet median per day)\n` : `${held}\n`);
    for (const c of a.fleet.changes.slice(1)) ctx.stdout.write(`  and on ${c.day}: ${c.before.toFixed(2)} → ${c.after.toFixed(2)} MB/s\n`);
    for (const i of a.fleet.incidents) ctx.stdout.write(`Incident on ${i.day}: the fleet's median was ${i.value.toFixed(2)} MB/s for a day (usually ${i.typical.toFixed(2)})\n`);
    for (const g of a.groups) ctx.stdout.write(`  ${describeGroup(g)}\n`);
    ctx.stdout.write(`${summary(days)}\n`);
    return EXIT.ok;
  },
};

/** "Over the period: 1,204 bookings (median 1m 56s), 3 images refused; booths seen on the last day: FR 8, US 12". */
function summary(days: FleetDay[]): string {
  const bookings = days.reduce((n, d) => n + d.bookings, 0);
  const medians = days.map((d) => d.bookingMedianS).filter((m): m is number => m !== null).sort((x, y) => x - y);
  const typical = medians.length > 0 ? ` (median day ${formatDuration(medians[medians.length >> 1]! * 1000)})` : '';
  const rejections = days.reduce((n, d) => n + d.rejections, 0);
  const last = [...days].reverse().find((d) => Object.keys(d.boothsSeen).length > 0);
  const seen = last ? `; booths seen on ${last.day}: ${Object.entries(last.boothsSeen).sort().map(([c, n]) => `${c} ${n}`).join(', ')}` : '; no heartbeats';
  return `Over the period: ${bookings} bookings${typical}, ${rejections} images refused by the upload server${seen}`;
}

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
