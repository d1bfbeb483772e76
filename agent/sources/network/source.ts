// The network source (SPEC §5 "Network health"): every network.interval a booth.network document —
// the default interface and its link, Wi-Fi signal, traffic and error counters, and probes of the
// gateway, the upload host, the OpenSearch host and network.targets — and the events an operator
// needs to answer "why were uploads slow?": connectivity_lost, connectivity_restored (with the
// outage's length, across restarts) and interface_changed, each once per change.
//
//   readings (/proc, /sys, resolv.conf) + probes (probe.ts, gateway.ts, wifi.ts)
//     + host facts (DHCP, duplex where /sys has none; a child process, ../host-facts) → sample → document + events
import type { DocumentBuffer } from '../../buffer/buffer.ts';
import { STATE_KEYS } from '../../buffer/state-keys.ts';
import type { Config } from '../../config/schema.ts';
import { formatDuration } from '../../config/units.ts';
import type { Logger } from '../../log/logger.ts';
import type { Recorder } from '../recorder.ts';
import type { Source } from '../source.ts';
import type { Moment } from '../uploads/bookings.ts';
import type { HostFacts } from '../host-facts/host-facts.ts';
import { pingGateway } from './gateway.ts';
import { parseTarget, probe, type ProbeResult, type ProbeTarget } from './probe.ts';
import { KernelReadings, type Counters, type InterfaceFacts, type NetworkReadings } from './readings.ts';
import { wifiSsid } from './wifi.ts';

export interface NetworkSourceOptions {
  intervalMs: number;
  probeTimeoutMs: number;
  /** The upload host, the OpenSearch host (when configured) and network.targets. */
  targets: ProbeTarget[];
}

/** What the sample needs from the world; tests replace any of it. */
export interface NetworkProviders {
  readings?: NetworkReadings;
  gateway?: (gateway: string, timeoutMs: number) => Promise<ProbeResult>;
  ssid?: (iface: string, timeoutMs: number) => Promise<string | undefined>;
  /** The host facts (systeminformation, in a child process): DHCP, duplex where /sys has none, the gateway. */
  hostFacts?: Pick<HostFacts, 'latest' | 'forInterface'>;
}

export interface NetworkSample {
  at: number;
  online: boolean;
  interface?: InterfaceFacts;
  /** The default gateway's address. */
  gateway?: string;
  dns_servers?: string[];
  wifi?: { ssid?: string; signal_dbm?: number; quality?: number };
  rx_bytes_per_s?: number;
  tx_bytes_per_s?: number;
  /** Since the previous sample of the same interface. */
  errors?: number;
  dropped?: number;
  probes: ProbeResult[];
}

interface Connectivity {
  online: boolean;
  /** When it last changed (ms epoch): the start of an outage. */
  since: number;
}

/** The source's options from the config: the upload host, the OpenSearch host, network.targets. */
export function networkOptions(config: Config): NetworkSourceOptions {
  const targets = [
    parseTarget('upload', config.uploads.url),
    config.opensearch.url ? parseTarget('opensearch', config.opensearch.url) : undefined,
    ...config.network.targets.map((t) => parseTarget('target', t)),
  ].filter((t): t is ProbeTarget => t !== undefined);
  return { intervalMs: config.network.interval, probeTimeoutMs: config.network.probe_timeout, targets };
}

const STATE = { connectivity: STATE_KEYS.networkConnectivity, interface: STATE_KEYS.networkInterface, latest: STATE_KEYS.networkLatest } as const;

export class NetworkSource implements Source {
  readonly name = 'network';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private last: NetworkSample | undefined;
  private lastCounters: { name: string; at: number; counters: Counters } | undefined;
  private readonly readings: NetworkReadings;
  private readonly gateway: NonNullable<NetworkProviders['gateway']>;
  private readonly ssid: NonNullable<NetworkProviders['ssid']>;
  private readonly hostFacts: NonNullable<NetworkProviders['hostFacts']>;
  private readonly opts: NetworkSourceOptions;
  private readonly recorder: Recorder | undefined;
  private readonly buffer: DocumentBuffer | undefined;
  private readonly logger: Logger | undefined;

  /** Without recorder and buffer it only measures (the `probe` command). */
  constructor(opts: NetworkSourceOptions, context: { recorder?: Recorder; buffer?: DocumentBuffer; logger?: Logger } = {}, providers: NetworkProviders = {}) {
    this.opts = opts;
    this.recorder = context.recorder;
    this.buffer = context.buffer;
    this.logger = context.logger;
    this.readings = providers.readings ?? new KernelReadings();
    this.gateway = providers.gateway ?? pingGateway;
    this.ssid = providers.ssid ?? wifiSsid;
    this.hostFacts = providers.hostFacts ?? { latest: () => undefined, forInterface: () => undefined };
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.sampleAndRecord().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A sample in flight ends within the probe timeout.
    await this.running;
  }

  /** The latest sample: for the heartbeat, status and upload documents. */
  latest(): NetworkSample | undefined {
    return this.last;
  }

  /** The network of this moment, as upload documents and speed events carry it. */
  moment(): Moment | undefined {
    const s = this.last;
    if (!s) return undefined;
    if (!s.interface) return { network: { online: s.online } };
    // The interface's facts as sampled (absent ones stay absent), less its operstate.
    const { operstate: _operstate, ...iface } = s.interface;
    return { network: { online: s.online, interface: iface } };
  }

  /** One measurement, recorded nowhere. */
  async sample(): Promise<NetworkSample> {
    const at = Date.now();
    const route = this.readings.defaultRoute();
    const facts = route ? this.withHostFacts(this.readings.interfaceFacts(route.iface)) : undefined;
    const gateway = route?.gateway ?? (route ? this.hostFacts.latest()?.gateway : undefined);
    const dns = this.readings.dnsServers?.();
    const timeout = this.opts.probeTimeoutMs;
    const [probes, ssid] = await Promise.all([
      Promise.all([...(route?.gateway ? [this.gateway(route.gateway, timeout)] : []), ...this.opts.targets.map((t) => probe(t, timeout))]),
      facts?.type === 'wireless' ? this.ssid(facts.name, timeout).catch(() => undefined) : Promise.resolve(undefined),
    ]);
    const sample: NetworkSample = { at, online: isOnline(probes), probes };
    if (gateway) sample.gateway = gateway;
    if (dns) sample.dns_servers = dns;
    if (facts) {
      sample.interface = facts;
      Object.assign(sample, this.traffic(facts.name, at));
      if (facts.type === 'wireless') {
        const signal = this.readings.signal(facts.name);
        if (signal || ssid) sample.wifi = { ...(ssid ? { ssid } : {}), ...signal };
      }
    }
    return sample;
  }

  /** DHCP from the host facts, and their duplex where /sys could not say. */
  private withHostFacts(facts: InterfaceFacts): InterfaceFacts {
    const more = this.hostFacts.forInterface(facts.name);
    if (!more) return facts;
    const merged = { ...facts };
    if (merged.duplex === undefined && more.duplex) merged.duplex = more.duplex;
    if (more.dhcp !== undefined) merged.dhcp = more.dhcp;
    return merged;
  }

  private traffic(name: string, at: number): Partial<NetworkSample> {
    const counters = this.readings.counters(name);
    const prev = this.lastCounters;
    if (!counters) return {};
    this.lastCounters = { name, at, counters };
    if (!prev || prev.name !== name || at <= prev.at) return {};
    const seconds = (at - prev.at) / 1000;
    const delta = (k: keyof Counters) => counters[k] - prev.counters[k];
    // Counters that went backwards were reset (driver reload): no figures rather than negative ones.
    if ((['rx_bytes', 'tx_bytes', 'errors', 'dropped'] as const).some((k) => delta(k) < 0)) return {};
    return {
      rx_bytes_per_s: Math.round(delta('rx_bytes') / seconds),
      tx_bytes_per_s: Math.round(delta('tx_bytes') / seconds),
      errors: delta('errors'),
      dropped: delta('dropped'),
    };
  }

  private async sampleAndRecord(): Promise<void> {
    try {
      const sample = await this.sample();
      this.last = sample;
      this.record(sample);
    } catch (err) {
      this.logger?.error('network sample failed', { error: err });
    }
  }

  private record(s: NetworkSample): void {
    if (!this.recorder || !this.buffer) return;
    const network: Record<string, unknown> = { online: s.online, probes: s.probes };
    if (s.interface) network['interface'] = s.interface;
    for (const k of ['gateway', 'dns_servers', 'wifi', 'rx_bytes_per_s', 'tx_bytes_per_s', 'errors', 'dropped'] as const) if (s[k] !== undefined) network[k] = s[k];
    const docs = [this.recorder.make('booth.network', { network })];
    const connectivity = this.connectivityChange(s);
    const iface = this.interfaceChange(s);
    if (connectivity.event) docs.push(connectivity.event);
    if (iface.event) docs.push(iface.event);
    this.recorder.record(docs, (tx) => {
      tx.setState(STATE.connectivity, connectivity.next);
      tx.setState(STATE.latest, s);
      if (s.interface) tx.setState(STATE.interface, iface.next);
    });
  }

  private connectivityChange(s: NetworkSample): { event?: ReturnType<Recorder['event']>; next: Connectivity } {
    const prev = this.buffer!.getState<Connectivity>(STATE.connectivity);
    if (prev && prev.online === s.online) return { next: prev };
    const next = { online: s.online, since: s.at };
    const failing = s.probes.filter((p) => !p.ok && p.role !== 'gateway' && p.role !== 'target');
    if (!s.online) {
      const why = failing.map((p) => `${p.role}: ${p.error}`).join('; ');
      const message = `Offline: ${why || 'no probe answered'}`;
      this.logger?.warn(message, { probes: failing });
      return { next, event: this.recorder!.event('connectivity_lost', message, { network: { online: false, ...this.ifaceField(s) } }) };
    }
    // First sample ever, and online: nothing happened.
    if (!prev) return { next };
    const duration = s.at - prev.since;
    const message = `Back online after ${formatDuration(duration)} (offline since ${new Date(prev.since).toISOString()})`;
    this.logger?.info(message, { duration_ms: duration });
    return { next, event: this.recorder!.event('connectivity_restored', message, { network: { online: true, ...this.ifaceField(s) }, event: { duration_ms: duration } }) };
  }

  private interfaceChange(s: NetworkSample): { event?: ReturnType<Recorder['event']>; next?: InterfaceFacts } {
    if (!s.interface) return {};
    const prev = this.buffer!.getState<InterfaceFacts>(STATE.interface);
    const now = s.interface;
    if (!prev || (prev.name === now.name && prev.type === now.type && prev.speed_mbps === now.speed_mbps)) return { next: now };
    const message =
      prev.name === now.name && prev.type === now.type
        ? `Link speed of ${now.name} changed from ${speed(prev)} to ${speed(now)}`
        : `Network interface changed from ${describeIface(prev)} to ${describeIface(now)}`;
    this.logger?.warn(message, { interface: now, previous_interface: prev });
    return { next: now, event: this.recorder!.event('interface_changed', message, { network: { online: s.online, interface: now, previous_interface: prev } }) };
  }

  private ifaceField(s: NetworkSample): { interface?: InterfaceFacts } {
    return s.interface ? { interface: s.interface } : {};
  }
}

/** Online: the upload host and (when configured) the OpenSearch host are reachable. */
function isOnline(probes: ProbeResult[]): boolean {
  const essential = probes.filter((p) => p.role === 'upload' || p.role === 'opensearch');
  return essential.length > 0 && essential.every((p) => p.ok);
}

function speed(i: InterfaceFacts): string {
  return i.speed_mbps ? `${i.speed_mbps} Mbit/s` : 'an unknown speed';
}

function describeIface(i: InterfaceFacts): string {
  return `${i.name} (${i.type}${i.speed_mbps ? `, ${i.speed_mbps} Mbit/s` : ''})`;
}
