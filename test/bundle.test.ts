// The bundle a booth runs (npm run bundle): one minified file that must behave like the sources —
// it starts, uploads a photo, records it, and stops cleanly. Minification breaks code that relies on
// function or class names; this is where that would show.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { bundle } from '../scripts/agent-module.ts';
import { collect, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';
import { UploadReceiver } from './support/upload-receiver.ts';

test('the bundled agent uploads a booking, records it and stops cleanly', { timeout: 60_000 }, async (t) => {
  // Inside the checkout, so that better-sqlite3 (kept outside the bundle) resolves from node_modules.
  const out = fileURLToPath(new URL(`../dist/bundle-test-${process.pid}/booth-agent.mjs`, import.meta.url));
  t.after(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
  await bundle(out);
  assert.ok(fs.statSync(out).size < 3e6, 'one file of a few MB');

  const version = collect(spawn(process.execPath, [out, 'version'], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const v = await version;
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /booth-agent \d+\.\d+\.\d+/);

  const receiver = await UploadReceiver.start();
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = writeConfig(dir, { uploads: { url: receiver.urlTemplate, settle_time: '200ms' } });
  const booking = path.join(cfg.watchDir, '4711');
  fs.mkdirSync(booking);
  fs.writeFileSync(path.join(booking, 'IMG_0001.jpg'), crypto.randomBytes(300_000));
  fs.writeFileSync(path.join(booking, '.complete'), '');
  const child = spawn(process.execPath, [out, 'run', '--config', cfg.file], { stdio: ['pipe', 'pipe', 'pipe'] });
  const done = collect(child, undefined, 30_000);
  await waitForOutput(child, /Saved 1 image \(300 KB\) of booking 4711/, 20_000);
  child.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(receiver.stored().get('4711/IMG_0001.jpg')?.count, 1);

  const buffer = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH, check: false });
  try {
    const datasets = [...buffer.documents()].map((e) => (JSON.parse(e.body) as { event: { dataset: string; action?: string } }).event);
    assert.ok(datasets.some((e) => e.dataset === 'booth.upload'));
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
