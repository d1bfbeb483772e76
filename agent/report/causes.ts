// "Why?" — for a change, what the booths recorded before and after it (facts.ts), and which facts
// moved with the speed. Each booth is compared with itself: its median (or most common value) of a
// fact over the days before against the days after. A fact is a cause candidate when it moved the
// same way on most of the changed booths and seldom on the other booths over the same days — an
// agent upgrade rolled out to everyone in that window moved everywhere, and explains nothing.
// One aggregation request per change: both windows, the changed booths and the others, every fact.
import type { ClusterClient } from '../fleet-setup/client.ts';
import { median } from './change-points.ts';
import { FACTS, formatFact, type Fact, type FactValue } from './facts.ts';
import type { Cause } from './model.ts';
import { aggregate, MAX_BOOTHS, scope, timeRange, type ReportQuery } from './read.ts';

/** Epoch ms, [from, to). */
export interface Span {
  from: number;
  to: number;
}

/** The days before and after a change (an incident: the days around it, and the day). */
export interface Windows {
  before: Span[];
  after: Span[];
}

type PerBooth = Map<string, Map<string, FactValue>>;

export interface FactsAround {
  /** The changed booths (all booths in scope when no group was given). */
  group: { before: PerBooth; after: PerBooth };
  /** The other booths, when a group was given. */
  others?: { before: PerBooth; after: PerBooth };
}

const key = (i: number) => `f${i}`;

export async function readFactsAround(client: ClusterClient, q: ReportQuery, w: Windows, group?: string[]): Promise<FactsAround> {
  const spans = [...w.before, ...w.after];
  const from = Math.min(...spans.map((s) => s.from));
  const to = Math.max(...spans.map((s) => s.to));
  const perBooth = (size: number) => ({ terms: { field: 'booth.id', size }, aggs: Object.fromEntries(FACTS.map((f, i) => [key(i), factAgg(f)])) });
  const members = group
    ? {
        group: { filter: { terms: { 'booth.id': group } }, aggs: { booths: perBooth(group.length) } },
        others: { filter: { bool: { must_not: [{ terms: { 'booth.id': group } }] } }, aggs: { booths: perBooth(MAX_BOOTHS) } },
      }
    : { group: { filter: { match_all: {} }, aggs: { booths: perBooth(MAX_BOOTHS) } } };
  const side = (s: Span[]) => ({ filter: { bool: { should: s.map((x) => timeRange(x.from, x.to)), minimum_should_match: 1 } }, aggs: members });
  const aggs = await aggregate<Record<string, Record<string, BoothsAgg>>>(client, q, ['upload', 'network', 'heartbeat'], 'facts', {
    query: { bool: { filter: scope(q, from, to) } },
    aggs: { before: side(w.before), after: side(w.after) },
  });
  const read = (side: string, who: string) => perBoothValues(aggs?.[side]?.[who]);
  return { group: { before: read('before', 'group'), after: read('after', 'group') }, ...(group ? { others: { before: read('before', 'others'), after: read('after', 'others') } } : {}) };
}

function factAgg(f: Fact): Record<string, unknown> {
  return f.kind === 'number' ? { percentiles: { field: f.field, percents: [50] } } : { terms: { field: f.field, size: 1 } };
}

type FactBucket = { values?: Record<string, number | null>; buckets?: { key: string | number }[] };
type BoothsAgg = { booths?: { buckets: ({ key: string } & Record<string, FactBucket>)[] } };

function perBoothValues(agg: BoothsAgg | undefined): PerBooth {
  const out: PerBooth = new Map();
  for (const b of agg?.booths?.buckets ?? []) {
    const facts = new Map<string, FactValue>();
    FACTS.forEach((f, i) => {
      const a = b[key(i)];
      const v = f.kind === 'number' ? a?.values?.['50.0'] : a?.buckets?.[0]?.key;
      if (v !== undefined && v !== null) facts.set(f.field, v);
    });
    out.set(String(b.key), facts);
  }
  return out;
}

/** How a fact moved over a set of booths: the way most of them moved, and how many did. */
interface Movement {
  direction: number;
  moved: number;
  of: number;
  before: FactValue[];
  after: FactValue[];
}

function movement(f: Fact, before: PerBooth, after: PerBooth, direction?: number): Movement {
  const ways = new Map<number, { n: number; before: FactValue[]; after: FactValue[] }>();
  let of = 0;
  for (const [booth, facts] of before) {
    const a = facts.get(f.field);
    const b = after.get(booth)?.get(f.field);
    if (a === undefined || b === undefined) continue;
    of++;
    const way = f.moved(a, b);
    if (way === 0) continue;
    const w = ways.get(way) ?? { n: 0, before: [], after: [] };
    w.n++;
    w.before.push(a);
    w.after.push(b);
    ways.set(way, w);
  }
  const dir = direction ?? [...ways].sort((x, y) => y[1].n - x[1].n)[0]?.[0] ?? 0;
  const w = ways.get(dir);
  return { direction: dir, moved: w?.n ?? 0, of, before: w?.before ?? [], after: w?.after ?? [] };
}

/** The typical value of a fact over booths: a median, or the most common value. */
function typical(f: Fact, values: FactValue[]): string {
  if (f.kind === 'number') return formatFact(f, median(values.map(Number)));
  const counts = new Map<string, number>();
  for (const v of values) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

/** A fact is kept when it moved on at least this share of the changed booths… */
const MIN_SHARE = 0.5;
/** … and on this much more of them than of the others. */
const MIN_SCORE = 0.4;

/**
 * The facts that moved with the speed, best first. `sayTheSide`: say which side (nearly) every
 * booth's shared cause points to ("the server side") — for groups large enough to tell.
 */
export function rankCauses(around: FactsAround, sayTheSide = true): Cause[] {
  const causes: Cause[] = [];
  for (const f of FACTS) {
    const m = movement(f, around.group.before, around.group.after);
    if (m.moved === 0 || m.moved / m.of < MIN_SHARE) continue;
    const others = around.others ? movement(f, around.others.before, around.others.after, m.direction) : undefined;
    const elsewhere = others && others.of > 0 ? others.moved / others.of : 0;
    const score = m.moved / m.of - elsewhere;
    if (score < MIN_SCORE) continue;
    const before = typical(f, m.before);
    const after = typical(f, m.after);
    causes.push({ field: f.field, label: f.label, unit: f.unit, before, after, moved: m.moved, of: m.of, elsewhere, score, text: sentence(f, before, after, m, sayTheSide) });
  }
  return causes.sort((a, b) => b.score - a.score || b.moved - a.moved);
}

/** "link speed 1000 → 100 Mbit/s on 40 of 40 booths"; "time to first byte 40 → 800 ms on every booth: the server side". */
function sentence(f: Fact, before: string, after: string, m: Movement, sayTheSide: boolean): string {
  const unit = f.unit ? ` ${f.unit}` : '';
  const nearlyAll = m.moved >= 3 && m.moved / m.of >= 0.9;
  const where = m.of === 1 ? '' : m.moved === m.of ? ` on every booth (${m.of})` : ` on ${m.moved} of ${m.of} booths`;
  return `${f.label} ${before} → ${after}${unit}${where}${sayTheSide && nearlyAll ? `: ${f.side}` : ''}`;
}
