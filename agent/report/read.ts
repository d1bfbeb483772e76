// What `booth-agent report` reads from the cluster: aggregations only, never documents. Speed comes
// from the upload documents (one per image), not the booking summaries: a booking's speed is
// already an average over its images, and a day with three bookings would then be three numbers;
// the images give the median and the 10th percentile of what the booths really saw. Days are by
// @timestamp — when the booth measured it, not when a backlog reached the cluster.
import { fleetNames } from '../../shared/opensearch/fleet-options.ts';
import type { ClusterClient } from '../fleet-setup/client.ts';

export interface ReportQuery {
  prefix: string;
  /** Epoch ms, inclusive. */
  since: number;
  /** Epoch ms, exclusive. */
  until: number;
  country?: string;
  /** Only these booths (--booth). */
  booths?: string[];
  /** Buckets of a day, or of an hour for short periods. */
  interval: 'day' | 'hour';
}

/** The filters every query of a report shares: the period, the country, the booths. */
export function scope(q: ReportQuery, from = q.since, to = q.until): unknown[] {
  const filter: unknown[] = [timeRange(from, to)];
  if (q.country) filter.push({ term: { 'booth.country': q.country } });
  if (q.booths?.length) filter.push({ terms: { 'booth.id': q.booths } });
  return filter;
}

/** Epoch-ms range of @timestamp, [from, to). */
export function timeRange(from: number, to: number): unknown {
  return { range: { '@timestamp': { gte: from, lt: to, format: 'epoch_millis' } } };
}

/** Booths at most in one aggregation: the per-booth terms are one request. */
export const MAX_BOOTHS = 2000;

/**
 * One aggregation request over the fleet's indices of `kinds`: no document comes back, only
 * `aggregations` (undefined when no index matched). `what` names the query in an error.
 */
export async function aggregate<T>(client: ClusterClient, q: ReportQuery, kinds: readonly string[], what: string, body: { query: unknown; aggs: unknown }): Promise<T | undefined> {
  const names = fleetNames(q.prefix);
  const indices = kinds.map((k) => names.indexPattern(k)).join(',');
  const res = await client.send({ method: 'POST', path: `/${indices}/_search?size=0&allow_no_indices=true&ignore_unavailable=true`, body: { size: 0, track_total_hits: false, ...body } });
  if (res.status !== 200) throw new Error(`the cluster answered ${res.status} to the ${what} query: ${JSON.stringify(res.body).slice(0, 300)}`);
  return (res.body as { aggregations?: T }).aggregations;
}

/** Buckets of the period, empty ones included, keyed "YYYY-MM-DD" or "YYYY-MM-DDTHH" (UTC). */
export function histogram(q: ReportQuery): Record<string, unknown> {
  const hour = q.interval === 'hour';
  return { field: '@timestamp', calendar_interval: hour ? '1h' : '1d', min_doc_count: 0, extended_bounds: { min: q.since, max: q.until - 1 }, format: hour ? "yyyy-MM-dd'T'HH" : 'yyyy-MM-dd' };
}

export interface DailySpeed {
  day: string;
  images: number;
  /** MB/s; null on a day without uploads. */
  median: number | null;
  p10: number | null;
}

export interface BoothSeries {
  booth: string;
  country: string;
  region: string;
  days: DailySpeed[];
}

export interface SpeedData {
  fleet: DailySpeed[];
  booths: BoothSeries[];
  /** Requests made to the cluster. */
  requests: number;
}

type Bucket = { key_as_string?: string; key: number | string; doc_count: number; speed?: { values: Record<string, number | null> } };

export async function readSpeeds(client: ClusterClient, q: ReportQuery): Promise<SpeedData> {
  const filter: unknown[] = [{ term: { 'upload.outcome': 'success' } }, { exists: { field: 'upload.speed_mb_s' } }, ...scope(q)];
  const byDay = (percents: number[]) => ({
    date_histogram: histogram(q),
    aggs: { speed: { percentiles: { field: 'upload.speed_mb_s', percents } } },
  });
  const aggs = await aggregate<Record<string, { buckets: unknown[] }>>(client, q, ['upload'], 'speed', {
    query: { bool: { filter } },
    aggs: {
      fleet: byDay([10, 50]),
      booths: {
        terms: { field: 'booth.id', size: MAX_BOOTHS },
        aggs: { country: { terms: { field: 'booth.country', size: 1 } }, region: { terms: { field: 'booth.region', size: 1, missing: '' } }, days: byDay([50]) },
      },
    },
  });
  if (!aggs) return { fleet: [], booths: [], requests: 1 };
  const days = (buckets: Bucket[]): DailySpeed[] =>
    buckets.map((b) => ({
      day: String(b.key_as_string),
      images: b.doc_count,
      median: b.doc_count > 0 ? (b.speed?.values['50.0'] ?? null) : null,
      p10: b.doc_count > 0 ? (b.speed?.values['10.0'] ?? null) : null,
    }));
  type BoothBucket = Bucket & { country: { buckets: Bucket[] }; region: { buckets: Bucket[] }; days: { buckets: Bucket[] } };
  return {
    fleet: days(aggs['fleet']!.buckets as Bucket[]),
    booths: (aggs['booths']!.buckets as BoothBucket[]).map((b) => ({
      booth: String(b.key),
      country: String(b.country.buckets[0]?.key ?? ''),
      region: String(b.region.buckets[0]?.key ?? ''),
      days: days(b.days.buckets),
    })),
    requests: 1,
  };
}

export interface FleetDay {
  day: string;
  bookings: number;
  /** Median booking duration, seconds; null on a day without bookings. */
  bookingMedianS: number | null;
  /** Booths that sent a heartbeat that day, per country. */
  boothsSeen: Record<string, number>;
  /** Images the upload server refused. */
  rejections: number;
}

/** The fleet's days besides speed — bookings and their durations, booths seen per country, rejections — in one request. */
export async function readFleetDays(client: ClusterClient, q: ReportQuery): Promise<FleetDay[]> {
  const filter = scope(q);
  type DayBucket = {
    key_as_string: string;
    bookings: { doc_count: number; duration: { values: Record<string, number | null> } };
    heartbeats: { countries: { buckets: { key: string; booths: { value: number } }[] } };
    rejections: { doc_count: number };
  };
  const aggs = await aggregate<{ days: { buckets: DayBucket[] } }>(client, q, ['booking', 'heartbeat', 'upload'], 'fleet', {
    query: { bool: { filter } },
    aggs: {
      days: {
        date_histogram: histogram(q),
        aggs: {
          bookings: { filter: { term: { 'event.dataset': 'booth.booking' } }, aggs: { duration: { percentiles: { field: 'booking.duration_in_seconds', percents: [50] } } } },
          heartbeats: { filter: { term: { 'event.dataset': 'booth.heartbeat' } }, aggs: { countries: { terms: { field: 'booth.country', size: 300 }, aggs: { booths: { cardinality: { field: 'booth.id' } } } } } },
          rejections: { filter: { bool: { filter: [{ term: { 'event.dataset': 'booth.upload' } }, { term: { 'upload.outcome': 'rejected' } }] } } },
        },
      },
    },
  });
  const buckets = aggs?.days.buckets ?? [];
  return buckets.map((b) => ({
    day: b.key_as_string,
    bookings: b.bookings.doc_count,
    bookingMedianS: b.bookings.doc_count > 0 ? (b.bookings.duration.values['50.0'] ?? null) : null,
    boothsSeen: Object.fromEntries(b.heartbeats.countries.buckets.map((c) => [c.key, c.booths.value])),
    rejections: b.rejections.doc_count,
  }));
}
