// A hostile world around the uploads (issue 16). A photo swapped for something else between two
// attempts (item 1): the upload server answers 503 with Retry-After, and during the wait the file
// is replaced — by a symbolic link to a file outside the watch folder, by a hard link to one, or by
// a new photo renamed over it. Every attempt opens the file once without following links and checks
// the opened descriptor: the outside file's bytes never leave the booth, and a genuine new photo is
// uploaded. And an upload server whose answers trickle (item 6) holds no upload slot for long.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { collect, startCli } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';
import { UploadReceiver } from './support/upload-receiver.ts';
import { documents, uploadConfig, waitUntil, writeBooking } from './support/uploads.ts';

const SIZE = 800;
const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/**
 * Starts the agent on one photo B1/t.jpg, lets the server answer its first attempt 503 with
 * Retry-After: 1, then calls `swap` (the photo's path, a secret file outside the watch folder of the
 * same size) while the agent waits, and lets the server accept everything from then on.
 */
async function swapDuringRetry(t: TestContext, swap: (photo: string, secret: string, dir: string) => void) {
  const receiver = await UploadReceiver.start({ faults: { status503Ratio: 1, retryAfterSeconds: 1 } });
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver, { retry: { attempts: 6, min_delay: '100ms', max_delay: '2s' } });
  const secret = path.join(dir, 'secret.jpg');
  fs.writeFileSync(secret, Buffer.alloc(SIZE, 'S'));
  const photo = path.join(cfg.watchDir, 'B1', 't.jpg');
  fs.mkdirSync(path.dirname(photo));
  const original = crypto.randomBytes(SIZE);
  fs.writeFileSync(photo, original);
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child, undefined, 30_000);
  await waitUntil(() => receiver.uploads().some((u) => u.status === 503), 15_000, () => 'the first attempt was answered 503');
  swap(photo, secret, dir);
  receiver.faults = {};
  return { receiver, cfg, child, done, secret: fs.readFileSync(secret), original };
}

async function stop(child: ReturnType<typeof startCli>, done: ReturnType<typeof collect>) {
  child.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0, result.stderr);
  return result;
}

for (const kind of ['symbolic link', 'hard link'] as const) {
  test(`a photo replaced by a ${kind} to a file outside the watch folder during a Retry-After wait: the file is never sent, the refusal is recorded`, { timeout: 30_000 }, async (t) => {
    const { receiver, cfg, child, done, secret } = await swapDuringRetry(t, (photo, secretFile) => {
      fs.rmSync(photo);
      if (kind === 'symbolic link') fs.symlinkSync(secretFile, photo);
      else fs.linkSync(secretFile, photo);
    });
    const type = kind === 'symbolic link' ? 'file_symlink' : 'file_hard_link';
    // Until the agent has said no, or (the defect) sent something.
    await waitUntil(() => receiver.stored().size > 0 || documents(cfg.stateDir).some((d) => d.error?.type === type), 15_000, () => `a ${type} failure is recorded`);
    // Time for a retry that should not come.
    await new Promise((r) => setTimeout(r, 1500));
    await stop(child, done);
    const secretHash = sha256(secret);
    assert.ok(receiver.uploads().every((u) => u.sha256 !== secretHash), 'the outside file never reached the server');
    assert.equal(receiver.stored().size, 0);
    const docs = documents(cfg.stateDir);
    assert.ok(!docs.some((d) => d.upload?.outcome === 'success'), 'no success is recorded');
    assert.ok(docs.some((d) => d.error?.type === type && d.upload?.outcome === 'failure'), `the refusal is recorded (${type})`);
  });
}

test('a photo rewritten by rename during a Retry-After wait: the new photo is uploaded, once', { timeout: 30_000 }, async (t) => {
  const replacement = crypto.randomBytes(SIZE + 100);
  const { receiver, child, done } = await swapDuringRetry(t, (photo, _secret, dir) => {
    const tmp = path.join(dir, 'new.jpg');
    fs.writeFileSync(tmp, replacement);
    fs.renameSync(tmp, photo);
  });
  await waitUntil(() => receiver.stored().has('B1/t.jpg'), 15_000, () => 'the new photo is uploaded');
  await stop(child, done);
  assert.equal(receiver.stored().get('B1/t.jpg')?.sha256, sha256(replacement));
  assert.equal(receiver.stored().get('B1/t.jpg')?.count, 1);
});

test('an upload server that trickles every answer (200, then a byte a second): both upload slots are free again within seconds, every photo recorded as uploaded', { timeout: 30_000 }, async (t) => {
  const receiver = await UploadReceiver.start({ faults: { hostile: { kind: 'trickle', status: 200, declaredBytes: 100_000, intervalMs: 1000 } } });
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver, { concurrency: 2, idle_timeout: '2s' });
  const names = writeBooking(cfg, 'B1', [1000, 2000, 3000, 4000]);
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child, undefined, 30_000);
  const started = Date.now();
  await waitUntil(() => documents(cfg.stateDir).filter((d) => d.upload?.outcome === 'success').length === names.length, 20_000, () => 'four successes');
  const took = Date.now() - started;
  await stop(child, done);
  // Two at a time, each answer cut 2 s after its status: about 4 s, never the 100,000 s the body claims.
  assert.ok(took < 12_000, `four uploads took ${took} ms`);
  assert.equal(receiver.stored().size, names.length);
});

test('a file that grows with pauses longer than settle_time: the beginning is uploaded, then the whole file as it ends up — never only a beginning of it', { timeout: 40_000 }, async (t) => {
  const receiver = await UploadReceiver.start();
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver, { settle_time: '300ms', reconcile_interval: '1s' });
  const photo = path.join(cfg.watchDir, 'B1', 'slow.jpg');
  fs.mkdirSync(path.dirname(photo));
  const parts = [crypto.randomBytes(10_000), crypto.randomBytes(10_000), crypto.randomBytes(10_000), crypto.randomBytes(10_000)];
  fs.writeFileSync(photo, parts[0]!);
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child, undefined, 40_000);
  await waitUntil(() => receiver.stored().get('B1/slow.jpg')?.bytes === 10_000, 15_000, () => 'the first 10,000 bytes');
  // 10 KB more every second (settle_time is 300 ms): each pause looks like the end of the file.
  for (const part of parts.slice(1)) {
    await new Promise((r) => setTimeout(r, 1000));
    fs.appendFileSync(photo, part);
  }
  const whole = Buffer.concat(parts);
  await waitUntil(() => receiver.stored().get('B1/slow.jpg')?.sha256 === sha256(whole), 15_000, () => `stored: ${receiver.stored().get('B1/slow.jpg')?.bytes} bytes`);
  await stop(child, done);
  const successes = documents(cfg.stateDir).filter((d) => d.file?.name === 'slow.jpg' && d.upload?.outcome === 'success');
  assert.equal(successes.at(-1)?.upload?.bytes, 40_000, 'the last success is the whole file');
});
