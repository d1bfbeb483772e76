// The facts a booth records that can explain a change in its upload speed, and when a fact has
// moved. Each threshold is set above what the fact does on an ordinary day (a Wi-Fi signal wanders
// by a few dB, a TLS handshake by tens of percent), so that a fact that "moved" moved for a reason.
// The upload's own duration and speed are not here: they are the symptom, not a cause.

export type FactValue = number | string;

export interface Fact {
  field: string;
  label: string;
  unit: string;
  kind: 'number' | 'keyword';
  /** Which side of the wire a change of it points to, said when (nearly) every booth shares it. */
  side: "the booths' own network" | 'the path to the server' | 'the server side' | 'the booths' | 'the fleet';
  /** +1 or −1 when it moved up or down (keywords: +1 when different), 0 when it did not. */
  moved(before: FactValue, after: FactValue): number;
}

/** Moved: a ratio of at least `ratio` and a difference of at least `min` (ms need both: 2 → 5 ms is noise). */
const ratio = (r: number, min = 0) => (a: FactValue, b: FactValue) => {
  const [x, y] = [Number(a), Number(b)];
  if (!(x > 0 && y > 0) || Math.abs(x - y) < min) return 0;
  return Math.max(x, y) / Math.min(x, y) >= r ? Math.sign(y - x) : 0;
};
const difference = (d: number) => (a: FactValue, b: FactValue) => (Math.abs(Number(b) - Number(a)) >= d ? Math.sign(Number(b) - Number(a)) : 0);
const changed = (a: FactValue, b: FactValue) => (a !== b ? 1 : 0);

const number = (field: string, label: string, unit: string, side: Fact['side'], moved: Fact['moved']): Fact => ({ field, label, unit, kind: 'number', side, moved });
const keyword = (field: string, label: string, side: Fact['side']): Fact => ({ field, label, unit: '', kind: 'keyword', side, moved: changed });

export const FACTS: readonly Fact[] = [
  number('network.interface.speed_mbps', 'link speed', 'Mbit/s', "the booths' own network", ratio(1.5)),
  keyword('network.interface.duplex', 'duplex', "the booths' own network"),
  keyword('network.interface.type', 'interface', "the booths' own network"),
  number('network.interface.mtu', 'MTU', 'bytes', "the booths' own network", ratio(1.01)),
  number('network.wifi.signal_dbm', 'Wi-Fi signal', 'dBm', "the booths' own network", difference(8)),
  // Only gateway probes carry a round trip and a loss (the other probes time their phases).
  number('network.probes.rtt_ms', 'gateway round trip', 'ms', "the booths' own network", ratio(2, 5)),
  number('network.probes.loss_pct', 'gateway loss', '%', "the booths' own network", difference(2)),
  keyword('network.gateway', 'gateway', "the booths' own network"),
  keyword('network.dns_servers', 'DNS server', "the booths' own network"),
  number('upload.timings.dns_ms', 'DNS time of the upload host', 'ms', 'the path to the server', ratio(2, 20)),
  number('upload.timings.tcp_ms', 'connect time to the upload host', 'ms', 'the path to the server', ratio(2, 20)),
  number('upload.timings.tls_ms', 'TLS handshake with the upload host', 'ms', 'the path to the server', ratio(2, 20)),
  number('upload.timings.first_byte_ms', 'time to first byte', 'ms', 'the server side', ratio(2, 50)),
  keyword('upload.server_address', 'upload server address', 'the server side'),
  keyword('agent.version', 'agent version', 'the fleet'),
  keyword('booth.region', 'region', 'the booths'),
  number('host.temperature_c', 'CPU temperature', '°C', 'the booths', difference(10)),
];

/** A value as the report shows it: "1000", "0.9", "-71", "full". */
export function formatFact(fact: Fact, v: FactValue): string {
  if (fact.kind === 'keyword') return String(v);
  const n = Number(v);
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? (Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1).replace(/\.0$/, '')) : n.toFixed(2).replace(/0$/, '').replace(/\.0$/, '');
}
