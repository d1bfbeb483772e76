// `booth-agent report`: "when did it start?" — the fleet's upload speed over time, read from the
// cluster with aggregations, the days it changed (for the fleet, and for groups of booths that
// changed together), the facts that moved with it, and one-day incidents (issue 18). Printed as
// text, as JSON (--json), or drawn as one self-contained HTML file (--html FILE).
import fs from 'node:fs';
import { BOOTH_ID_RE, INDEX_PREFIX_RE } from '../config/schema.ts';
import { parseDuration } from '../config/units.ts';
import type { ReportQuery } from '../report/read.ts';
import { CLUSTER_OPTIONS, CLUSTER_USAGE, clusterConnection } from './cluster-connection.ts';
import type { Command } from './command.ts';
import { CliError, EXIT } from './exit-codes.ts';

const USAGE = `booth-agent report ${CLUSTER_USAGE}
       [--since 30d] [--until YYYY-MM-DD] [--country CC] [--booth ID ...] [--prefix booth] [--json] [--html FILE]`;

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Periods up to this long are read per hour: a day or two of days says little. */
const HOURLY_UP_TO = 2 * DAY;

const usage = (message: string) => new CliError(`${message}\nUsage: ${USAGE}`, EXIT.usage);

export const reportCommand: Command = {
  summary: "the fleet's upload speed over time, the days it changed, which booths and the probable causes, from the cluster",
  usage: USAGE,
  options: {
    ...CLUSTER_OPTIONS,
    since: { type: 'string' },
    until: { type: 'string' },
    country: { type: 'string' },
    booth: { type: 'string', multiple: true },
    prefix: { type: 'string' },
    json: { type: 'boolean' },
    html: { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values as Record<string, unknown>;
    const { client, shown } = clusterConnection(ctx.values, ctx.env, usage);
    const query = queryOf(v);
    const html = v['html'] as string | undefined;
    if (html !== undefined && html === '') throw usage('--html: expected a file name');
    // Loaded here, not at start: every command's module is loaded when the agent starts.
    const { buildReport } = await import('../report/build.ts');
    const model = await buildReport(client, query, shown);
    if (html) {
      const { renderHtml } = await import('../report/html/page.ts');
      try {
        fs.writeFileSync(html, renderHtml(model));
      } catch (err) {
        throw new CliError(`--html ${html}: ${(err as Error).message}`, EXIT.fatal);
      }
    }
    if (v['json']) ctx.stdout.write(`${JSON.stringify(model, null, 1)}\n`);
    else {
      const { renderText } = await import('../report/text.ts');
      ctx.stdout.write(renderText(model));
      if (html) ctx.stdout.write(`\nThe report as a page: ${html}\n`);
    }
    return EXIT.ok;
  },
};

function queryOf(v: Record<string, unknown>): ReportQuery {
  const until = untilOf(v['until']);
  const spanMs = sinceOf(v['since']);
  const prefix = (v['prefix'] as string | undefined) ?? 'booth';
  if (!INDEX_PREFIX_RE.test(prefix)) throw usage(`--prefix "${prefix}": expected lower-case letters, digits, "_" or "-" (as the agent's opensearch.index_prefix)`);
  const country = v['country'] as string | undefined;
  if (country !== undefined && !/^[A-Z]{2}$/.test(country)) throw usage(`--country "${country}": expected a two-letter country code such as US`);
  const booths = (v['booth'] as string[] | undefined) ?? [];
  for (const b of booths) if (!BOOTH_ID_RE.test(b)) throw usage(`--booth "${b}": expected a booth id (letters, digits, ".", "_", "-")`);
  const interval = spanMs <= HOURLY_UP_TO ? 'hour' : 'day';
  // An hourly period ends with the current hour, not at midnight.
  const end = interval === 'hour' && v['until'] === undefined ? Math.ceil(Date.now() / HOUR) * HOUR : until;
  return { prefix, since: end - spanMs, until: end, interval, ...(country ? { country } : {}), ...(booths.length ? { booths } : {}) };
}

function sinceOf(raw: unknown): number {
  if (raw === undefined) return 30 * DAY;
  const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
  if (ms === undefined || ms < 6 * HOUR || ms > 800 * DAY) throw usage(`--since "${String(raw)}": expected a duration from 6h to 800d, such as 30d, 90d or 24h`);
  return Math.ceil(ms / HOUR) * HOUR;
}

/** The end of the period: the end of the given day (UTC), or the end of today. */
function untilOf(raw: unknown): number {
  if (raw === undefined) return Math.ceil(Date.now() / DAY) * DAY;
  if (typeof raw !== 'string' || !/^\d{4}-\d\d-\d\d$/.test(raw) || Number.isNaN(Date.parse(`${raw}T00:00:00Z`))) throw usage(`--until "${String(raw)}": expected a day, YYYY-MM-DD`);
  return Date.parse(`${raw}T00:00:00Z`) + DAY;
}
