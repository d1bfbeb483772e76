// The status screen: readable in five seconds on an 80-column terminal. Colour only when asked
// (a TTY without NO_COLOR); the words carry the meaning without it.
import { formatBytes, formatDuration } from '../config/units.ts';
import { sparkline } from '../sparkline.ts';
import type { Problem, Verdict } from './problems.ts';
import type { StatusReport } from './report.ts';

const COLOURS = { red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', dim: '\x1b[2m', reset: '\x1b[0m' } as const;

export function renderStatus(r: StatusReport, problems: readonly Problem[], verdict: Verdict, opts: { color: boolean }): string {
  const paint = (c: keyof typeof COLOURS, text: string) => (opts.color ? `${COLOURS[c]}${text}${COLOURS.reset}` : text);
  const now = Date.parse(r.at);
  const ago = (iso: string | undefined) => (iso ? `${formatDuration(Math.max(0, now - Date.parse(iso)))} ago` : 'never');
  const verdictColour = verdict === 'OK' ? 'green' : verdict === 'WARNING' ? 'yellow' : 'red';
  const lines: string[] = [];
  const row = (label: string, ...text: string[]) => text.forEach((t, i) => lines.push(`${i === 0 ? label.padEnd(11) : ' '.repeat(11)}${t}`));

  const title = `booth ${r.booth.id} (${r.booth.country}) · ${r.at.slice(0, 16).replace('T', ' ')} UTC`;
  lines.push(`${title}${' '.repeat(Math.max(2, 78 - title.length - verdict.length))}${paint(verdictColour, verdict)}`, '');

  row('Agent', r.agent.running ? `running, pid ${r.agent.pid}, since ${r.agent.since!.slice(0, 16).replace('T', ' ')} UTC (${ago(r.agent.since).replace(' ago', '')}), v${r.agent.version}` : paint('red', 'NOT RUNNING'));
  const s = r.shipping;
  if (!s.configured) row('Shipping', 'not configured (no opensearch.url): measuring and buffering only', `${s.queued} documents kept`);
  else {
    row(
      'Shipping',
      `to ${s.target}: last success ${ago(s.last_success)}`,
      `${s.queued} queued${s.queued > 0 ? `, oldest ${formatDuration(s.oldest_unsent_age_s * 1000)}` : ''}; ${s.dead_letters} dead letter${s.dead_letters === 1 ? '' : 's'}`,
      ...(s.last_error ? [`last error ${ago(s.last_error.at)}: ${clip(s.last_error.message, 50)}`] : []),
    );
  }
  row('Heartbeat', `last ${ago(r.heartbeat.last)}`);
  const u = r.uploads;
  row(
    'Uploads',
    u.last_file ? `last ${clip(u.last_file, 30)}${u.last_speed_mb_s !== undefined ? ` at ${u.last_speed_mb_s} MB/s` : ''}, ${ago(u.last_at)}` : 'none yet',
    `today ${u.today_count} file${u.today_count === 1 ? '' : 's'}, ${formatBytes(u.today_bytes)}; ${u.pending} pending, ${u.failing} failing${refusedPart(u)}${codes(u.failing_codes)}`,
    ...(u.missed_by_watcher > 0 ? [`${u.missed_by_watcher} missed by the folder watcher, taken in by the reconciliation scan`] : []),
  );
  if (u.recent_speeds_mb_s.length > 0) row('Speed', `${speedBars(u.recent_speeds_mb_s, u.baseline_mb_s)}  ${u.baseline_mb_s !== undefined ? `usual ${u.baseline_mb_s} MB/s` : 'no baseline yet'}`);
  const n = r.network;
  const iface = n.interface ? `${n.interface.name} (${n.interface.type}${n.interface.speed_mbps ? `, ${n.interface.speed_mbps} Mbit/s` : ''})` : 'no interface';
  const wifi = n.wifi ? `, ${n.wifi.ssid ? `"${n.wifi.ssid}" ` : ''}${n.wifi.signal_dbm !== undefined ? `${n.wifi.signal_dbm} dBm` : ''}` : '';
  row(
    'Network',
    n.online === undefined ? 'not measured yet' : `${n.online ? 'online' : paint('red', `OFFLINE since ${ago(n.since)}`)}; ${iface}${wifi}`,
    ...(n.probes.length ? [n.probes.map((p) => `${p.role} ${p.ok ? `${latency(p)}` : 'failed'}`).join(' · ')] : []),
  );
  row('Disk', `database ${formatBytes(r.disk.database_bytes)} of ${formatBytes(r.disk.max_bytes)}${r.disk.free_bytes !== undefined ? `; ${formatBytes(r.disk.free_bytes)} free` : ''}`);
  if (r.clock.skew_ms !== undefined) row('Clock', `${Math.round(r.clock.skew_ms / 1000)} s off the servers' clocks`);

  lines.push('');
  if (problems.length === 0) lines.push(paint('green', 'No problems.'));
  else {
    lines.push('Problems:');
    for (const p of problems) lines.push(...wrap(`${p.severity === 'critical' ? '✗' : '!'} ${p.message}`, 78).map((l, i) => paint(p.severity === 'critical' ? 'red' : 'yellow', `${i === 0 ? '  ' : '    '}${l}`)));
  }
  return `${lines.join('\n')}\n`;
}

/** Recent speeds as bars scaled to twice the baseline (or the fastest), so half the baseline sits mid-height. */
export function speedBars(speeds: readonly number[], baseline: number | undefined): string {
  const top = Math.max(baseline !== undefined ? baseline * 2 : 0, ...speeds, 0.001);
  return sparkline(speeds, { range: [0, top] });
}

function latency(p: { rtt_ms?: number; connect_ms?: number; dns_ms?: number; tls_ms?: number }): string {
  const ms = p.rtt_ms ?? (p.connect_ms ?? 0) + (p.dns_ms ?? 0) + (p.tls_ms ?? 0);
  return `${Math.round(ms * 10) / 10} ms`;
}

/** ", 2 refused, 1 not uploaded" — the rejected files by whose verdict it was. */
function refusedPart(u: StatusReport['uploads']): string {
  const own = Object.values(u.not_uploaded).reduce((sum, n) => sum + n, 0);
  const byServer = u.rejected - own;
  return `${byServer > 0 ? `, ${byServer} refused` : ''}${own > 0 ? `, ${own} not uploaded` : ''}`;
}

function codes(c: Record<string, number>): string {
  const list = Object.entries(c).map(([code, n]) => `${n}×${code === 'network' ? 'network' : code}`);
  return list.length ? ` (${list.join(', ')})` : '';
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width - 4) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
