// The page's scales: where a time or a speed stands in a chart, the axes that say so, and the times
// written as labels. Every chart of the page maps through these, so that a day stands at the same
// place in the fleet chart and in the day strips, and a speed on the same log scale in each picture.
import type { ReportModel, SpeedPoint } from '../model.ts';
import { html, type Html } from './markup.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** The axes' colours; the series' colours are the charts' own (charts.ts). */
const GRID_COLOR = '#e9edf1';
export const AXIS_COLOR = '#bcccdc';

/** The time span every chart of the page shares, so that a day is at the same place in each. */
export interface TimeDomain {
  from: number;
  to: number;
  /** One bucket: a day or an hour. */
  step: number;
}

/** The chart's frame in SVG units: the viewBox is `width` wide, the plot inside the margins. */
export interface Frame {
  width: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface LogDomain {
  lo: number;
  hi: number;
}

// ---- time -----------------------------------------------------------------------------------

/** The page's time span: the asked period, widened to any bucket of the series or the days outside it. */
export function timeDomain(m: ReportModel): TimeDomain | undefined {
  const step = m.period.resolution === 'hour' ? HOUR : DAY;
  const starts = [...m.fleet.series.map((p) => p.at), ...m.days.map((d) => d.at)].map(startOf).filter((t): t is number => t !== undefined);
  const since = startOf(m.period.since);
  const until = startOf(m.period.until);
  if (since !== undefined) starts.push(since);
  // The period's last day is a whole day even when the buckets are hours.
  if (until !== undefined) starts.push(until + (m.period.until.includes('T') ? step : DAY) - step);
  if (starts.length === 0) return undefined;
  return { from: Math.min(...starts), to: Math.max(...starts) + step, step };
}

export function seriesDomain(points: readonly SpeedPoint[]): TimeDomain | undefined {
  const starts = points.map((p) => startOf(p.at)).filter((t): t is number => t !== undefined);
  if (starts.length === 0) return undefined;
  const step = points.some((p) => p.at.includes('T')) ? HOUR : DAY;
  return { from: Math.min(...starts), to: Math.max(...starts) + step, step };
}

/** The start of a bucket named YYYY-MM-DD or YYYY-MM-DDTHH (UTC), or undefined for anything else. */
export function startOf(at: string): number | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d))?/.exec(at);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0));
  return Number.isFinite(t) ? t : undefined;
}

/** The middle of a bucket: where its value is drawn. */
export function centre(at: string, x: TimeDomain): number | undefined {
  const t = startOf(at);
  return t === undefined ? undefined : t + x.step / 2;
}

export function xOf(t: number, x: TimeDomain, f: Frame): number {
  return f.left + ((t - x.from) / (x.to - x.from)) * (f.right - f.left);
}

// ---- speed ----------------------------------------------------------------------------------

/** A log y domain around the values with a little room, so a line is never drawn on the frame. */
export function logDomain(values: readonly (number | null | undefined)[]): LogDomain {
  const vs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
  if (vs.length === 0) return { lo: 0.1, hi: 10 };
  const [lo, hi] = [Math.min(...vs), Math.max(...vs)];
  return hi / lo < 1.5 ? { lo: lo / 1.5, hi: hi * 1.5 } : { lo: lo / 1.15, hi: hi * 1.15 };
}

export function yOf(v: number, y: LogDomain, f: Frame): number {
  return f.bottom - ((Math.log(v) - Math.log(y.lo)) / (Math.log(y.hi) - Math.log(y.lo))) * (f.bottom - f.top);
}

/** Ticks at 1, 2, 5 × 10ⁿ; finer (1…9 × 10ⁿ) on a narrow domain, only powers of ten on a very wide one. */
function logTicks(lo: number, hi: number): number[] {
  const within = (mantissas: number[]) => {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(6));
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    return ticks;
  };
  const standard = within([1, 2, 5]);
  if (standard.length < 3) return within([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return standard.length > 12 ? within([1]) : standard;
}

// ---- axes -----------------------------------------------------------------------------------

export function yAxis(y: LogDomain, f: Frame): Html {
  const ticks = logTicks(y.lo, y.hi).map((v) => {
    const at = n(yOf(v, y, f));
    return html`<line x1="${f.left}" y1="${at}" x2="${f.right}" y2="${at}" stroke="${GRID_COLOR}"/><text x="${f.left - 6}" y="${n(at + 3.5)}" text-anchor="end">${tickLabel(v)}</text>`;
  });
  const mid = (f.top + f.bottom) / 2;
  return html`<g class="y-axis">${ticks}<text x="12" y="${n(mid)}" text-anchor="middle" transform="rotate(-90 12 ${n(mid)})">MB/s</text></g>`;
}

const LABEL_STEPS = [1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 672, 1344].map((h) => h * HOUR);

/** Day ticks (and hour ticks when a bucket is an hour), labelled as often as the labels fit. */
export function timeAxis(x: TimeDomain, f: Frame): Html {
  const pxPer = (ms: number) => ((f.right - f.left) * ms) / (x.to - x.from);
  const minor = pxPer(x.step) >= 4 ? x.step : pxPer(DAY) >= 4 ? DAY : undefined;
  const labelStep = LABEL_STEPS.find((s) => s >= x.step && pxPer(s) >= 58) ?? LABEL_STEPS[LABEL_STEPS.length - 1]!;
  const ticks = minor ? alignedTimes(x, minor, 0).map((t) => n(xOf(t, x, f))) : [];
  // Weekly labels fall on Mondays (1970-01-05 was one); other steps on whole multiples since 1970.
  const labels = alignedTimes(x, labelStep, labelStep === 168 * HOUR ? 4 * DAY : 0);
  const tickMarks = ticks.map((at) => html`<line x1="${at}" y1="${f.bottom}" x2="${at}" y2="${f.bottom + 4}" stroke="${AXIS_COLOR}"/>`);
  const grid = labels.map((t) => {
    const at = n(xOf(t, x, f));
    // A label centred on the frame's edge would be cut in half by the picture's edge.
    const fits = at - textWidth(timeLabel(t)) / 2 >= 0 && at + textWidth(timeLabel(t)) / 2 <= f.width;
    const text = fits ? html`<text x="${at}" y="${f.bottom + 17}" text-anchor="middle">${timeLabel(t)}</text>` : '';
    return html`<line x1="${at}" y1="${f.top}" x2="${at}" y2="${f.bottom + 6}" stroke="${GRID_COLOR}"/>${text}`;
  });
  return html`<g class="x-axis">${grid}${tickMarks}<line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="${AXIS_COLOR}"/></g>`;
}

/** The times in the domain that are `offset` plus a whole number of `step`s since 1970. */
function alignedTimes(x: TimeDomain, step: number, offset: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil((x.from - offset) / step) * step + offset; t <= x.to && out.length < 2000; t += step) out.push(t);
  return out;
}

// ---- labels ---------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A midnight is its day ("Jul 18"), any other hour its time ("06:00"). */
function timeLabel(t: number): string {
  const d = new Date(t);
  return t % DAY === 0 ? `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}` : `${String(d.getUTCHours()).padStart(2, '0')}:00`;
}

/** "Jul 18", or "Jul 18 14:00" for an hour. */
export function shortAt(at: string): string {
  const t = startOf(at);
  if (t === undefined) return at;
  const d = new Date(t);
  const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  return at.includes('T') ? `${day} ${String(d.getUTCHours()).padStart(2, '0')}:00` : day;
}

function tickLabel(v: number): string {
  return v >= 1 ? String(v) : String(Number(v.toPrecision(2)));
}

// ---- SVG units ------------------------------------------------------------------------------

/** A coordinate with one decimal: enough for a screen, short in the file. */
export function n(v: number): number {
  return Math.round(v * 10) / 10;
}

/** About how wide 11px text is, to keep labels apart (a label a little too long only overlaps). */
export function textWidth(s: string): number {
  return [...s].length * 6.4;
}

