// `booth-agent demo`: shows a newcomer the pipeline as far as it exists, on this machine, with
// nothing installed but the project. It runs the real `run` and `record` commands in child
// processes against a temporary folder, and leaves nothing behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { DocumentBuffer } from '../buffer/buffer.ts';
import { formatBytes, formatDuration } from '../config/units.ts';
import type { Command } from './command.ts';

const BIN = fileURLToPath(new URL('./booth-agent.js', import.meta.url));

export const demo: Command = {
  summary: 'run the pipeline on this machine against local stand-ins (leaves nothing behind)',
  usage: 'booth-agent demo',
  options: {},
  async run({ stdout }) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-demo-'));
    const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
    const onSignal = () => {
      cleanup();
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const say = (line = '') => stdout.write(`${line}\n`);
    try {
      const configFile = writeDemoConfig(dir);
      say(`booth-agent demo — a booth "FB-1042" in the US, everything under ${dir}\n`);

      say('1. Starting the agent (booth-agent run), as systemd would.');
      const agent = spawn(process.execPath, [BIN, 'run', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      let agentLog = '';
      agent.stderr.on('data', (d) => (agentLog += d));
      await waitFor(() => agentLog.includes('"message":"started"'), 15_000, () => `the agent did not start:\n${agentLog}`);

      say('2. The booth software reports two bookings through booth-agent record:');
      say('   booking 4711 uploads at about 12 MB/s; then the network breaks and booking 4712 crawls under 1 MB/s.');
      const ndjson = sampleBookings().map((d) => JSON.stringify(d)).join('\n');
      const recorded = await runChild(['record', '--config', configFile], ndjson);
      say(`   ${recorded.stdout.trim()}`);

      say('3. Stopping the agent with SIGTERM.');
      agent.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => agent.on('close', resolve));
      say(`   exit code ${code} — every document is already on disk (SQLite, synchronous=FULL).\n`);

      say('4. What the buffer holds, ready to ship:');
      const buffer = DocumentBuffer.open({ stateDir: path.join(dir, 'state'), maxSizeBytes: 256e6, maxAgeMs: 30 * 86_400_000, booth: { id: 'FB-1042', country: 'US' } });
      try {
        const stats = buffer.stats();
        for (const [dataset, n] of Object.entries(stats.queuedByDataset)) say(`   ${dataset.padEnd(16)} ${n}`);
        say(`   database: ${formatBytes(stats.fileBytes)} on disk, bound ${formatBytes(stats.maxBytes)}\n`);
        say('5. The booking summaries, in the operator\'s words:');
        for (const { body } of buffer.documents({ dataset: 'booth.booking' })) say(`   ${JSON.parse(body).message}`);
        say('\n6. The agent\'s own events:');
        const events = [...buffer.documents({ dataset: 'booth.agent' })].map(({ body }) => JSON.parse(body) as { '@timestamp': string; event: { action: string }; message: string });
        const width = Math.max(...events.map((e) => e.event.action.length));
        for (const e of events) say(`   ${e['@timestamp']}  ${e.event.action.padEnd(width)}  ${e.message}`);
      } finally {
        buffer.close();
      }
      say('\nHere the booth software reported its bookings through `record`. The agent can also upload the');
      say('photos itself and ship to OpenSearch (see README); a demo of that against local stand-ins is next.');
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      cleanup();
    }
  },
};

function writeDemoConfig(dir: string): string {
  fs.mkdirSync(path.join(dir, 'outbox'));
  const file = path.join(dir, 'config.yaml');
  const config = {
    booth: { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2' } },
    state_dir: path.join(dir, 'state'),
    log: { level: 'info' },
    uploads: { watch_dir: path.join(dir, 'outbox'), url: 'http://127.0.0.1:9/booths/{booth_id}/bookings/{booking_id}/images/{file}' },
  };
  fs.writeFileSync(file, stringify(config));
  return file;
}

/** Upload measurements and booking summaries as the booth's software would report them. */
function sampleBookings(): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  const start = Date.now() - 3_600_000;
  for (const [booking, speed, offset] of [['4711', 12.1, 0], ['4712', 0.95, 1_800_000]] as const) {
    let bytes = 0;
    let ms = 0;
    for (let i = 1; i <= 40; i++) {
      const size = 2_500_000 + ((i * 7919) % 1_500_000);
      const duration = (size / 1e6 / speed) * 1000;
      bytes += size;
      ms += duration;
      docs.push({
        '@timestamp': new Date(start + offset + ms).toISOString(),
        event: { dataset: 'booth.upload' },
        booking: { id: booking },
        file: { name: `IMG_${String(i).padStart(4, '0')}.jpg`, size },
        upload: { outcome: 'success', bytes: size, duration_ms: Math.round(duration), speed_mb_s: Number((size / 1e6 / (duration / 1000)).toFixed(2)), attempt: 1 },
        http: { response: { status_code: 201 } },
      });
    }
    const mbs = bytes / 1e6 / (ms / 1000);
    docs.push({
      '@timestamp': new Date(start + offset + ms).toISOString(),
      event: { dataset: 'booth.booking' },
      booking: { id: booking, count_images: 40, size_bytes: bytes, size_in_kb: Math.round(bytes / 1000), duration_in_seconds: Math.round(ms / 1000), speed_in_mb_s: Number(mbs.toFixed(2)), failed_images: 0 },
      message: `Saved 40 images (${formatBytes(bytes)}) of booking ${booking} in ${formatDuration(ms)} (${mbs.toFixed(1)} MB/s)`,
    });
  }
  return docs;
}

function runChild(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function waitFor(ok: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(describe());
    await new Promise((r) => setTimeout(r, 50));
  }
}
