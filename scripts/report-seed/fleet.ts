// A fleet's history to prove `booth-agent report` on (issue 18): the documents 200 booths in three
// countries would have written over 90 days, made with the agent's own document schema, with three
// events injected that the report must find — and nothing else it may find:
//   (a) from day 61, 40 booths of us-east upload at ~0.9 MB/s instead of ~12: their link came up at
//       100 Mbit/s instead of 1000 (a switch replaced, a cable crushed) — a step, same day, one cause;
//   (b) on day 75 the upload server answers 20× slower (time to first byte) for one day, on every
//       booth — a one-day fleet-wide incident, the server's side;
//   (c) one Wi-Fi booth whose signal fades over three weeks from day 40 (a new wall, a moved
//       router), its speed with it — a gradual decline.
// Everything else is the ordinary life of a fleet: more bookings at weekends, days without any,
// booths stored away for a week or two, an agent upgrade rolled out over three days, noise on
// every figure. Same seed, same documents (ids included): seeding twice stores everything once.
import { v7 as uuidv7 } from 'uuid';
import type { BoothDocument, Dataset } from '../../shared/documents/schema.ts';
import { validateDocument } from '../../shared/documents/validate.ts';
import { mulberry32 } from '../../test/support/random.ts';

export interface FleetSpec {
  seed: number;
  days: number;
  booths: number;
  /** The first day, 00:00 UTC (ms). */
  start: number;
  /** Inject events a, b and c. */
  events: boolean;
  /** Images per booking, at most (a real booking has hundreds; the report needs a few a day). */
  maxImages: number;
}

export const DEFAULT_FLEET: Omit<FleetSpec, 'start'> = { seed: 18, days: 90, booths: 200, events: true, maxImages: 6 };

const DAY = 86_400_000;
const HOUR = 3_600_000;

export interface FleetBooth {
  id: string;
  country: string;
  region: string;
  wireless: boolean;
  /** The upload rate of its link on a good day, MB/s. */
  rate: number;
  /** Days it is stored away (no documents at all). */
  away: Set<number>;
}

/** What the fleet was made with and what the report must find in it. */
export interface FleetTruth {
  booths: FleetBooth[];
  /** (a): the booths whose link dropped to 100 Mbit/s, from `dropDay`. */
  dropped: string[];
  dropDay: number;
  /** (b) */
  incidentDay: number;
  /** (c): the booth whose Wi-Fi faded from `fadeFrom` to `fadeUntil`. */
  faded: string;
  fadeFrom: number;
  fadeUntil: number;
  events: boolean;
}

const EVENT_A = { day: 61, booths: 40, region: 'us-east' };
const EVENT_B = { day: 75, factor: 20 };
const EVENT_C = { from: 40, days: 21 };
const UPGRADE = { from: 20, days: 3, before: '0.9.2', after: '0.10.0' };
const UPLOAD_HOST = 'upload.photobooth.example';
const UPLOAD_ADDRESS = '198.51.100.20';

/** The booths and the truth about them; the documents come from `fleetDocuments`. */
export function planFleet(spec: FleetSpec): FleetTruth {
  const rnd = mulberry32(spec.seed);
  const places = [
    { country: 'US', region: 'us-east', share: 0.35 },
    { country: 'US', region: 'us-west', share: 0.25 },
    { country: 'FR', region: 'fr-idf', share: 0.25 },
    { country: 'DE', region: 'de-by', share: 0.15 },
  ];
  const booths: FleetBooth[] = [];
  for (let i = 0; i < spec.booths; i++) {
    let r = (i + 0.5) / spec.booths;
    const place = places.find((p) => (r -= p.share) < 0) ?? places[places.length - 1]!;
    const wireless = rnd() < 0.15;
    const away = new Set<number>();
    // One booth in six is stored away once, for 3–12 days, well clear of the events' days so that
    // the truth stays checkable (a booth away on day 61 could only be dated on its return).
    if (rnd() < 1 / 6) {
      const length = 3 + Math.floor(rnd() * 10);
      const from = 3 + Math.floor(rnd() * Math.max(1, Math.min(spec.days, 36) - length - 3));
      for (let d = from; d < from + length; d++) away.add(d);
    }
    booths.push({ id: `FB-${String(1001 + i)}`, country: place.country, region: place.region, wireless, rate: wireless ? 7 + rnd() * 4 : 13 + rnd() * 4, away });
  }
  const candidates = booths.filter((b) => b.region === EVENT_A.region && !b.wireless);
  const dropped = spec.events ? candidates.slice(0, EVENT_A.booths).map((b) => b.id) : [];
  const faded = booths.find((b) => b.wireless && b.region !== EVENT_A.region)?.id ?? '';
  return { booths, dropped, dropDay: EVENT_A.day, incidentDay: EVENT_B.day, faded: spec.events ? faded : '', fadeFrom: EVENT_C.from, fadeUntil: EVENT_C.from + EVENT_C.days - 1, events: spec.events };
}

/** What a booth's network was like on a day: the facts its documents carry. */
interface BoothDay {
  linkMbps: number | undefined;
  signalDbm: number | undefined;
  /** Upload rate on the wire, MB/s. */
  rate: number;
  firstByteMs: number;
  version: string;
}

function boothDay(b: FleetBooth, d: number, truth: FleetTruth, rnd: () => number): BoothDay {
  const dropped = d >= truth.dropDay && truth.dropped.includes(b.id);
  let signal = b.wireless ? -52 - rnd() * 6 : undefined;
  let rate = b.rate;
  if (b.id === truth.faded && d >= truth.fadeFrom) {
    // The signal falls by ~1.3 dB a day for three weeks, then stays; the rate halves every ~7 dB.
    const fallen = Math.min(d, truth.fadeUntil + 1) - truth.fadeFrom;
    signal = signal! - fallen * 1.3;
    rate = b.rate * 2 ** (-(fallen * 1.3) / 7);
  }
  if (dropped) rate = 0.95 + rnd() * 0.1;
  const upgraded = d >= UPGRADE.from + (parseInt(b.id.slice(3), 10) % UPGRADE.days);
  return {
    linkMbps: b.wireless ? undefined : dropped ? 100 : 1000,
    signalDbm: signal,
    rate,
    firstByteMs: (30 + rnd() * 20) * (truth.events && d === truth.incidentDay ? EVENT_B.factor : 1),
    version: upgraded ? UPGRADE.after : UPGRADE.before,
  };
}

/**
 * The fleet's documents, day by day, in time order within each booth-day. `spec.events` false
 * gives the same fleet's ordinary life with nothing injected.
 */
export function* fleetDocuments(spec: FleetSpec, truth = planFleet(spec)): Generator<BoothDocument> {
  const rnd = mulberry32(spec.seed ^ 0x5eed);
  const ids = (at: number) => uuidv7({ msecs: at, random: Uint8Array.from({ length: 16 }, () => Math.floor(rnd() * 256)) });
  for (let d = 0; d < spec.days; d++) {
    const weekday = new Date(spec.start + d * DAY).getUTCDay();
    const weekend = weekday === 0 || weekday === 6 || weekday === 5;
    for (const b of truth.booths) {
      if (b.away.has(d)) continue;
      const day = boothDay(b, d, truth, rnd);
      const booth = { id: b.id, country: b.country, region: b.region };
      const agent = { version: day.version };
      const iface = { name: b.wireless ? 'wlan0' : 'eth0', type: b.wireless ? 'wireless' : 'wired', ...(day.linkMbps ? { speed_mbps: day.linkMbps, duplex: 'full' } : {}), mtu: 1500, dhcp: true };
      const make = (dataset: Dataset, at: number, fields: Record<string, unknown>): BoothDocument =>
        checked({ '@timestamp': new Date(at).toISOString(), event: { id: ids(at), dataset }, booth, agent, ...fields });
      // The booth is on from 09:00 to 23:00: a heartbeat and a network sample twice a day stand in
      // for the every-30-seconds and every-minute ones of a real booth (the report reads them per day).
      for (const hour of [9, 21]) {
        const at = spec.start + d * DAY + hour * HOUR + Math.floor(rnd() * HOUR);
        yield make('booth.heartbeat', at, { agent: { ...agent, uptime_s: (hour - 9) * 3600 + 60, boot_id: `${b.id}-${d}` }, host: { temperature_c: round(48 + rnd() * 8, 1) }, network: { online: true } });
        yield make('booth.network', at + 1000, {
          network: {
            online: true,
            interface: iface,
            ...(day.signalDbm !== undefined ? { wifi: { ssid: 'venue', signal_dbm: round(day.signalDbm + (rnd() - 0.5) * 3, 0), quality: Math.max(0, Math.min(100, Math.round(2 * (day.signalDbm + 100)))) } } : {}),
            gateway: '192.168.1.1',
            dns_servers: ['192.168.1.1'],
            probes: [
              { role: 'gateway', target: '192.168.1.1', ok: true, rtt_ms: round(1 + rnd() * 2, 2), loss_pct: 0 },
              { role: 'upload', target: `${UPLOAD_HOST}:443`, ok: true, dns_ms: round(5 + rnd() * 15, 1), connect_ms: round(20 + rnd() * 15, 1), tls_ms: round(40 + rnd() * 30, 1) },
            ],
          },
        });
      }
      const mean = weekend ? 2.5 : 0.8;
      const bookings = poisson(mean, rnd);
      for (let k = 0; k < bookings; k++) {
        const bookingAt = spec.start + d * DAY + (11 + Math.floor(rnd() * 11)) * HOUR + Math.floor(rnd() * HOUR);
        const bookingId = `${b.id}-${d}-${k}`;
        const images = 2 + Math.floor(rnd() * (spec.maxImages - 1));
        let at = bookingAt;
        let bytesTotal = 0;
        let busyMs = 0;
        const speeds: number[] = [];
        for (let i = 0; i < images; i++) {
          const bytes = Math.round(2_500_000 + rnd() * 2_500_000);
          const timings = { dns_ms: round(5 + rnd() * 15, 1), tcp_ms: round(20 + rnd() * 15, 1), tls_ms: round(40 + rnd() * 30, 1), first_byte_ms: round(day.firstByteMs * (0.8 + rnd() * 0.4), 1) };
          const transferMs = (bytes / 1e6 / (day.rate * (0.88 + rnd() * 0.24))) * 1000;
          const durationMs = round(timings.tcp_ms + timings.tls_ms + transferMs + timings.first_byte_ms, 1);
          const speed = round(bytes / 1e6 / (durationMs / 1000), 3);
          at += 20_000 + Math.floor(rnd() * 40_000);
          bytesTotal += bytes;
          busyMs += durationMs;
          speeds.push(speed);
          yield make('booth.upload', at, {
            booking: { id: bookingId },
            file: { name: `IMG_${String(i + 1).padStart(4, '0')}.jpg`, size: bytes },
            upload: { outcome: 'success', bytes, duration_ms: durationMs, speed_mb_s: speed, attempt: 1, timings: { ...timings, total_ms: round(timings.dns_ms + durationMs, 1) }, url_host: UPLOAD_HOST, server_address: UPLOAD_ADDRESS },
            http: { response: { status_code: 201 } },
            network: { interface: iface },
          });
        }
        const seconds = (at - bookingAt) / 1000;
        speeds.sort((x, y) => x - y);
        yield make('booth.booking', at + 5_000, {
          booking: {
            id: bookingId,
            count_images: images,
            size_bytes: bytesTotal,
            size_in_kb: round(bytesTotal / 1024, 1),
            duration_in_seconds: round(seconds, 1),
            speed_in_mb_s: round(bytesTotal / 1e6 / (busyMs / 1000), 3),
            failed_images: 0,
            image_speed_p50_mb_s: speeds[speeds.length >> 1]!,
            image_speed_p10_mb_s: speeds[Math.floor(speeds.length / 10)]!,
          },
        });
      }
    }
  }
}

/** Every generated document must be one a booth could have written: the agent's own schema says. */
function checked(doc: Record<string, unknown>): BoothDocument {
  const v = validateDocument(doc);
  if (!v.ok) throw new Error(`a generated document does not fit the agent's schema: ${v.reason}`);
  return v.doc;
}

function poisson(mean: number, rnd: () => number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rnd(); p > limit; p *= rnd()) k++;
  return k;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
