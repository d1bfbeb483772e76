// The change-point method of `booth-agent report` (agent/report/change-points.ts, issue 18): a
// step is found on its day, a one-day outage is an incident and no change, a slow decline is
// gradual, and noise, weekends and days without bookings are no change (properties over
// generated series).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { findChanges, type DayValue } from '../agent/report/change-points.ts';
import { mulberry32 } from './support/random.ts';

const dayOf = (i: number) => new Date(Date.UTC(2026, 4, 19) + i * 86_400_000).toISOString().slice(0, 10);

/** 90 days around `level(i)`, with multiplicative noise (±`noise`), a weekend rhythm and days without value. */
function series(seed: number, level: (i: number) => number, opts: { noise?: number; weekend?: number; missing?: number; days?: number } = {}): DayValue[] {
  const rnd = mulberry32(seed);
  const { noise = 0.08, weekend = 0.05, missing = 0.1, days = 90 } = opts;
  return Array.from({ length: days }, (_, i) => {
    if (rnd() < missing) return { day: dayOf(i), value: null };
    const dow = new Date(Date.UTC(2026, 4, 19) + i * 86_400_000).getUTCDay();
    const w = dow === 0 || dow === 6 ? 1 - weekend : 1;
    return { day: dayOf(i), value: level(i) * w * (1 + (rnd() * 2 - 1) * noise) };
  });
}

test('the seed\'s drop: from ~12 to ~0.9 MB/s on day 61 is one step, dated to day 61, with both levels', () => {
  const { changes, incidents } = findChanges(series(1, (i) => (i < 60 ? 12 : 0.9), { missing: 0 }));
  assert.deepEqual(incidents, []);
  assert.equal(changes.length, 1, JSON.stringify(changes));
  assert.equal(changes[0]!.kind, 'step');
  assert.equal(changes[0]!.day, dayOf(60));
  assert.ok(Math.abs(changes[0]!.before - 12) < 1 && Math.abs(changes[0]!.after - 0.9) < 0.1, JSON.stringify(changes[0]));
});

test('days without bookings around the drop: the step is dated to the first day with a value at the new level', () => {
  const s = series(2, (i) => (i < 60 ? 12 : 0.9), { missing: 0 }).map((d, i) => (i >= 57 && i < 63 ? { ...d, value: null } : d));
  const { changes } = findChanges(s);
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.day, dayOf(63));
});

test('a one-day outage (day 75, 20× slower) is an incident, not a change', () => {
  const { changes, incidents } = findChanges(series(3, (i) => (i === 74 ? 0.6 : 12), { missing: 0 }));
  assert.deepEqual(changes, []);
  assert.equal(incidents.length, 1);
  assert.equal(incidents[0]!.day, dayOf(74));
  assert.ok(incidents[0]!.typical > 10);
});

test('a decline over three weeks is one gradual change, spanning it', () => {
  const level = (i: number) => (i < 40 ? 12 : i < 61 ? 12 * Math.pow(3 / 12, (i - 40) / 21) : 3);
  const { changes } = findChanges(series(4, level, { missing: 0, noise: 0.05 }));
  assert.equal(changes.length, 1, JSON.stringify(changes));
  assert.equal(changes[0]!.kind, 'gradual');
  assert.ok(changes[0]!.day >= dayOf(40) && changes[0]!.day <= dayOf(48), changes[0]!.day);
  assert.ok(changes[0]!.until! >= dayOf(52) && changes[0]!.until! <= dayOf(61), changes[0]!.until);
});

test('property: noise up to ±15 %, a weekend rhythm up to 10 % and up to 30 % of days without a value are never a change (300 series)', () => {
  fc.assert(
    fc.property(fc.integer(), fc.double({ min: 0.5, max: 50, noNaN: true }), fc.double({ min: 0, max: 0.15, noNaN: true }), fc.double({ min: 0, max: 0.1, noNaN: true }), fc.double({ min: 0, max: 0.3, noNaN: true }), (seed, level, noise, weekend, missing) => {
      const { changes } = findChanges(series(seed, () => level, { noise, weekend, missing }));
      assert.deepEqual(changes, []);
    }),
    { numRuns: 300, seed: 18 },
  );
});

test('property: a step of at least 2× anywhere between day 10 and day 80 is found on its day, and nothing else (300 series)', () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 10, max: 80 }), fc.double({ min: 2, max: 20, noNaN: true }), fc.boolean(), fc.double({ min: 0, max: 0.1, noNaN: true }), (seed, at, factor, down, noise) => {
      const base = 8;
      const { changes } = findChanges(series(seed, (i) => (i < at ? base : down ? base / factor : base * factor), { noise, missing: 0 }));
      assert.equal(changes.length, 1, JSON.stringify(changes));
      assert.equal(changes[0]!.kind, 'step');
      assert.equal(changes[0]!.day, dayOf(at));
    }),
    { numRuns: 300, seed: 18 },
  );
});
