// The report in a terminal: the verdict first, then the fleet's speed and each group's as
// sparklines (log scale, the change marked under it), then the causes table and the incidents.
import { median } from './change-points.ts';
import type { Cause, ReportModel } from './model.ts';
import { columnOf, markerLine, sparkline } from '../sparkline.ts';

const WIDTH = 72;
const LABEL = 24;

export function renderText(m: ReportModel): string {
  const out: string[] = [];
  const scope = [m.period.country, m.period.booths?.length ? `booths ${m.period.booths.join(', ')}` : undefined].filter(Boolean).join(', ');
  out.push(`report: ${m.cluster}, prefix "${m.prefix}", ${m.period.since} to ${m.period.until}${scope ? `, ${scope}` : ''}: ${m.booths} booth${m.booths === 1 ? '' : 's'}, ${m.requests} requests`);
  out.push('', ...m.verdict);
  if (m.fleet.series.every((p) => p.median === null)) return `${[...out, '', m.summary].join('\n')}\n`;
  const keys = m.fleet.series.map((p) => p.at);
  const marks = (days: string[]) => days.map((d) => keys.indexOf(d)).filter((i) => i >= 0);
  out.push('', `Upload speed, median per ${m.period.resolution} (MB/s, log scale):`);
  out.push(...chart('fleet median', m.fleet.series.map((p) => p.median), marks([...m.fleet.changes.map((c) => c.day), ...m.fleet.incidents.map((i) => i.day)])));
  for (const g of m.groups) {
    const perDay = keys.map((_, i) => {
      const values = g.series.map((s) => s.points[i]?.median).filter((v): v is number => typeof v === 'number');
      return values.length > 0 ? median(values) : null;
    });
    const name = `${g.where[0] ?? 'group'} (${g.booths.length})`;
    out.push(...chart(name, perDay, marks([g.day])));
  }
  for (const g of m.groups) {
    out.push('', g.text);
    out.push(...causesTable(g.causes, g.booths.length > 1));
  }
  for (const i of m.fleet.incidents) {
    out.push('', i.text);
    out.push(...causesTable(i.causes, true));
  }
  out.push('', m.summary);
  return `${out.join('\n')}\n`;
}

/** A labelled sparkline with its range, and a caret under the marked buckets. */
function chart(label: string, values: (number | null)[], marked: number[]): string[] {
  const present = values.filter((v): v is number => v !== null && v > 0);
  if (present.length === 0) return [];
  const line = sparkline(values, { width: WIDTH, log: true });
  const range = `${fmt(Math.min(...present))}–${fmt(Math.max(...present))}`;
  const carets = markerLine(line.length, marked.map((i) => columnOf(i, values.length, WIDTH)));
  return [`  ${label.slice(0, LABEL).padEnd(LABEL)} ${line}  ${range}`, ...(carets ? [`  ${' '.repeat(LABEL)} ${carets}`] : [])];
}

function causesTable(causes: Cause[], many: boolean): string[] {
  if (causes.length === 0) return ['  no recorded fact moved with it'];
  const rows = causes.map((c) => [c.label, `${c.before} → ${c.after}${c.unit ? ` ${c.unit}` : ''}`, many ? `${c.moved} of ${c.of}` : '', many ? `${Math.round(c.elsewhere * 100)} %` : '']);
  const head = ['probable cause, best first', 'before → after', many ? 'booths' : '', many ? 'elsewhere' : ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `  ${r.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [line(head), ...rows.map(line)];
}

function fmt(v: number): string {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}
