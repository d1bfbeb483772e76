// `booth-agent demo` / `npm run demo`: the whole pipeline on this machine in about half a minute,
// with nothing installed but the project and no network. An upload server and an OpenSearch
// stand-in listen on loopback; the real agent (`run`, in a child process, as systemd would start it)
// uploads generated bookings from a temporary watch folder and ships what it measures; midway the
// upload server slows from ~12 MB/s to under 1 MB/s, replaying the incident the product exists for.
// Then the status screen, what reached OpenSearch, the incident as the booth recorded it, and the
// report of what was shipped (on a real OpenSearch when OPENSEARCH_URL is set: demo-report.ts).
// Everything — processes, ports, files — is gone afterwards, also after Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { printable } from '../printable.ts';
import type { Command } from './command.ts';
import { CliError, EXIT } from './exit-codes.ts';

const BIN = fileURLToPath(new URL('./booth-agent.js', import.meta.url));
const FAST = 12e6;
const SLOW = 0.9e6;

export const demo: Command = {
  summary: 'run the whole pipeline on this machine against local stand-ins (about 30 s; leaves nothing behind)',
  usage: 'booth-agent demo [--quick]',
  options: { quick: { type: 'boolean' } },
  async run({ stdout, values, env }) {
    // The stand-ins are the test suite's own (test/support): loaded only when the demo runs, and
    // only present in a checkout — a booth's bundle leaves them out.
    let standIns;
    try {
      standIns = await Promise.all([import('../../test/support/upload-receiver.ts'), import('../../test/support/opensearch.ts')]);
    } catch (err) {
      throw new CliError(`the demo runs from a checkout of booth-agent (npm run demo), not from an installed bundle (${(err as Error).message})`, EXIT.fatal);
    }
    const [{ UploadReceiver }, { OpenSearchStandIn }] = standIns;
    const quick = values['quick'] === true;
    const say = (line = '') => stdout.write(`${printable(line)}\n`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-demo-'));
    const receiver = await UploadReceiver.start({ rateBytesPerSec: FAST });
    const standIn = await OpenSearchStandIn.start();
    let agent: ChildProcess | undefined;
    const cleanup = async () => {
      if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
      await Promise.allSettled([receiver.close(), standIn.close()]);
      fs.rmSync(dir, { recursive: true, force: true });
    };
    const onSignal = () => void cleanup().then(() => process.exit(130));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const watch = path.join(dir, 'outbox');
      const config = writeConfig(dir, watch, receiver.urlTemplate, standIn.url);
      say(`booth-agent demo — booth FB-1042 (US); everything under ${dir}, nothing leaves this machine\n`);
      say(`1. On loopback: an upload server (${receiver.url}, reading at 12 MB/s) and an OpenSearch stand-in (${standIn.url}).`);
      say('2. Starting the agent (booth-agent run), as systemd would.');
      agent = spawn(process.execPath, [BIN, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      const log = followLog(agent, (line) => say(`   agent: ${line}`));
      await waitFor(() => log.text().includes('"message":"started"'), 15_000, () => `the agent did not start:\n${log.text()}`);

      const images = quick ? 3 : 6;
      say(`3. The booth saves three ordinary bookings; the agent uploads them and learns this booth's usual speed.`);
      for (const id of ['4708', '4709', '4710']) await booking(watch, id, images, 1_000_000, log);
      say(`4. The network degrades: the upload server now reads at 0.9 MB/s. The next booking crawls.`);
      receiver.rateBytesPerSec = SLOW;
      await booking(watch, '4711', quick ? 3 : 6, 500_000, log);
      await waitFor(() => standIn.count('booth-agent-*') > 0 && standIn.documents('booth-agent-*').some((d) => (d.source as { event: { action?: string } }).event.action === 'speed_degraded'), 20_000, () => 'speed_degraded did not reach OpenSearch');

      say('\n5. What the technician at the booth sees (booth-agent status):\n');
      const status = await runChild(['status', '--config', config]);
      say(status.stdout.replace(/^/gm, '   ').trimEnd());

      say('\n6. Stopping the agent with SIGTERM, as systemd would.');
      agent.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => agent!.on('close', resolve));
      say(`   exit code ${code}; everything it measured was shipped or is kept on disk.\n`);

      say('7. What reached OpenSearch, per index:');
      for (const name of standIn.indexNames().sort()) say(`   ${name.padEnd(30)} ${String(standIn.count(name)).padStart(5)} documents`);
      say('\n8. The bookings, in the operator\'s words:');
      for (const d of standIn.documents('booth-booking-*')) say(`   ${(d.source as { message: string }).message}`);
      say('\n9. The incident, recorded on the booth the moment it happened:');
      for (const d of standIn.documents('booth-agent-*')) {
        const e = d.source as { '@timestamp': string; event: { action: string }; message: string };
        if (e.event.action === 'speed_degraded') say(`   ${e['@timestamp']}  speed_degraded  ${e.message}`);
      }
      say('\nIn a fleet, the alert "uploads slower than 5 MB/s" fires on these documents (see README).');
      say(`\n10. The report of what it just shipped (booth-agent report${env['OPENSEARCH_URL'] ? `, on ${env['OPENSEARCH_URL']}` : ''}):`);
      const { demoReport } = await import('./demo-report.ts');
      await demoReport(standIn.documents('booth-*').map((d) => d.source as BoothDocument), env, say);
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await cleanup();
    }
  },
};

function writeConfig(dir: string, watch: string, uploadUrl: string, opensearchUrl: string): string {
  fs.mkdirSync(watch);
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    stringify({
      booth: { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2' } },
      state_dir: path.join(dir, 'state'),
      uploads: { watch_dir: watch, url: uploadUrl, settle_time: '200ms', concurrency: 1 },
      opensearch: { url: opensearchUrl, batch: { interval: '200ms' } },
    }),
  );
  return file;
}

/** Writes a booking of generated images and its marker; resolves once the agent has summarised it. */
async function booking(watch: string, id: string, count: number, size: number, log: AgentLog): Promise<void> {
  const dir = path.join(watch, id);
  fs.mkdirSync(dir);
  for (let i = 1; i <= count; i++) fs.writeFileSync(path.join(dir, `IMG_${String(i).padStart(4, '0')}.jpg`), crypto.randomBytes(size));
  fs.writeFileSync(path.join(dir, '.complete'), '');
  await waitFor(() => log.text().includes(`of booking ${id} in`), 60_000, () => `booking ${id} was not summarised:\n${log.text().slice(-3000)}`);
}

interface AgentLog {
  text(): string;
}

/** Collects the agent's JSON log; the lines an operator cares about are shown as they come. */
function followLog(agent: ChildProcess, show: (line: string) => void): AgentLog {
  let text = '';
  let partial = '';
  agent.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const m = (JSON.parse(line) as { message?: string }).message ?? '';
        if (/^(Saved \d|Upload speed)/.test(m)) show(m);
      } catch {
        // not JSON: ignore
      }
    }
  });
  return { text: () => text };
}

function runChild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function waitFor(ok: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(describe());
    await new Promise((r) => setTimeout(r, 50));
  }
}
