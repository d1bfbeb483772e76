// The bundle a booth runs (npm run bundle): one minified file that must behave like the sources —
// it starts, uploads a photo, records it, and stops cleanly. Minification breaks code that relies on
// function or class names; this is where that would show. Beside it, the host-facts child's own
// bundle: the agent's never contains systeminformation, and the agent finds and runs the child.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { parseChildAnswer, type CollectedFacts } from '../agent/sources/host-facts/host-facts.ts';
import { KernelReadings } from '../agent/sources/network/readings.ts';
import { bundle, HOST_FACTS_CHILD } from '../scripts/agent-module.ts';
import { collect, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';
import { UploadReceiver } from './support/upload-receiver.ts';

test('the bundled agent uploads a booking, records it and stops cleanly', { timeout: 60_000 }, async (t) => {
  // Inside the checkout, so that better-sqlite3 (kept outside the bundle) resolves from node_modules.
  const out = fileURLToPath(new URL(`../dist/bundle-test-${process.pid}/booth-agent.mjs`, import.meta.url));
  t.after(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
  const meta = await bundle(out);
  assert.ok(fs.statSync(out).size < 3e6, 'one file of a few MB');
  // V8 keeps the agent's source text for its life: one character past ASCII (a "→" in a tagged
  // template, which esbuild cannot escape) makes all of it two bytes a character, +1.2 MB.
  const nonAscii = /[^\x00-\x7f]/.exec(fs.readFileSync(out, 'latin1'));
  assert.equal(nonAscii, null, `a character past ASCII in the bundle at ${nonAscii?.index}`);
  const inputs = (file: string) => Object.keys(meta.outputs[path.relative(process.cwd(), file)]?.inputs ?? {});
  const child = path.join(path.dirname(out), HOST_FACTS_CHILD);
  assert.ok(inputs(out).length > 100, 'esbuild accounts for the agent\'s inputs');
  assert.deepEqual(inputs(out).filter((i) => i.includes('systeminformation') || i.endsWith('host-facts/collect.ts')), [], 'the agent bundle never holds systeminformation');
  assert.ok(inputs(child).some((i) => i.includes('node_modules/systeminformation/')), 'the child bundle does');

  // The child alone, as the agent runs it.
  const direct = await collect(spawn(process.execPath, [child], { stdio: ['pipe', 'pipe', 'pipe'] }), undefined, 15_000);
  assert.equal(direct.code, 0, direct.stderr);
  const answer = parseChildAnswer(direct.stdout);
  assert.ok('facts' in answer, JSON.stringify(answer));
  const facts: CollectedFacts = answer.facts;
  t.diagnostic(`bundled host-facts child: calls ${facts.took_ms} ms, peak RSS ${((facts.max_rss_bytes ?? 0) / 1e6).toFixed(1)} MB`);

  const version = collect(spawn(process.execPath, [out, 'version'], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const v = await version;
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /booth-agent \d+\.\d+\.\d+/);

  const receiver = await UploadReceiver.start();
  t.after(() => receiver.close());
  const dir = tempDir(t);
  // Samples every second, so that some come after the host facts.
  const cfg = writeConfig(dir, { uploads: { url: receiver.urlTemplate, settle_time: '200ms' }, heartbeat: { interval: '1s' }, network: { interval: '1s' } });
  const booking = path.join(cfg.watchDir, '4711');
  fs.mkdirSync(booking);
  fs.writeFileSync(path.join(booking, 'IMG_0001.jpg'), crypto.randomBytes(300_000));
  fs.writeFileSync(path.join(booking, '.complete'), '');
  // Which of Node's own modules the agent loaded, written as it exits.
  const loadedFile = path.join(dir, 'loaded-modules.txt');
  const recordLoaded = `data:text/javascript,import fs from 'node:fs';process.on('exit',()=>fs.writeFileSync(${JSON.stringify(loadedFile)},process.moduleLoadList.join('\\n')))`;
  const agent = spawn(process.execPath, ['--import', recordLoaded, out, 'run', '--config', cfg.file], { stdio: ['pipe', 'pipe', 'pipe'] });
  const done = collect(agent, undefined, 30_000);
  await Promise.all([waitForOutput(agent, /Saved 1 image \(300 KB\) of booking 4711/, 20_000), waitForOutput(agent, /"message":"host facts collected"/, 20_000)]);
  await new Promise((r) => setTimeout(r, 1500));
  agent.kill('SIGTERM');
  const result = await done;
  assert.doesNotMatch(result.stderr, /host facts unavailable/);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(receiver.stored().get('4711/IMG_0001.jpg')?.count, 1);
  // Uploads and requests with bodies, yet none of what the agent never uses: undici (Node's fetch,
  // ~18 MB), the web streams, HTTP/2 (scripts/agent-module.ts, agent/cli/lazy-web-globals.ts).
  const loaded = fs.readFileSync(loadedFile, 'utf8').split('\n');
  assert.ok(loaded.includes('NativeModule https'), 'the list is the agent\'s');
  assert.deepEqual(loaded.filter((m) => /undici|webstreams|http2/.test(m)), []);

  const buffer = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH, check: false });
  try {
    type Doc = { event: { dataset: string; action?: string }; upload?: { server_address?: string }; host?: Record<string, unknown>; network?: { interface?: Record<string, unknown> } };
    const docs = [...buffer.documents()].map((e) => JSON.parse(e.body) as Doc);
    const datasets = docs.map((d) => d.event);
    assert.ok(datasets.some((e) => e.dataset === 'booth.upload'));
    assert.equal(docs.find((d) => d.event.dataset === 'booth.upload')?.upload?.server_address, '127.0.0.1');
    // The facts the bundled agent's child gave, in the documents recorded after it answered.
    const heartbeat = docs.filter((d) => d.event.dataset === 'booth.heartbeat').at(-1)!;
    if (facts.system?.model) assert.equal(heartbeat.host?.['model'], facts.system.model);
    const route = new KernelReadings().defaultRoute();
    const dhcp = route ? facts.interfaces?.[route.iface]?.dhcp : undefined;
    if (dhcp !== undefined) assert.equal(docs.filter((d) => d.event.dataset === 'booth.network').at(-1)?.network?.interface?.['dhcp'], dhcp);
    assert.ok(datasets.some((e) => e.dataset === 'booth.booking'));
    assert.ok(datasets.some((e) => e.action === 'stopped'));
  } finally {
    buffer.close();
  }
});

test('a bundle built with its own version reports it (npm run bundle -- --version V)', { timeout: 60_000 }, async (t) => {
  const out = fileURLToPath(new URL(`../dist/bundle-version-test-${process.pid}/booth-agent.mjs`, import.meta.url));
  t.after(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
  await bundle(out, '9.8.7-rc1');
  const v = await collect(spawn(process.execPath, [out, 'version'], { stdio: ['pipe', 'pipe', 'pipe'] }));
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^booth-agent 9\.8\.7-rc1$/m);
});
