// Child process of `npm run fleet-sim`: a group of simulated booths, each the real agent's buffer
// (its own state dir and SQLite database) and the real OpenSearch sink, in this one process.
//
//   build  — each booth records a day of backlog (network samples, uploads, bookings, agent
//            events and the day's heartbeats, which the heartbeat lane collapses to one) on a
//            clock that runs through the past day
//   go     — the moment the fleet comes back online: every booth records a fresh heartbeat and
//            starts its sink; a new heartbeat every heartbeat interval from then on, as the agent does
//   finish — heartbeats stop; once every buffer is empty the sinks stop, and the event ids of
//            everything recorded are written for the parent to count in the stand-in
import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { ClockSkew } from '../agent/sinks/clock-skew.ts';
import { OpenSearchSink } from '../agent/sinks/opensearch/sink.ts';
import type { BoothDocument, Dataset } from '../shared/documents/schema.ts';
import type { BoothIdentity } from '../shared/documents/stamp.ts';
import { agentSinkSettings } from '../test/support/config.ts';
import { sampleDoc } from '../test/support/documents.ts';

export interface GroupOptions {
  /** Booth numbers [first, first + count). */
  first: number;
  count: number;
  root: string;
  url: string;
  backlogPerBooth: number;
  /** `opensearch:` section of the agent config (the agent's defaults for anything not given). */
  opensearch: Record<string, unknown>;
  heartbeatIntervalMs: number;
}

export type ToGroup = { type: 'go' } | { type: 'finish'; timeoutMs: number };
export type FromGroup =
  | { type: 'built'; docs: number; ms: number }
  | { type: 'finished'; idsFile: string; leftQueued: number; cpuUserMs: number; cpuSystemMs: number; maxRssMb: number; eluDuringDrain: number };

const DAY_MS = 86_400_000;
/** What a booth records in a day (README: a heartbeat every 30 s, a network sample every 60 s), apart from heartbeats. */
export const DAY_MIX: [Dataset, number][] = [
  ['booth.network', 1440],
  ['booth.upload', 300],
  ['booth.booking', 6],
  ['booth.agent', 4],
];
export const DAY_DOCS = DAY_MIX.reduce((s, [, n]) => s + n, 0);

export function boothIdentity(n: number): BoothIdentity {
  const countries = ['US', 'DE', 'GB', 'FR', 'NL', 'ES', 'IT', 'CA', 'AU', 'JP'];
  return { id: `SIM-${String(n).padStart(5, '0')}`, country: countries[n % countries.length]!, region: 'sim' };
}

interface Booth {
  identity: BoothIdentity;
  buffer: DocumentBuffer;
  sink?: OpenSearchSink;
  /** The buffer's clock: runs through the past day while the backlog is recorded, then real time. */
  clock: { at: number | undefined };
  recorded: string[];
  heartbeats: string[];
}

function stampFor(booth: Booth, doc: BoothDocument): BoothDocument {
  return { ...doc, booth: { ...booth.identity } };
}

/** A day (scaled to `perBooth` documents) in time order, recorded in transactions of 1,000 as the bench does. */
function recordBacklog(booth: Booth, perBooth: number, start: number): void {
  const plan: { at: number; dataset: Dataset }[] = [];
  for (const [dataset, perDay] of DAY_MIX) {
    const n = Math.round((perDay * perBooth) / DAY_DOCS);
    for (let i = 0; i < n; i++) plan.push({ at: start + Math.floor(((i + 0.5) * DAY_MS) / n), dataset });
  }
  // The day's heartbeats: every one replaces the unsent one before it.
  for (let at = start; at < start + DAY_MS; at += DAY_MS / 4) plan.push({ at, dataset: 'booth.heartbeat' });
  plan.sort((a, b) => a.at - b.at);
  for (let i = 0; i < plan.length; i += 1000) {
    const chunk = plan.slice(i, i + 1000);
    booth.clock.at = chunk[chunk.length - 1]!.at;
    const docs = chunk.map((p, j) => stampFor(booth, sampleDoc(p.dataset, i + j, () => p.at)));
    booth.buffer.record(docs);
    for (const d of docs) (d.event.dataset === 'booth.heartbeat' ? booth.heartbeats : booth.recorded).push(d.event.id);
  }
  booth.clock.at = undefined;
}

function recordHeartbeat(booth: Booth, i: number): void {
  const doc = stampFor(booth, sampleDoc('booth.heartbeat', i));
  booth.buffer.record([doc]);
  booth.heartbeats.push(doc.event.id);
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2]!) as GroupOptions;
  const send = (m: FromGroup) => process.send!(m);
  const settings = agentSinkSettings(opts.url, { opensearch: opts.opensearch });
  // One logger for the group, errors only: a thousand booths retrying would otherwise log a line per attempt.
  const logger = winston.createLogger({ level: 'error', transports: [new winston.transports.Stream({ stream: process.stderr })] });
  const booths: Booth[] = [];
  const t0 = performance.now();
  const dayStart = Date.now() - DAY_MS;
  let docs = 0;
  for (let n = opts.first; n < opts.first + opts.count; n++) {
    const stateDir = path.join(opts.root, `booth-${n}`);
    const clock: Booth['clock'] = { at: undefined };
    const identity = boothIdentity(n);
    const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: 256e6, maxAgeMs: 30 * DAY_MS, booth: identity, now: () => clock.at ?? Date.now() });
    const booth: Booth = { identity, buffer, clock, recorded: [], heartbeats: [] };
    recordBacklog(booth, opts.backlogPerBooth, dayStart);
    docs += booth.recorded.length;
    booths.push(booth);
  }
  send({ type: 'built', docs, ms: performance.now() - t0 });

  const timers: NodeJS.Timeout[] = [];
  let eluStart: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  process.on('message', async (m: ToGroup) => {
    if (m.type === 'go') {
      eluStart = performance.eventLoopUtilization();
      // Back online: a fresh heartbeat first (it replaces the day's unsent one), then the sink starts.
      // Each booth in its own turn of the event loop: a booth's first request goes out while the
      // next booth reads its first batch, as on separate machines, rather than after all of them.
      for (const b of booths) {
        recordHeartbeat(b, 0);
        b.sink = new OpenSearchSink(settings, b.buffer, logger, new ClockSkew(b.buffer, b.identity, logger));
        b.sink.start();
        await new Promise((r) => setImmediate(r));
      }
      // Then one every heartbeat interval, each booth on its own phase (agents do not tick in step).
      for (const b of booths) {
        let beat = 0;
        const first = setTimeout(() => {
          recordHeartbeat(b, ++beat);
          timers.push(setInterval(() => recordHeartbeat(b, ++beat), opts.heartbeatIntervalMs));
        }, Math.random() * opts.heartbeatIntervalMs);
        timers.push(first);
      }
      return;
    }
    const elu = performance.eventLoopUtilization(eluStart).utilization;
    for (const t of timers) clearTimeout(t);
    const deadline = Date.now() + m.timeoutMs;
    const queued = () => booths.reduce((s, b) => s + b.buffer.stats().queued, 0);
    while (queued() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const leftQueued = queued();
    await Promise.all(booths.map((b) => b.sink?.stop(Date.now() + 2000)));
    const idsFile = path.join(opts.root, `ids-${opts.first}.json`);
    fs.writeFileSync(idsFile, JSON.stringify(booths.map((b) => ({ booth: b.identity.id, recorded: b.recorded, heartbeats: b.heartbeats }))));
    for (const b of booths) b.buffer.close();
    const cpu = process.cpuUsage();
    send({ type: 'finished', idsFile, leftQueued, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, maxRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6, eluDuringDrain: elu });
    process.disconnect();
  });
}

if (process.send) await main();
