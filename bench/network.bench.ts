// Network benchmarks (issue 5): the CPU one probe cycle costs, and the footprint of the idle agent —
// CPU as a share of one core and resident memory of the bundled `run` over several minutes with the
// default intervals (heartbeat 30 s, network 60 s), uploading nothing, shipping its own documents
// to the OpenSearch stand-in. Where that memory goes: bench/memory.bench.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseTarget } from '../agent/config/targets.ts';
import { NetworkSource } from '../agent/sources/network/source.ts';
import { OpenSearchStandIn } from '../test/support/opensearch.ts';
import { UploadReceiver } from '../test/support/upload-receiver.ts';
import { AGENT, requireBuiltAgent, serviceEnvironment } from './agent-process.ts';
import type { Result } from './table.ts';

const TICK_MS = 1000 / 100; // USER_HZ

/** CPU time (ms) a process and its reaped children used: /proc/<pid>/stat utime, stime, cutime, cstime. */
export function cpuMs(pid: number | 'self'): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

/** Resident memory of a process now, MB. */
export function rssMb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1000;
}

async function probeCycle(receiver: UploadReceiver, standIn: OpenSearchStandIn): Promise<number> {
  const source = new NetworkSource({
    intervalMs: 60_000,
    probeTimeoutMs: 5000,
    targets: [parseTarget('upload', receiver.urlTemplate)!, parseTarget('opensearch', standIn.url)!, parseTarget('target', `localhost:${new URL(standIn.url).port}`)!],
  });
  for (let i = 0; i < 3; i++) await source.sample(); // warm up
  const cycles = 30;
  const before = cpuMs('self');
  for (let i = 0; i < cycles; i++) await source.sample();
  return (cpuMs('self') - before) / cycles;
}

export interface Idle {
  cpuPct: number;
  peakRss: number;
  endRss: number;
  /** Of endRss: anonymous memory (heaps, stacks) and file-backed pages (the node binary, libraries). */
  endAnon: number;
  endFile: number;
}

/** A process's resident memory now, split (MB): /proc/<pid>/smaps_rollup. */
function residentParts(pid: number): { anon: number; file: number } {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0);
  return { anon: kb('Anonymous') / 1000, file: (kb('Rss') - kb('Anonymous')) / 1000 };
}

/** CPU and resident memory of process `pid` over `minutes`, from now (it has started and settled). */
export async function watchIdle(pid: number, minutes: number): Promise<Idle> {
  const t0 = performance.now();
  const c0 = cpuMs(pid);
  let peakRss = 0;
  while (performance.now() - t0 < minutes * 60_000) {
    peakRss = Math.max(peakRss, rssMb(pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  const cpuPct = ((cpuMs(pid) - c0) / (performance.now() - t0)) * 100;
  const parts = residentParts(pid);
  return { cpuPct, peakRss, endRss: rssMb(pid), endAnon: parts.anon, endFile: parts.file };
}

/** CPU and resident memory of `node args` with the service's environment, from 15 s after its start for `minutes`. */
export async function idleProcess(minutes: number, args: string[]): Promise<Idle> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, ...serviceEnvironment() } });
  try {
    await new Promise((r) => setTimeout(r, 15_000)); // started, first samples shipped
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    return await watchIdle(child.pid!, minutes);
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.on('close', r));
  }
}

/** The bundled agent idle with the default intervals, shipping to `standIn`. */
export async function idleAgent(minutes: number, receiver: { urlTemplate: string }, standIn: { url: string }): Promise<Idle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-idle-bench-'));
  try {
    return await idleProcess(minutes, [AGENT, 'run', '--config', writeIdleConfig(dir, receiver, standIn)]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The config of an idle agent in `dir`: its state and an empty watch folder there. */
export function writeIdleConfig(dir: string, receiver: { urlTemplate: string }, standIn: { url: string }): string {
  fs.mkdirSync(path.join(dir, 'outbox'), { recursive: true });
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    stringify({ booth: { id: 'FB-BENCH', country: 'US' }, state_dir: path.join(dir, 'state'), uploads: { watch_dir: path.join(dir, 'outbox'), url: receiver.urlTemplate }, opensearch: { url: standIn.url } }),
  );
  return config;
}

export async function networkBenchmarks(opts: { idleMinutes: number }): Promise<Result[]> {
  requireBuiltAgent();
  const receiver = await UploadReceiver.start();
  const standIn = await OpenSearchStandIn.start();
  try {
    const cycle = await probeCycle(receiver, standIn);
    const idle = await idleAgent(opts.idleMinutes, receiver, standIn);
    return [
      { name: 'CPU of one probe cycle (interface facts + 3 loopback probes + gateway ping, children included)', value: cycle, unit: 'ms' },
      { name: `idle agent CPU over ${opts.idleMinutes} min, default intervals (bundled, deploy/booth-agent.env)`, value: idle.cpuPct, unit: '% of a core', target: { op: '<', value: 0.3 } },
      { name: `idle agent peak RSS over those ${opts.idleMinutes} min`, value: idle.peakRss, unit: 'MB', target: { op: '<=', value: 80 } },
      { name: 'idle agent RSS at the end', value: idle.endRss, unit: 'MB', target: { op: '<', value: 55 } },
    ];
  } finally {
    await receiver.close();
    await standIn.close();
  }
}
