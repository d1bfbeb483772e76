// Sample documents of each dataset, about 500 bytes like real ones, for buffer tests and benchmarks.
import type { BoothDocument, Dataset } from '../../shared/documents/schema.ts';
import { makeDocument, type BoothIdentity } from '../../shared/documents/stamp.ts';

export const BOOTH: BoothIdentity = { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2' } };

const FIELDS: Record<Dataset, (i: number) => Record<string, unknown>> = {
  'booth.upload': (i) => ({
    booking: { id: '4711' },
    file: { name: `IMG_${String(i).padStart(5, '0')}.jpg`, size: 3_456_789 },
    upload: {
      outcome: 'success',
      bytes: 3_456_789,
      duration_ms: 288.1,
      speed_mb_s: 11.99,
      attempt: 1,
      timings: { dns_ms: 1.2, tcp_ms: 3.4, tls_ms: 12.5, first_byte_ms: 300.2, total_ms: 301.5 },
    },
    http: { response: { status_code: 201 } },
  }),
  'booth.booking': (i) => ({
    booking: { id: `B${i}`, count_images: 389, size_bytes: 1_300_000_000, size_in_kb: 1_300_000, duration_in_seconds: 116, speed_in_mb_s: 11.2, failed_images: 0 },
    message: `Saved 389 images (1.3 GB) of booking B${i} in 1m 56s (11.2 MB/s)`,
  }),
  'booth.network': (i) => ({
    network: {
      online: true,
      interface: { name: 'eth0', type: 'wired', speed_mbps: 1000, mtu: 1500 },
      rx_bytes_per_s: 1000 + i,
      tx_bytes_per_s: 12_000_000,
      errors: 0,
      dropped: 0,
      probes: [{ role: 'gateway', target: '192.0.2.1', ok: true, connect_ms: 0.4 }],
    },
  }),
  'booth.heartbeat': (i) => ({ agent: { uptime_s: i }, buffer: { queued: i, oldest_age_s: 1, dropped_total: 0 }, network: { online: true } }),
  'booth.agent': (i) => ({ event: { action: 'interface_changed' }, message: `interface changed #${i}` }),
};

export function sampleDoc(dataset: Dataset, i = 0, now?: () => number): BoothDocument {
  return makeDocument(dataset, FIELDS[dataset](i), BOOTH, now);
}
