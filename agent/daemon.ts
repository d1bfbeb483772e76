// The daemon: opens the buffer, starts the sources and sinks, keeps the buffer within its bounds,
// and on SIGTERM/SIGINT stops them within a deadline. `booth-agent run` is a thin shell around this.
import fs from 'node:fs';
import os from 'node:os';
import { DocumentBuffer, type BufferNotice } from './buffer/buffer.ts';
import type { Secrets } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { tlsMaterial } from './config/tls.ts';
import type { Logger } from './log/logger.ts';
import { ClockSkew } from './sinks/clock-skew.ts';
import { sinkSettings } from './sinks/opensearch/settings.ts';
import { OpenSearchSink } from './sinks/opensearch/sink.ts';
import type { Sink } from './sinks/sink.ts';
import { HeartbeatSource } from './sources/heartbeat.ts';
import { HostFacts } from './sources/host-facts/host-facts.ts';
import { NetworkSource, networkOptions } from './sources/network/source.ts';
import { heartbeatUploads } from './sources/uploads/facts.ts';
import { UploadSource } from './sources/uploads/source.ts';
import { Recorder } from './sources/recorder.ts';
import type { Source } from './sources/source.ts';
import { claimPidFile } from './pid-file.ts';
import { AGENT_VERSION } from '../shared/version.ts';
import type { BoothIdentity } from '../shared/documents/stamp.ts';

export interface DaemonOptions {
  config: Config;
  secrets: Secrets;
  logger: Logger;
  /** Resolves when the daemon should stop (a signal arrived). */
  stopRequested: Promise<string>;
  /** Total time allowed for a clean stop. */
  stopDeadlineMs?: number;
  now?: () => number;
}

const MAINTENANCE_INTERVAL_MS = 60_000;
const HELD_FLUSH_INTERVAL_MS = 5_000;

export function boothIdentity(config: Config): BoothIdentity {
  const { id, country, region, labels } = config.booth;
  return { id, country, region, labels };
}

export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const { config, logger } = opts;
  const now = opts.now ?? Date.now;
  const startedAt = performance.now();
  const booth = boothIdentity(config);
  // Before the buffer is touched: a second daemon on this state directory stops here.
  const pidFile = claimPidFile(config.state_dir, AGENT_VERSION);
  const buffer = DocumentBuffer.open({
    stateDir: config.state_dir,
    maxSizeBytes: config.buffer.max_size,
    maxAgeMs: config.buffer.max_age,
    booth,
    now,
    onNotice: (n) => logNotice(logger, n),
  });
  const recorder = new Recorder(buffer, booth, logger, now);
  const boot = bootId();
  recorder.record([
    recorder.event('started', `booth-agent ${AGENT_VERSION} started (pid ${process.pid})`, {
      process: { pid: process.pid },
      agent: { boot_id: boot },
    }),
  ]);
  logger.info('started', { version: AGENT_VERSION, booth: booth.id, state_dir: config.state_dir, pid: process.pid });

  void buffer.checkInBackground().then((check) => {
    if (check.kind === 'replaced') logger.error('buffer check found a problem; started a fresh buffer', { result: check.problem });
  });
  buffer.pruneExpired();
  const maintenance = setInterval(() => safely(logger, 'buffer maintenance', () => buffer.pruneExpired()), MAINTENANCE_INTERVAL_MS);
  const heldFlush = setInterval(() => safely(logger, 'recording held documents', () => recorder.flushHeld()), HELD_FLUSH_INTERVAL_MS);

  // systeminformation's facts, from a child process at start and every network.host_facts_interval.
  const hostFacts = new HostFacts({ intervalMs: config.network.host_facts_interval }, logger);
  const network = new NetworkSource(networkOptions(config), { recorder, buffer, logger }, { hostFacts });
  const uploads = new UploadSource(uploadOptions(config, opts.secrets), recorder, buffer, logger, { moment: () => network.moment() });
  const heartbeat = new HeartbeatSource(recorder, buffer, logger, {
    intervalMs: config.heartbeat.interval,
    stateDir: config.state_dir,
    bootId: boot,
    facts: {
      uploads: () => heartbeatUploads(uploads.facts()),
      network: () => {
        const latest = network.latest();
        return latest ? { online: latest.online } : undefined;
      },
      host: () => hostFacts.host(),
    },
  });
  const sources: Source[] = [hostFacts, heartbeat, network, uploads];
  const sinks: Sink[] = [];
  const shipping = sinkSettings(config, opts.secrets);
  if (shipping) {
    if (!shipping.tls.verify) logger.warn('OpenSearch certificate verification is off (opensearch.tls.verify: false)');
    sinks.push(new OpenSearchSink(shipping, buffer, logger, new ClockSkew(buffer, booth, logger)));
  } else {
    logger.info('no opensearch.url: measuring and buffering only');
  }
  for (const s of sources) await s.start();
  for (const s of sinks) s.start();

  const signal = await opts.stopRequested;
  const deadline = now() + (opts.stopDeadlineMs ?? 8000);
  logger.info('stopping', { signal });
  clearInterval(maintenance);
  clearInterval(heldFlush);
  // Sources first (no new documents), then the stop event, then sinks: they flush what they can
  // before the deadline, the stop event included, so OpenSearch hears of it at once.
  await Promise.allSettled(sources.map((s) => s.stop(deadline)));
  const uptimeMs = performance.now() - startedAt;
  safely(logger, 'recording the stop', () =>
    recorder.record([
      recorder.event('stopped', `booth-agent stopped on ${signal} after ${Math.round(uptimeMs / 1000)}s`, {
        event: { reason: signal, duration_ms: Math.round(uptimeMs) },
        process: { pid: process.pid },
      }),
    ]),
  );
  const stops = await Promise.allSettled(sinks.map((s) => s.stop(deadline)));
  for (const r of stops) if (r.status === 'rejected') logger.error('a sink did not stop cleanly', { error: r.reason });
  buffer.close();
  pidFile.release();
  logger.info('stopped', { signal, uptime_s: Math.round(uptimeMs / 1000) });
}

/** The upload source's options from the config, as the daemon wires them (also used by tests). */
export function uploadOptions(config: Config, secrets: Secrets) {
  const u = config.uploads;
  const secretHeaders: Record<string, string> = {};
  for (const header of Object.keys(u.header_files)) secretHeaders[header] = secrets.get(`uploads.header_files.${header}`) ?? '';
  return { uploads: u, boothId: config.booth.id, secretHeaders, tls: tlsMaterial('uploads', config, secrets) };
}

function logNotice(logger: Logger, n: BufferNotice): void {
  if (n.kind === 'dropped') logger.warn('buffer dropped documents', { reason: n.reason, dropped: n.dropped, by_dataset: n.byDataset });
  else if (n.kind === 'reset') {
    const r = n.restored;
    logger.error('buffer database was unusable; moved aside and started fresh', { reason: n.reason, quarantined: n.quarantinedPath, recovered_documents: r.documents, recovered_dead_letters: r.deadLetters, remembered_uploads: r.uploads + r.fromLedger });
  }
  else logger.error('disk full while recording', { file: n.file });
}

function safely(logger: Logger, what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    logger.error(`${what} failed`, { error: err });
  }
}

/** The kernel's id of this boot: tells a reboot apart from a restart of the agent. */
function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return `${os.hostname()}-${Math.round(Date.now() / 1000 - os.uptime())}`;
  }
}
