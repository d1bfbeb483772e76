// The heartbeat (SPEC §5): every heartbeat.interval, a booth.heartbeat document saying the agent is
// alive, with host facts, the state of the buffer, and what later parts of the agent add through
// HeartbeatFacts. The buffer keeps only the newest unsent one and sends it ahead of any backlog.
import fs from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { DocumentBuffer } from '../buffer/buffer.ts';
import { STATE_KEYS } from '../buffer/state-keys.ts';
import type { Logger } from '../log/logger.ts';
import type { HostSystemFacts } from './host-facts/host-facts.ts';
import type { Recorder } from './recorder.ts';
import type { Source } from './source.ts';

/** What other parts of the agent contribute to the heartbeat. */
export interface HeartbeatFacts {
  uploads?: () => Record<string, number>;
  network?: () => { online: boolean } | undefined;
  /** The machine's maker, model and serial and the CPU temperature (host facts, from a child process). */
  host?: () => HostSystemFacts | undefined;
}

export interface HeartbeatOptions {
  intervalMs: number;
  stateDir: string;
  bootId: string;
  facts?: HeartbeatFacts;
}

const LOOP_RESOLUTION_MS = 50;

export class HeartbeatSource implements Source {
  readonly name = 'heartbeat';
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = performance.now();
  private readonly staticHost = staticHostFacts();
  /** Sampled every 50 ms: 20 wake-ups a second cost next to nothing and still show a 100 ms stall. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private readonly recorder: Recorder;
  private readonly buffer: DocumentBuffer;
  private readonly logger: Logger;
  private readonly opts: HeartbeatOptions;

  constructor(recorder: Recorder, buffer: DocumentBuffer, logger: Logger, opts: HeartbeatOptions) {
    this.recorder = recorder;
    this.buffer = buffer;
    this.logger = logger;
    this.opts = opts;
  }

  start(): void {
    this.loopDelay.enable();
    this.beat();
    this.timer = setInterval(() => this.beat(), this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.loopDelay.disable();
  }

  /** Records one heartbeat now. */
  beat(): void {
    try {
      this.recorder.record([this.recorder.make('booth.heartbeat', this.document())]);
      this.buffer.setState(STATE_KEYS.heartbeatLast, { at: Date.now() });
    } catch (err) {
      this.logger.error('could not record the heartbeat', { error: err });
    }
  }

  /** The loop delay since the last heartbeat (the histogram starts afresh each time). */
  private loopDelayFacts(): Record<string, number> {
    const h = this.loopDelay;
    if (h.count === 0) return {};
    // The histogram holds the time between its timer's runs: the delay is what exceeds the resolution.
    const late = (ns: number) => round1(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS));
    const facts = { loop_delay_max_ms: late(h.max), loop_delay_p99_ms: late(h.percentile(99)) };
    h.reset();
    return facts;
  }

  /** The thermal zones' temperature where the board has one, else the host facts' CPU sensor reading. */
  private hostFacts(): Record<string, unknown> {
    const host: Record<string, unknown> = { ...this.staticHost, ...dynamicHostFacts(this.opts.stateDir) };
    const more = this.opts.facts?.host?.();
    if (!more) return host;
    const { temperature_c, ...machine } = more;
    for (const [k, v] of Object.entries(machine)) if (v !== undefined) host[k] = v;
    if (host['temperature_c'] === undefined && temperature_c !== undefined) host['temperature_c'] = temperature_c;
    return host;
  }

  private document(): Record<string, unknown> {
    const stats = this.buffer.stats();
    const skew = this.buffer.getState<{ value: number }>(STATE_KEYS.clockSkew);
    const health = this.recorder.health();
    const doc: Record<string, unknown> = {
      agent: { uptime_s: Math.round((performance.now() - this.startedAt) / 1000), boot_id: this.opts.bootId, ...this.loopDelayFacts() },
      host: this.hostFacts(),
      buffer: {
        queued: stats.queued,
        oldest_age_s: stats.oldestRecordedAt === null ? 0 : Math.max(0, Math.round((Date.now() - stats.oldestRecordedAt) / 1000)),
        dropped_total: stats.droppedTotal + health.heldDropped,
        dead_letters: stats.deadLetters,
        size_bytes: stats.fileBytes,
      },
    };
    const uploads = this.opts.facts?.uploads?.();
    if (uploads) doc['uploads'] = uploads;
    const network = this.opts.facts?.network?.();
    if (network) doc['network'] = network;
    if (skew) doc['clock'] = { skew_ms: skew.value };
    return doc;
  }
}

function staticHostFacts() {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    os: { platform: os.platform(), distro: osRelease(), release: os.release(), kernel: os.version() },
    arch: os.arch(),
    cpu: { model: cpus[0]?.model?.trim() || 'unknown', cores: cpus.length },
  };
}

function dynamicHostFacts(stateDir: string) {
  const facts: Record<string, unknown> = {
    cpu: { load_1m: Number(os.loadavg()[0]!.toFixed(2)) },
    memory: { total_bytes: os.totalmem(), free_bytes: memAvailable() ?? os.freemem() },
  };
  try {
    const fsStats = fs.statfsSync(stateDir);
    facts['disk'] = { total_bytes: fsStats.blocks * fsStats.bsize, free_bytes: fsStats.bavail * fsStats.bsize };
  } catch {
    // The state dir vanished: the buffer will say more.
  }
  const temp = temperature();
  if (temp !== undefined) facts['temperature_c'] = temp;
  return facts;
}

/** PRETTY_NAME from /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
function osRelease(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** MemAvailable (what programs can still get), which os.freemem() understates on Linux. */
function memAvailable(): number | undefined {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The hottest thermal zone in °C, where the board has one. */
function temperature(): number | undefined {
  let max: number | undefined;
  try {
    for (const zone of fs.readdirSync('/sys/class/thermal')) {
      if (!zone.startsWith('thermal_zone')) continue;
      try {
        const milli = Number(fs.readFileSync(`/sys/class/thermal/${zone}/temp`, 'utf8').trim());
        if (Number.isFinite(milli) && milli > -50_000 && milli < 150_000) max = Math.max(max ?? -Infinity, milli / 1000);
      } catch {
        // A zone that cannot be read.
      }
    }
  } catch {
    // No thermal zones (containers, some VMs).
  }
  return max;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
