// `booth-agent probe`: one network-health sample now, for the technician at the booth — the
// interface, Wi-Fi, and every probe with its times or its error in words. Exit 0 online, 1
// degraded (online, but something failed on the way), 2 offline. Measures only: records nothing,
// so it runs beside the daemon.
import { printableDeep } from '../printable.ts';
import { NetworkSource, networkOptions, type NetworkSample } from '../sources/network/source.ts';
import type { ProbeResult } from '../sources/network/probe.ts';
import { CONFIG_OPTION, type Command } from './command.ts';
import { configFor } from './config-for-command.ts';

type Verdict = 'online' | 'degraded' | 'offline';
const EXIT_OF: Record<Verdict, number> = { online: 0, degraded: 1, offline: 2 };

export const probeCommand: Command = {
  summary: 'run one network-health probe now and print it (exit 0 online, 1 degraded, 2 offline)',
  usage: 'booth-agent probe [--config PATH] [--json]',
  options: { ...CONFIG_OPTION, json: { type: 'boolean' } },
  async run(ctx) {
    const { config } = configFor(ctx);
    const sample = await new NetworkSource(networkOptions(config)).sample();
    const verdict = judge(sample);
    if (ctx.values['json']) ctx.stdout.write(`${JSON.stringify({ booth: config.booth.id, verdict, ...sample, at: new Date(sample.at).toISOString() })}\n`);
    else ctx.stdout.write(render(config.booth.id, printableDeep(sample), verdict));
    return EXIT_OF[verdict];
  },
};

/** Offline: upload or ingest host unreachable. Degraded: online, but another probe failed, or pings were lost. */
export function judge(s: NetworkSample): Verdict {
  if (!s.online) return 'offline';
  const troubled = s.probes.some((p) => !p.ok || (p.loss_pct ?? 0) > 0) || (s.errors ?? 0) > 0;
  return troubled ? 'degraded' : 'online';
}

function render(booth: string, s: NetworkSample, verdict: Verdict): string {
  const lines = [`Network of booth ${booth}: ${verdict.toUpperCase()}`, ''];
  const i = s.interface;
  lines.push(
    i
      ? `  interface   ${i.name} (${i.type}${i.speed_mbps ? `, ${i.speed_mbps} Mbit/s` : ''}${i.mtu ? `, MTU ${i.mtu}` : ''}${i.operstate ? `, ${i.operstate}` : ''})`
      : '  interface   none: no default route (cable out? Wi-Fi not joined?)',
  );
  if (s.wifi) {
    const w = s.wifi;
    lines.push(`  Wi-Fi       ${w.ssid ? `"${w.ssid}"` : 'name unknown'}${w.signal_dbm !== undefined ? `, signal ${w.signal_dbm} dBm (${w.quality} %)${w.signal_dbm < -70 ? ' — weak' : ''}` : ''}`);
  }
  const width = Math.max(...s.probes.map((p) => p.target.length), 10);
  for (const p of s.probes) lines.push(`  ${p.role.padEnd(11)} ${p.target.padEnd(width)}  ${p.ok ? 'ok    ' : 'FAILED'}  ${details(p)}`);
  if (s.probes.length === 0) lines.push('  (nothing to probe)');
  return `${lines.join('\n')}\n`;
}

function details(p: ProbeResult): string {
  if (!p.ok && p.error) return p.error;
  const parts: string[] = [];
  if (p.rtt_ms !== undefined) parts.push(`round trip ${p.rtt_ms} ms`);
  if (p.loss_pct !== undefined) parts.push(`loss ${p.loss_pct} %`);
  if (p.dns_ms !== undefined) parts.push(`DNS ${p.dns_ms} ms`);
  if (p.connect_ms !== undefined) parts.push(`connect ${p.connect_ms} ms`);
  if (p.tls_ms !== undefined) parts.push(`TLS ${p.tls_ms} ms`);
  return parts.join(', ');
}
