// Host facts (agent/sources/host-facts): systeminformation asked by a child process, never by the
// agent. The real child on this machine, its facts in real booth.network and booth.heartbeat
// documents; and children that hang (with a grandchild, as a hung nmcli would be), crash, print
// garbage or facts of the wrong shape — killed at the timeout, the agent's event loop untouched,
// the facts absent, one warning for the whole spell and one line when they are back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import winston from 'winston';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { HeartbeatSource } from '../agent/sources/heartbeat.ts';
import { collectorModule, HostFacts, parseChildAnswer } from '../agent/sources/host-facts/host-facts.ts';
import { KernelReadings } from '../agent/sources/network/readings.ts';
import { NetworkSource } from '../agent/sources/network/source.ts';
import { Recorder } from '../agent/sources/recorder.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { collect, startCli, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';
import { documents, waitUntil } from './support/uploads.ts';

/** Documents as read back from the buffer: plain JSON. */
type Json = Record<string, any>;

interface Logged {
  level: string;
  message: string;
  [k: string]: unknown;
}

/** A logger that prints nothing and keeps every line. */
function capturingLogger(): { logger: winston.Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const keep = winston.format((info) => {
    lines.push({ ...info, level: info.level, message: String(info.message) });
    return false;
  });
  return { logger: winston.createLogger({ level: 'debug', format: keep(), transports: [new winston.transports.Console()] }), lines };
}

function setup(t: TestContext) {
  const dir = tempDir(t);
  const buffer = DocumentBuffer.open({ stateDir: path.join(dir, 'state'), maxSizeBytes: 1e8, maxAgeMs: 1e12, booth: BOOTH });
  t.after(() => buffer.close());
  const { logger, lines } = capturingLogger();
  const recorder = new Recorder(buffer, BOOTH, logger);
  const docs = (dataset: string) => [...buffer.documents()].map((e) => JSON.parse(e.body) as Json).filter((d) => d.event.dataset === dataset);
  return { dir, buffer, logger, lines, recorder, docs };
}

/** One network sample and one heartbeat, recorded with whatever `facts` knows. */
async function recordSampleAndHeartbeat(ctx: ReturnType<typeof setup>, facts: HostFacts): Promise<{ network: Json; heartbeat: Json }> {
  const { recorder, buffer, logger, dir } = ctx;
  const network = new NetworkSource({ intervalMs: 60_000, probeTimeoutMs: 1000, targets: [] }, { recorder, buffer, logger }, { hostFacts: facts });
  network.start();
  await waitUntil(() => network.latest() !== undefined, 5000, () => 'a network sample');
  await network.stop();
  const heartbeat = new HeartbeatSource(recorder, buffer, logger, { intervalMs: 60_000, stateDir: dir, bootId: 'test-boot', facts: { host: () => facts.host() } });
  heartbeat.beat();
  const [n] = ctx.docs('booth.network');
  const [h] = ctx.docs('booth.heartbeat');
  for (const d of [n, h]) {
    const v = validateDocument(d);
    assert.ok(v.ok, v.ok ? '' : `${v.reason}: ${JSON.stringify(d)}`);
  }
  return { network: n!, heartbeat: h! };
}

/** A stand-in collector whose behaviour is the word in <dir>/mode. */
function fakeCollector(dir: string): { command: string[]; mode: (m: 'hang' | 'garbage' | 'wrong-shape' | 'crash' | 'ok') => void } {
  const script = path.join(dir, 'collector.mjs');
  fs.writeFileSync(
    script,
    `import fs from 'node:fs';
import { spawn } from 'node:child_process';
const dir = process.argv[2];
fs.writeFileSync(dir + '/pid', String(process.pid));
switch (fs.readFileSync(dir + '/mode', 'utf8')) {
  case 'hang': {
    // A hung shell command under a collector that waits for it, as with a hung nmcli.
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    fs.writeFileSync(dir + '/grandchild', String(sleeper.pid));
    setInterval(() => {}, 1e6);
    break;
  }
  case 'garbage':
    process.stdout.write('Segmentation fault (core dumped)\\n\\u0000\\u0001 not facts\\n');
    break;
  case 'wrong-shape':
    process.stdout.write(JSON.stringify({ system: 'Raspberry Pi', interfaces: [1, 2] }) + '\\n');
    break;
  case 'crash':
    throw new Error('the collector fell over');
  case 'ok':
    process.stdout.write(JSON.stringify({ system: { manufacturer: 'Raspberry Pi Foundation', model: 'Raspberry Pi 4 Model B Rev 1.5', serial: '10000000abcdef01' }, cpu_temperature_c: 48.5, gateway: '192.0.2.1', interfaces: { eth0: { dhcp: true, duplex: 'full' } }, took_ms: 80, max_rss_bytes: 5e7, later_field: 1 }) + '\\n');
    break;
}
`,
  );
  return { command: [process.execPath, script, dir], mode: (m) => fs.writeFileSync(path.join(dir, 'mode'), m) };
}

/** Gone: no such process, or a zombie waiting for its parent (it runs nothing). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const warnings = (lines: Logged[]) => lines.filter((l) => l.level === 'warn');

test('the real child on this machine: systeminformation\'s facts, and they land in booth.network and booth.heartbeat documents', { timeout: 15_000 }, async (t) => {
  const ctx = setup(t);
  assert.match(path.basename(collectorModule()), /^collect\.ts$/, 'from a checkout, the collector is collect.ts beside host-facts.ts');
  const facts = new HostFacts({ intervalMs: 15 * 60_000 }, ctx.logger);
  const r = await facts.refresh();
  assert.ok(r.ok, r.ok ? '' : r.error);
  const f = r.facts;
  t.diagnostic(`child: ${r.ms} ms wall (its calls ${f.took_ms} ms), peak RSS ${((f.max_rss_bytes ?? 0) / 1e6).toFixed(1)} MB; facts ${JSON.stringify({ ...f, took_ms: undefined, max_rss_bytes: undefined })}`);
  assert.ok(r.ms < 10_000, 'well inside the timeout');
  assert.ok(f.system?.model || f.gateway || Object.keys(f.interfaces ?? {}).length > 0, `some facts about this machine: ${JSON.stringify(f)}`);
  assert.equal(typeof f.took_ms, 'number');
  assert.ok((f.max_rss_bytes ?? 0) > 1e6, 'the child reports its own peak memory');
  assert.equal(ctx.lines.filter((l) => l.message === 'host facts collected').length, 1, 'the first success is logged once, at info');
  assert.deepEqual(warnings(ctx.lines), []);

  const { network, heartbeat } = await recordSampleAndHeartbeat(ctx, facts);
  const kernel = new KernelReadings();
  const route = kernel.defaultRoute();
  if (route) {
    const iface = network.network.interface;
    assert.equal(iface.name, route.iface);
    const fromChild = f.interfaces?.[route.iface];
    const fromSys = kernel.interfaceFacts(route.iface).duplex;
    assert.equal(iface.duplex, fromSys ?? fromChild?.duplex, 'duplex from /sys, else from the child');
    if (fromChild?.dhcp !== undefined) assert.equal(iface.dhcp, fromChild.dhcp, 'DHCP from the child');
    assert.equal(network.network.gateway, route.gateway ?? f.gateway);
    t.diagnostic(`booth.network: interface ${JSON.stringify(iface)}, gateway ${network.network.gateway}, dns ${JSON.stringify(network.network.dns_servers)}`);
  }
  assert.deepEqual(network.network.dns_servers, kernel.dnsServers());
  for (const k of ['manufacturer', 'model', 'serial'] as const) assert.equal(heartbeat.host[k], f.system?.[k], `host.${k}`);
  if (f.cpu_temperature_c !== undefined && heartbeat.host.temperature_c !== f.cpu_temperature_c) t.diagnostic('a thermal zone gave the temperature; the child\'s is the fallback');
  await facts.stop();
});

test('a child that hangs (with a hung grandchild) is killed at the timeout: the event loop never waits, the facts are absent, one warning however often it hangs', { timeout: 15_000 }, async (t) => {
  const ctx = setup(t);
  const fake = fakeCollector(ctx.dir);
  fake.mode('hang');
  const facts = new HostFacts({ intervalMs: 60_000, timeoutMs: 1000, command: fake.command }, ctx.logger);
  // The loop's longest gap while the child hangs: a stalled agent would show it here.
  let last = performance.now();
  let worstGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  t.after(() => clearInterval(ticker));

  const started = performance.now();
  const r = await facts.refresh();
  const took = performance.now() - started;
  clearInterval(ticker);
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.error, /^the host-facts child gave no answer within 1s and was killed$/);
  assert.ok(took >= 950 && took < 3000, `ended by the timeout: ${took.toFixed(0)} ms`);
  assert.ok(worstGap < 250, `the event loop kept running (worst gap ${worstGap.toFixed(0)} ms)`);
  const pid = Number(fs.readFileSync(path.join(ctx.dir, 'pid'), 'utf8'));
  const grandchild = Number(fs.readFileSync(path.join(ctx.dir, 'grandchild'), 'utf8'));
  await waitUntil(() => !alive(pid) && !alive(grandchild), 3000, () => `the child (${pid}, ${alive(pid)}) and its grandchild (${grandchild}, ${alive(grandchild)}) were killed`);

  // Twice more: still one warning.
  assert.equal((await facts.refresh()).ok, false);
  assert.equal((await facts.refresh()).ok, false);
  const warned = warnings(ctx.lines);
  assert.equal(warned.length, 1, JSON.stringify(ctx.lines));
  assert.match(warned[0]!.message, /^host facts unavailable: the host-facts child gave no answer within 1s and was killed; documents go without them .* tried again every 1m$/);
  assert.equal(ctx.lines.filter((l) => l.message === 'host facts still unavailable').length, 2, 'the repeats at debug only');

  assert.equal(facts.latest(), undefined);
  assert.equal(facts.host(), undefined);
  // The agent records as before, without the facts.
  const { network, heartbeat } = await recordSampleAndHeartbeat(ctx, facts);
  assert.equal(network.network.interface?.dhcp, undefined);
  for (const k of ['manufacturer', 'model', 'serial']) assert.equal(heartbeat.host[k], undefined);
  assert.ok(heartbeat.host.memory.total_bytes > 0, 'the heartbeat\'s own host facts are there');
});

test('a child that prints garbage, facts of the wrong shape, or crashes: no facts and one warning; the next good answer is kept and logged once as recovered; the next failure warns again', { timeout: 15_000 }, async (t) => {
  const ctx = setup(t);
  const fake = fakeCollector(ctx.dir);
  const facts = new HostFacts({ intervalMs: 60_000, timeoutMs: 5000, command: fake.command }, ctx.logger);

  fake.mode('garbage');
  let r = await facts.refresh();
  assert.match(r.ok ? '' : r.error, /^the host-facts child printed no facts: "Segmentation fault/);
  fake.mode('wrong-shape');
  r = await facts.refresh();
  assert.match(r.ok ? '' : r.error, /^the host-facts child printed facts of the wrong shape \(system: /);
  fake.mode('crash');
  r = await facts.refresh();
  assert.equal(r.ok ? '' : r.error, 'the host-facts child failed: node exited with status 1: Error: the collector fell over');
  assert.equal(facts.latest(), undefined);
  assert.equal(warnings(ctx.lines).length, 1, 'one warning for the whole spell');
  assert.match(warnings(ctx.lines)[0]!.message, /printed no facts/);

  fake.mode('ok');
  r = await facts.refresh();
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(facts.host(), { manufacturer: 'Raspberry Pi Foundation', model: 'Raspberry Pi 4 Model B Rev 1.5', serial: '10000000abcdef01', temperature_c: 48.5 });
  assert.deepEqual(facts.forInterface('eth0'), { dhcp: true, duplex: 'full' });
  assert.equal((facts.latest() as Json)['later_field'], undefined, 'unknown keys of a newer child are dropped');
  const recovered = ctx.lines.filter((l) => l.message === 'host facts are available again');
  assert.equal(recovered.length, 1);
  assert.equal(recovered[0]!.level, 'info');

  // A failure after a success keeps that success's facts (fresh for two intervals) and warns anew.
  fake.mode('crash');
  assert.equal((await facts.refresh()).ok, false);
  assert.equal(warnings(ctx.lines).length, 2);
  assert.equal(facts.host()?.model, 'Raspberry Pi 4 Model B Rev 1.5');

  // The facts of the good answer in the documents: DHCP and the model; the child's temperature only where no thermal zone has one.
  const { heartbeat } = await recordSampleAndHeartbeat(ctx, facts);
  assert.equal(heartbeat.host.model, 'Raspberry Pi 4 Model B Rev 1.5');
  assert.equal(heartbeat.host.serial, '10000000abcdef01');
  assert.equal(typeof heartbeat.host.temperature_c, 'number');
});

test('facts older than two intervals are not presented; stop kills a running child at once and logs nothing', { timeout: 15_000 }, async (t) => {
  const ctx = setup(t);
  const fake = fakeCollector(ctx.dir);
  let now = 1_000_000;
  const facts = new HostFacts({ intervalMs: 60_000, timeoutMs: 5000, command: fake.command, now: () => now }, ctx.logger);
  fake.mode('ok');
  assert.ok((await facts.refresh()).ok);
  now += 2 * 60_000 + 5000;
  assert.equal(facts.host()?.model, 'Raspberry Pi 4 Model B Rev 1.5');
  now += 1;
  assert.equal(facts.latest(), undefined, 'stale');

  fake.mode('hang');
  fs.rmSync(path.join(ctx.dir, 'pid'));
  facts.start();
  await waitUntil(() => fs.existsSync(path.join(ctx.dir, 'grandchild')) && fs.existsSync(path.join(ctx.dir, 'pid')), 5000, () => 'the child running');
  const pid = Number(fs.readFileSync(path.join(ctx.dir, 'pid'), 'utf8'));
  const stopAt = performance.now();
  await facts.stop();
  assert.ok(performance.now() - stopAt < 500, 'stop does not wait for the timeout');
  await waitUntil(() => !alive(pid), 3000, () => 'the child killed');
  assert.deepEqual(warnings(ctx.lines), [], 'a child stopped with the agent is no failure');
});

test('parseChildAnswer takes the last JSON line, so a warning printed before it does no harm', () => {
  const r = parseChildAnswer('(node:1) Warning: something\n{"gateway":"10.0.0.1"}\n');
  assert.deepEqual(r, { facts: { gateway: '10.0.0.1' } });
  assert.match((parseChildAnswer('') as { error: string }).error, /^the host-facts child printed no facts$/);
  assert.match((parseChildAnswer('{"gateway": ') as { error: string }).error, /not JSON/);
  assert.match((parseChildAnswer('{"cpu_temperature_c": 1e9}') as { error: string }).error, /wrong shape \(cpu_temperature_c: /);
});

test('a collector that cannot be started at all is a failure like any other: no facts, one warning', async (t) => {
  const ctx = setup(t);
  const facts = new HostFacts({ intervalMs: 60_000, command: [path.join(ctx.dir, 'no-such-program')] }, ctx.logger);
  const r = await facts.refresh();
  assert.equal(r.ok ? '' : r.error, 'the host-facts child failed: no-such-program is not installed');
  assert.equal((await facts.refresh()).ok, false);
  assert.equal(warnings(ctx.lines).length, 1);
  assert.equal(facts.latest(), undefined);
});

test('the agent with a hung nmcli on its PATH (systeminformation#1044): the real child hangs in it and is killed with it at 10 s, the agent samples on, one warning', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const name of ['nmcli', 'iw']) {
    fs.writeFileSync(path.join(bin, name), '#!/bin/sh\nsleep 61.75\n');
    fs.chmodSync(path.join(bin, name), 0o755);
  }
  const sleepers = () => fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && alive(Number(pid)) && (() => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\x0061.75\x00';
    } catch {
      return false;
    }
  })());
  const cfg = writeConfig(dir, { heartbeat: { interval: '1s' }, network: { interval: '1s', probe_timeout: '500ms' } });
  const agent = startCli(['run', '--config', cfg.file], { env: { PATH: `${bin}:${process.env['PATH']}` } });
  t.after(() => agent.kill('SIGKILL'));
  const done = collect(agent, undefined, 30_000);
  await waitForOutput(agent, /"message":"started"/);
  const startedAt = performance.now();
  await waitUntil(() => sleepers().length > 0, 5000, () => 'the child stuck in nmcli');
  await waitForOutput(agent, /host facts unavailable/, 15_000);
  const killedAfter = performance.now() - startedAt;
  assert.ok(killedAfter >= 9000 && killedAfter < 12_500, `killed at the 10 s timeout (${killedAfter.toFixed(0)} ms after start)`);
  await waitUntil(() => sleepers().length === 0, 2000, () => `the hung nmcli killed with the child: ${sleepers().join(', ')}`);
  agent.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0, result.stderr.slice(-2000));

  const warned = result.stderr.split('\n').filter((l) => l.includes('host facts unavailable'));
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.match(warned[0]!, /"level":"warn".*the host-facts child gave no answer within 10s and was killed/);
  const docs = documents(cfg.stateDir) as unknown as Json[];
  const samples = docs.filter((d) => d.event.dataset === 'booth.network');
  assert.ok(samples.length >= 8, `the network source sampled on while the child hung (${samples.length} samples)`);
  for (const d of samples) assert.equal(d.network.interface?.dhcp, undefined, 'no DHCP fact without the child');
  const [beat] = docs.filter((d) => d.event.dataset === 'booth.heartbeat');
  assert.ok(beat, 'a heartbeat');
  assert.equal(beat.host.model, undefined);
  assert.ok(beat.agent.loop_delay_max_ms < 250, `event loop delay ${beat.agent.loop_delay_max_ms} ms`);
});
