// Benchmarks against peers (issue 8), each side in the same run on the same machine:
// - drain of the same backlog to the same OpenSearch stand-in (test/support/opensearch.ts, loopback)
//   by the bundled booth-agent and by rsyslog's omelasticsearch (bulk mode, disk-assisted queue);
// - upload throughput against `curl -T` (upload.bench.ts, repeated);
// - idle CPU and RSS of the agent (network.bench.ts) against an idle rsyslogd with the same action.
// rsyslog is installed with apt-get when missing (Debian packages rsyslog, rsyslog-elasticsearch).
// rsyslogd runs in the foreground as a child with its own config, work directory and pid file, and
// only an imfile input that this benchmark feeds: it never touches the system's logging.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { BOOTH, sampleDoc } from '../test/support/documents.ts';
import { OpenSearchStandIn } from '../test/support/opensearch.ts';
import { NullBulk } from './null-bulk.ts';
import { median } from '../agent/report/change-points.ts';
import { AGENT, peakRssKb, requireBuiltAgent, serviceEnvironment, writeDrainConfig } from './agent-process.ts';
import { cpuMs, networkBenchmarks, watchIdle, type Idle } from './network.bench.ts';
import { uploadBenchmarks } from './upload.bench.ts';
import type { Result } from './table.ts';

/** The index every benchmark document lands in ({prefix}-{kind}-YYYY.MM): only these are counted. */
const UPLOAD_INDICES = 'booth-upload-*';

interface DrainRun {
  seconds: number;
  peakRssMb: number;
  /** CPU time of the shipper's process over the whole run (user + system), seconds. */
  cpuSeconds: number;
  /** rsyslog only: the most queue files its disk-assisted queue held at once during the run. */
  queueFiles?: number;
}

/** Where a drain ships to: the faithful stand-in (parses and stores as OpenSearch would), or the null sink. */
type SinkKind = 'stand-in' | 'null';

interface DrainSink {
  url: string;
  count(pattern: string): number;
  close(): Promise<void>;
}

const startSink = (kind: SinkKind): Promise<DrainSink> => (kind === 'null' ? NullBulk.start() : OpenSearchStandIn.start({ seed: 11 }));

export interface PeersOptions {
  /** Documents in the backlog both sides drain. */
  docs: number;
  /** Runs of each drain and of the upload comparison; medians are reported. */
  runs: number;
  idleMinutes: number;
  /** Only the drains (stand-in and null sink), not the uploads and the idle comparison. */
  drainOnly?: boolean;
  /** Only booth-agent's drains to the null sink (gzip, then uncompressed), each run's figures: for quick iterations. */
  nullOnly?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes the copy of the backlog just made to disk before a drain, rather than during it. */
function settleDisk(): void {
  execFileSync('sync');
}

/**
 * After the backlog is built, the file system is left a few seconds to finish with it. Without
 * this pause the first drain of a run, whichever side ran it, took twice as long as the rest at
 * the same CPU, neither side busy: waiting on the disk, it seems (the machine measured has ext4
 * mounted with `discard`, still freeing the blocks of the build's WAL resets; `sync` alone did not help).
 */
async function settleAfterBuild(): Promise<void> {
  settleDisk();
  await sleep(6000);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((r) => child.on('close', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await closed;
  clearTimeout(timer);
}

// ----- rsyslog

/** Installs rsyslog and its omelasticsearch module when missing; returns `rsyslogd -v`'s version. */
export function ensureRsyslog(): string {
  const installed = (pkg: string) => {
    try {
      return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).includes('install ok installed');
    } catch {
      return false;
    }
  };
  if (!installed('rsyslog') || !installed('rsyslog-elasticsearch')) {
    console.log('installing rsyslog and rsyslog-elasticsearch (apt-get) for the peer benchmark…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'rsyslog', 'rsyslog-elasticsearch'], { stdio: 'ignore', env });
  }
  return /rsyslogd\s+(\S+)/.exec(execFileSync('rsyslogd', ['-v'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
}

/**
 * rsyslog's configuration: the NDJSON file read by imfile; mmjsonparse parses each line only to name
 * the index and the _id; the document sent is the line itself (`%msg%`, not re-encoded). Bulk
 * `create` with `_id` = event.id into booth-{kind}-YYYY.MM, as the agent sends; up to 1000 documents
 * per request (the action queue's dequeue batch), like the agent's batch.max_docs in this benchmark.
 */
function rsyslogConfig(dir: string, input: string, port: number): string {
  return `global(workDirectory="${dir}/work" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="mmjsonparse")
module(load="omelasticsearch")
template(name="doc" type="string" string="%msg%")
template(name="index" type="list") {
  constant(value="booth-") property(name="$!event!dataset" field.delimiter="46" field.number="2")
  constant(value="-") property(name="$!@timestamp" position.from="1" position.to="4")
  constant(value=".") property(name="$!@timestamp" position.from="6" position.to="7")
}
template(name="id" type="list") { property(name="$!event!id") }
input(type="imfile" file="${input}" tag="booth" ruleset="ship" freshStartTail="off")
ruleset(name="ship") {
  action(type="mmjsonparse" cookie="" useRawMsg="on")
  action(type="omelasticsearch" server="127.0.0.1" serverport="${port}" template="doc"
    searchIndex="index" dynSearchIndex="on" bulkid="id" dynbulkid="on" writeoperation="create" esVersion.major="8"
    bulkmode="on" maxbytes="5m" errorFile="${dir}/es-errors.json"
    queue.type="LinkedList" queue.filename="es-action" queue.saveOnShutdown="on" queue.dequeueBatchSize="1000"
    action.resumeRetryCount="-1")
}
`;
}

function startRsyslog(dir: string, input: string, port: number): { child: ChildProcess; stderr: () => string } {
  fs.mkdirSync(path.join(dir, 'work'), { recursive: true });
  const conf = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(conf, rsyslogConfig(dir, input, port));
  const child = spawn('rsyslogd', ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return { child, stderr: () => stderr };
}

async function rsyslogDrain(docsFile: string, docs: number, sink: SinkKind): Promise<DrainRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-peer-rsyslog-'));
  const standIn = await startSink(sink);
  try {
    const input = path.join(dir, 'docs.ndjson');
    fs.copyFileSync(docsFile, input);
    settleDisk();
    const started = performance.now();
    const { child, stderr } = startRsyslog(dir, input, Number(new URL(standIn.url).port));
    try {
      return await untilStored(standIn, docs, child, started, stderr, path.join(dir, 'work'));
    } finally {
      await stop(child);
    }
  } finally {
    await standIn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function untilStored(standIn: DrainSink, docs: number, child: ChildProcess, started: number, stderr: () => string, queueDir?: string): Promise<DrainRun> {
  let peakKb = 0;
  let queueFiles = 0;
  let cpu = 0;
  const deadline = Date.now() + 600_000;
  while (standIn.count(UPLOAD_INDICES) < docs) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`drain stalled at ${standIn.count(UPLOAD_INDICES)} of ${docs}: ${stderr().slice(-2000)}`);
    peakKb = Math.max(peakKb, peakRssKb(child.pid!));
    cpu = cpuMs(child.pid!);
    if (queueDir) queueFiles = Math.max(queueFiles, fs.readdirSync(queueDir).filter((f) => f.startsWith('es-action.')).length);
    await sleep(20);
  }
  const seconds = (performance.now() - started) / 1000;
  peakKb = Math.max(peakKb, peakRssKb(child.pid!));
  cpu = cpuMs(child.pid!) || cpu;
  return { seconds, peakRssMb: (peakKb * 1024) / 1e6, cpuSeconds: cpu / 1000, ...(queueDir ? { queueFiles } : {}) };
}

/** An idle rsyslogd with the same input, queue and omelasticsearch action: CPU share and RSS. */
async function rsyslogIdle(minutes: number): Promise<Idle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-peer-rsyslog-idle-'));
  const standIn = await OpenSearchStandIn.start();
  try {
    const input = path.join(dir, 'docs.ndjson');
    fs.writeFileSync(input, '');
    const { child } = startRsyslog(dir, input, Number(new URL(standIn.url).port));
    try {
      await sleep(15_000); // as the agent's idle benchmark: started and settled
      return await watchIdle(child.pid!, minutes);
    } finally {
      await stop(child);
    }
  } finally {
    await standIn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ----- booth-agent

/** The backlog: `docs` upload documents in a buffer. */
function makeBuffer(root: string, docs: number): string {
  const stateDir = path.join(root, 'state');
  const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: 2e9, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
  for (let n = 0; n < docs; n += 1000) buffer.record(Array.from({ length: Math.min(1000, docs - n) }, (_, i) => sampleDoc('booth.upload', n + i)));
  buffer.close();
  return stateDir;
}

/** The backlog in a buffer, and the same documents as `booth-agent export` prints them. */
async function makeBacklog(root: string, docs: number): Promise<{ stateDir: string; docsFile: string }> {
  const stateDir = makeBuffer(root, docs);
  fs.mkdirSync(path.join(root, 'outbox'));
  const config = path.join(root, 'export.yaml');
  fs.writeFileSync(config, stringify({ booth: { id: BOOTH.id, country: BOOTH.country }, state_dir: stateDir, uploads: { watch_dir: path.join(root, 'outbox'), url: 'http://127.0.0.1:9/{file}' } }));
  const docsFile = path.join(root, 'docs.ndjson');
  const out = fs.openSync(docsFile, 'w');
  const child = spawn(process.execPath, [AGENT, 'export', '--config', config], { stdio: ['ignore', out, 'inherit'], env: { ...process.env, ...serviceEnvironment() } });
  const code = await new Promise((r) => child.on('close', r));
  fs.closeSync(out);
  if (code !== 0) throw new Error(`booth-agent export exited ${String(code)}`);
  const lines = fs.readFileSync(docsFile, 'utf8').split('\n').filter(Boolean);
  const uploads = lines.filter((l) => (JSON.parse(l) as { event: { dataset: string } }).event.dataset === 'booth.upload');
  if (uploads.length !== docs) throw new Error(`export printed ${uploads.length} upload documents, expected ${docs}`);
  fs.writeFileSync(docsFile, `${uploads.join('\n')}\n`);
  return { stateDir, docsFile };
}

async function agentDrain(backlogState: string, docs: number, compression: 'gzip' | 'none', sink: SinkKind): Promise<DrainRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-peer-agent-'));
  const standIn = await startSink(sink);
  try {
    const stateDir = path.join(dir, 'state');
    fs.cpSync(backlogState, stateDir, { recursive: true });
    settleDisk();
    const config = writeDrainConfig(dir, stateDir, { url: standIn.url, compression, batch: { max_docs: 1000 } });
    const started = performance.now();
    const child = spawn(process.execPath, [AGENT, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...serviceEnvironment() } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      return await untilStored(standIn, docs, child, started, () => stderr);
    } finally {
      await stop(child);
    }
  } finally {
    await standIn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ----- the comparison

const k = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(n >= 10 ? 1 : 2));

/** booth-agent's drains to the null sink alone, every run reported (no rsyslog, no stand-in). */
async function agentNullDrains(opts: PeersOptions): Promise<Result[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-null-backlog-'));
  const results: Result[] = [];
  try {
    const stateDir = makeBuffer(root, opts.docs);
    await settleAfterBuild();
    for (let i = 0; i < opts.runs; i++) {
      for (const compression of ['gzip', 'none'] as const) {
        const r = await agentDrain(stateDir, opts.docs, compression, 'null');
        const cpu = (r.cpuSeconds * 100_000) / opts.docs;
        results.push({ name: `run ${i + 1}, null sink, booth-agent ${compression}: CPU ${cpu.toFixed(2)} s/100k docs, peak RSS ${r.peakRssMb.toFixed(0)} MB`, value: opts.docs / r.seconds, unit: 'docs/s' });
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return results;
}

export async function peersBenchmarks(opts: PeersOptions): Promise<Result[]> {
  requireBuiltAgent();
  if (opts.nullOnly) return agentNullDrains(opts);
  const rsyslogVersion = ensureRsyslog();
  const cpu = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch();
  const osName = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
  console.log(`peers: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${osName}, kernel ${os.release()}, Node ${process.version}, rsyslog ${rsyslogVersion}`);

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-peer-backlog-'));
  const results: Result[] = [];
  try {
    const { stateDir, docsFile } = await makeBacklog(root, opts.docs);
    await settleAfterBuild();
    const label = `${opts.docs.toLocaleString('en-US')} docs`;
    const gzip: DrainRun[] = [];
    const plain: DrainRun[] = [];
    const rsyslog: DrainRun[] = [];
    const nullGzip: DrainRun[] = [];
    const nullPlain: DrainRun[] = [];
    const nullRsyslog: DrainRun[] = [];
    // Interleaved, so that drift of the machine does not favour one side.
    for (let i = 0; i < opts.runs; i++) {
      gzip.push(await agentDrain(stateDir, opts.docs, 'gzip', 'stand-in'));
      plain.push(await agentDrain(stateDir, opts.docs, 'none', 'stand-in'));
      rsyslog.push(await rsyslogDrain(docsFile, opts.docs, 'stand-in'));
      nullGzip.push(await agentDrain(stateDir, opts.docs, 'gzip', 'null'));
      nullPlain.push(await agentDrain(stateDir, opts.docs, 'none', 'null'));
      nullRsyslog.push(await rsyslogDrain(docsFile, opts.docs, 'null'));
    }
    const per100k = (runs: DrainRun[]) => median(runs.map((r) => (r.cpuSeconds * 100_000) / opts.docs));
    const rate = (runs: DrainRun[]) => runs.map((r) => opts.docs / r.seconds);
    const runsOf = (xs: number[]) => `runs ${xs.map(k).join(', ')}`;
    const med = (runs: DrainRun[]) => median(rate(runs));
    results.push(
      { name: `drain ${label}, start to all stored: booth-agent, gzip (its default), 1000 docs/request (${runsOf(rate(gzip))})`, value: med(gzip), unit: 'docs/s' },
      { name: `the same, booth-agent without compression (${runsOf(rate(plain))})`, value: med(plain), unit: 'docs/s' },
      { name: `the same, rsyslog ${rsyslogVersion} omelasticsearch, bulk, no compression, DA queue (${runsOf(rate(rsyslog))})`, value: med(rsyslog), unit: 'docs/s' },
      { name: 'drain ratio booth-agent gzip / rsyslog (medians)', value: med(gzip) / med(rsyslog), unit: '×' },
      { name: 'drain ratio booth-agent uncompressed / rsyslog (medians)', value: med(plain) / med(rsyslog), unit: '×' },
      { name: 'CPU time of the drain: booth-agent gzip (median)', value: median(gzip.map((r) => r.cpuSeconds)), unit: 's' },
      { name: 'CPU time of the drain: booth-agent uncompressed (median)', value: median(plain.map((r) => r.cpuSeconds)), unit: 's' },
      { name: `CPU time of the drain: rsyslogd (median; all its threads; DA queue files seen: ${rsyslog.map((r) => r.queueFiles ?? 0).join(', ')})`, value: median(rsyslog.map((r) => r.cpuSeconds)), unit: 's' },
      { name: 'peak RSS during the drain: booth-agent gzip (median)', value: median(gzip.map((r) => r.peakRssMb)), unit: 'MB' },
      { name: 'peak RSS during the drain: rsyslogd (median)', value: median(rsyslog.map((r) => r.peakRssMb)), unit: 'MB' },
      { name: `drain ${label} to the null _bulk sink (bench/null-bulk.ts): booth-agent gzip (${runsOf(rate(nullGzip))})`, value: med(nullGzip), unit: 'docs/s' },
      { name: `the same, booth-agent without compression (${runsOf(rate(nullPlain))})`, value: med(nullPlain), unit: 'docs/s' },
      { name: `the same, rsyslog (${runsOf(rate(nullRsyslog))})`, value: med(nullRsyslog), unit: 'docs/s' },
      { name: 'null sink drain ratio booth-agent gzip / rsyslog (goal ≥ 2×)', value: med(nullGzip) / med(nullRsyslog), unit: '×', target: { op: '>=', value: 2 } },
      { name: 'null sink drain ratio booth-agent uncompressed / rsyslog', value: med(nullPlain) / med(nullRsyslog), unit: '×' },
      { name: 'CPU per 100,000 docs, null sink: booth-agent gzip', value: per100k(nullGzip), unit: 's' },
      { name: 'CPU per 100,000 docs, null sink: booth-agent uncompressed', value: per100k(nullPlain), unit: 's' },
      { name: 'CPU per 100,000 docs, null sink: rsyslogd', value: per100k(nullRsyslog), unit: 's' },
      { name: 'CPU per document ratio booth-agent gzip / rsyslog, null sink (goal ≤ 0.5×)', value: per100k(nullGzip) / per100k(nullRsyslog), unit: '×', target: { op: '<=', value: 0.5 } },
      { name: 'CPU per 100,000 docs, stand-in: booth-agent gzip / uncompressed / rsyslogd', value: per100k(gzip), unit: `s (${per100k(plain).toFixed(2)} s, ${per100k(rsyslog).toFixed(2)} s)` },
      { name: 'peak RSS during the null sink drain: booth-agent gzip / rsyslogd', value: median(nullGzip.map((r) => r.peakRssMb)), unit: `MB (${median(nullRsyslog.map((r) => r.peakRssMb)).toFixed(0)} MB)` },
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }

  if (opts.drainOnly) return results;
  // Uploads: upload.bench's comparison with curl -T, `runs` times.
  const uploads: Result[][] = [];
  for (let i = 0; i < opts.runs; i++) uploads.push(await uploadBenchmarks({ files: 10, fileMb: 100 }));
  const pick = (rs: Result[], prefix: string) => rs.find((r) => r.name.startsWith(prefix))!.value;
  const agentUp = uploads.map((rs) => pick(rs, 'upload '));
  const curlUp = uploads.map((rs) => pick(rs, 'the same files with curl'));
  const upRatios = uploads.map((rs) => pick(rs, 'booth-agent / curl'));
  results.push(
    { name: `upload 10 × 100 MB to an unlimited loopback receiver: booth-agent (median; ${agentUp.map((x) => x.toFixed(0)).join(', ')})`, value: median(agentUp), unit: 'MB/s' },
    { name: `the same files with curl -T, one after another (median; ${curlUp.map((x) => x.toFixed(0)).join(', ')})`, value: median(curlUp), unit: 'MB/s' },
    { name: `booth-agent / curl upload throughput (median of per-run ratios; ${upRatios.map((x) => x.toFixed(2)).join(', ')})`, value: median(upRatios), unit: '×', target: { op: '>=', value: 0.9 } },
  );

  // Idle: both at once (each measures only its own process), each beside its own stand-in.
  const [agentIdle, rsIdle] = await Promise.all([networkBenchmarks({ idleMinutes: opts.idleMinutes }), rsyslogIdle(opts.idleMinutes)]);
  const agentCpu = pick(agentIdle, 'idle agent CPU');
  const agentPeak = pick(agentIdle, 'idle agent peak RSS');
  results.push(
    { name: `idle CPU over ${opts.idleMinutes} min: booth-agent (default intervals: heartbeat 30 s, network 60 s, shipping them)`, value: agentCpu, unit: '% of a core' },
    { name: `idle CPU over ${opts.idleMinutes} min: rsyslogd (imfile + DA queue + omelasticsearch, nothing to send)`, value: rsIdle.cpuPct, unit: '% of a core' },
    { name: `idle peak RSS over ${opts.idleMinutes} min: booth-agent (bundled, deploy/booth-agent.env)`, value: agentPeak, unit: 'MB' },
    { name: `idle peak RSS over ${opts.idleMinutes} min: rsyslogd`, value: rsIdle.peakRss, unit: 'MB' },
    { name: 'idle peak RSS ratio booth-agent / rsyslogd', value: agentPeak / rsIdle.peakRss, unit: '×' },
  );
  return results;
}
