// The documents booth-agent writes (SPEC §6): the common fields and one schema per dataset.
// Used by the agent (to validate what `record` accepts and what sources produce) and by
// fleet-setup (to generate index mappings), so field names cannot drift apart.
import * as z from 'zod';
import { bool, float, group, integer, keyword, labels, long, millis, oneOf, signedFloat, signedLong, text, timestamp } from './fields.ts';

export { AGENT_ACTIONS, DATASETS, type AgentAction, type Dataset } from './datasets.ts';
import { AGENT_ACTIONS, DATASETS, type AgentAction, type Dataset } from './datasets.ts';

const common = {
  '@timestamp': timestamp(),
  message: text().optional(),
  event: z.strictObject({
    id: z.uuid().meta({ mapping: 'keyword' }),
    dataset: oneOf(DATASETS),
    action: oneOf(AGENT_ACTIONS).optional(),
    duration_ms: millis().optional(),
    reason: keyword().optional(),
  }),
  booth: z.strictObject({
    id: keyword(64).regex(/^[A-Za-z0-9._-]{1,64}$/),
    country: keyword(2).regex(/^[A-Z]{2}$/),
    region: keyword(64).optional(),
    labels: labels().optional(),
  }),
  agent: group({
    version: keyword(64),
    uptime_s: long(),
    boot_id: keyword(64),
    /** The event loop's worst and 99th-percentile delay since the previous heartbeat: a stalled agent shows here. */
    loop_delay_max_ms: millis(),
    loop_delay_p99_ms: millis(),
  }),
  error: group({ type: keyword(), message: text(4096), code: keyword() }).optional(),
};

const networkInterface = group({
  name: keyword(64),
  type: oneOf(['wired', 'wireless', 'cellular', 'virtual', 'unknown']),
  speed_mbps: float(),
  mtu: integer(0, 1_000_000),
  operstate: keyword(32),
  /** The link's duplex (/sys/class/net/<if>/duplex; half duplex on a wired link is a bad cable or port). */
  duplex: oneOf(['full', 'half', 'unknown']),
  /** Whether the address came from DHCP (systeminformation, refreshed every network.host_facts_interval). */
  dhcp: bool(),
});

const timings = group({
  dns_ms: millis(),
  tcp_ms: millis(),
  tls_ms: millis(),
  first_byte_ms: millis(),
  total_ms: millis(),
});

const upload = z.strictObject({
  ...common,
  booking: z.strictObject({ id: keyword(255) }),
  file: z.strictObject({ name: keyword(1024), size: long().optional() }),
  upload: z.strictObject({
    outcome: oneOf(['success', 'failure', 'rejected']),
    bytes: long().optional(),
    duration_ms: millis().optional(),
    speed_mb_s: float().optional(),
    attempt: integer(1, 1_000_000).optional(),
    timings: timings.optional(),
    url_host: keyword(255).optional(),
    /** The IP address the upload's connection went to (a CDN or DNS change shows here). */
    server_address: keyword(64).optional(),
  }),
  http: group({ response: group({ status_code: integer(100, 599) }) }).optional(),
  network: group({ interface: networkInterface }).optional(),
});

const booking = z.strictObject({
  ...common,
  booking: z.strictObject({
    id: keyword(255),
    count_images: long(),
    size_bytes: long().optional(),
    size_in_kb: float().optional(),
    duration_in_seconds: float().optional(),
    speed_in_mb_s: float().optional(),
    failed_images: long().optional(),
    rejected_images: long().optional(),
    image_speed_p50_mb_s: float().optional(),
    image_speed_p10_mb_s: float().optional(),
  }),
});

const probe = z.strictObject({
  role: oneOf(['gateway', 'upload', 'opensearch', 'target']),
  target: keyword(512),
  ok: bool(),
  dns_ms: millis().optional(),
  connect_ms: millis().optional(),
  tls_ms: millis().optional(),
  rtt_ms: millis().optional(),
  loss_pct: float().optional(),
  error: text(1024).optional(),
});

const network = z.strictObject({
  ...common,
  network: z.strictObject({
    online: bool(),
    interface: networkInterface.optional(),
    /** The default gateway's address. */
    gateway: keyword(64).optional(),
    /** The resolvers the booth uses (resolv.conf; behind systemd-resolved, its upstream servers). */
    dns_servers: z.array(keyword(64)).max(16).optional(),
    wifi: group({ ssid: keyword(64), signal_dbm: signedFloat(), quality: float() }).optional(),
    rx_bytes_per_s: float().optional(),
    tx_bytes_per_s: float().optional(),
    errors: long().optional(),
    dropped: long().optional(),
    probes: z.array(probe).max(64).optional(),
  }),
});

const heartbeat = z.strictObject({
  ...common,
  host: group({
    hostname: keyword(255),
    os: group({ platform: keyword(64), distro: keyword(), release: keyword(), kernel: keyword() }),
    arch: keyword(32),
    cpu: group({ model: keyword(), cores: integer(0, 4096), load_1m: float() }),
    memory: group({ total_bytes: long(), free_bytes: long() }),
    disk: group({ total_bytes: long(), free_bytes: long() }),
    temperature_c: signedFloat(),
    /** The machine (systeminformation's system(): DMI, or the board's device tree on a Raspberry Pi). */
    manufacturer: keyword(256),
    model: keyword(256),
    serial: keyword(256),
  }).optional(),
  buffer: group({ queued: long(), oldest_age_s: float(), dropped_total: long(), dead_letters: long(), size_bytes: long() }).optional(),
  uploads: group({ pending: long(), failing: long(), rejected: long(), last_speed_mb_s: float(), today_count: long(), today_bytes: long(), missed_by_watcher: long() }).optional(),
  network: group({ online: bool() }).optional(),
  clock: group({ skew_ms: signedFloat() }).optional(),
});

const agentEvent = z.strictObject({
  ...common,
  event: common.event.extend({ action: oneOf(AGENT_ACTIONS) }),
  buffer: group({
    dropped: long(),
    dropped_by_dataset: z.partialRecord(z.enum(DATASETS), z.number().int().min(0)).meta({ mapping: 'flat_object' }),
    dropped_total: long(),
    quarantined_path: keyword(4096),
    /** state_reset: documents recovered from the file moved aside, and how many it held (when its counters could be read). */
    salvaged_documents: long(),
    quarantined_documents: long(),
  }).optional(),
  network: group({ online: bool(), interface: networkInterface, previous_interface: networkInterface }).optional(),
  booking: group({ id: keyword(255) }).optional(),
  file: group({ name: keyword(1024) }).optional(),
  http: group({ response: group({ status_code: integer(100, 599) }) }).optional(),
  speed: group({ current_mb_s: float(), baseline_mb_s: float(), window_s: float() }).optional(),
  clock: group({ skew_ms: signedFloat() }).optional(),
  process: group({ pid: long(), exit_code: signedLong() }).optional(),
});

export const datasetSchemas = {
  'booth.upload': upload,
  'booth.booking': booking,
  'booth.network': network,
  'booth.heartbeat': heartbeat,
  'booth.agent': agentEvent,
} satisfies Record<Dataset, z.ZodType>;

/** A complete document as stored in the buffer and sent to OpenSearch. */
export interface BoothDocument {
  '@timestamp': string;
  event: { id: string; dataset: Dataset; action?: AgentAction; [k: string]: unknown };
  booth: { id: string; country: string; region?: string; labels?: Record<string, string> };
  agent?: { version?: string; [k: string]: unknown };
  [field: string]: unknown;
}

export function isDataset(v: unknown): v is Dataset {
  return typeof v === 'string' && (DATASETS as readonly string[]).includes(v);
}
