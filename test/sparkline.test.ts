// The report's terminal sparkline (agent/sparkline.ts): blocks in order, gaps for days
// without uploads, a log scale on which equal ratios are equal steps, resampling by median, and
// the marker line that points at a change day under it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnOf, markerLine, resample, sparkline } from '../agent/sparkline.ts';

test('linear: eight evenly spaced values are the eight blocks in order', () => {
  assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8]), '▁▂▃▄▅▆▇█');
  assert.equal(sparkline([8, 1]), '█▁');
});

test('log: doublings are equal steps; linear squeezes them into the bottom blocks', () => {
  const doublings = [1, 2, 4, 8, 16, 32, 64, 128];
  assert.equal(sparkline(doublings, { log: true }), '▁▂▃▄▅▆▇█');
  assert.equal(sparkline(doublings), '▁▁▁▁▂▃▄█');
});

test('the seed\'s drop, 12 → 0.9 MB/s on day 61: full blocks, then bottom blocks', () => {
  const days = [...Array<number>(60).fill(12), ...Array<number>(30).fill(0.9)];
  const line = sparkline(days, { log: true });
  assert.equal(line, '█'.repeat(60) + '▁'.repeat(30));
});

test('null (a day without uploads) is a gap, not a zero: "·" by default, or the given character', () => {
  assert.equal(sparkline([1, null, 8]), '▁·█');
  assert.equal(sparkline([1, null, 8], { gap: ' ' }), '▁ █');
  assert.equal(sparkline([null, null]), '··');
  assert.equal(sparkline([]), '');
});

test('log: zero, negative and non-finite values have no place on the scale and are gaps', () => {
  assert.equal(sparkline([1, 0, -3, Number.NaN, Number.POSITIVE_INFINITY, 100], { log: true }), '▁····█');
});

test('a flat series sits in the middle block: there were values, all alike', () => {
  assert.equal(sparkline([5, 5, 5]), '▄▄▄');
  assert.equal(sparkline([0.9, null, 0.9], { log: true }), '▄·▄');
});

test('a shared range puts several booths on one scale: 12 MB/s is full, 1.2 is bottom, 4/7 of the ratio up is the fifth block (log)', () => {
  const range: [number, number] = [1.2, 12];
  assert.equal(sparkline([12, 12], { log: true, range }), '██');
  assert.equal(sparkline([1.2, 1.2], { log: true, range }), '▁▁');
  assert.equal(sparkline([1.2 * 10 ** (4 / 7), 1.2 * 10 ** (2 / 7)], { log: true, range }), '▅▃');
  // Outside the range is clamped, not wrapped.
  assert.equal(sparkline([0.1, 100], { log: true, range }), '▁█');
});

test('width: a longer series is resampled to that many columns, each the median of its values', () => {
  assert.deepEqual(resample([1, 1, 100, 5, 5, 5, 9, 9, 9], 3), [1, 5, 9], 'one outlier does not move its column');
  assert.deepEqual(resample([1, 3, null, null, 7, null], 3), [2, null, 7], 'a column of nulls is null; nulls are left out of the median');
  assert.deepEqual(resample([4, 2], 5), [4, 2], 'a shorter series is left alone');
  const days = [...Array<number>(60).fill(12), ...Array<number>(30).fill(0.9)];
  assert.equal(sparkline(days, { width: 30, log: true }), '█'.repeat(20) + '▁'.repeat(10));
  assert.equal(sparkline(days, { width: 200, log: true }).length, 90);
});

test('columnOf: every index of every series length lands in the one column resample puts it in', () => {
  for (let n = 1; n <= 60; n++) {
    for (let width = 1; width <= 24; width++) {
      for (let i = 0; i < n; i++) {
        const only = Array.from({ length: n }, (_, k) => (k === i ? 1 : null));
        const columns = resample(only, width);
        const col = columnOf(i, n, width);
        assert.equal(columns[col], 1, `n=${n} width=${width} i=${i}: column ${col}`);
        assert.equal(columns.filter((v) => v !== null).length, 1);
      }
    }
  }
});

test('markerLine: a mark under each given column, spaces before it, nothing after', () => {
  assert.equal(markerLine(10, 3), '   ^');
  assert.equal(markerLine(10, [0, 9]), '^        ^');
  assert.equal(markerLine(10, [4], '↑'), '    ↑');
  assert.equal(markerLine(5, [7, -1, 1.5]), '', 'columns outside the line (or not columns) are left out');
  // Under a resampled line: the change day's column.
  const days = [...Array<number>(60).fill(12), ...Array<number>(30).fill(0.9)];
  const line = sparkline(days, { width: 30, log: true });
  const marks = markerLine(line.length, columnOf(60, days.length, 30));
  assert.equal(marks.length, 21);
  assert.equal(line[marks.length - 1], '▁', 'the mark is under the first column at the new level');
  assert.equal(line[marks.length - 2], '█');
});
