// The network source (issue 5): connectivity events from a real upload-target server stopped and
// started on loopback, interface changes from injected readings — each recorded once per change —
// and the booth.network documents themselves, validated against the document schema.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { STATE_KEYS } from '../agent/buffer/state-keys.ts';
import { createLogger } from '../agent/log/logger.ts';
import { parseTarget } from '../agent/config/targets.ts';
import { NetworkSource, type NetworkProviders } from '../agent/sources/network/source.ts';
import type { Counters, InterfaceFacts, NetworkReadings, Signal } from '../agent/sources/network/readings.ts';
import { Recorder } from '../agent/sources/recorder.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { BOOTH } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';
import { waitUntil } from './support/uploads.ts';

interface Doc {
  event: { dataset: string; action?: string; duration_ms?: number };
  message?: string;
  network?: { online: boolean; interface?: InterfaceFacts; previous_interface?: InterfaceFacts; probes?: { role: string; ok: boolean }[]; rx_bytes_per_s?: number; errors?: number; wifi?: unknown };
}

/** Readings that say whatever the test sets. */
class InjectedReadings implements NetworkReadings {
  iface: InterfaceFacts = { name: 'eth0', type: 'wired', speed_mbps: 1000, mtu: 1500, operstate: 'up' };
  counters_: Counters = { rx_bytes: 0, tx_bytes: 0, errors: 0, dropped: 0 };
  signal_: Signal | undefined;
  defaultRoute() {
    return { iface: this.iface.name, gateway: '10.0.0.1' };
  }
  interfaceFacts(): InterfaceFacts {
    return { ...this.iface };
  }
  counters(): Counters {
    return { ...this.counters_ };
  }
  signal(): Signal | undefined {
    return this.signal_;
  }
}

const providers = (readings: NetworkReadings): NetworkProviders => ({
  readings,
  gateway: async (gw) => ({ role: 'gateway', target: gw, ok: true, rtt_ms: 1.5, loss_pct: 0 }),
  ssid: async () => 'Booth-WiFi',
});

function setup(t: TestContext) {
  const dir = tempDir(t);
  const buffer = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e8, maxAgeMs: 1e12, booth: BOOTH });
  t.after(() => buffer.close());
  const logger = createLogger({ level: 'error', file: `${dir}/agent.log` });
  const recorder = new Recorder(buffer, BOOTH, logger);
  const docs = () => [...buffer.documents()].map((e) => JSON.parse(e.body) as Doc);
  const events = (action: string) => docs().filter((d) => d.event.action === action);
  return { dir, buffer, logger, recorder, docs, events };
}

/** A TCP server standing in for the upload host; `stop` closes it with its connections. */
async function uploadHost(t: TestContext, port = 0): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = net.createServer((s) => s.on('error', () => {}));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  t.after(() => (server.listening ? stop() : undefined));
  return { port: (server.address() as net.AddressInfo).port, stop };
}

test('the upload host goes away and comes back: one connectivity_lost, one connectivity_restored with the outage within 10%', { timeout: 30_000 }, async (t) => {
  const { buffer, logger, recorder, docs, events } = setup(t);
  let host = await uploadHost(t);
  const port = host.port;
  const source = new NetworkSource({ intervalMs: 100, probeTimeoutMs: 300, targets: [parseTarget('upload', `http://127.0.0.1:${port}/up/{file}`)!] }, { recorder, buffer, logger }, providers(new InjectedReadings()));
  source.start();
  t.after(() => source.stop());
  await waitUntil(() => source.latest()?.online === true, 5000, () => 'online at first');

  const down = Date.now();
  await host.stop();
  await waitUntil(() => events('connectivity_lost').length === 1, 5000, () => 'connectivity_lost');
  await new Promise((r) => setTimeout(r, 3000));
  host = await uploadHost(t, port);
  const up = Date.now();
  await waitUntil(() => events('connectivity_restored').length === 1, 5000, () => 'connectivity_restored');
  await new Promise((r) => setTimeout(r, 500)); // more samples, online: no further events
  await source.stop();

  assert.equal(events('connectivity_lost').length, 1, 'once per outage, not once per sample');
  const [restored] = events('connectivity_restored');
  assert.equal(events('connectivity_restored').length, 1);
  const outage = up - down;
  const measured = restored!.event.duration_ms!;
  assert.ok(Math.abs(measured / outage - 1) <= 0.1, `outage ${outage} ms, measured ${measured} ms`);
  assert.match(restored!.message!, /^Back online after \d+(\.\d+)?s \(offline since /);
  assert.match(events('connectivity_lost')[0]!.message!, new RegExp(`^Offline: upload: 127\\.0\\.0\\.1:${port} refused the connection`));
  for (const d of docs()) assert.ok(validateDocument(d).ok, JSON.stringify(validateDocument(d)));
  const samples = docs().filter((d) => d.event.dataset === 'booth.network');
  assert.ok(samples.some((d) => d.network!.online === false) && samples.some((d) => d.network!.online === true));
  assert.deepEqual(samples.at(-1)!.network!.probes!.map((p) => [p.role, p.ok]), [['gateway', true], ['upload', true]]);
});

test('an outage that spans a restart is measured from its start', { timeout: 30_000 }, async (t) => {
  const { buffer, logger, recorder, events } = setup(t);
  const host = await uploadHost(t);
  const port = host.port;
  await host.stop();
  const target = [parseTarget('upload', `http://127.0.0.1:${port}`)!];
  const first = new NetworkSource({ intervalMs: 100, probeTimeoutMs: 300, targets: target }, { recorder, buffer, logger }, providers(new InjectedReadings()));
  const down = Date.now();
  first.start();
  await waitUntil(() => events('connectivity_lost').length === 1, 5000, () => 'connectivity_lost');
  await first.stop();
  await new Promise((r) => setTimeout(r, 1000));
  await uploadHost(t, port);
  const up = Date.now();
  const second = new NetworkSource({ intervalMs: 100, probeTimeoutMs: 300, targets: target }, { recorder, buffer, logger }, providers(new InjectedReadings()));
  second.start();
  t.after(() => second.stop());
  await waitUntil(() => events('connectivity_restored').length === 1, 5000, () => 'connectivity_restored');
  await second.stop();
  const measured = events('connectivity_restored')[0]!.event.duration_ms!;
  assert.ok(Math.abs(measured / (up - down) - 1) <= 0.15, `outage ${up - down} ms, measured ${measured} ms`);
  assert.equal(events('connectivity_lost').length, 1, 'the restart did not record the outage again');
});

test('interface changes from injected readings: link speed 1000 → 100, then Wi-Fi — one event each; traffic and Wi-Fi facts', { timeout: 30_000 }, async (t) => {
  const { buffer, logger, recorder, docs, events } = setup(t);
  const host = await uploadHost(t);
  const readings = new InjectedReadings();
  const source = new NetworkSource({ intervalMs: 50, probeTimeoutMs: 300, targets: [parseTarget('upload', `http://127.0.0.1:${host.port}`)!] }, { recorder, buffer, logger }, providers(readings));
  const samples = () => docs().filter((d) => d.event.dataset === 'booth.network').length;
  const after = async (n: number) => waitUntil(() => samples() >= n, 5000, () => `${n} samples`);
  source.start();
  t.after(() => source.stop());
  await after(2);
  readings.counters_ = { rx_bytes: 5_000_000, tx_bytes: 1_000_000, errors: 3, dropped: 1 };
  readings.iface = { ...readings.iface, speed_mbps: 100 };
  await after(5);
  readings.iface = { name: 'wlan0', type: 'wireless', mtu: 1500, operstate: 'up' };
  readings.signal_ = { signal_dbm: -67, quality: 61 };
  await after(8);
  await source.stop();

  const changes = events('interface_changed');
  assert.deepEqual(
    changes.map((c) => c.message),
    ['Link speed of eth0 changed from 1000 Mbit/s to 100 Mbit/s', 'Network interface changed from eth0 (wired, 100 Mbit/s) to wlan0 (wireless)'],
  );
  assert.equal(changes[0]!.network!.previous_interface!.speed_mbps, 1000);
  assert.equal(changes[1]!.network!.interface!.type, 'wireless');
  const all = docs().filter((d) => d.event.dataset === 'booth.network');
  const withTraffic = all.find((d) => (d.network!.rx_bytes_per_s ?? 0) > 0)!;
  assert.ok(withTraffic, 'rx/tx bytes per second from the counters');
  assert.equal(withTraffic.network!.errors, 3, 'errors as the delta since the previous sample');
  assert.deepEqual(all.at(-1)!.network!.wifi, { ssid: 'Booth-WiFi', signal_dbm: -67, quality: 61 });
  for (const d of docs()) assert.ok(validateDocument(d).ok, JSON.stringify(validateDocument(d)));
  assert.deepEqual(source.moment(), { network: { online: true, interface: { name: 'wlan0', type: 'wireless', mtu: 1500 } } });
  // What `status` reads, from another process: the last sample, kept in the buffer's state.
  const latest = buffer.getState<{ online: boolean; interface: InterfaceFacts; wifi: unknown; probes: unknown[] }>(STATE_KEYS.networkLatest)!;
  assert.equal(latest.interface.name, 'wlan0');
  assert.deepEqual(latest.wifi, { ssid: 'Booth-WiFi', signal_dbm: -67, quality: 61 });
  assert.equal(latest.probes.length, 2);
});
