// A hung system command never stalls the agent (issue 5): `iw`, `nmcli` and `ping` that sleep for a
// minute are first on PATH and the booth's default route is a Wi-Fi link (a fake /proc and /sys via
// HOST_PROC/HOST_SYS). While an upload and a drain run, every network sample still completes within
// its probe timeout, and the agent's own event-loop delay — reported in each heartbeat — stays under
// 250 ms: a command run synchronously would block it for at least its 500 ms timeout, while CPU
// starvation on a loaded 2-core machine reached 120 ms in full-suite runs (alone: at most 17 ms).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { collect, startCli, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { tempDir } from './support/tmp.ts';
import { UploadReceiver } from './support/upload-receiver.ts';
import { waitUntil, writeBooking } from './support/uploads.ts';

function write(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

/** /proc and /sys of a booth on Wi-Fi (wlan0, gateway 127.0.0.1). */
function wifiBooth(root: string): { proc: string; sys: string } {
  const proc = path.join(root, 'proc');
  const sys = path.join(root, 'sys');
  write(proc, 'net/route', 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nwlan0\t00000000\t0100007F\t0003\t0\t0\t600\t00000000\t0\t0\t0\n');
  write(proc, 'net/wireless', 'Inter-| sta-|   Quality        |   Discarded packets\n face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n wlan0: 0000   40.  -70.  -256        0      0      0      0    140        0\n');
  for (const [f, v] of Object.entries({ mtu: '1500', operstate: 'up', speed: '-1', uevent: 'DEVTYPE=wlan\n' })) write(sys, `class/net/wlan0/${f}`, `${v}\n`);
  fs.mkdirSync(path.join(sys, 'class/net/wlan0/wireless'), { recursive: true });
  for (const f of ['rx_bytes', 'tx_bytes', 'rx_errors', 'tx_errors', 'rx_dropped', 'tx_dropped']) write(sys, `class/net/wlan0/statistics/${f}`, '0\n');
  return { proc, sys };
}

function hangingCommands(t: TestContext): string {
  const dir = tempDir(t);
  for (const name of ['iw', 'nmcli', 'ping']) {
    fs.writeFileSync(path.join(dir, name), '#!/bin/sh\nsleep 60\n');
    fs.chmodSync(path.join(dir, name), 0o755);
  }
  return dir;
}

test('iw, nmcli and ping hanging for a minute: samples complete in their timeout, the loop stays under 250 ms of delay during an upload and a drain', { timeout: 90_000 }, async (t) => {
  const receiver = await UploadReceiver.start({ rateBytesPerSec: 5e6 });
  t.after(() => receiver.close());
  const standIn = await OpenSearchStandIn.start();
  t.after(() => standIn.close());
  standIn.faults = { latencyMs: 80 };
  const dir = tempDir(t);
  const cfg = writeConfig(dir, {
    uploads: { url: receiver.urlTemplate, settle_time: '200ms', concurrency: 1 },
    opensearch: { url: standIn.url, batch: { max_docs: 500, interval: '100ms' } },
    heartbeat: { interval: '1s' },
    network: { interval: '1s', probe_timeout: '500ms' },
  });
  // A backlog to drain (~10 s at 500 docs per 80 ms request) and a booking to upload (~8 s at 5 MB/s).
  const seed = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH });
  for (let i = 0; i < 60_000; i += 1000) seed.record(Array.from({ length: 1000 }, (_, j) => sampleDoc('booth.upload', i + j)));
  seed.close();
  writeBooking(cfg, 'B1', Array.from({ length: 40 }, () => 1_000_000));

  const { proc, sys } = wifiBooth(tempDir(t));
  const child = startCli(['run', '--config', cfg.file], { env: { PATH: `${hangingCommands(t)}:${process.env['PATH']}`, HOST_PROC: proc, HOST_SYS: sys } });
  const done = collect(child, undefined, 80_000);
  t.after(() => child.kill('SIGKILL'));
  await waitForOutput(child, /"message":"started"/);
  const window = Date.now();
  await waitUntil(() => receiver.stored().size >= 10 && standIn.count('booth-upload-*') >= 5000, 20_000, () => 'upload and drain under way');
  await new Promise((r) => setTimeout(r, 4000));
  const busy = { uploads: receiver.stored().size, drained: standIn.count('booth-upload-*') };
  assert.ok(busy.uploads < 40 && busy.drained < 60_000 + 40, `both still running at the end of the window (${JSON.stringify(busy)})`);
  await waitUntil(() => standIn.count('booth-network-*') >= 4, 10_000, () => 'network samples shipped');
  child.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0, result.stderr.slice(-3000));

  const network = standIn.documents('booth-network-*').map((d) => d.source as { '@timestamp': string; network: { wifi?: { ssid?: string; signal_dbm: number }; probes: { role: string; ok: boolean; error?: string }[] } });
  assert.ok(network.length >= 4, `${network.length} samples in ~6 s at a 1 s interval`);
  for (const n of network) {
    assert.deepEqual(n.network.wifi, { signal_dbm: -70, quality: 57 }, 'the signal from /proc; no SSID: iw and nmcli were killed');
    assert.equal(n.network.probes.find((p) => p.role === 'gateway')?.error, 'ping gave no answer within 0.5 s (killed)');
    assert.equal(n.network.probes.find((p) => p.role === 'upload')?.ok, true);
  }
  // Samples follow each other at interval + at most the probe timeout: none waited for the minute-long commands.
  const times = network.map((n) => Date.parse(n['@timestamp']));
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! < 1000 + 500 + 300, `samples ${times[i]! - times[i - 1]!} ms apart`);

  // Uploads after the first sample name the interface they went out on.
  const uploads = standIn.documents('booth-upload-*').map((d) => d.source as { booking: { id: string }; network?: { interface?: { name: string; type: string } } });
  const named = uploads.filter((u) => u.booking.id === 'B1' && u.network?.interface);
  assert.ok(named.length > 0, 'upload documents carry the interface');
  for (const u of named) assert.deepEqual(u.network!.interface, { name: 'wlan0', type: 'wireless', mtu: 1500 });

  const beats = standIn.documents('booth-heartbeat-*').map((d) => d.source as { '@timestamp': string; agent: { loop_delay_max_ms?: number } }).filter((b) => Date.parse(b['@timestamp']) > window + 1000);
  assert.ok(beats.length >= 3, `${beats.length} heartbeats during the window`);
  for (const b of beats) assert.ok(b.agent.loop_delay_max_ms !== undefined && b.agent.loop_delay_max_ms < 250, `event loop delay ${b.agent.loop_delay_max_ms} ms`);
});
