// A speed series in a terminal line: "▇▇█▇▇▇▁▁▂▁▁" — the report's days, status's recent uploads.
// The report compares speeds as ratios (12 → 1.2 MB/s is as bad as 1.2 → 0.12), so it draws on
// the log scale; status draws linearly against the booth's own baseline (a fixed range).
import { median } from './report/change-points.ts';

const BLOCKS = '▁▂▃▄▅▆▇█';

export interface SparklineOptions {
  /** Columns at most: a longer series is resampled, each column the median of its values. */
  width?: number;
  /** Log scale: equal ratios are equal steps. Values ≤ 0 have no logarithm and are drawn as gaps. */
  log?: boolean;
  /** The values the lowest and highest blocks stand for, so that several lines share one scale. */
  range?: [number, number];
  /** The character for a column without a value. */
  gap?: string;
}

/** A Unicode block sparkline of `values`; null (no upload that day) is a gap, not a zero. */
export function sparkline(values: readonly (number | null)[], opts: SparklineOptions = {}): string {
  const scaled = values.map((v) => usable(v, opts.log));
  const columns = opts.width !== undefined && scaled.length > opts.width ? resample(scaled, opts.width) : scaled;
  const [lo, hi] = opts.range ? opts.range.map((v) => usable(v, opts.log) ?? Number.NaN) : extent(columns);
  const gap = opts.gap ?? '·';
  return columns.map((v) => (v === null ? gap : block(v, lo!, hi!))).join('');
}

/** The value on the drawing scale, or null when it cannot be drawn. */
function usable(v: number | null, log = false): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  if (!log) return v;
  return v > 0 ? Math.log(v) : null;
}

function extent(xs: readonly (number | null)[]): [number, number] {
  const present = xs.filter((x): x is number => x !== null);
  return present.length === 0 ? [0, 0] : [Math.min(...present), Math.max(...present)];
}

function block(v: number, lo: number, hi: number): string {
  // A flat series (or an unusable range) sits in the middle: there were values, all alike.
  if (!(hi > lo)) return BLOCKS[3]!;
  const i = Math.round(((v - lo) / (hi - lo)) * (BLOCKS.length - 1));
  return BLOCKS[Math.min(BLOCKS.length - 1, Math.max(0, i))]!;
}

/**
 * `values` in `width` columns, each the median of the values it covers (a median so that one
 * outage day does not drag a week's column down; null when it covers no value). Column j covers
 * indices [⌊j·n/width⌋, ⌊(j+1)·n/width⌋): every value in exactly one column, none empty.
 */
export function resample(values: readonly (number | null)[], width: number): (number | null)[] {
  const n = values.length;
  if (width < 1) return [];
  if (n <= width) return [...values];
  return Array.from({ length: width }, (_, j) => {
    const present = values.slice(Math.floor((j * n) / width), Math.floor(((j + 1) * n) / width)).filter((v): v is number => v !== null);
    return present.length === 0 ? null : median(present);
  });
}

/** The column that index `i` of a series of `n` values falls in once resampled to `width` columns. */
export function columnOf(i: number, n: number, width: number): number {
  if (n <= width) return i;
  // The j with ⌊j·n/width⌋ ≤ i < ⌊(j+1)·n/width⌋ (see resample).
  return Math.ceil(((i + 1) * width) / n) - 1;
}

/**
 * The line printed under a sparkline of `length` columns: `mark` under each of `at` (e.g. the
 * column of a change day), spaces elsewhere, no trailing spaces. Columns outside the line are left out.
 */
export function markerLine(length: number, at: number | readonly number[], mark = '^'): string {
  const cols = new Set((typeof at === 'number' ? [at] : at).filter((c) => Number.isInteger(c) && c >= 0 && c < length));
  return Array.from({ length }, (_, c) => (cols.has(c) ? mark : ' '))
    .join('')
    .trimEnd();
}
