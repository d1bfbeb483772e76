// The host-facts child: a process of its own, run by host-facts.ts every network.host_facts_interval
// and killed if it does not answer in time. It asks systeminformation for what /proc and /sys do not
// say cheaply — the machine's maker, model and serial, the CPU temperature, each interface's DHCP and
// duplex, the default gateway — prints them as one JSON line on stdout and exits.
//
// systeminformation's Linux network calls run shell commands synchronously, without a timeout (ip,
// nmcli, iw; systeminformation#1044): a hung nmcli blocks whatever process asked. So only this child
// loads it — the agent never imports this module (nor systeminformation: its 800 KB of source would
// sit in the agent's heap for a call every 15 minutes). In the bundle this is its own file,
// booth-agent-host-facts.mjs, beside booth-agent.mjs (scripts/agent-module.ts).
import si from 'systeminformation';
import { parseDuplex } from '../network/readings.ts';
import type { CollectedFacts, InterfaceHostFacts } from './host-facts.ts';

/** What DMI and boards write when the maker left the field empty: no fact at all. */
const PLACEHOLDER = /^(|-|0+|none|n\/a|unknown|not specified|not applicable|default string|system (product name|manufacturer|serial number)|to be filled by o\.?e\.?m\.?|o\.?e\.?m\.?|123456789|chassis serial number)$/i;

function text(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.replace(/\s+/g, ' ').trim();
  return PLACEHOLDER.test(t) ? undefined : t.slice(0, 256);
}

const MAX_INTERFACES = 64;
const errors: string[] = [];

async function call<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    errors.push(`${name}: ${(err as Error)?.message ?? String(err)}`.slice(0, 300));
    return undefined;
  }
}

const started = performance.now();
const [system, temperature, nics, gateway] = await Promise.all([
  call('system', () => si.system()),
  call('cpuTemperature', () => si.cpuTemperature()),
  call('networkInterfaces', () => si.networkInterfaces()),
  call('networkGatewayDefault', () => si.networkGatewayDefault()),
]);

const facts: CollectedFacts = {};
if (system) {
  const s = { manufacturer: text(system.manufacturer), model: text(system.model), serial: text(system.serial) };
  const known = Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
  if (Object.keys(known).length > 0) facts.system = known;
}
const celsius = temperature?.main ?? temperature?.max;
if (typeof celsius === 'number' && Number.isFinite(celsius) && celsius > -50 && celsius < 150) facts.cpu_temperature_c = Math.round(celsius * 10) / 10;
if (typeof gateway === 'string' && gateway.trim()) facts.gateway = gateway.trim().slice(0, 64);
if (nics) {
  const interfaces: Record<string, InterfaceHostFacts> = {};
  // The default interface first; a host with hundreds of container interfaces does not need them all.
  const list = (Array.isArray(nics) ? nics : [nics]).filter((n) => n?.iface && !n.internal).sort((a, b) => Number(b.default) - Number(a.default));
  for (const n of list.slice(0, MAX_INTERFACES)) {
    const i: InterfaceHostFacts = {};
    const d = parseDuplex(typeof n.duplex === 'string' ? n.duplex : undefined);
    if (d) i.duplex = d;
    if (typeof n.dhcp === 'boolean') i.dhcp = n.dhcp;
    if (typeof n.speed === 'number' && n.speed > 0) i.speed_mbps = n.speed;
    if (typeof n.mtu === 'number' && n.mtu > 0) i.mtu = n.mtu;
    if (typeof n.type === 'string' && n.type) i.type = n.type;
    if (n.default) i.default = true;
    interfaces[n.iface.slice(0, 64)] = i;
  }
  facts.interfaces = interfaces;
}
if (errors.length > 0) facts.errors = errors;
facts.took_ms = Math.round(performance.now() - started);
facts.max_rss_bytes = process.resourceUsage().maxRSS * 1024;
// Exit at once: systeminformation may leave timers behind, and the parent waits for the exit.
process.stdout.write(`${JSON.stringify(facts)}\n`, () => process.exit(0));
