// "When did it start?" — level shifts in a daily series (issue 18). The seed's incident was a
// booth fleet's upload speed dropping from ~12 to under 1 MB/s and staying there; what the report
// must date is such a step, not the noise around it, not a weekend, not a day without bookings and
// not a one-day outage. The method, on the series' logarithm (a drop to a tenth is as large at 12
// MB/s as at 1 MB/s):
//   1. Days without a value are left out (a booth closed for a week is no change); what remains
//      keeps its dates.
//   2. One-day incidents: a day that differs from both its neighbours' median by more than
//      `incidentRatio` while the neighbours agree with each other is an incident, reported as such
//      and replaced by that median before looking for shifts.
//   3. Binary segmentation: the split of a segment that leaves the least absolute deviation from each
//      side's median (each side at least `minSegmentDays` long) is a change when the two medians differ
//      by at least `minRatio` and by at least `minSigmas` robust standard deviations (1.4826 × the
//      median absolute deviation from each side's median, pooled); then each side is searched again.
//   4. A change whose transition is spread — at least `gradualDays` days between the two levels,
//      neither near the one nor the other — is gradual (from the first such day to the last), else a
//      step dated to its first day at the new level. Changes in one direction that follow each other
//      within a few days, one of them gradual, are one gradual change (a slope cut into pieces).
// Medians and MADs make it robust to outliers; the ratio floor keeps a real but small wobble (a
// weekday/weekend rhythm of a few percent) from being a change.

export interface DayValue {
  /** The day, YYYY-MM-DD (UTC). */
  day: string;
  /** The day's value (e.g. median upload speed, MB/s), or null when there was none. */
  value: number | null;
}

export interface Change {
  kind: 'step' | 'gradual';
  /** The first day at the new level (a step), or the first day of the transition (gradual). */
  day: string;
  /** Gradual: the last day of the transition. */
  until?: string;
  /**
   * A step: the last day with a value before it, when there were days without any in between — the
   * step happened on one of the days after it, up to `day` (a booth closed on the day it changed).
   */
  previous?: string;
  /** Median before and after. */
  before: number;
  after: number;
}

export interface Incident {
  day: string;
  value: number;
  /** The median of its neighbours: what the day would have been. */
  typical: number;
}

export interface ChangeOptions {
  minRatio: number;
  minSigmas: number;
  minSegmentDays: number;
  incidentRatio: number;
  gradualDays: number;
  maxChanges: number;
}

export const DEFAULT_CHANGE_OPTIONS: ChangeOptions = { minRatio: 1.5, minSigmas: 6, minSegmentDays: 4, incidentRatio: 3, gradualDays: 4, maxChanges: 5 };

export function findChanges(series: readonly DayValue[], options: Partial<ChangeOptions> = {}): { changes: Change[]; incidents: Incident[] } {
  const o = { ...DEFAULT_CHANGE_OPTIONS, ...options };
  const days = series.filter((d): d is { day: string; value: number } => d.value !== null && d.value > 0 && Number.isFinite(d.value));
  const logs = days.map((d) => Math.log(d.value));
  const incidents: Incident[] = [];
  const cleaned = [...logs];
  for (let i = 1; i < logs.length - 1; i++) {
    const [a, b] = [logs[i - 1]!, logs[i + 1]!];
    const typical = (a + b) / 2;
    const neighboursAgree = Math.abs(a - b) < Math.log(o.incidentRatio) / 2;
    if (neighboursAgree && Math.abs(logs[i]! - typical) > Math.log(o.incidentRatio)) {
      incidents.push({ day: days[i]!.day, value: days[i]!.value, typical: Math.exp(typical) });
      cleaned[i] = typical;
    }
  }
  const splits: number[] = [];
  segment(cleaned, 0, cleaned.length, o, splits);
  splits.sort((x, y) => x - y);
  const bounds = [0, ...splits, cleaned.length];
  const changes = splits.map((k, i): Change => {
    const left = cleaned.slice(bounds[i], k);
    const right = cleaned.slice(k, bounds[i + 2]);
    return describe(days, cleaned, k, median(left), median(right), o);
  });
  return { changes: mergeGradual(changes, new Map(days.map((d, i) => [d.day, i])), o), incidents };
}

/**
 * Finds the split of xs[from, to) that leaves the least absolute deviation from each side's median
 * (exact for a step: any other split puts days of one level on the other side), keeps it if the
 * two sides' medians differ enough, and recurses into both sides.
 */
function segment(xs: number[], from: number, to: number, o: ChangeOptions, splits: number[]): void {
  if (splits.length >= o.maxChanges || to - from < 2 * o.minSegmentDays) return;
  let best: { k: number; cost: number } | undefined;
  for (let k = from + o.minSegmentDays; k <= to - o.minSegmentDays; k++) {
    const cost = deviation(xs.slice(from, k)) + deviation(xs.slice(k, to));
    if (!best || cost < best.cost) best = { k, cost };
  }
  if (!best) return;
  const left = xs.slice(from, best.k);
  const right = xs.slice(best.k, to);
  const gap = Math.abs(median(left) - median(right));
  const sigma = Math.max(pooledSigma(left, right), 0.02);
  if (gap < Math.log(o.minRatio) || gap / sigma < o.minSigmas) return;
  splits.push(best.k);
  segment(xs, from, best.k, o, splits);
  segment(xs, best.k, to, o, splits);
}

function deviation(xs: readonly number[]): number {
  const m = median(xs);
  return xs.reduce((sum, x) => sum + Math.abs(x - m), 0);
}

/** Changes in the same direction with at most `gradualDays` days between them, one of them gradual, are one gradual change. */
function mergeGradual(changes: Change[], dayIndex: Map<string, number>, o: ChangeOptions): Change[] {
  const out: Change[] = [];
  for (const c of changes) {
    const prev = out[out.length - 1];
    const sameWay = prev && Math.sign(prev.after - prev.before) === Math.sign(c.after - c.before);
    const near = prev && dayIndex.get(c.day)! - dayIndex.get(prev.until ?? prev.day)! <= o.gradualDays + 2;
    if (prev && sameWay && near && (prev.kind === 'gradual' || c.kind === 'gradual')) {
      out[out.length - 1] = { kind: 'gradual', day: prev.day, until: c.until ?? c.day, before: prev.before, after: c.after };
    } else out.push(c);
  }
  return out;
}

/** Step or gradual: how many days around the split sit clearly between the two levels. */
function describe(days: { day: string; value: number }[], xs: number[], k: number, before: number, after: number, o: ChangeOptions): Change {
  const lo = Math.min(before, after);
  const span = Math.abs(after - before);
  const between = (x: number) => x > lo + 0.2 * span && x < lo + 0.8 * span;
  // The transition: the run of in-between days reaching out from the split on either side.
  let first = k;
  while (first - 1 >= 0 && between(xs[first - 1]!)) first--;
  let last = k - 1;
  while (last + 1 < xs.length && between(xs[last + 1]!)) last++;
  const spread = last - first + 1;
  if (spread >= o.gradualDays) return { kind: 'gradual', day: days[first]!.day, until: days[last]!.day, before: Math.exp(before), after: Math.exp(after) };
  // A step is dated to its first day at the new level.
  let at = k;
  while (at < xs.length && !nearer(xs[at]!, after, before)) at++;
  const stepAt = Math.min(at, xs.length - 1);
  const previous = stepAt > 0 ? days[stepAt - 1]!.day : undefined;
  return { kind: 'step', day: days[stepAt]!.day, ...(previous ? { previous } : {}), before: Math.exp(before), after: Math.exp(after) };
}

const nearer = (x: number, to: number, than: number) => Math.abs(x - to) < Math.abs(x - than);

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** 1.4826 × MAD: the standard deviation of normal noise, unmoved by outliers; pooled over both sides. */
function pooledSigma(left: readonly number[], right: readonly number[]): number {
  const mad = (xs: readonly number[]) => {
    const m = median(xs);
    return median(xs.map((x) => Math.abs(x - m)));
  };
  const l = 1.4826 * mad(left);
  const r = 1.4826 * mad(right);
  return Math.sqrt((l * l * left.length + r * r * right.length) / (left.length + right.length));
}
