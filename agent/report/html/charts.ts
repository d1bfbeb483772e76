// The page's pictures, as inline SVG: the fleet chart with its change and incident markers (their
// labels stacked into rows above the plot so that none overlap), the shaded bands of gradual
// changes, the small multiples of each group of booths, and the strips of the fleet's days. Plain
// SVG built with the escaping tag like the rest of the page, because the page may load nothing: no
// script to draw with, no font, no image. Where things stand comes from scales.ts, so that every
// picture shares one time axis.
import type { Change } from '../change-points.ts';
import { whenChanged } from '../analyse.ts';
import type { ReportDay, ReportGroup, ReportModel, SpeedPoint } from '../model.ts';
import { mb, ratio, thousands } from './format.ts';
import { html, nothing, type Html } from './markup.ts';
import { AXIS_COLOR, centre, logDomain, n, seriesDomain, shortAt, startOf, textWidth, timeAxis, xOf, yAxis, yOf, type Frame, type LogDomain, type TimeDomain } from './scales.ts';

const CHART_WIDTH = 1060;
/** The wide charts' plot, left to right: room for the MB/s labels on the left. */
const PLOT = { left: 52, right: CHART_WIDTH - 24 };
const LABEL_ROW = 15;

const COLORS = { median: '#1f5fa8', p10: '#86a9d6', fleetChange: '#c2410c', groupChange: '#7c3aed', incident: '#b91c1c' };

// ---- the fleet chart ------------------------------------------------------------------------

export function fleetChart(m: ReportModel, x: TimeDomain): Html {
  const values = [...m.fleet.series.flatMap((p) => [p.median, p.p10]), ...m.fleet.changes.flatMap((c) => [c.before, c.after]), ...m.fleet.incidents.map((i) => i.value)];
  const y = logDomain(values);
  const labels = markerLabels(m, x);
  const rows = Math.max(1, ...labels.map((l) => l.row + 1));
  const f: Frame = { width: CHART_WIDTH, ...PLOT, top: 8 + rows * LABEL_ROW + 6, bottom: 8 + rows * LABEL_ROW + 6 + 300 };
  const height = f.bottom + 26;
  const px = (t: number) => xOf(t, x, f);
  const py = (v: number) => yOf(v, y, f);
  const median = m.fleet.series.map((p) => ({ t: centre(p.at, x), v: p.median }));
  const p10 = m.fleet.series.map((p) => ({ t: centre(p.at, x), v: p.p10 }));
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${CHART_WIDTH} ${height}" role="img" aria-label="The fleet's median and 10th percentile upload speed over time, log scale">
${yAxis(y, f)}${timeAxis(x, f)}
${changeBands(m, x, f)}
<path d="${linePath(p10, px, py)}" fill="none" stroke="${COLORS.p10}" stroke-width="1.6" stroke-dasharray="5 3"/>
<path d="${linePath(median, px, py)}" fill="none" stroke="${COLORS.median}" stroke-width="2.2" stroke-linejoin="round"/>
${dots(median, px, py, x, f)}
${[...labels].sort((a, b) => DRAW_ORDER[a.kind] - DRAW_ORDER[b.kind]).map((l) => marker(l, f, py))}
</svg>`;
}

/** What the chart shows, and only that. */
export function legend(m: ReportModel): Html {
  const swatch = (shape: Html, text: string) => html`<span><svg viewBox="0 0 22 10">${shape}</svg>${text}</span>`;
  return html`<div class="legend">
${swatch(html`<line x1="0" y1="5" x2="22" y2="5" stroke="${COLORS.median}" stroke-width="2.2"/>`, 'median of all images')}
${swatch(html`<line x1="0" y1="5" x2="22" y2="5" stroke="${COLORS.p10}" stroke-width="1.6" stroke-dasharray="5 3"/>`, '10th percentile')}
${m.fleet.changes.length > 0 && swatch(html`<line x1="11" y1="0" x2="11" y2="10" stroke="${COLORS.fleetChange}" stroke-width="2"/>`, 'change of the fleet')}
${m.groups.length > 0 && swatch(html`<line x1="11" y1="0" x2="11" y2="10" stroke="${COLORS.groupChange}" stroke-width="2" stroke-dasharray="3 2"/>`, 'change of a group of booths')}
${hasGradual(m) && swatch(html`<rect x="0" y="0" width="22" height="10" fill="${COLORS.groupChange}" fill-opacity="0.12"/>`, 'gradual change')}
${m.fleet.incidents.length > 0 && swatch(html`<circle cx="11" cy="5" r="4" fill="none" stroke="${COLORS.incident}" stroke-width="1.6"/>`, `one-${m.period.resolution} incident`)}
<span class="muted">log scale: equal steps are equal ratios</span>
</div>`;
}

function hasGradual(m: ReportModel): boolean {
  return m.fleet.changes.some((c) => c.kind === 'gradual') || m.groups.some((g) => g.kind === 'gradual');
}

// ---- markers --------------------------------------------------------------------------------

/** The fleet's own changes are drawn last: on a day a group also changed, its solid line is the one seen. */
const DRAW_ORDER = { group: 0, incident: 1, fleet: 2 } as const;

/** A vertical marker with its label in the band above the plot. */
interface MarkerLabel {
  kind: 'fleet' | 'group' | 'incident';
  /** Where the line stands (a change: the start of its first day; an incident: its day's centre). */
  t: number;
  /** For an incident, the value its ring circles. */
  value?: number;
  text: string;
  title: string;
  row: number;
  x: number;
  anchor: 'start' | 'end';
}

/** One label per fleet change, per day on which groups changed, and per incident, stacked into rows so none overlap. */
function markerLabels(m: ReportModel, x: TimeDomain): MarkerLabel[] {
  const wanted: Omit<MarkerLabel, 'row' | 'x' | 'anchor'>[] = [];
  for (const c of m.fleet.changes) {
    const t = startOf(c.day);
    if (t !== undefined) wanted.push({ kind: 'fleet', t, text: `${shortAt(c.day)}: fleet ${mb(c.before)} → ${mb(c.after)} MB/s`, title: changeTitle('The fleet', c) });
  }
  for (const [day, groups] of groupsByDay(m.groups)) {
    const t = startOf(day);
    const booths = groups.reduce((n, g) => n + g.booths.length, 0);
    const what = groups.length === 1 ? `${groups[0]!.where[0] ?? 'booths'} ${arrow(groups[0]!)}` : `${groups.length} groups`;
    if (t !== undefined) wanted.push({ kind: 'group', t, text: `${shortAt(day)}: ${booths} booth${booths === 1 ? '' : 's'}, ${what}`, title: groups.map((g) => g.text).join('\n') });
  }
  for (const i of m.fleet.incidents) {
    const t = centre(i.day, x);
    if (t !== undefined) wanted.push({ kind: 'incident', t, value: i.value, text: `${shortAt(i.day)}: incident, ${mb(i.value)} MB/s`, title: i.text });
  }
  return stack(wanted.sort((a, b) => a.t - b.t), x);
}

function groupsByDay(groups: readonly ReportGroup[]): Map<string, ReportGroup[]> {
  const byDay = new Map<string, ReportGroup[]>();
  for (const g of groups) byDay.set(g.day, [...(byDay.get(g.day) ?? []), g]);
  return byDay;
}

/** Rows for the labels: each goes into the first row where it does not touch the one before it. */
function stack(wanted: Omit<MarkerLabel, 'row' | 'x' | 'anchor'>[], x: TimeDomain): MarkerLabel[] {
  const f: Frame = { width: CHART_WIDTH, ...PLOT, top: 0, bottom: 0 };
  const ends: number[] = [];
  return wanted.map((w) => {
    const at = xOf(w.t, x, f);
    const width = textWidth(w.text);
    // A label that would run off the right edge hangs to the left of its line.
    const anchor = at + 4 + width > CHART_WIDTH ? 'end' : 'start';
    const [from, to] = anchor === 'start' ? [at, at + 4 + width] : [at - 4 - width, at];
    let row = ends.findIndex((end) => end + 6 < from);
    if (row === -1) row = ends.length < 6 ? ends.length : ends.indexOf(Math.min(...ends));
    ends[row] = to;
    return { ...w, row, x: at, anchor };
  });
}

function marker(l: MarkerLabel, f: Frame, py: (v: number) => number): Html {
  const labelY = 8 + l.row * LABEL_ROW + 11;
  const textX = l.anchor === 'start' ? l.x + 4 : l.x - 4;
  const color = l.kind === 'fleet' ? COLORS.fleetChange : l.kind === 'group' ? COLORS.groupChange : COLORS.incident;
  const text = html`<text x="${n(textX)}" y="${labelY}" text-anchor="${l.anchor}" style="fill:${color};font-weight:600">${l.text}</text>`;
  if (l.kind === 'incident') {
    // Clamped: an incident is drawn inside the plot even with a value the scale left out.
    const cy = Math.min(f.bottom, Math.max(f.top, py(l.value!) || f.bottom));
    return html`<g class="incident-marker"><title>${l.title}</title><line x1="${n(l.x)}" y1="${labelY + 3}" x2="${n(l.x)}" y2="${n(cy - 6)}" stroke="${color}" stroke-width="1" stroke-dasharray="1 3"/><circle cx="${n(l.x)}" cy="${n(cy)}" r="6" fill="none" stroke="${color}" stroke-width="1.8"/>${text}</g>`;
  }
  const dash = l.kind === 'group' ? '4 3' : 'none';
  return html`<g class="change-marker ${l.kind}-change"><title>${l.title}</title><line x1="${n(l.x)}" y1="${labelY + 3}" x2="${n(l.x)}" y2="${f.bottom}" stroke="${color}" stroke-width="1.6" stroke-dasharray="${dash}"/>${text}</g>`;
}

function arrow(g: ReportGroup): string {
  return g.direction === 'dropped' ? '↓' : '↑';
}

function changeTitle(who: string, c: Change): string {
  return `${who}: ${mb(c.before)} → ${mb(c.after)} MB/s ${whenChanged(c)}`;
}

// ---- bands and lines ------------------------------------------------------------------------

/** A gradual change's transition: a shaded band from its first to its last day. */
function changeBands(m: ReportModel, x: TimeDomain, f: Frame): Html {
  const gradual: { day: string; until?: string | undefined; color: string }[] = [
    ...m.fleet.changes.filter((c) => c.kind === 'gradual').map((c) => ({ day: c.day, until: c.until, color: COLORS.fleetChange })),
    ...m.groups.filter((g) => g.kind === 'gradual').map((g) => ({ day: g.day, until: g.until, color: COLORS.groupChange })),
  ];
  return html`${gradual.map((g) => band(g.day, g.until, g.color, x, f))}`;
}

function band(day: string, until: string | undefined, color: string, x: TimeDomain, f: Frame): Html | '' {
  const from = startOf(day);
  const to = startOf(until ?? day);
  if (from === undefined || to === undefined) return '';
  const [x1, x2] = [xOf(from, x, f), xOf(to + x.step, x, f)];
  return html`<rect class="transition" x="${n(x1)}" y="${f.top}" width="${n(Math.max(1, x2 - x1))}" height="${f.bottom - f.top}" fill="${color}" fill-opacity="0.08"/>`;
}

/** Dots on the median line where there is room for them, and always on a value with no neighbour (a line cannot show it). */
function dots(points: { t: number | undefined; v: number | null }[], px: (t: number) => number, py: (v: number) => number, x: TimeDomain, f: Frame): Html {
  const roomy = ((f.right - f.left) * x.step) / (x.to - x.from) >= 7;
  const shown = points.filter((p, i) => drawable(p) && (roomy || !drawable(points[i - 1]) || !drawable(points[i + 1])));
  return html`${shown.map((p) => html`<circle cx="${n(px(p.t!))}" cy="${n(py(p.v!))}" r="2" fill="${COLORS.median}"/>`)}`;
}

function drawable(p: { t: number | undefined; v: number | null } | undefined): boolean {
  return p !== undefined && p.t !== undefined && p.v !== null && Number.isFinite(p.v) && p.v > 0;
}

/** An SVG path through the points, broken where a value is missing (a day without uploads is not a zero). */
function linePath(points: { t: number | undefined; v: number | null }[], px: (t: number) => number, py: (v: number) => number): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (!drawable(p)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${n(px(p.t!))} ${n(py(p.v!))}`;
    pen = true;
  }
  return d || 'M0 0';
}

// ---- groups: small multiples ----------------------------------------------------------------

const MULTIPLE = { width: 170, height: 58 };
const MAX_MULTIPLES = 24;

export function groupMultiples(g: ReportGroup): Html {
  const shown = g.series.slice(0, MAX_MULTIPLES);
  const x = seriesDomain(shown.flatMap((s) => s.points));
  const y = logDomain([...shown.flatMap((s) => s.points.map((p) => p.median)), g.before, g.after]);
  const more = g.booths.length > shown.length ? html` <span class="muted small">(${shown.length} of ${g.booths.length} shown)</span>` : '';
  const pictures = x && shown.length > 0 ? html`<div class="multiples">${shown.map((s) => multiple(s.booth, s.points, g, x, y))}</div>` : nothing('No series for these booths.');
  return html`<div class="group"><h3>${g.text}${more}</h3>
<p class="muted small">${g.kind === 'gradual' ? 'Gradual' : 'Step'}: ${mb(g.before)} &rarr; ${mb(g.after)} MB/s (${ratio(g.after, g.before)}), in ${g.where.join(', ') || 'an unknown region'}. The same scale for every booth; the dashed lines are the group's levels before and after.</p>
${pictures}
<details><summary>All ${g.booths.length} booth${g.booths.length === 1 ? '' : 's'}</summary><p class="booths">${g.booths.join(', ')}</p></details></div>`;
}

function multiple(booth: string, points: SpeedPoint[], g: ReportGroup, x: TimeDomain, y: LogDomain): Html {
  const f: Frame = { width: MULTIPLE.width, left: 1, right: MULTIPLE.width - 1, top: 4, bottom: MULTIPLE.height - 4 };
  const px = (t: number) => xOf(t, x, f);
  const py = (v: number) => yOf(v, y, f);
  const line = points.map((p) => ({ t: centre(p.at, x), v: p.median }));
  const level = (v: number) => html`<line x1="${f.left}" y1="${n(py(v))}" x2="${f.right}" y2="${n(py(v))}" stroke="#9fb3c8" stroke-width="0.8" stroke-dasharray="3 3"/>`;
  const day = startOf(g.day);
  const mark = day === undefined ? '' : html`<line class="booth-change" x1="${n(px(day))}" y1="${f.top - 4}" x2="${n(px(day))}" y2="${f.bottom + 4}" stroke="${COLORS.groupChange}" stroke-width="1.2"/>`;
  return html`<div class="multiple"><div class="booth" title="${booth}">${booth}</div><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${MULTIPLE.width} ${MULTIPLE.height}" role="img" aria-label="${`${booth}: upload speed, log scale`}">
${g.kind === 'gradual' ? band(g.day, g.until, COLORS.groupChange, x, f) : ''}${level(g.before)}${level(g.after)}${mark}<path d="${linePath(line, px, py)}" fill="none" stroke="${COLORS.median}" stroke-width="1.4" stroke-linejoin="round"/></svg></div>`;
}

// ---- days -----------------------------------------------------------------------------------

/** Three bar strips on the fleet chart's time axis: bookings, booths seen and refused images per day. */
export function dayStrips(m: ReportModel, x: TimeDomain): Html {
  const strips: { label: string; value: (d: ReportDay) => number; color: string }[] = [
    { label: 'Bookings', value: (d) => d.bookings, color: '#7b93b8' },
    { label: 'Booths seen', value: (d) => boothsSeen(d), color: '#7fb394' },
    { label: 'Images refused', value: (d) => d.rejections, color: '#d08c60' },
  ];
  const STRIP = 34;
  const GAP = 22;
  const changes = [...m.fleet.changes.map((c) => startOf(c.day)), ...m.groups.map((g) => startOf(g.day))].filter((t): t is number => t !== undefined);
  const parts = strips.map((s, i) => {
    const f: Frame = { width: CHART_WIDTH, ...PLOT, top: GAP + i * (STRIP + GAP), bottom: GAP + i * (STRIP + GAP) + STRIP };
    return strip(m.days, s.label, s.value, s.color, x, f);
  });
  const height = strips.length * (STRIP + GAP) + 4;
  const frame: Frame = { width: CHART_WIDTH, ...PLOT, top: GAP - 4, bottom: height - GAP + 6 };
  const lines = changes.map((t) => html`<line x1="${n(xOf(t, x, frame))}" y1="${frame.top}" x2="${n(xOf(t, x, frame))}" y2="${frame.bottom}" stroke="${COLORS.groupChange}" stroke-opacity="0.35" stroke-dasharray="4 3"/>`);
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="strips" viewBox="0 0 ${CHART_WIDTH} ${height}" role="img" aria-label="Bookings, booths seen and images refused per day">${parts}${lines}</svg>`;
}

function strip(days: readonly ReportDay[], label: string, value: (d: ReportDay) => number, color: string, x: TimeDomain, f: Frame): Html {
  const max = Math.max(0, ...days.map(value));
  const w = Math.max(1, xOf(x.from + x.step, x, f) - xOf(x.from, x, f) - 1);
  const bars = days.map((d) => {
    const t = startOf(d.at);
    const h = max > 0 ? (value(d) / max) * (f.bottom - f.top) : 0;
    return t === undefined || h <= 0 ? '' : html`<rect x="${n(xOf(t, x, f) + 0.5)}" y="${n(f.bottom - h)}" width="${n(w)}" height="${n(h)}" fill="${color}"/>`;
  });
  const total = days.reduce((sum, d) => sum + value(d), 0);
  const caption = label === 'Booths seen' ? `${label} (most in a day: ${thousands(max)})` : `${label} (${thousands(total)} in all, most in a day: ${thousands(max)})`;
  return html`<text x="${f.left}" y="${f.top - 6}" style="font-weight:600">${caption}</text><line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="${AXIS_COLOR}"/>${bars}`;
}

/** Booths seen in a day, all countries together: a strip here and a column of the page's days table. */
export function boothsSeen(d: ReportDay): number {
  return Object.values(d.boothsSeen).reduce((sum, k) => sum + (Number.isFinite(k) ? k : 0), 0);
}
