// Upload benchmarks (issue 4): the agent's upload throughput against `curl -T` on the same files to
// the same unlimited loopback receiver, and the agent's peak RSS while it uploads a 2 GB file.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { UploadReceiver } from '../test/support/upload-receiver.ts';
import { AGENT, peakRssKb, requireBuiltAgent, serviceEnvironment } from './agent-process.ts';
import type { Result } from './table.ts';

const run = promisify(execFile);

/** Runs the bundled agent until the receiver holds `expected` files; returns seconds and peak RSS (MB). */
async function agentUpload(dir: string, receiver: UploadReceiver, expected: number): Promise<{ seconds: number; peakRssMb: number }> {
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    stringify({
      booth: { id: 'FB-BENCH', country: 'US' },
      state_dir: path.join(dir, 'state'),
      uploads: { watch_dir: path.join(dir, 'outbox'), url: receiver.urlTemplate, concurrency: 1, settle_time: '100ms' },
    }),
  );
  const child = spawn(process.execPath, [AGENT, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...serviceEnvironment() } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let first: number | undefined;
  let peakKb = 0;
  const deadline = Date.now() + 300_000;
  while ([...receiver.stored().values()].length < expected) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`uploads stalled: ${stderr.slice(-2000)}`);
    peakKb = Math.max(peakKb, peakRssKb(child.pid!));
    first ??= receiver.uploads()[0]?.startedAt ?? undefined;
    await new Promise((r) => setTimeout(r, 10));
  }
  peakKb = Math.max(peakKb, peakRssKb(child.pid!));
  const records = receiver.uploads().filter((r) => r.status === 201);
  const seconds = (Math.max(...records.map((r) => r.endedAt!)) - Math.min(...records.map((r) => r.startedAt!))) / 1000;
  child.kill('SIGTERM');
  await new Promise((r) => child.on('close', r));
  return { seconds, peakRssMb: (peakKb * 1024) / 1e6 };
}

export async function uploadBenchmarks(opts: { files: number; fileMb: number }): Promise<Result[]> {
  requireBuiltAgent();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-upload-bench-'));
  try {
    const booking = path.join(root, 'outbox', 'B1');
    fs.mkdirSync(booking, { recursive: true });
    const chunk = Buffer.alloc(1e6);
    for (let i = 0; i < opts.files; i++) {
      const fd = fs.openSync(path.join(booking, `IMG_${i}.jpg`), 'w');
      for (let m = 0; m < opts.fileMb; m++) fs.writeSync(fd, chunk.fill(i + m));
      fs.closeSync(fd);
    }
    const totalMb = opts.files * opts.fileMb;

    // curl -T, one file after another, the same receiver.
    let receiver = await UploadReceiver.start();
    const curlStart = performance.now();
    for (let i = 0; i < opts.files; i++) {
      // Asynchronously: the receiver runs in this process and must keep reading.
      await run('curl', ['-sS', '-f', '-o', '/dev/null', '-T', path.join(booking, `IMG_${i}.jpg`), `${receiver.url}/booths/FB-BENCH/bookings/B1/images/IMG_${i}.jpg`]);
    }
    const curlSeconds = (performance.now() - curlStart) / 1000;
    await receiver.close();

    receiver = await UploadReceiver.start();
    const agent = await agentUpload(root, receiver, opts.files);
    await receiver.close();

    // One 2 GB file (sparse: reads as zeros without filling the disk).
    const bigRoot = path.join(root, 'big');
    fs.mkdirSync(path.join(bigRoot, 'outbox', 'B2'), { recursive: true });
    const video = path.join(bigRoot, 'outbox', 'B2', 'VIDEO.mp4');
    fs.closeSync(fs.openSync(video, 'w'));
    fs.truncateSync(video, 2e9);
    receiver = await UploadReceiver.start();
    const big = await agentUpload(bigRoot, receiver, 1);
    await receiver.close();

    const agentMbS = totalMb / agent.seconds;
    const curlMbS = totalMb / curlSeconds;
    return [
      { name: `upload ${opts.files} × ${opts.fileMb} MB to an unlimited loopback receiver: booth-agent`, value: agentMbS, unit: 'MB/s' },
      { name: `the same files with curl -T, one after another`, value: curlMbS, unit: 'MB/s' },
      { name: 'booth-agent / curl upload throughput', value: agentMbS / curlMbS, unit: '×', target: { op: '>=', value: 0.9 } },
      { name: 'agent peak RSS while uploading a 2 GB file (bundled, deploy/booth-agent.env)', value: big.peakRssMb, unit: 'MB', target: { op: '<=', value: 100 } },
      { name: '2 GB file upload speed on loopback', value: 2000 / big.seconds, unit: 'MB/s' },
    ];
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
