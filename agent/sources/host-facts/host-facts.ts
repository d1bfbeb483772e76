// The host and interface facts that /proc and /sys do not give cheaply — the machine's maker, model
// and serial, the CPU temperature where no thermal zone has one, each interface's DHCP and duplex,
// the default gateway — from systeminformation, asked by a child process (collect.ts) at start and
// then every network.host_facts_interval. The agent never loads systeminformation itself: its Linux
// calls run shell commands synchronously (systeminformation#1044), and a hung one would stall uploads.
//
// The child gets a hard timeout, after which its whole process group is killed (SIGKILL). A child
// that hangs, crashes or prints garbage costs the documents these facts and nothing else: one warning
// when they become unavailable, one line when they are back. The network source and the heartbeat
// read the latest facts (NetworkProviders.hostFacts, HeartbeatFacts.host).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { formatDuration } from '../../config/units.ts';
import type { Logger } from '../../log/logger.ts';
import { runCommand, type CommandResult } from '../command.ts';
import type { Source } from '../source.ts';

const name = z.string().min(1).max(256);
/**
 * What the child prints, as the agent accepts it: every part optional (a call that failed is left
 * out, and named in `errors`); unknown keys dropped, anything ill-typed refused whole.
 */
const childAnswer = z.object({
  system: z.object({ manufacturer: name, model: name, serial: name }).partial().optional(),
  cpu_temperature_c: z.number().finite().min(-50).max(150).optional(),
  gateway: z.string().min(1).max(64).optional(),
  interfaces: z
    .record(
      z.string().min(1).max(64),
      z
        .object({
          duplex: z.enum(['full', 'half', 'unknown']),
          dhcp: z.boolean(),
          speed_mbps: z.number().finite().positive(),
          mtu: z.number().int().positive().max(1_000_000),
          type: z.string().max(32),
          default: z.boolean(),
        })
        .partial(),
    )
    .optional(),
  /** The calls that failed in the child, in words. */
  errors: z.array(z.string().max(1000)).max(20).optional(),
  /** The child's own cost: wall time of its calls and its peak resident memory. */
  took_ms: z.number().finite().min(0).optional(),
  max_rss_bytes: z.number().finite().min(0).optional(),
});

/** What the child prints (collect.ts imports this type only: zod stays out of the child). */
export type CollectedFacts = z.infer<typeof childAnswer>;
/** DHCP, duplex, … of one interface. */
export type InterfaceHostFacts = NonNullable<CollectedFacts['interfaces']>[string];

/** What the heartbeat takes (host.*). */
export interface HostSystemFacts {
  manufacturer?: string;
  model?: string;
  serial?: string;
  temperature_c?: number;
}

export interface HostFactsOptions {
  intervalMs: number;
  /** The child is killed (its process group, SIGKILL) when it has not answered by then. */
  timeoutMs?: number;
  /** The child's command line; default: this Node.js running the collector. Tests give one that hangs or prints garbage. */
  command?: readonly string[];
  now?: () => number;
}

export type RefreshResult = { ok: true; facts: CollectedFacts; ms: number } | { ok: false; error: string; ms: number };

export const HOST_FACTS_TIMEOUT_MS = 10_000;

/** Set by the bundler: the collector's own bundle, named relative to the agent's (scripts/agent-module.ts). */
declare const __BOOTH_AGENT_HOST_FACTS_CHILD__: string | undefined;

/** The collector's module: beside the bundle, or collect.ts (collect.js when compiled) beside this file. */
export function collectorModule(): string {
  const rel = typeof __BOOTH_AGENT_HOST_FACTS_CHILD__ === 'string' ? __BOOTH_AGENT_HOST_FACTS_CHILD__ : `./collect${path.extname(fileURLToPath(import.meta.url))}`;
  return fileURLToPath(new URL(rel, import.meta.url));
}

/** The facts in the child's output (its last JSON line), or why there are none. */
export function parseChildAnswer(stdout: string): { facts: CollectedFacts } | { error: string } {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .at(-1);
  if (!line) return { error: `the host-facts child printed no facts${stdout.trim() ? `: ${JSON.stringify(stdout.trim().slice(0, 120))}` : ''}` };
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { error: `the host-facts child printed something that is not JSON: ${JSON.stringify(line.slice(0, 120))}` };
  }
  const parsed = childAnswer.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: `the host-facts child printed facts of the wrong shape (${issue?.path.join('.') || 'top'}: ${issue?.message})` };
  }
  return { facts: parsed.data };
}

/** A crashed Node prints the source line first: its error is the line that names one. */
function whyFailed(r: CommandResult, file: string): string {
  const lines = (r.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  const error = lines.find((l) => /^([A-Z]\w*)?Error\b|^Uncaught /.test(l));
  const how = (r.error ?? 'no reason').split(':')[0]!.replace(file, path.basename(file));
  return (error ? `${how}: ${error}` : (r.error ?? 'no reason').replace(file, path.basename(file))).slice(0, 500);
}

export class HostFacts implements Source {
  readonly name = 'host-facts';
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly command: readonly string[];
  private readonly now: () => number;
  private readonly logger: Logger;
  private last: { at: number; facts: CollectedFacts } | undefined;
  /** Since the first failure after a success (or since start): logged once, and once when it ends. */
  private failingSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RefreshResult> | undefined;
  private readonly stopping = new AbortController();

  constructor(opts: HostFactsOptions, logger: Logger) {
    this.intervalMs = opts.intervalMs;
    this.timeoutMs = opts.timeoutMs ?? HOST_FACTS_TIMEOUT_MS;
    this.command = opts.command ?? [process.execPath, collectorModule()];
    this.now = opts.now ?? Date.now;
    this.logger = logger;
  }

  /** Collects now, then every interval (the next run is timed from the end of the last). */
  start(): void {
    const tick = () => {
      if (this.stopping.signal.aborted) return;
      void this.refresh()
        .catch((err: unknown) => this.logger.error('host facts: unexpected failure', { error: err }))
        .finally(() => {
          if (!this.stopping.signal.aborted) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  /** Kills a child still running: the agent's stop never waits for it. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs the child once (or joins the run in progress) and keeps its facts. */
  refresh(): Promise<RefreshResult> {
    this.running ??= this.runChild().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * The latest facts, while they are fresh: a run may fail now and then (the last success stands),
   * but facts older than two intervals are not presented as the booth's present.
   */
  latest(): CollectedFacts | undefined {
    if (!this.last) return undefined;
    return this.now() - this.last.at <= 2 * this.intervalMs + this.timeoutMs ? this.last.facts : undefined;
  }

  /** DHCP, duplex, … of one interface. */
  forInterface(iface: string): InterfaceHostFacts | undefined {
    return this.latest()?.interfaces?.[iface];
  }

  /** The machine and its CPU temperature, for the heartbeat's host.* */
  host(): HostSystemFacts | undefined {
    const f = this.latest();
    if (!f) return undefined;
    const h: HostSystemFacts = { ...f.system };
    if (f.cpu_temperature_c !== undefined) h.temperature_c = f.cpu_temperature_c;
    return Object.keys(h).length > 0 ? h : undefined;
  }

  private async runChild(): Promise<RefreshResult> {
    const started = performance.now();
    const [file, ...args] = this.command;
    const r = await runCommand(file!, args, this.timeoutMs, this.stopping.signal);
    const ms = Math.round(performance.now() - started);
    if (this.stopping.signal.aborted) return { ok: false, error: 'stopped', ms };
    let outcome: RefreshResult;
    if (!r.ok) {
      outcome = {
        ok: false,
        ms,
        error: r.timedOut ? `the host-facts child gave no answer within ${formatDuration(this.timeoutMs)} and was killed` : `the host-facts child failed: ${whyFailed(r, file!)}`,
      };
    } else {
      const answer = parseChildAnswer(r.stdout);
      outcome = 'facts' in answer ? { ok: true, facts: answer.facts, ms } : { ok: false, error: answer.error, ms };
    }
    if (outcome.ok) this.kept(outcome.facts, ms);
    else this.failed(outcome.error, ms);
    return outcome;
  }

  private kept(facts: CollectedFacts, ms: number): void {
    const first = this.last === undefined;
    this.last = { at: this.now(), facts };
    const summary = {
      run_ms: ms,
      child_max_rss_bytes: facts.max_rss_bytes,
      model: facts.system?.model,
      interfaces: Object.keys(facts.interfaces ?? {}).length,
      ...(facts.errors ? { failed_calls: facts.errors } : {}),
    };
    if (this.failingSince !== undefined) {
      this.logger.info('host facts are available again', { ...summary, unavailable_for_ms: this.now() - this.failingSince });
    } else if (first) {
      this.logger.info('host facts collected', summary);
    } else {
      this.logger.debug('host facts collected', summary);
    }
    this.failingSince = undefined;
  }

  private failed(error: string, ms: number): void {
    if (this.failingSince === undefined) {
      this.failingSince = this.now();
      this.logger.warn(`host facts unavailable: ${error}; documents go without them (model, serial, DHCP, CPU temperature), and the child is tried again every ${formatDuration(this.intervalMs)}`, {
        error,
        run_ms: ms,
      });
    } else {
      this.logger.debug('host facts still unavailable', { error, run_ms: ms });
    }
  }
}
