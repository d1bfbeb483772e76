// The report, from the cluster to one ReportModel: speeds and the fleet's days (two aggregation
// requests), the change points, then one request per change or incident for the facts around it
// (causes.ts). Requests: 2 + groups + incidents, however many booths and days.
import { formatDuration } from '../config/units.ts';
import type { ClusterClient } from '../fleet-setup/client.ts';
import { analyse, describeGroup, formatSpeed as mb, whenChanged, type ChangeGroup } from './analyse.ts';
import { rankCauses, readFactsAround, type Span, type Windows } from './causes.ts';
import { DEFAULT_CHANGE_OPTIONS, type Incident } from './change-points.ts';
import type { ReportDay, ReportGroup, ReportIncident, ReportModel, SpeedPoint } from './model.ts';
import { readFleetDays, readSpeeds, type FleetDay, type ReportQuery } from './read.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Buckets compared on each side of a change: two weeks of days, half a day of hours. */
const WINDOW = { day: 14, hour: 12 } as const;
/** An incident's day is compared with this many buckets on each side. */
const AROUND = 3;
const SMALL_MULTIPLES = 24;

export async function buildReport(client: ClusterClient, q: ReportQuery, cluster: string): Promise<ReportModel> {
  const [data, fleetDays] = await Promise.all([readSpeeds(client, q), readFleetDays(client, q)]);
  const a = analyse(data);
  const bucket = q.interval === 'hour' ? HOUR : DAY;
  const at = (key: string) => Date.parse(q.interval === 'hour' ? `${key}:00:00Z` : `${key}T00:00:00Z`);
  const clip = (s: Span): Span[] => {
    const span = { from: Math.max(s.from, q.since), to: Math.min(s.to, q.until) };
    return span.to > span.from ? [span] : [];
  };
  const windowsOf = (g: ChangeGroup): Windows => {
    const w = WINDOW[q.interval] * bucket;
    const start = at(g.day);
    const end = g.kind === 'gradual' && g.until ? at(g.until) + bucket : start;
    return { before: clip({ from: start - w, to: start }), after: clip({ from: end, to: end + w }) };
  };
  const around = (i: Incident): Windows => {
    const day = at(i.day);
    return { before: [...clip({ from: day - AROUND * bucket, to: day }), ...clip({ from: day + bucket, to: day + (AROUND + 1) * bucket })], after: clip({ from: day, to: day + bucket }) };
  };
  const usable = (w: Windows) => w.before.length > 0 && w.after.length > 0;
  let requests = 2;
  const factsAround = (w: Windows, group?: string[]) => {
    requests++;
    return readFactsAround(client, q, w, group);
  };

  const byBooth = new Map(data.booths.map((b) => [b.booth, b]));
  const groups = await Promise.all(
    a.groups.map(async (g): Promise<ReportGroup> => {
      const w = windowsOf(g);
      const causes = usable(w) ? rankCauses(await factsAround(w, g.booths), g.booths.length >= 3) : [];
      const text = describeGroup(g);
      return { ...g, text, causes, series: g.booths.slice(0, SMALL_MULTIPLES).map((booth) => ({ booth, points: byBooth.get(booth)?.days.map(point) ?? [] })) };
    }),
  );
  const incidents = await Promise.all(
    a.fleet.incidents.map(async (i): Promise<ReportIncident> => {
      const w = around(i);
      const causes = usable(w) ? rankCauses(await factsAround(w)) : [];
      const text = `Incident on ${i.day}: the fleet's median upload speed was ${mb(i.value)} MB/s for ${q.interval === 'hour' ? 'an hour' : 'a day'} (usually ${mb(i.typical)})`;
      return { ...i, causes, text };
    }),
  );
  const fleetSeries = data.fleet.map(point);
  const days = joinDays(fleetSeries, fleetDays);
  return {
    cluster,
    prefix: q.prefix,
    period: {
      since: new Date(q.since).toISOString().slice(0, q.interval === 'hour' ? 16 : 10),
      until: new Date(q.until - 1).toISOString().slice(0, q.interval === 'hour' ? 16 : 10),
      resolution: q.interval,
      ...(q.country ? { country: q.country } : {}),
      ...(q.booths?.length ? { booths: q.booths } : {}),
    },
    generatedAt: new Date().toISOString(),
    requests,
    booths: data.booths.length,
    verdict: verdict(a.fleet.changes, groups, incidents, data.fleet.filter((d) => d.median !== null).length, q.interval),
    fleet: { series: fleetSeries, changes: a.fleet.changes, incidents },
    groups,
    days,
    summary: summary(fleetDays),
  };
}

function point(d: { day: string; images: number; median: number | null; p10: number | null }): SpeedPoint {
  return { at: d.day, images: d.images, median: d.median, p10: d.p10 };
}

function joinDays(speeds: SpeedPoint[], days: FleetDay[]): ReportDay[] {
  const byDay = new Map(speeds.map((s) => [s.at, s]));
  return days.map((d) => ({
    at: d.day,
    images: byDay.get(d.day)?.images ?? 0,
    speedMedian: byDay.get(d.day)?.median ?? null,
    speedP10: byDay.get(d.day)?.p10 ?? null,
    bookings: d.bookings,
    bookingMedianS: d.bookingMedianS,
    boothsSeen: d.boothsSeen,
    rejections: d.rejections,
  }));
}


/** The first lines: what changed and its likeliest cause, then the incidents; or that nothing did. */
function verdict(fleetChanges: ReportModel['fleet']['changes'], groups: ReportGroup[], incidents: ReportIncident[], withUploads: number, interval: ReportQuery['interval']): string[] {
  if (withUploads === 0) return ['No successful uploads in this period.'];
  const lines: string[] = [];
  // Fewer buckets than two segments of the method's shortest length: no change could be found, and
  // "no change" would claim more than the data can say.
  const enough = 2 * DEFAULT_CHANGE_OPTIONS.minSegmentDays;
  if (withUploads < enough) lines.push(`Only ${withUploads} ${interval}${withUploads === 1 ? '' : 's'} with uploads in this period: too few to date a change (the method needs at least ${enough}).`);
  for (const c of fleetChanges) lines.push(`The fleet's upload speed changed ${whenChanged(c)}: ${mb(c.before)} → ${mb(c.after)} MB/s (median of all uploads)`);
  if (fleetChanges.length === 0 && withUploads >= enough) lines.push(groups.length > 0 ? "The fleet's median upload speed held, but some booths changed:" : "No change in the fleet's upload speed in this period.");
  for (const g of groups) lines.push(`${g.text}${g.causes[0] ? ` — ${g.causes[0].text}` : ' — no recorded fact moved with it'}`);
  for (const i of incidents) lines.push(`${i.text}${i.causes[0] ? ` — ${i.causes[0].text}` : ''}`);
  return lines;
}

/** "Over the period: 1,204 bookings (median day 1m 56s), 3 images refused; booths seen on the last day: FR 8, US 12". */
function summary(days: FleetDay[]): string {
  const bookings = days.reduce((n, d) => n + d.bookings, 0);
  const medians = days.map((d) => d.bookingMedianS).filter((m): m is number => m !== null).sort((x, y) => x - y);
  const typical = medians.length > 0 ? ` (median booking ${formatDuration(medians[medians.length >> 1]! * 1000)})` : '';
  const rejections = days.reduce((n, d) => n + d.rejections, 0);
  const last = [...days].reverse().find((d) => Object.keys(d.boothsSeen).length > 0);
  const seen = last ? `; booths seen on ${last.day}: ${Object.entries(last.boothsSeen).sort().map(([c, n]) => `${c} ${n}`).join(', ')}` : '; no heartbeats';
  return `Over the period: ${bookings} bookings${typical}, ${rejections} images refused by the upload server${seen}`;
}
