// `booth-agent report --html`: the ReportModel as one self-contained page, to open from a disk or
// attach to a ticket. Self-contained means no network at all — no CDN, fonts, images or scripts:
// the charts are inline SVG drawn here, and a Content-Security-Policy of default-src 'none' makes the
// browser refuse any request the page might still make. Every string of the model (booth ids,
// regions, the cluster's address) comes from the world, so every interpolation is escaped unless it
// is markup this file built (the `html` tag below), rather than trusting each call site to remember.
import type { Change } from './change-points.ts';
import type { Cause, ReportDay, ReportGroup, ReportModel, SpeedPoint } from './model.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

// ---- markup that escapes by default ---------------------------------------------------------

/** Markup built by this file: interpolated as is. Anything else interpolated is escaped text. */
class Html {
  readonly markup: string;
  constructor(markup: string) {
    this.markup = markup;
  }
}

type Part = Html | string | number | null | undefined | false | readonly Part[];

function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0]!;
  parts.forEach((p, i) => (out += part(p) + strings[i + 1]!));
  return new Html(out);
}

function part(p: Part): string {
  if (p instanceof Html) return p.markup;
  if (Array.isArray(p)) return p.map(part).join('');
  if (p === null || p === undefined || p === false) return '';
  return escapeHtml(String(p));
}

/** Text for an element's content or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// ---- the page -------------------------------------------------------------------------------

export function renderHtml(model: ReportModel): string {
  const x = timeDomain(model);
  const body = html`<main>
<header><h1>Upload speed</h1><p class="muted">booth-agent report, generated ${model.generatedAt}</p></header>
${periodSection(model)}
${verdictSection(model)}
${fleetSection(model, x)}
${groupsSection(model)}
${causesSection(model)}
${incidentsSection(model)}
${daysSection(model, x)}
<footer class="muted">Read from the cluster with ${model.requests} request${model.requests === 1 ? '' : 's'}, aggregations only.</footer>
</main>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`Upload speed — ${model.cluster} — ${model.period.since} to ${model.period.until}`)}</title>
<style>${CSS}</style>
</head>
<body>
${body.markup}
</body>
</html>
`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#f5f6f8;color:#1f2933;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","Liberation Sans",Arial,sans-serif}
main{max-width:1152px;margin:0 auto;padding:20px 24px 40px}
header h1{font-size:24px;margin:0}
header p{margin:0 0 4px}
section{background:#fff;border:1px solid #e1e5ea;border-radius:8px;padding:14px 20px 16px;margin:14px 0}
h2{font-size:17px;margin:0 0 10px;color:#102a43}
h3{font-size:15px;margin:16px 0 6px;color:#243b53}
p{margin:6px 0}
.muted{color:#627d98}
.small{font-size:13px}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;color:#486581}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 18px;margin:0}
dt{color:#627d98}
dd{margin:0;overflow-wrap:anywhere}
ol.verdict{margin:0;padding-left:22px}
ol.verdict li{margin:2px 0}
ol.verdict li:first-child{font-weight:600;font-size:16.5px}
table{border-collapse:collapse;font-size:13.5px;margin:4px 0}
table.causes{table-layout:fixed;width:820px}
table.causes tr.weak td{color:#829ab1}
table.causes tr.weak .bar{background:#d9e2ec}
th,td{padding:4px 12px 4px 0;text-align:left;vertical-align:top;border-bottom:1px solid #edf0f3}
th{font-weight:600;color:#486581;font-size:12.5px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:8px;background:#627d98;border-radius:2px;vertical-align:middle;margin-left:8px}
svg{display:block;width:100%;height:auto}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",Arial,sans-serif;font-size:11px;fill:#52606d}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;font-size:13px;color:#486581;margin-top:4px}
.legend svg{display:inline-block;width:22px;height:10px;vertical-align:middle;margin-right:4px}
.group{border-top:1px solid #edf0f3;padding-top:4px;margin-top:10px}
.group:first-of-type{border-top:none;margin-top:0}
.multiples{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:8px}
.multiple{border:1px solid #edf0f3;border-radius:6px;padding:3px 6px 4px}
.multiple .booth{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;color:#334e68}
details{margin-top:8px}
summary{cursor:pointer;color:#486581;font-size:13.5px}
.booths{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;color:#486581;overflow-wrap:anywhere}
footer{font-size:12.5px;margin-top:8px}
`;

function section(id: string, heading: string, content: Part): Html {
  return html`<section id="${id}"><h2>${heading}</h2>${content}</section>`;
}

function nothing(sentence: string): Html {
  return html`<p class="muted nothing">${sentence}</p>`;
}

// ---- sections -------------------------------------------------------------------------------

function periodSection(m: ReportModel): Html {
  const p = m.period;
  const rows: [string, Part][] = [
    ['Cluster', m.cluster],
    ['Index prefix', m.prefix],
    ['Period', `${p.since} to ${p.until}, ${p.resolution === 'hour' ? 'per hour' : 'per day'}`],
    ['Country', p.country ?? 'all'],
    ...(p.booths && p.booths.length > 0 ? [['Booths asked for', p.booths.join(', ')] as [string, Part]] : []),
    ['Booths with uploads', String(m.booths)],
  ];
  return section('period', 'Period and cluster', html`<dl>${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`);
}

function verdictSection(m: ReportModel): Html {
  const empty = hasSpeed(m) ? 'Nothing stood out in this period.' : 'No successful uploads in this period: there is nothing to judge.';
  return section('verdict', 'Verdict', m.verdict.length > 0 ? html`<ol class="verdict">${m.verdict.map((line) => html`<li>${line}</li>`)}</ol>` : nothing(empty));
}

function fleetSection(m: ReportModel, x: TimeDomain | undefined): Html {
  const heading = `The fleet's upload speed, ${m.period.resolution === 'hour' ? 'per hour' : 'per day'}`;
  if (!hasSpeed(m) || !x) return section('fleet', heading, nothing('No successful uploads in this period, so there is no speed to draw.'));
  const changes = m.fleet.changes.length === 0 ? html`<p class="muted small">No change in the fleet's median upload speed in this period.</p>` : '';
  return section('fleet', heading, html`${fleetChart(m, x)}${legend(m)}${changes}`);
}

function groupsSection(m: ReportModel): Html {
  const heading = 'Booths that changed together';
  if (m.groups.length === 0) return section('groups', heading, nothing('No group of booths changed speed together in this period.'));
  return section('groups', heading, m.groups.map(groupMultiples));
}

function causesSection(m: ReportModel): Html {
  const heading = 'Probable causes';
  if (m.groups.length === 0 && m.fleet.incidents.length === 0) return section('causes', heading, nothing('No change and no incident, so no causes to look for.'));
  const intro = html`<p class="muted small">Facts the booths recorded that moved with the speed: the typical value before and after, on how many of the booths that recorded it, and on what share of the other booths it moved the same way over the same days. A fact that moved everywhere explains little.</p>`;
  const groups = m.groups.map((g) => html`<h3>${g.text}</h3>${causesTable(g.causes, 'change')}`);
  const incidents = m.fleet.incidents.map((i) => html`<h3>${i.text}</h3>${causesTable(i.causes, 'incident')}`);
  return section('causes', heading, [intro, groups, incidents]);
}

function incidentsSection(m: ReportModel): Html {
  const unit = m.period.resolution;
  const heading = `One-${unit} incidents`;
  if (m.fleet.incidents.length === 0) return section('incidents', heading, nothing(`No one-${unit} incidents: no ${unit} stood apart from the ${unit}s on either side of it.`));
  const rows = m.fleet.incidents.map(
    (i) => html`<tr><td>${i.day}</td><td class="num">${mb(i.value)}</td><td class="num">${mb(i.typical)}</td><td class="num">${ratio(i.value, i.typical)}</td><td>${i.text}</td></tr>`,
  );
  return section(
    'incidents',
    heading,
    html`<p class="muted small">A ${unit} far off both its neighbours while they agree: an outage, not a change. It is set aside before looking for changes.</p>
<table><thead><tr><th>${unit === 'hour' ? 'Hour' : 'Day'}</th><th class="num">Fleet median</th><th class="num">Usually</th><th class="num">Factor</th><th>What happened</th></tr></thead><tbody>${rows}</tbody></table>`,
  );
}

function daysSection(m: ReportModel, x: TimeDomain | undefined): Html {
  const heading = 'Bookings, booths and refusals';
  const summary = m.summary ? html`<p>${m.summary}</p>` : '';
  if (m.days.length === 0) return section('days', heading, [summary, nothing('No days to show: the cluster had nothing for this period.')]);
  const strips = x ? dayStrips(m, x) : '';
  return section('days', heading, html`${summary}${strips}${daysTable(m.days)}`);
}

// ---- the fleet chart ------------------------------------------------------------------------

/** The time span every chart of the page shares, so that a day is at the same place in each. */
interface TimeDomain {
  from: number;
  to: number;
  /** One bucket: a day or an hour. */
  step: number;
}

/** The chart's frame in SVG units: the viewBox is `width` wide, the plot inside the margins. */
interface Frame {
  width: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const CHART_WIDTH = 1060;
/** The wide charts' plot, left to right: room for the MB/s labels on the left. */
const PLOT = { left: 52, right: CHART_WIDTH - 24 };
const LABEL_ROW = 15;

const COLORS = { median: '#1f5fa8', p10: '#86a9d6', fleetChange: '#c2410c', groupChange: '#7c3aed', incident: '#b91c1c', grid: '#e9edf1', axis: '#bcccdc' };

function fleetChart(m: ReportModel, x: TimeDomain): Html {
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
function legend(m: ReportModel): Html {
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

// ---- axes -----------------------------------------------------------------------------------

interface LogDomain {
  lo: number;
  hi: number;
}

/** A log y domain around the values with a little room, so a line is never drawn on the frame. */
function logDomain(values: readonly (number | null | undefined)[]): LogDomain {
  const vs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
  if (vs.length === 0) return { lo: 0.1, hi: 10 };
  const [lo, hi] = [Math.min(...vs), Math.max(...vs)];
  return hi / lo < 1.5 ? { lo: lo / 1.5, hi: hi * 1.5 } : { lo: lo / 1.15, hi: hi * 1.15 };
}

function yOf(v: number, y: LogDomain, f: Frame): number {
  return f.bottom - ((Math.log(v) - Math.log(y.lo)) / (Math.log(y.hi) - Math.log(y.lo))) * (f.bottom - f.top);
}

function xOf(t: number, x: TimeDomain, f: Frame): number {
  return f.left + ((t - x.from) / (x.to - x.from)) * (f.right - f.left);
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

function yAxis(y: LogDomain, f: Frame): Html {
  const ticks = logTicks(y.lo, y.hi).map((v) => {
    const at = n(yOf(v, y, f));
    return html`<line x1="${f.left}" y1="${at}" x2="${f.right}" y2="${at}" stroke="${COLORS.grid}"/><text x="${f.left - 6}" y="${n(at + 3.5)}" text-anchor="end">${tickLabel(v)}</text>`;
  });
  const mid = (f.top + f.bottom) / 2;
  return html`<g class="y-axis">${ticks}<text x="12" y="${n(mid)}" text-anchor="middle" transform="rotate(-90 12 ${n(mid)})">MB/s</text></g>`;
}

const LABEL_STEPS = [1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 672, 1344].map((h) => h * HOUR);

/** Day ticks (and hour ticks when a bucket is an hour), labelled as often as the labels fit. */
function timeAxis(x: TimeDomain, f: Frame): Html {
  const pxPer = (ms: number) => ((f.right - f.left) * ms) / (x.to - x.from);
  const minor = pxPer(x.step) >= 4 ? x.step : pxPer(DAY) >= 4 ? DAY : undefined;
  const labelStep = LABEL_STEPS.find((s) => s >= x.step && pxPer(s) >= 58) ?? LABEL_STEPS[LABEL_STEPS.length - 1]!;
  const ticks = minor ? alignedTimes(x, minor, 0).map((t) => n(xOf(t, x, f))) : [];
  // Weekly labels fall on Mondays (1970-01-05 was one); other steps on whole multiples since 1970.
  const labels = alignedTimes(x, labelStep, labelStep === 168 * HOUR ? 4 * DAY : 0);
  const tickMarks = ticks.map((at) => html`<line x1="${at}" y1="${f.bottom}" x2="${at}" y2="${f.bottom + 4}" stroke="${COLORS.axis}"/>`);
  const grid = labels.map((t) => {
    const at = n(xOf(t, x, f));
    // A label centred on the frame's edge would be cut in half by the picture's edge.
    const fits = at - textWidth(timeLabel(t)) / 2 >= 0 && at + textWidth(timeLabel(t)) / 2 <= f.width;
    const text = fits ? html`<text x="${at}" y="${f.bottom + 17}" text-anchor="middle">${timeLabel(t)}</text>` : '';
    return html`<line x1="${at}" y1="${f.top}" x2="${at}" y2="${f.bottom + 6}" stroke="${COLORS.grid}"/>${text}`;
  });
  return html`<g class="x-axis">${grid}${tickMarks}<line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="${COLORS.axis}"/></g>`;
}

/** The times in the domain that are `offset` plus a whole number of `step`s since 1970. */
function alignedTimes(x: TimeDomain, step: number, offset: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil((x.from - offset) / step) * step + offset; t <= x.to && out.length < 2000; t += step) out.push(t);
  return out;
}

/** A midnight is its day ("Jul 18"), any other hour its time ("06:00"). */
function timeLabel(t: number): string {
  const d = new Date(t);
  return t % DAY === 0 ? `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}` : `${String(d.getUTCHours()).padStart(2, '0')}:00`;
}

function tickLabel(v: number): string {
  return v >= 1 ? String(v) : String(Number(v.toPrecision(2)));
}

// ---- groups: small multiples ----------------------------------------------------------------

const MULTIPLE = { width: 170, height: 58 };
const MAX_MULTIPLES = 24;

function groupMultiples(g: ReportGroup): Html {
  const shown = g.series.slice(0, MAX_MULTIPLES);
  const x = seriesDomain(shown.flatMap((s) => s.points));
  const y = logDomain([...shown.flatMap((s) => s.points.map((p) => p.median)), g.before, g.after]);
  const more = g.booths.length > shown.length ? html` <span class="muted small">(${shown.length} of ${g.booths.length} shown)</span>` : '';
  const pictures = x && shown.length > 0 ? html`<div class="multiples">${shown.map((s) => multiple(s.booth, s.points, g, x, y))}</div>` : nothing('No series for these booths.');
  return html`<div class="group"><h3>${g.text}${more}</h3>
<p class="muted small">${g.kind === 'gradual' ? 'Gradual' : 'Step'}: ${mb(g.before)} → ${mb(g.after)} MB/s (${ratio(g.after, g.before)}), in ${g.where.join(', ') || 'an unknown region'}. The same scale for every booth; the dashed lines are the group's levels before and after.</p>
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

// ---- causes ---------------------------------------------------------------------------------

function causesTable(causes: readonly Cause[], what: 'change' | 'incident'): Html {
  if (causes.length === 0) return nothing(`No recorded fact moved with this ${what}.`);
  const rows = causes.map((c) => {
    const share = c.of > 0 ? c.moved / c.of : 0;
    // A fact that moved on most other booths too (a fleet-wide upgrade) is no cause: shown, but faint.
    return html`<tr class="${c.elsewhere >= 0.5 ? 'weak' : 'strong'}" title="${c.text}"><td>${c.label}<br><code>${c.field}</code></td><td>${withUnit(c.before, c.unit)} → ${withUnit(c.after, c.unit)}</td><td class="num">${c.moved} of ${c.of}<span class="bar" style="width:${Math.round(share * 60)}px"></span></td><td class="num">${pct(c.elsewhere)}</td></tr>`;
  });
  return html`<table class="causes"><colgroup><col style="width:290px"><col style="width:300px"><col style="width:140px"><col style="width:90px"></colgroup><thead><tr><th>Fact</th><th>Before → after</th><th class="num">Moved on booths</th><th class="num">Elsewhere</th></tr></thead><tbody>${rows}</tbody></table>`;
}

// ---- days -----------------------------------------------------------------------------------

/** Three bar strips on the fleet chart's time axis: bookings, booths seen and refused images per day. */
function dayStrips(m: ReportModel, x: TimeDomain): Html {
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
  return html`<text x="${f.left}" y="${f.top - 6}" style="font-weight:600">${caption}</text><line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="${COLORS.axis}"/>${bars}`;
}

function daysTable(days: readonly ReportDay[]): Html {
  const rows = days.map((d) => {
    const countries = Object.entries(d.boothsSeen)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, k]) => `${c} ${k}`)
      .join(', ');
    return html`<tr><td>${d.at}</td><td class="num">${thousands(d.images)}</td><td class="num">${d.speedMedian === null ? '–' : mb(d.speedMedian)}</td><td class="num">${d.speedP10 === null ? '–' : mb(d.speedP10)}</td><td class="num">${thousands(d.bookings)}</td><td class="num">${d.bookingMedianS === null ? '–' : seconds(d.bookingMedianS)}</td><td class="num" title="${countries}">${boothsSeen(d)}</td><td class="num">${d.rejections}</td></tr>`;
  });
  return html`<details><summary>Every ${days.length > 0 && days[0]!.at.includes('T') ? 'hour' : 'day'} (${days.length})</summary>
<table class="days"><thead><tr><th>Day</th><th class="num">Images</th><th class="num">Median MB/s</th><th class="num">p10 MB/s</th><th class="num">Bookings</th><th class="num">Booking median</th><th class="num">Booths seen</th><th class="num">Refused</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}

function boothsSeen(d: ReportDay): number {
  return Object.values(d.boothsSeen).reduce((sum, k) => sum + (Number.isFinite(k) ? k : 0), 0);
}

// ---- time -----------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The start of a bucket named YYYY-MM-DD or YYYY-MM-DDTHH (UTC), or undefined for anything else. */
function startOf(at: string): number | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d))?/.exec(at);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0));
  return Number.isFinite(t) ? t : undefined;
}

/** The middle of a bucket: where its value is drawn. */
function centre(at: string, x: TimeDomain): number | undefined {
  const t = startOf(at);
  return t === undefined ? undefined : t + x.step / 2;
}

/** The page's time span: the asked period, widened to any bucket of the series or the days outside it. */
function timeDomain(m: ReportModel): TimeDomain | undefined {
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

function seriesDomain(points: readonly SpeedPoint[]): TimeDomain | undefined {
  const starts = points.map((p) => startOf(p.at)).filter((t): t is number => t !== undefined);
  if (starts.length === 0) return undefined;
  const step = points.some((p) => p.at.includes('T')) ? HOUR : DAY;
  return { from: Math.min(...starts), to: Math.max(...starts) + step, step };
}

/** "Jul 18", or "Jul 18 14:00" for an hour. */
function shortAt(at: string): string {
  const t = startOf(at);
  if (t === undefined) return at;
  const d = new Date(t);
  const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  return at.includes('T') ? `${day} ${String(d.getUTCHours()).padStart(2, '0')}:00` : day;
}

// ---- numbers --------------------------------------------------------------------------------

function hasSpeed(m: ReportModel): boolean {
  return m.fleet.series.some((p) => p.median !== null && Number.isFinite(p.median) && p.median > 0);
}

/** MB/s as the text report writes it: 12.0, 0.90, 0.045. */
function mb(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : String(Number(v.toPrecision(2)));
}

function ratio(now: number, usual: number): string {
  if (!(now > 0 && usual > 0)) return '–';
  return now < usual ? `÷${(usual / now).toFixed(1)}` : `×${(now / usual).toFixed(1)}`;
}

function pct(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)} %` : '–';
}

function seconds(s: number): string {
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** 31480 → "31,480": the same on every machine, whatever its locale (no Intl). */
function thousands(v: number): string {
  return String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function withUnit(value: string, unit: string): string {
  return unit ? `${value} ${unit}` : value;
}

function arrow(g: ReportGroup): string {
  return g.direction === 'dropped' ? '↓' : '↑';
}

function changeTitle(who: string, c: Change): string {
  const when = c.kind === 'gradual' ? `gradually from ${c.day}${c.until ? ` to ${c.until}` : ''}` : `on ${c.day}`;
  return `${who}: ${mb(c.before)} → ${mb(c.after)} MB/s ${when}`;
}

/** A coordinate with one decimal: enough for a screen, short in the file. */
function n(v: number): number {
  return Math.round(v * 10) / 10;
}

/** About how wide 11px text is, to keep labels apart (a label a little too long only overlaps). */
function textWidth(s: string): number {
  return [...s].length * 6.4;
}
