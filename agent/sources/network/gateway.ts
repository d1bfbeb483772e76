// The gateway probe: round-trip time and loss of a few pings to the default gateway — the first hop
// tells a weak Wi-Fi link or a bad cable apart from a slow server. `ping` runs as a child process
// with a hard timeout (../command.ts).
import { runCommand } from '../command.ts';
import type { ProbeResult } from './probe.ts';

const COUNT = 3;

export async function pingGateway(gateway: string, timeoutMs: number): Promise<ProbeResult> {
  const waitS = Math.max(1, Math.floor(timeoutMs / 1000 / 2));
  const r = await runCommand('ping', ['-n', '-c', String(COUNT), '-i', '0.2', '-W', String(waitS), gateway], timeoutMs);
  const result: ProbeResult = { role: 'gateway', target: gateway, ok: false };
  const sent = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
  if (sent) result.loss_pct = Math.round((1 - Number(sent[2]) / Number(sent[1])) * 1000) / 10;
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  if (rtt) result.rtt_ms = Number(rtt[1]);
  result.ok = sent !== null && Number(sent[2]) > 0;
  if (!result.ok) result.error = sent ? `the gateway ${gateway} did not answer ${COUNT} pings` : (r.error ?? `ping ${gateway} printed nothing readable`);
  return result;
}
