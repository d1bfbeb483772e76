// `booth-agent report --html`: the ReportModel as one self-contained page, to open from a disk or
// attach to a ticket. Self-contained means no network at all — no CDN, fonts, images or scripts:
// the charts are inline SVG (charts.ts), and a Content-Security-Policy of default-src 'none' makes
// the browser refuse any request the page might still make. This file is the page itself: its
// style, its sections in reading order and its tables; every string of the model reaches it
// through the escaping `html` tag (markup.ts).
import type { Cause, ReportDay, ReportModel } from '../model.ts';
import { boothsSeen, dayStrips, fleetChart, groupMultiples, legend } from './charts.ts';
import { mb, pct, ratio, seconds, thousands, withUnit } from './format.ts';
import { escapeHtml, html, nothing, type Html, type Part } from './markup.ts';
import { timeDomain, type TimeDomain } from './scales.ts';

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
  return section('days', heading, html`${summary}${strips}${daysTable(m.days, m.period.resolution)}`);
}

function hasSpeed(m: ReportModel): boolean {
  return m.fleet.series.some((p) => p.median !== null && Number.isFinite(p.median) && p.median > 0);
}

// ---- tables ---------------------------------------------------------------------------------

function causesTable(causes: readonly Cause[], what: 'change' | 'incident'): Html {
  if (causes.length === 0) return nothing(`No recorded fact moved with this ${what}.`);
  const rows = causes.map((c) => {
    const share = c.of > 0 ? c.moved / c.of : 0;
    // A fact that moved on most other booths too (a fleet-wide upgrade) is no cause: shown, but faint.
    return html`<tr class="${c.elsewhere >= 0.5 ? 'weak' : 'strong'}" title="${c.text}"><td>${c.label}<br><code>${c.field}</code></td><td>${withUnit(c.before, c.unit)} &rarr; ${withUnit(c.after, c.unit)}</td><td class="num">${c.moved} of ${c.of}<span class="bar" style="width:${Math.round(share * 60)}px"></span></td><td class="num">${pct(c.elsewhere)}</td></tr>`;
  });
  return html`<table class="causes"><colgroup><col style="width:290px"><col style="width:300px"><col style="width:140px"><col style="width:90px"></colgroup><thead><tr><th>Fact</th><th>Before &rarr; after</th><th class="num">Moved on booths</th><th class="num">Elsewhere</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function daysTable(days: readonly ReportDay[], resolution: ReportModel['period']['resolution']): Html {
  const rows = days.map((d) => {
    const countries = Object.entries(d.boothsSeen)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, k]) => `${c} ${k}`)
      .join(', ');
    return html`<tr><td>${d.at}</td><td class="num">${thousands(d.images)}</td><td class="num">${d.speedMedian === null ? '–' : mb(d.speedMedian)}</td><td class="num">${d.speedP10 === null ? '–' : mb(d.speedP10)}</td><td class="num">${thousands(d.bookings)}</td><td class="num">${d.bookingMedianS === null ? '–' : seconds(d.bookingMedianS)}</td><td class="num" title="${countries}">${boothsSeen(d)}</td><td class="num">${d.rejections}</td></tr>`;
  });
  return html`<details><summary>Every ${resolution} (${days.length})</summary>
<table class="days"><thead><tr><th>Day</th><th class="num">Images</th><th class="num">Median MB/s</th><th class="num">p10 MB/s</th><th class="num">Bookings</th><th class="num">Booking median</th><th class="num">Booths seen</th><th class="num">Refused</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}
