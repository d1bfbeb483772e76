// What the kernel says about the network, read straight from /proc and /sys: the default route and
// its gateway, the interface's kind, link speed, duplex, MTU and state, its byte, error and drop
// counters, and the Wi-Fi signal; and the resolvers of /etc/resolv.conf. Small files, read
// synchronously in microseconds — nothing here shells out, so nothing here can hang. The roots are
// parameters: tests inject readings through a fake tree.
import fs from 'node:fs';
import path from 'node:path';

export type InterfaceType = 'wired' | 'wireless' | 'cellular' | 'virtual' | 'unknown';
export type Duplex = 'full' | 'half' | 'unknown';

export interface InterfaceFacts {
  name: string;
  type: InterfaceType;
  /** Negotiated link speed; absent when the kernel does not know it (Wi-Fi, link down). */
  speed_mbps?: number;
  mtu?: number;
  operstate?: string;
  /** /sys/class/net/<if>/duplex; absent when it cannot be read (the kernel refuses it for a link that is down). */
  duplex?: Duplex;
  /** Whether the address came from DHCP: from the host facts (systeminformation), not the kernel. */
  dhcp?: boolean;
}

export interface Counters {
  rx_bytes: number;
  tx_bytes: number;
  errors: number;
  dropped: number;
}

export interface Signal {
  signal_dbm: number;
  /** Link quality, 0–100 %. */
  quality: number;
}

/** Where a sample's readings come from; the network source takes any implementation. */
export interface NetworkReadings {
  defaultRoute(): { iface: string; gateway?: string } | undefined;
  interfaceFacts(name: string): InterfaceFacts;
  counters(name: string): Counters | undefined;
  signal(name: string): Signal | undefined;
  /** The resolvers in use; absent where nothing says. */
  dnsServers?(): string[] | undefined;
}

/** systemd-resolved's local stub addresses: behind them, its own file names the real resolvers. */
const RESOLVED_STUBS = new Set(['127.0.0.53', '127.0.0.54']);
const MAX_DNS_SERVERS = 16;

export class KernelReadings implements NetworkReadings {
  private readonly proc: string;
  private readonly sys: string;
  private readonly etc: string;
  private readonly run: string;

  /**
   * HOST_PROC, HOST_SYS, HOST_ETC and HOST_RUN move the roots, as in gopsutil, Telegraf and
   * Metricbeat: an agent in a container reads the host's /proc and /sys where they are mounted (and
   * tests give a fake tree).
   */
  constructor(roots: { proc?: string; sys?: string; etc?: string; run?: string } = {}, env: NodeJS.ProcessEnv = process.env) {
    this.proc = roots.proc ?? env['HOST_PROC'] ?? '/proc';
    this.sys = roots.sys ?? env['HOST_SYS'] ?? '/sys';
    this.etc = roots.etc ?? env['HOST_ETC'] ?? '/etc';
    this.run = roots.run ?? env['HOST_RUN'] ?? '/run';
  }

  /** The route to 0.0.0.0/0 with the lowest metric (IPv4; /proc/net/route). */
  defaultRoute(): { iface: string; gateway?: string } | undefined {
    const text = readText(path.join(this.proc, 'net/route'));
    if (!text) return undefined;
    let best: { iface: string; gateway?: string; metric: number } | undefined;
    for (const line of text.split('\n').slice(1)) {
      const [iface, destination, gateway, flags, , , metric, mask] = line.trim().split(/\s+/);
      if (!iface || destination !== '00000000' || mask !== '00000000') continue;
      // RTF_UP
      if ((parseInt(flags ?? '0', 16) & 0x1) === 0) continue;
      const m = Number(metric);
      if (best && best.metric <= m) continue;
      const gw = gateway && gateway !== '00000000' ? hexToIPv4(gateway) : undefined;
      best = { iface, metric: m, ...(gw ? { gateway: gw } : {}) };
    }
    if (!best) return undefined;
    const { metric: _metric, ...route } = best;
    return route;
  }

  interfaceFacts(name: string): InterfaceFacts {
    const dir = path.join(this.sys, 'class/net', name);
    const speed = Number(readText(path.join(dir, 'speed')));
    const mtu = Number(readText(path.join(dir, 'mtu')));
    const operstate = readText(path.join(dir, 'operstate'))?.trim();
    const duplex = parseDuplex(readText(path.join(dir, 'duplex')));
    return {
      name,
      type: this.typeOf(name, dir),
      // The kernel reports -1 (or fails to read) when it does not know, e.g. Wi-Fi or a link that is down.
      ...(Number.isFinite(speed) && speed > 0 ? { speed_mbps: speed } : {}),
      ...(Number.isFinite(mtu) && mtu > 0 ? { mtu } : {}),
      ...(operstate ? { operstate } : {}),
      ...(duplex ? { duplex } : {}),
    };
  }

  /**
   * The nameservers of /etc/resolv.conf; when that names only systemd-resolved's local stub, the
   * upstream servers resolved itself uses (/run/systemd/resolve/resolv.conf) — the stub says nothing.
   */
  dnsServers(): string[] | undefined {
    const listed = nameservers(readText(path.join(this.etc, 'resolv.conf')));
    if (listed && listed.every((s) => RESOLVED_STUBS.has(s))) {
      const upstream = nameservers(readText(path.join(this.run, 'systemd/resolve/resolv.conf')));
      if (upstream) return upstream;
    }
    return listed;
  }

  counters(name: string): Counters | undefined {
    const dir = path.join(this.sys, 'class/net', name, 'statistics');
    const read = (f: string) => Number(readText(path.join(dir, f)) ?? NaN);
    const c = { rx_bytes: read('rx_bytes'), tx_bytes: read('tx_bytes'), errors: read('rx_errors') + read('tx_errors'), dropped: read('rx_dropped') + read('tx_dropped') };
    return Object.values(c).every(Number.isFinite) ? c : undefined;
  }

  /** Signal level and link quality of a wireless interface (/proc/net/wireless). */
  signal(name: string): Signal | undefined {
    const text = readText(path.join(this.proc, 'net/wireless'));
    if (!text) return undefined;
    for (const line of text.split('\n').slice(2)) {
      const m = /^\s*([^:\s]+):\s+\S+\s+(-?[\d.]+)\.?\s+(-?[\d.]+)\.?/.exec(line);
      if (!m || m[1] !== name) continue;
      const link = Number(m[2]);
      const level = Number(m[3]);
      // Quality is out of 70 in most drivers; levels above 0 are old drivers' unsigned dBm.
      return { signal_dbm: level > 0 ? level - 256 : level, quality: Math.max(0, Math.min(100, Math.round((link / 70) * 100))) };
    }
    return undefined;
  }

  private typeOf(name: string, dir: string): InterfaceType {
    if (fs.existsSync(path.join(dir, 'wireless')) || fs.existsSync(path.join(dir, 'phy80211'))) return 'wireless';
    const devtype = /^DEVTYPE=(\S+)/m.exec(readText(path.join(dir, 'uevent')) ?? '')?.[1];
    if (devtype === 'wwan' || /^(wwan|usb|ppp|rmnet|wwp)/.test(name)) return 'cellular';
    if (devtype === 'wlan') return 'wireless';
    if (!fs.existsSync(path.join(dir, 'device'))) return name === 'lo' || /^(veth|docker|br-|virbr|tun|tap|wg|ifb)/.test(name) ? 'virtual' : 'unknown';
    return 'wired';
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The `nameserver` lines of a resolv.conf, in order, without repeats (an IPv6 zone index kept). */
function nameservers(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+([^\s#;]{1,64})(?:\s|[#;]|$)/.exec(line);
    if (m && !servers.includes(m[1]!)) servers.push(m[1]!);
  }
  return servers.length > 0 ? servers.slice(0, MAX_DNS_SERVERS) : undefined;
}

/** The kernel writes full, half or unknown. */
export function parseDuplex(text: string | undefined): Duplex | undefined {
  const v = text?.trim().toLowerCase();
  return v === 'full' || v === 'half' || v === 'unknown' ? v : undefined;
}

/** /proc/net/route writes addresses as little-endian hex. */
function hexToIPv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}
