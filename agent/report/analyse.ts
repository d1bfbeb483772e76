// From daily speeds to what the operator asked: when did the fleet's speed change, which booths
// changed, and on which day together. Each booth's series and the fleet's go through the same
// change-point method (change-points.ts); booths whose speed changed the same way on the same day
// are one group ("us-east: 41 booths dropped from 11.8 to 0.95 MB/s on 2026-07-18").
import { findChanges, median, type Change, type Incident } from './change-points.ts';
import type { SpeedData } from './read.ts';

export interface BoothChange extends Change {
  booth: string;
  country: string;
  region: string;
}

export interface ChangeGroup {
  day: string;
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
  boothChanges: BoothChange[];
}

export function analyse(data: SpeedData): Analysis {
  const fleet = findChanges(data.fleet.map((d) => ({ day: d.day, value: d.median })));
  const boothChanges: BoothChange[] = [];
  for (const b of data.booths) {
    for (const c of findChanges(b.days.map((d) => ({ day: d.day, value: d.median }))).changes) boothChanges.push({ ...c, booth: b.booth, country: b.country, region: b.region });
  }
  const byKey = new Map<string, BoothChange[]>();
  for (const c of boothChanges) {
    const key = `${c.day}|${c.kind}|${c.after < c.before ? 'dropped' : 'rose'}`;
    byKey.set(key, [...(byKey.get(key) ?? []), c]);
  }
  const groups = [...byKey.values()]
    .map((cs): ChangeGroup => {
      const counts = new Map<string, number>();
      for (const c of cs) counts.set(c.region || c.country, (counts.get(c.region || c.country) ?? 0) + 1);
      return {
        day: cs[0]!.day,
        kind: cs[0]!.kind,
        direction: cs[0]!.after < cs[0]!.before ? 'dropped' : 'rose',
        before: median(cs.map((c) => c.before)),
        after: median(cs.map((c) => c.after)),
        booths: cs.map((c) => c.booth).sort(),
        where: [...counts].sort((a, b) => b[1] - a[1]).map(([w]) => w),
      };
    })
    .sort((a, b) => b.booths.length - a.booths.length || a.day.localeCompare(b.day));
  return { fleet, groups, boothChanges };
}

/** One line per group: "us-east: 41 booths dropped from 11.8 to 0.95 MB/s on 2026-07-18". */
export function describeGroup(g: ChangeGroup): string {
  const mb = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));
  const booths = `${g.booths.length} booth${g.booths.length === 1 ? '' : 's'}`;
  const when = g.kind === 'gradual' ? `gradually from ${g.day}` : `on ${g.day}`;
  return `${g.where.join(', ') || 'unknown region'}: ${booths} ${g.direction} from ${mb(g.before)} to ${mb(g.after)} MB/s ${when}`;
}

