// The fault soak (issue 8): the real agent in a child process, bookings arriving all the time,
// both servers misbehaving in turns, the agent SIGKILLed at random moments and started again, a
// full disk, poison documents — and at the end, with the faults gone, the checks that the product
// kept its promises: every image uploaded intact, exactly one success document per image, one
// summary per finished booking, every recorded document stored exactly once, dead letters = the
// poison injected, an intact database.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { peakRssKb } from '../bench/agent-process.ts';
import { stringify } from 'yaml';
import { mulberry32 } from '../test/support/random.ts';
import { OpenSearchStandIn } from '../test/support/opensearch.ts';
import { UploadReceiver } from '../test/support/upload-receiver.ts';
import { tryMount } from '../test/support/mount.ts';
import { findLibfaketime } from '../test/support/needs.ts';

const BIN = fileURLToPath(new URL('../agent/cli/booth-agent.js', import.meta.url));
const BOOTH = 'FB-SOAK';
const MAX_SIZE_BYTES = 48e6; // buffer.max_size

export interface SoakOptions {
  minutes: number;
  seed: number;
  log: (line: string) => void;
}

export interface Violation {
  check: string;
  detail: string;
}

export interface SoakSummary {
  minutes: number;
  bookings: number;
  rejectedBookings: number;
  images: number;
  bytes: number;
  kills: number;
  starts: number;
  /** Lives started and SIGKILLed on one full disk: their `started` event had nowhere durable to go. */
  livesOnFullDisk: number;
  faultPhases: string[];
  poison: number;
  deadLetters: number;
  /** Valid documents recorded through `record`, and how many of them are stored exactly once. */
  recorded: number;
  recordedStoredOnce: number;
  storedDocuments: number;
  uploadSuccessDocs: number;
  bookingDocs: number;
  peakRssMb: number;
  /** 'done (…)' with how long the agent took to notice each full disk, or why it was skipped. */
  diskFull: string;
  clockJumps: string;
  /** What the faults did: agent events by action, upload failures, refused requests — a fault that did nothing shows here. */
  evidence: Record<string, number>;
  drainSeconds: number;
  violations: Violation[];
}

interface Booking {
  id: string;
  files: Map<string, string>; // name → sha256
  rejected: boolean;
}

/** One life of the agent process, with its peak memory. */
class AgentProcess {
  child: ChildProcess | undefined;
  starts = 0;
  kills = 0;
  /** Lives started and SIGKILLed within one full-disk episode: what they held in memory had nowhere to go. */
  livesOnFullDisk = 0;
  private startedInEpisode: number | undefined;
  peakRssKb = 0;
  /** When the agent logged that the disk is full: the disk-full episodes reached it. */
  private readonly diskFullTimes: number[] = [];
  /** Exits nobody asked for: the code or signal, and the agent's last log lines before it. */
  readonly unexpectedExits: Array<{ code: number | string | null; lastLines: string[] }> = [];
  private stopping = false;
  private sampler: NodeJS.Timeout | undefined;
  private readonly configFile: string;
  private readonly log: (line: string) => void;
  private tail: string[] = [];
  private readonly env: Record<string, string>;
  /** When the disk on for now was filled (its episode), or undefined while there is room. */
  private readonly fullDiskEpisode: () => number | undefined;

  constructor(configFile: string, log: (line: string) => void, env: Record<string, string>, fullDiskEpisode: () => number | undefined) {
    this.configFile = configFile;
    this.log = log;
    this.env = env;
    this.fullDiskEpisode = fullDiskEpisode;
  }

  start(): void {
    this.starts++;
    this.startedInEpisode = this.fullDiskEpisode();
    const child = spawn(process.execPath, [BIN, 'run', '--config', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...this.env } });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      const lines = d.split('\n').filter(Boolean);
      for (const line of lines) {
        if (!/disk full/.test(line)) continue;
        this.diskFullTimes.push(Date.now());
      }
      this.tail.push(...lines);
      if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
    });
    this.child = child;
    clearInterval(this.sampler);
    this.sampler = setInterval(() => this.sample(), 500);
    child.once('exit', (code, signal) => {
      if (!this.stopping) this.unexpectedExits.push({ code: code ?? signal, lastLines: this.tail.slice(-8) });
      if (this.child === child) clearInterval(this.sampler);
    });
  }

  private sample(): void {
    const pid = this.child?.pid;
    if (!pid) return;
    this.peakRssKb = Math.max(this.peakRssKb, peakRssKb(pid));
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    this.sample();
    clearInterval(this.sampler);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    this.stopping = true;
    child.kill(signal);
    if (signal === 'SIGKILL') this.kills++;
    if (signal === 'SIGKILL' && this.startedInEpisode !== undefined && this.startedInEpisode === this.fullDiskEpisode()) this.livesOnFullDisk++;
    const code = await exited;
    this.stopping = false;
    this.child = undefined;
    return code;
  }

  /** Log lines saying the disk is full. */
  get diskFullLines(): number {
    return this.diskFullTimes.length;
  }

  /** When the agent first logged a full disk at or after `t` (ms), if it has. */
  diskFullSince(t: number): number | undefined {
    return this.diskFullTimes.find((at) => at >= t);
  }

  /** The last lines the agent logged, for a failure report. */
  lastLines(n = 20): string[] {
    return this.tail.slice(-n);
  }

  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(opts: SoakOptions): Promise<SoakSummary> {
  const random = mulberry32(opts.seed);
  const between = (a: number, b: number) => a + random() * (b - a);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-soak-'));
  const stateDir = path.join(dir, 'state');
  const watchDir = path.join(dir, 'outbox');
  fs.mkdirSync(stateDir);
  fs.mkdirSync(watchDir);
  // The state dir on a small file system of its own, so that it can be filled.
  const mounted = tryMount(stateDir, '64m');

  const receiver = await UploadReceiver.start({ seed: opts.seed });
  const cluster = await OpenSearchStandIn.start({ seed: opts.seed });
  // Poison: documents the cluster refuses item by item (a field mapped as a number).
  const POISON_MONTH = '2020-01-15T12:00:00.000Z';
  cluster.setMapping('booth-agent-2020.01', { 'event.reason': 'long' });

  const configFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    configFile,
    stringify({
      booth: { id: BOOTH, country: 'US' },
      state_dir: stateDir,
      log: { level: 'warn' },
      uploads: {
        watch_dir: watchDir,
        url: receiver.urlTemplate,
        settle_time: '300ms',
        booking_idle_timeout: '10m',
        rejected_retry: '30d',
        retry: { attempts: 3, min_delay: '200ms', max_delay: '2s' },
      },
      opensearch: { url: cluster.url, batch: { max_docs: 200, interval: '1s' }, request_timeout: '10s', retry: { min_delay: '200ms', max_delay: '5s' } },
      heartbeat: { interval: '5s' },
      network: { interval: '15s' },
      buffer: { max_size: `${MAX_SIZE_BYTES / 1e6}MB` },
    }),
  );

  // The booth's wall clock jumps (±2 h) while its monotonic clock does not: libfaketime in the
  // agent's process, steered through a file (Debian package faketime).
  const clockFile = path.join(dir, 'clock-offset');
  fs.writeFileSync(clockFile, '+0\n');
  const faketime = findLibfaketime();
  const agentEnv: Record<string, string> = faketime
    ? { LD_PRELOAD: faketime, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_CACHE_DURATION: '1' }
    : {};
  /** When the disk was filled, while it is full. */
  let filledAt: number | undefined;
  const agent = new AgentProcess(configFile, opts.log, agentEnv, () => filledAt);
  agent.start();

  const bookings: Booking[] = [];
  const poisonIds = new Set<string>();
  const phases: string[] = [];
  const violations: Violation[] = [];
  let diskFull = mounted ? 'done' : 'skipped (no tmpfs: not root?)';
  /** Seconds from each filled disk to the agent's first "disk full" log line. */
  const noticedAfter: number[] = [];
  /** Valid documents recorded through `record` (the booth's own software): each must be stored exactly once. */
  const recordedIds = new Set<string>();
  /** What the faults did: counted as they happen and from both servers' records at the end. */
  const evidence: Record<string, number> = {};
  const bump = (k: string, n = 1) => void (evidence[k] = (evidence[k] ?? 0) + n);
  const clockJumps = faketime ? 'done' : 'skipped (libfaketime not installed: apt-get install faketime)';
  const endAt = Date.now() + opts.minutes * 60_000;

  // ---- bookings, all the time ----
  let bookingNo = 0;
  let generating = true;
  const generator = (async () => {
    while (generating) {
      bookingNo++;
      const rejected = random() < 0.1;
      const id = `${rejected ? 'X' : 'B'}${String(bookingNo).padStart(4, '0')}`;
      if (rejected) (receiver.faults.rejectBookings ??= new Set()).add(id);
      const booking: Booking = { id, files: new Map(), rejected };
      const folder = path.join(watchDir, id);
      fs.mkdirSync(folder);
      const n = Math.floor(between(3, 9));
      for (let i = 1; i <= n; i++) {
        const name = `IMG_${String(i).padStart(4, '0')}.jpg`;
        const data = crypto.randomBytes(Math.floor(between(50_000, 600_000)));
        fs.writeFileSync(path.join(folder, name), data);
        booking.files.set(name, crypto.createHash('sha256').update(data).digest('hex'));
        await sleep(between(20, 200));
      }
      fs.writeFileSync(path.join(folder, '.complete'), '');
      bookings.push(booking);
      await sleep(between(1_000, 3_000));
    }
  })();

  /** NDJSON lines through `record`, as the booth's own software sends them; false (and a violation) if it failed. */
  const record = (lines: readonly string[]): boolean => {
    const r = spawnSync(process.execPath, [BIN, 'record', '--config', configFile], { input: `${lines.join('\n')}\n`, encoding: 'utf8' });
    if (r.status !== 0) violations.push({ check: 'record', detail: `record of ${lines.length} documents exited ${r.status}: ${r.stderr}` });
    return r.status === 0;
  };

  // ---- poison: documents the cluster refuses ----
  const recordPoison = () => {
    const id = crypto.randomUUID();
    poisonIds.add(id);
    record([JSON.stringify({ '@timestamp': POISON_MONTH, event: { id, dataset: 'booth.agent', action: 'clock_skew', reason: 'not-a-number' } })]);
  };

  // ---- free pages used up, through `record`, before the disk is filled ----
  // SQLite reuses the pages that delivered documents left behind before it asks the file system
  // for more, so a full disk alone goes unnoticed for as long as the last backlog was large — in a
  // 3-minute run that can be the whole phase. Readings recorded up to the free space first make the
  // agent's next pages need the full disk within a few dozen writes.
  const useFreePages = () => {
    const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: MAX_SIZE_BYTES, maxAgeMs: 30 * 86_400_000, booth: { id: BOOTH, country: 'US' }, readOnly: true });
    let stats: ReturnType<DocumentBuffer['stats']>;
    try {
      stats = buffer.stats();
    } finally {
      buffer.close();
    }
    const used = stats.usedBytes;
    const free = stats.fileBytes - used;
    const ids: string[] = [];
    const lines: string[] = [];
    let bytes = 0;
    // Not past 80 % of buffer.max_size: a burst that made the agent drop documents would be a loss of our own making.
    while (bytes < free + 200_000 && used + bytes < MAX_SIZE_BYTES * 0.8) {
      const id = crypto.randomUUID();
      const line = JSON.stringify({ event: { id, dataset: 'booth.network' }, network: { online: true, rx_bytes_per_s: lines.length, tx_bytes_per_s: 0, probes: [] } });
      ids.push(id);
      lines.push(line);
      bytes += line.length + 400; // the stamped document (booth, host, agent fields) and its row
    }
    if (record(lines)) for (const id of ids) recordedIds.add(id);
    return ids.length;
  };

  // ---- killer: SIGKILL at random moments, start again ----
  let killing = true;
  const killer = (async () => {
    while (killing) {
      await sleep(between(8_000, 25_000));
      if (!killing) break;
      await agent.kill('SIGKILL');
      await sleep(between(200, 2_000));
      agent.start();
    }
  })();

  // ---- fault phases, in turns ----
  // A 3-minute run goes through every phase once (15 s each, the outage and the full disk 30 s);
  // longer runs go round again with 60 s phases and a 60 s outage.
  const phaseMs = Math.min(60_000, Math.max(10_000, (opts.minutes * 60_000) / 12));
  const schedule: Array<[string, () => void | Promise<void>]> = [
    ['calm', () => {}],
    ['uploads: 500s and resets', () => void Object.assign(receiver.faults, { status500Ratio: 0.25, resetMidBodyRatio: 0.15 })],
    ['cluster: item 429s and 503 storms with Retry-After', () => void Object.assign(cluster.faults, { itemRejectRatio: 0.3, whole503Ratio: 0.3, retryAfterSeconds: 2 })],
    ['poison documents', () => { for (let i = 0; i < 3; i++) recordPoison(); }],
    ['cluster outage', () => void (cluster.faults.down = true)],
    ['uploads: 429 with Retry-After, slow answers', () => void Object.assign(receiver.faults, { status429Ratio: 0.3, retryAfterSeconds: 1, latencyMs: 200 })],
    // With the cluster down too: nothing is delivered and deleted, so the buffer's free pages run
    // out and SQLite needs new space (a full disk alone may go unnoticed for a long time).
    ['disk full, cluster down', async () => {
      cluster.faults.down = true;
      if (!mounted) return;
      bump('documents recorded to use up free pages', useFreePages());
      // Fill the state dir's file system, hold, free it.
      const filler = path.join(stateDir, 'filler');
      try {
        const fd = fs.openSync(filler, 'w');
        try {
          // To the last page: a megabyte left over is room for a megabyte of WAL.
          for (const chunk of [Buffer.alloc(1 << 20), Buffer.alloc(4096)]) {
            try {
              for (;;) fs.writeSync(fd, chunk);
            } catch {
              // ENOSPC: full at this chunk size
            }
          }
        } finally {
          fs.closeSync(fd);
        }
        filledAt = Date.now();
      } catch (err) {
        diskFull = `skipped (${(err as Error).message})`;
      }
    }],
    ['cluster: resets; the booth clock jumps 2 h ahead', () => {
      Object.assign(cluster.faults, { resetRatio: 0.3 });
      fs.writeFileSync(clockFile, '+2h\n');
    }],
    ['the booth clock jumps 2 h back', () => void fs.writeFileSync(clockFile, '-2h\n')],
    ['calm', () => {}],
  ];
  const calmAll = () => {
    receiver.faults = { rejectBookings: receiver.faults.rejectBookings ?? new Set() };
    cluster.faults = {};
    fs.rmSync(path.join(stateDir, 'filler'), { force: true });
    filledAt = undefined;
    fs.writeFileSync(clockFile, '+0\n');
  };
  for (let i = 0; Date.now() < endAt; i++) {
    const [name, start] = schedule[i % schedule.length]!;
    calmAll();
    phases.push(name);
    opts.log(`${new Date().toISOString()}  phase: ${name}`);
    await start();
    // The outage lasts 60 s when the run is long enough for it.
    const length = name === 'cluster outage' || name.startsWith('disk full') ? Math.min(60_000, phaseMs * 2) : phaseMs;
    await sleep(Math.min(length, Math.max(0, endAt - Date.now())));
    if (filledAt !== undefined) {
      // The disk stays full until the agent has met it (a minute more at most), however busy this machine is.
      const filled = filledAt;
      const givenUpAt = Date.now() + 60_000;
      while (agent.diskFullSince(filled) === undefined && Date.now() < givenUpAt) await sleep(250);
      const noticedAt = agent.diskFullSince(filled);
      if (noticedAt === undefined) violations.push({ check: 'disk-full episode', detail: `the agent did not notice the disk filled at ${new Date(filled).toISOString()}` });
      else noticedAfter.push(Math.round((noticedAt - filled) / 100) / 10);
    }
  }
  if (noticedAfter.length > 0) diskFull = `done (the agent noticed after ${noticedAfter.map((x) => `${x.toFixed(1)} s`).join(', ')})`;
  calmAll();

  // ---- the end: no more bookings or kills; let it catch up ----
  generating = false;
  killing = false;
  await generator;
  await killer;
  if (!agent.alive()) agent.start();
  opts.log(`${new Date().toISOString()}  faults off; waiting for the agent to catch up`);
  const drainStart = Date.now();
  const expectedImages = bookings.filter((b) => !b.rejected).reduce((n, b) => n + b.files.size, 0);
  const caughtUp = async () => {
    const stored = receiver.stored();
    const uploaded = bookings.filter((b) => !b.rejected).every((b) => [...b.files.keys()].every((f) => stored.has(`${b.id}/${f}`)));
    if (!uploaded) return false;
    const bookingDocs = cluster.documents('booth-booking-*').length;
    if (bookingDocs < bookings.length) return false;
    const status = spawnSync(process.execPath, [BIN, 'status', '--json', '--config', configFile], { encoding: 'utf8' });
    try {
      const s = JSON.parse(status.stdout) as { shipping: { queued: number } };
      return s.shipping.queued === 0;
    } catch {
      return false;
    }
  };
  const drainDeadline = Date.now() + 180_000;
  while (!(await caughtUp())) {
    if (Date.now() > drainDeadline) {
      violations.push({ check: 'catch up', detail: `not caught up 180 s after the faults ended\n${agent.lastLines().join('\n')}` });
      break;
    }
    await sleep(1_000);
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  const stopCode = await agent.kill('SIGTERM');
  if (stopCode !== 0) violations.push({ check: 'clean stop', detail: `the agent exited ${stopCode} on SIGTERM` });

  // ---- checks ----
  const stored = receiver.stored();
  let bytes = 0;
  for (const b of bookings) {
    for (const [name, sha] of b.files) {
      const key = `${b.id}/${name}`;
      const s = stored.get(key);
      if (b.rejected) {
        if (s) violations.push({ check: 'rejected booking', detail: `${key} was stored by a server that answers 404 for it` });
        continue;
      }
      if (!s) violations.push({ check: 'every image uploaded', detail: `${key} never reached the server` });
      else if (s.sha256 !== sha) violations.push({ check: 'every image intact', detail: `${key}: server sha256 ${s.sha256} ≠ file ${sha}` });
      else bytes += s.bytes;
    }
  }

  const docs = cluster.documents();
  const byId = new Map<string, number>();
  for (const d of docs) byId.set(d.id, (byId.get(d.id) ?? 0) + 1);
  for (const [id, n] of byId) if (n > 1) violations.push({ check: 'stored once', detail: `event.id ${id} is stored ${n} times (in different indices)` });
  const src = (d: (typeof docs)[number]) => d.source as { event?: { id?: string; dataset?: string }; upload?: { outcome?: string }; booking?: { id?: string }; file?: { name?: string } };
  const successes = new Map<string, number>();
  for (const d of docs) {
    const s = src(d);
    if (s.event?.id !== d.id) violations.push({ check: '_id = event.id', detail: `${d.index}/${d.id} has event.id ${s.event?.id}` });
    if (s.event?.dataset === 'booth.upload' && s.upload?.outcome === 'success') {
      const key = `${s.booking?.id}/${s.file?.name}`;
      successes.set(key, (successes.get(key) ?? 0) + 1);
    }
  }
  for (const b of bookings.filter((x) => !x.rejected)) {
    for (const name of b.files.keys()) {
      const n = successes.get(`${b.id}/${name}`) ?? 0;
      if (n !== 1) violations.push({ check: 'one success document per image', detail: `${b.id}/${name}: ${n}` });
    }
  }
  const bookingDocs = docs.filter((d) => src(d).event?.dataset === 'booth.booking');
  const perBooking = new Map<string, number>();
  for (const d of bookingDocs) perBooking.set(src(d).booking?.id ?? '?', (perBooking.get(src(d).booking?.id ?? '?') ?? 0) + 1);
  for (const b of bookings) {
    const n = perBooking.get(b.id) ?? 0;
    if (n !== 1) violations.push({ check: 'one summary per finished booking', detail: `${b.id}: ${n}` });
  }
  for (const id of poisonIds) if (byId.has(id)) violations.push({ check: 'poison refused', detail: `${id} was stored` });
  const recordedMissing = [...recordedIds].filter((id) => byId.get(id) !== 1);
  if (recordedMissing.length > 0) violations.push({ check: 'every recorded document stored once', detail: `${recordedMissing.length} of ${recordedIds.size}, e.g. ${recordedMissing.slice(0, 3).join(', ')}` });

  // Dead letters and the database, through the buffer (read-only; the agent is stopped).
  const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: MAX_SIZE_BYTES, maxAgeMs: 30 * 86_400_000, booth: { id: BOOTH, country: 'US' }, readOnly: true });
  let deadLetters = 0;
  try {
    const integrity = buffer.integrityCheck();
    if (integrity !== 'ok') violations.push({ check: 'database integrity', detail: integrity });
    for (const { body, dead } of buffer.documents({ includeDead: true })) {
      const id = (JSON.parse(body) as { event?: { id?: string } }).event?.id ?? '?';
      // Unsent after the stop: what the agent recorded while stopping (its `stopped` event, a last
      // heartbeat); that everything before was delivered is the catch-up condition (queue 0).
      if (!dead) continue;
      if (!poisonIds.has(id)) violations.push({ check: 'dead letters = poison', detail: `dead letter ${id} is not a poison document` });
      else deadLetters++;
    }
  } finally {
    buffer.close();
  }
  if (deadLetters !== poisonIds.size) violations.push({ check: 'dead letters = poison', detail: `${deadLetters} dead letters for ${poisonIds.size} poison documents` });

  for (const d of docs) {
    const e = src(d).event as { dataset?: string; action?: string } | undefined;
    if (e?.dataset === 'booth.agent' && e.action) bump(`agent event ${e.action}`);
    if (e?.dataset === 'booth.upload' && src(d).upload?.outcome !== 'success') bump(`upload ${src(d).upload?.outcome}`);
  }
  for (const u of receiver.uploads()) if (u.fault) bump(`upload server: ${u.fault}`);
  if (agent.diskFullLines > 0) evidence['agent log: disk full'] = agent.diskFullLines;
  for (const { code, lastLines } of agent.unexpectedExits) {
    violations.push({ check: 'never crashes', detail: `the agent exited by itself (${code}); its last log lines:\n    ${lastLines.join('\n    ')}` });
  }
  // Each start records a `started` event — but one held in memory by a life spent wholly on a full disk dies with the SIGKILL.
  const startedEvents = evidence['agent event started'] ?? 0;
  if (startedEvents > agent.starts || startedEvents < agent.starts - agent.livesOnFullDisk) {
    violations.push({ check: 'every start recorded', detail: `${startedEvents} started events for ${agent.starts} starts, ${agent.livesOnFullDisk} of them started and killed on one full disk` });
  }
  for (const r of cluster.requests) if (r.fault) bump(`cluster: ${r.fault}`);
  for (const r of cluster.requests) if (r.status === 429 || r.status === 503) bump(`cluster answered ${r.status}`);

  await receiver.close();
  await cluster.close();
  if (mounted) spawnSync('umount', [stateDir]);
  fs.rmSync(dir, { recursive: true, force: true });

  return {
    minutes: opts.minutes,
    bookings: bookings.length,
    rejectedBookings: bookings.filter((b) => b.rejected).length,
    images: expectedImages,
    bytes,
    kills: agent.kills,
    starts: agent.starts,
    livesOnFullDisk: agent.livesOnFullDisk,
    faultPhases: phases,
    poison: poisonIds.size,
    deadLetters,
    recorded: recordedIds.size,
    recordedStoredOnce: recordedIds.size - recordedMissing.length,
    storedDocuments: docs.length,
    uploadSuccessDocs: [...successes.values()].reduce((a, b) => a + b, 0),
    bookingDocs: bookingDocs.length,
    peakRssMb: Math.round(agent.peakRssKb / 102.4) / 10,
    diskFull,
    clockJumps,
    evidence,
    drainSeconds,
    violations,
  };
}

