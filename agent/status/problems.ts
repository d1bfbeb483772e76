// What is wrong, in plain words with what to do where we know, and the verdict `status` exits with
// (the monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). The rules are listed
// in the README; each line here is one of them.
import { formatBytes, formatDuration } from '../config/units.ts';
import { isRefusal } from '../sources/uploads/facts.ts';
import type { StatusReport } from './report.ts';

export type Verdict = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';
export interface Problem {
  severity: 'critical' | 'warning';
  message: string;
}

export const EXIT_OF_VERDICT: Record<Verdict, number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

const HOUR_S = 3600;
const SKEW_LIMIT_MS = 120_000;
const LOW_DISK = 1e9;
const CRITICAL_DISK = 200e6;
/** A reset is a warning for a day: long enough to be seen at the next look, not a standing alarm. */
const RESET_SHOWN_MS = 24 * HOUR_S * 1000;

export function problemsOf(r: StatusReport, opts: { heartbeatIntervalMs: number; configFile: string }): Problem[] {
  const now = Date.parse(r.at);
  const out: Problem[] = [];
  const critical = (message: string) => out.push({ severity: 'critical', message });
  const warning = (message: string) => out.push({ severity: 'warning', message });
  const ago = (iso: string) => formatDuration(Math.max(0, now - Date.parse(iso)));

  if (!r.agent.running) critical('The agent is not running: nothing is uploaded or measured. Start it: sudo systemctl start booth-agent');
  else if (r.heartbeat.last && now - Date.parse(r.heartbeat.last) > 3 * opts.heartbeatIntervalMs) {
    warning(`The agent has not recorded a heartbeat for ${ago(r.heartbeat.last)}: it may be stuck. Restart it: sudo systemctl restart booth-agent`);
  }
  const s = r.shipping;
  if (s.auth_problem) critical(`OpenSearch rejects our credentials${s.last_error?.status ? ` (${s.last_error.status})` : ''}: check opensearch.auth in ${opts.configFile} and the secret file it names`);
  else if (s.configured && s.last_error && (!s.last_success || Date.parse(s.last_error.at) > Date.parse(s.last_success)) && s.queued > 0) {
    warning(`Shipping to OpenSearch fails since ${ago(s.last_error.at)}: ${s.last_error.message}`);
  }
  if (s.oldest_unsent_age_s > HOUR_S) warning(`Measurements wait to be shipped: the oldest is ${formatDuration(s.oldest_unsent_age_s * 1000)} old (${s.queued} queued)`);
  if (s.dead_letters > 0) warning(`${s.dead_letters} document${s.dead_letters === 1 ? ' was' : 's were'} refused by OpenSearch and kept aside: booth-agent export shows them`);
  if (s.dropped_total > 0) warning(`${s.dropped_total} measurement${s.dropped_total === 1 ? ' was' : 's were'} dropped to keep the buffer within its bounds (buffer.max_size, buffer.max_age)`);
  const n = r.network;
  if (n.online === false && n.since) {
    const long = now - Date.parse(n.since) > HOUR_S * 1000;
    const why = n.probes.find((p) => !p.ok && (p.role === 'upload' || p.role === 'opensearch'));
    (long ? critical : warning)(`Offline for ${ago(n.since)}${why ? `: ${why.error}` : ''}. Check the network cable or Wi-Fi`);
  }
  const u = r.uploads;
  // Each cause in its own words: a bad token, an unknown booking, a server in trouble, a bad file.
  const byCode = Object.entries(u.failing_codes).map(([code, n]) => ({ code, n, status: code === 'network' ? 0 : Number(code) }));
  const list = (items: { code: string; n: number }[]) => items.map((c) => `${c.n} × ${c.code === 'network' ? 'network error' : `HTTP ${c.code}`}`).join(', ');
  const count = (items: { n: number }[]) => items.reduce((sum, c) => sum + c.n, 0);
  const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`;
  const auth = byCode.filter((c) => c.status === 401 || c.status === 403);
  const refused = byCode.filter((c) => isRefusal(c.status) && !auth.includes(c));
  const failing = byCode.filter((c) => !auth.includes(c) && !refused.includes(c));
  if (auth.length > 0) critical(`The upload server refuses our credentials (${list(auth)}): check the token in uploads.header_files`);
  if (refused.length > 0) warning(`${files(count(refused))} refused by the upload server (${list(refused)}): check that the booking exists on the server`);
  if (failing.length > 0) warning(`${files(count(failing))} failing to upload (${list(failing)}); retried automatically`);
  const own = Object.entries(u.not_uploaded);
  if (own.length > 0) warning(`${files(own.reduce((sum, [, n]) => sum + n, 0))} not uploaded: ${own.map(([cause, n]) => `${n} × ${cause}`).join(', ')}`);
  for (const s of u.stale) warning(`${s.file} has waited ${ago(s.since)} to be uploaded and was never tried: is the agent stuck?`);
  if (u.slow && u.baseline_mb_s !== undefined) {
    warning(`Uploads are slow: ${u.last_speed_mb_s ?? '?'} MB/s against this booth's usual ${u.baseline_mb_s} MB/s`);
  }
  if (r.clock.skew_ms !== undefined && Math.abs(r.clock.skew_ms) > SKEW_LIMIT_MS) {
    warning(`The booth's clock is ${formatDuration(Math.abs(r.clock.skew_ms))} ${r.clock.skew_ms > 0 ? 'ahead' : 'behind'}: check time synchronisation (timedatectl)`);
  }
  const reset = r.buffer_reset;
  if (reset && now - Date.parse(reset.at) < RESET_SHOWN_MS) {
    const held = reset.documents_held !== undefined ? ` of ${reset.documents_held}` : '';
    warning(`The buffer database was damaged and replaced ${ago(reset.at)} ago (${reset.reason}): ${reset.recovered.documents}${held} unsent measurements were recovered; the old file is kept as ${reset.quarantined_path}`);
  }
  const free = r.disk.free_bytes;
  if (free !== undefined && free < CRITICAL_DISK) critical(`The disk is almost full: ${formatBytes(free)} free`);
  else if (free !== undefined && free < LOW_DISK) warning(`The disk is getting full: ${formatBytes(free)} free`);
  return out;
}

export function verdictOf(problems: readonly Problem[]): Verdict {
  if (problems.some((p) => p.severity === 'critical')) return 'CRITICAL';
  return problems.length > 0 ? 'WARNING' : 'OK';
}
