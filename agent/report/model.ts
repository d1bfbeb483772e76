// What `booth-agent report` found, in one value: printed as text, as --json, or drawn as --html.
// Every renderer reads this and nothing else, so the three cannot tell different stories.
import type { ChangeGroup } from './analyse.ts';
import type { Change, Incident } from './change-points.ts';

/**
 * One bucket of the fleet's or a booth's upload speed: a day (YYYY-MM-DD) or an hour (YYYY-MM-DDTHH).
 * Per hour, every other "day" of the report (changes, incidents, groups, days) is such an hour key.
 */
export interface SpeedPoint {
  at: string;
  images: number;
  /** MB/s; null when there was no upload. */
  median: number | null;
  p10: number | null;
}

/** A fact the booths recorded that moved with the speed: "link speed 1000 → 100 Mbit/s on 40 of 40 booths". */
export interface Cause {
  /** The document field, e.g. network.interface.speed_mbps. */
  field: string;
  /** In words: "link speed". */
  label: string;
  unit: string;
  /** Typical value before and after (median of the booths' medians, or the most common value). */
  before: string;
  after: string;
  /** Booths on which it moved the same way, of those that recorded it both before and after. */
  moved: number;
  of: number;
  /** Share of the other booths on which it moved the same way over the same days (0–1). */
  elsewhere: number;
  /** Rank: moved/of − elsewhere, higher first. */
  score: number;
  /** The sentence. */
  text: string;
}

/** Booths that changed the same way on the same day (analyse.ts), with what explains it. */
export interface ReportGroup extends ChangeGroup {
  /** "us-east: 40 booths dropped from 12.0 to 0.90 MB/s on 2026-07-18" */
  text: string;
  causes: Cause[];
  /** The affected booths' series, at most 24 of them (small multiples). */
  series: { booth: string; points: SpeedPoint[] }[];
}

export interface ReportIncident extends Incident {
  /** "day" for a fleet-wide day; the causes compare it with the days around it. */
  causes: Cause[];
  text: string;
}

export interface ReportDay {
  at: string;
  images: number;
  speedMedian: number | null;
  speedP10: number | null;
  bookings: number;
  bookingMedianS: number | null;
  boothsSeen: Record<string, number>;
  rejections: number;
}

export interface ReportModel {
  cluster: string;
  prefix: string;
  period: { since: string; until: string; resolution: 'day' | 'hour'; country?: string; booths?: string[] };
  generatedAt: string;
  /** Requests made to the cluster. */
  requests: number;
  booths: number;
  /** Short lines, most important first: what the operator reads before anything else. */
  verdict: string[];
  fleet: { series: SpeedPoint[]; changes: Change[]; incidents: ReportIncident[] };
  groups: ReportGroup[];
  days: ReportDay[];
  /** One line over the whole period: bookings, refusals, booths seen. */
  summary: string;
}
