// From daily speeds to what the operator asked: when did the fleet's speed change, which booths
// changed, and on which day together. Each booth's series and the fleet's go through the same
// change-point method (change-points.ts); booths whose speed changed the same way on the same day
// are one group ("us-east: 41 booths dropped from 11.8 to 0.95 MB/s on 2026-07-18").
import { findChanges, median, type Change, type Incident } from './change-points.ts';
import type { SpeedData } from './read.ts';

interface BoothChange extends Change {
  booth: string;
  country: string;
  region: string;
}

export interface ChangeGroup {
  day: string;
  /** Gradual: the last day of the transition (the latest of the booths'). */
  until?: string;
  kind: Change['kind'];
  direction: 'dropped' | 'rose';
  /** Median of the booths' levels before and after. */
  before: number;
  after: number;
  booths: string[];
  /** The regions (or countries) the booths are in, most first. */
  where: string[];
}

export interface Analysis {
  fleet: { changes: Change[]; incidents: Incident[] };
  groups: ChangeGroup[];
}

export function analyse(data: SpeedData): Analysis {
  const fleet = findChanges(data.fleet.map((d) => ({ day: d.day, value: d.median })));
  const boothChanges: BoothChange[] = [];
  for (const b of data.booths) {
    for (const c of findChanges(b.days.map((d) => ({ day: d.day, value: d.median }))).changes) boothChanges.push({ ...c, booth: b.booth, country: b.country, region: b.region });
  }
  const groups = [...groupSteps(boothChanges.filter((c) => c.kind === 'step')), ...groupByDay(boothChanges.filter((c) => c.kind === 'gradual'))]
    .map(describeChanges)
    .sort((a, b) => b.booths.length - a.booths.length || a.day.localeCompare(b.day));
  return { fleet, groups };
}

const direction = (c: Change): ChangeGroup['direction'] => (c.after < c.before ? 'dropped' : 'rose');

/**
 * Steps the same way are one group when they can have happened on the same day. A booth without
 * bookings for a few days shows its step on its first day back: it could have happened on any day
 * after its last day at the old level (`previous`). The day most booths' spans agree on is the
 * group's day, taken greedily: the biggest group first, then the next among the rest.
 */
function groupSteps(steps: BoothChange[]): BoothChange[][] {
  const groups: BoothChange[][] = [];
  for (const way of ['dropped', 'rose'] as const) {
    let rest = steps.filter((c) => direction(c) === way);
    while (rest.length > 0) {
      const covers = (c: BoothChange, day: string) => c.day === day || (c.previous !== undefined && c.previous < day && day <= c.day);
      const candidates = [...new Set(rest.map((c) => c.day))].sort();
      const best = candidates.map((day) => ({ day, n: rest.filter((c) => covers(c, day)).length })).sort((a, b) => b.n - a.n || a.day.localeCompare(b.day))[0]!;
      const group = rest.filter((c) => covers(c, best.day)).map((c) => ({ ...c, day: best.day }));
      groups.push(group);
      rest = rest.filter((c) => !covers(c, best.day));
    }
  }
  return groups;
}

/** Gradual changes group by the day they began and their direction. */
function groupByDay(changes: BoothChange[]): BoothChange[][] {
  const byKey = new Map<string, BoothChange[]>();
  for (const c of changes) byKey.set(`${c.day}|${direction(c)}`, [...(byKey.get(`${c.day}|${direction(c)}`) ?? []), c]);
  return [...byKey.values()];
}

function describeChanges(cs: BoothChange[]): ChangeGroup {
  const counts = new Map<string, number>();
  for (const c of cs) counts.set(c.region || c.country, (counts.get(c.region || c.country) ?? 0) + 1);
  const untils = cs.map((c) => c.until).filter((u): u is string => u !== undefined).sort();
  return {
    day: cs[0]!.day,
    ...(untils.length > 0 ? { until: untils[untils.length - 1]! } : {}),
    kind: cs[0]!.kind,
    direction: direction(cs[0]!),
    before: median(cs.map((c) => c.before)),
    after: median(cs.map((c) => c.after)),
    booths: cs.map((c) => c.booth).sort(),
    where: [...counts].sort((a, b) => b[1] - a[1]).map(([w]) => w),
  };
}

/** MB/s in the report's sentences: 12.0, 0.90. */
export function formatSpeed(v: number): string {
  return v >= 9.995 ? v.toFixed(1) : v.toFixed(2);
}

/** "on 2026-07-18", or "gradually from 2026-06-13 to 2026-06-30". */
export function whenChanged(c: Pick<Change, 'kind' | 'day' | 'until'>): string {
  return c.kind === 'gradual' ? `gradually from ${c.day}${c.until ? ` to ${c.until}` : ''}` : `on ${c.day}`;
}

/** One line per group: "us-east: 41 booths dropped from 11.8 to 0.95 MB/s on 2026-07-18". */
export function describeGroup(g: ChangeGroup): string {
  const booths = `${g.booths.length} booth${g.booths.length === 1 ? '' : 's'}`;
  return `${g.where.join(', ') || 'unknown region'}: ${booths} ${g.direction} from ${formatSpeed(g.before)} to ${formatSpeed(g.after)} MB/s ${whenChanged(g)}`;
}

