// The life of an uploaded file (SPEC §5 "Uploads", README "Uploading photos"): what happens to it
// after a 2xx (after_upload delete | move), the secret header_files on every request, the
// reconciliation of the watch folder at start, and files that shrink or vanish under the agent.
// Each test runs the real agent against the upload receiver on loopback, with real files.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { openReadOnly } from '../agent/buffer/open.ts';
import { collect, startCli, type CliResult } from './support/cli.ts';
import { writeConfig, type TestConfig } from './support/config.ts';
import { tempDir } from './support/tmp.ts';
import { UploadReceiver } from './support/upload-receiver.ts';
import { documents, uploadConfig, waitUntil, writeBooking, type Doc } from './support/uploads.ts';

/** The upload state of one file, read read-only while the agent runs (as `status` does). */
function uploadStatus(stateDir: string, rel: string): string | undefined {
  if (!fs.existsSync(path.join(stateDir, 'buffer.db'))) return undefined;
  const db = openReadOnly(stateDir);
  try {
    return (db.prepare('SELECT status FROM uploads WHERE path = ?').get(rel) as { status: string } | undefined)?.status;
  } catch {
    return undefined; // the agent has not created the table yet
  } finally {
    db.close();
  }
}

const sha256 = (data: Buffer): string => crypto.createHash('sha256').update(data).digest('hex');
const sha256File = (file: string): string => sha256(fs.readFileSync(file));

interface Agent {
  child: ChildProcess;
  /** stderr + stdout so far. */
  log: () => string;
  /** Waits until the output so far matches `re` (a line already written counts). */
  waitForLog: (re: RegExp, timeoutMs?: number) => Promise<void>;
  /** SIGTERM, and how it ended. */
  stop: () => Promise<CliResult>;
}

function startAgent(t: TestContext, cfg: TestConfig, timeoutMs = 30_000): Agent {
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child, undefined, timeoutMs);
  done.catch(() => {}); // reported by stop(); a test that failed earlier kills the agent below
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let seen = '';
  child.stderr?.on('data', (d: string | Buffer) => (seen += d.toString()));
  child.stdout?.on('data', (d: string | Buffer) => (seen += d.toString()));
  return {
    child,
    log: () => seen,
    waitForLog: (re, ms = 10_000) => waitUntil(() => re.test(seen), ms, () => `no output matching ${re}; got:\n${seen}`),
    stop: async () => {
      child.kill('SIGTERM');
      return done;
    },
  };
}

const successes = <D extends Doc>(docs: D[], booking: string, name: string): D[] =>
  docs.filter((d) => d.event.dataset === 'booth.upload' && d.booking['id'] === booking && d.file?.name === name && d.upload?.outcome === 'success');

test('after_upload delete: each file is deleted only after the receiver accepted it; a rejected booking stays in place', { timeout: 30_000 }, async (t) => {
  // 400 KB at 4 MB/s: each upload lasts ~100 ms, long enough to catch a file deleted too early.
  const receiver = await UploadReceiver.start({ rateBytesPerSec: 4e6, faults: { rejectBookings: new Set(['B404']) } });
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver, { after_upload: 'delete' });
  const good = writeBooking(cfg, 'good', [400_000, 300_000, 200_000, 100_000, 50_000, 400_000]);
  const rejected = writeBooking(cfg, 'B404', [60_000, 70_000]);
  const rejectedSha = rejected.map((n) => sha256File(path.join(cfg.watchDir, 'B404', n)));

  // Watch the folder the whole time: a file gone from it must already be stored by the receiver.
  const early: string[] = [];
  const watch = setInterval(() => {
    for (const name of good) {
      if (!fs.existsSync(path.join(cfg.watchDir, 'good', name)) && !receiver.stored().has(`good/${name}`) && !early.includes(name)) early.push(name);
    }
  }, 2);
  t.after(() => clearInterval(watch));

  const agent = startAgent(t, cfg);
  await agent.waitForLog(/Saved 6 images .* of booking good/, 20_000);
  await waitUntil(() => receiver.uploads().filter((r) => r.booking === 'B404' && r.status === 404).length === 2, 10_000, () => 'both B404 files refused');
  clearInterval(watch);
  const result = await agent.stop();
  assert.equal(result.code, 0, result.stderr);

  assert.deepEqual(early, [], 'no file is deleted before the receiver accepted it');
  for (const name of good) {
    assert.equal(receiver.stored().get(`good/${name}`)?.count, 1, `${name} accepted once`);
    assert.ok(!fs.existsSync(path.join(cfg.watchDir, 'good', name)), `${name} deleted after its 2xx`);
  }
  assert.deepEqual(fs.readdirSync(path.join(cfg.watchDir, 'good')).filter((n) => n.endsWith('.jpg')), [], 'no image of the uploaded booking is left');
  for (const [i, name] of rejected.entries()) {
    const file = path.join(cfg.watchDir, 'B404', name);
    assert.ok(fs.existsSync(file), `${name} of the rejected booking stays in place`);
    assert.equal(sha256File(file), rejectedSha[i], `${name} of the rejected booking is unchanged`);
  }
  assert.doesNotMatch(result.stderr, /could not delete/, 'no delete failed');

  const docs = documents(cfg.stateDir);
  for (const name of good) assert.equal(successes(docs, 'good', name).length, 1, `${name}: one success document`);
  assert.deepEqual(
    docs.filter((d) => d.booking?.['id'] === 'B404' && d.upload?.outcome === 'rejected').map((d) => d.http?.response.status_code),
    [404, 404],
  );
  const summary = docs.find((d) => d.event.dataset === 'booth.booking' && d.booking['id'] === 'good');
  assert.equal(summary?.booking['count_images'], 6);
  assert.equal(summary?.booking['size_bytes'], 1_450_000);
});

test('after_upload move: accepted files end up intact at <move_to>/<booking>/<file>; rejected ones are not moved', { timeout: 30_000 }, async (t) => {
  const receiver = await UploadReceiver.start({ faults: { rejectBookings: new Set(['B404']) } });
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const moveTo = path.join(dir, 'uploaded');
  const cfg = uploadConfig(dir, receiver, { after_upload: 'move', move_to: moveTo });
  const good = writeBooking(cfg, 'party', [300_000, 1_000, 250_000, 77_777]);
  const rejected = writeBooking(cfg, 'B404', [40_000, 50_000]);
  const sha = new Map(good.map((n) => [n, sha256File(path.join(cfg.watchDir, 'party', n))]));

  const agent = startAgent(t, cfg);
  await agent.waitForLog(/Saved 4 images .* of booking party/, 15_000);
  await waitUntil(() => receiver.uploads().filter((r) => r.booking === 'B404' && r.status === 404).length === 2, 10_000, () => 'both B404 files refused');
  const result = await agent.stop();
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /could not move/, 'no move failed');

  for (const name of good) {
    const moved = path.join(moveTo, 'party', name);
    assert.ok(fs.existsSync(moved), `${name} moved to ${moved}`);
    assert.equal(sha256File(moved), sha.get(name), `${name} moved intact`);
    assert.equal(receiver.stored().get(`party/${name}`)?.sha256, sha.get(name), `${name} uploaded intact`);
    assert.ok(!fs.existsSync(path.join(cfg.watchDir, 'party', name)), `${name} is gone from the watch folder`);
  }
  for (const name of rejected) {
    assert.ok(fs.existsSync(path.join(cfg.watchDir, 'B404', name)), `${name} of the rejected booking stays in the watch folder`);
    assert.ok(!fs.existsSync(path.join(moveTo, 'B404', name)), `${name} of the rejected booking is not moved`);
  }
  const docs = documents(cfg.stateDir);
  for (const name of good) assert.equal(successes(docs, 'party', name).length, 1, `${name}: one success document`);
});

test('header_files: the Authorization header from a 0600 file is sent on every upload and never logged or recorded', { timeout: 30_000 }, async (t) => {
  const SECRET = 'Bearer s3cret';
  // Uploads without the header are refused with 401; resets exercise the error paths (logged, recorded).
  const receiver = await UploadReceiver.start({
    seed: 3,
    faults: { requireHeader: { name: 'Authorization', value: SECRET }, resetMidBodyRatio: 0.25, rejectBookings: new Set(['B404']) },
  });
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const secretFile = path.join(dir, 'upload-authorization');
  fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  assert.equal(fs.statSync(secretFile).mode & 0o777, 0o600);
  const cfg = writeConfig(dir, {
    log: { level: 'debug' },
    uploads: {
      url: receiver.urlTemplate,
      settle_time: '200ms',
      booking_idle_timeout: '1m',
      retry: { attempts: 20, min_delay: '50ms', max_delay: '500ms' },
      header_files: { Authorization: secretFile },
    },
  });
  const names = writeBooking(cfg, 'vip', Array.from({ length: 8 }, (_, i) => 50_000 + i * 1000));
  writeBooking(cfg, 'B404', [10_000]);

  const agent = startAgent(t, cfg);
  await agent.waitForLog(/Saved 8 images .* of booking vip/, 20_000);
  await waitUntil(() => receiver.uploads().some((r) => r.booking === 'B404' && r.status === 404), 10_000, () => 'the B404 file refused');
  const result = await agent.stop();
  assert.equal(result.code, 0, result.stderr);

  const records = receiver.uploads();
  assert.ok(records.length >= names.length + 1, `${records.length} uploads seen`);
  assert.ok(records.some((r) => r.fault === 'reset-mid-body'), 'some uploads were cut (error paths ran)');
  for (const r of records) assert.equal(r.headers['authorization'], SECRET, `upload of ${r.booking}/${r.file} carries the header`);
  assert.equal(records.filter((r) => r.status === 401).length, 0, 'no upload was refused for a missing header');
  for (const name of names) assert.equal(receiver.stored().get(`vip/${name}`)?.count, 1, `${name} stored once`);

  for (const [where, text] of [['stderr', result.stderr], ['stdout', result.stdout]] as const) {
    assert.ok(!text.includes('s3cret'), `the secret must not appear on ${where}:\n${text}`);
  }
  const docs = documents(cfg.stateDir);
  assert.ok(docs.length > names.length, `${docs.length} documents recorded`);
  for (const d of docs) assert.ok(!d.raw.includes('s3cret'), `the secret must not appear in a recorded document: ${d.raw}`);
  // Nor anywhere in the state folder (the database, its WAL).
  for (const f of fs.readdirSync(cfg.stateDir)) {
    const file = path.join(cfg.stateDir, f);
    if (fs.statSync(file).isFile()) assert.ok(!fs.readFileSync(file).includes('s3cret'), `the secret must not be stored in ${file}`);
  }
});

test('reconciliation at start: after a restart only the files added while stopped are uploaded, each file has one success', { timeout: 30_000 }, async (t) => {
  const receiver = await UploadReceiver.start();
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver);
  const first = writeBooking(cfg, 'A', [100_000, 110_000, 120_000, 130_000, 140_000]);

  const run1 = startAgent(t, cfg);
  await run1.waitForLog(/Saved 5 images .* of booking A/, 15_000);
  const r1 = await run1.stop();
  assert.equal(r1.code, 0, r1.stderr);
  for (const name of first) assert.equal(receiver.stored().get(`A/${name}`)?.count, 1, `${name} stored in the first run`);
  const uploadsBefore = receiver.uploads().length;

  // While the agent is stopped: three more images of A, and a new booking B.
  const added = writeBooking(cfg, 'A', [90_000, 80_000, 70_000], { first: 6, marker: false });
  const b = writeBooking(cfg, 'B', [60_000, 50_000]);

  const run2 = startAgent(t, cfg);
  await run2.waitForLog(/Saved 2 images .* of booking B/, 15_000);
  await waitUntil(() => added.every((n) => receiver.stored().has(`A/${n}`)), 10_000, () => `${receiver.stored().size} stored`);
  const r2 = await run2.stop();
  assert.equal(r2.code, 0, r2.stderr);

  const second = receiver.uploads().slice(uploadsBefore);
  assert.deepEqual(
    second.map((r) => `${r.booking}/${r.file}`).sort(),
    [...added.map((n) => `A/${n}`), ...b.map((n) => `B/${n}`)].sort(),
    'the second run uploads exactly the new files, none of the first five again',
  );
  const docs = documents(cfg.stateDir);
  for (const name of [...first, ...added]) {
    assert.equal(successes(docs, 'A', name).length, 1, `A/${name}: one success document overall`);
    assert.equal(receiver.stored().get(`A/${name}`)?.count, 1, `A/${name} accepted once`);
  }
  for (const name of b) assert.equal(successes(docs, 'B', name).length, 1, `B/${name}: one success document`);
  const summaryB = docs.filter((d) => d.event.dataset === 'booth.booking' && d.booking['id'] === 'B');
  assert.equal(summaryB.length, 1, 'booking B is summarized once');
  assert.equal(summaryB[0]!.booking['count_images'], 2);
});

test('a file that shrinks during its upload: an ESHRUNK failure is recorded, then the shorter file is uploaded', { timeout: 30_000 }, async (t) => {
  const receiver = await UploadReceiver.start({ rateBytesPerSec: 1e6 });
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver);
  // Loopback socket buffers let the sender run up to ~4 MiB ahead of a slow reader (see
  // upload-receiver.ts), plus the agent's own 1 MiB of read buffers: a 3 MB file was, in about one
  // run of four, already read whole by the time the receiver showed its upload in progress, so the
  // truncation came too late to touch that attempt (the upload then succeeded with the original 3 MB).
  // 10 MB leaves no such race; the shrunk attempt ends at the agent's next read.
  const [name] = writeBooking(cfg, 'S', [10_000_000]) as [string];
  const file = path.join(cfg.watchDir, 'S', name);

  const agent = startAgent(t, cfg);
  await receiver.waitFor((r) => r.uploads().some((u) => u.file === name && u.status === 0 && u.startedAt !== null), 10_000);
  fs.truncateSync(file, 1_000_000);
  const shrunk = sha256File(file);
  await agent.waitForLog(/Saved 1 images? .* of booking S/, 15_000);
  const result = await agent.stop();
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /upload failed unexpectedly/);

  const docs = documents(cfg.stateDir).filter((d) => d.event.dataset === 'booth.upload' && d.file?.name === name);
  const failure = docs.find((d) => d.upload?.outcome === 'failure');
  assert.ok(failure, `a failure is recorded for the attempt the file shrank under: ${JSON.stringify(docs.map((d) => [d.upload?.outcome, d.file?.size, d.error]))}`);
  assert.equal(failure.error?.type, 'ESHRUNK');
  assert.match(failure.error!.message, /became shorter/);
  assert.equal(failure.file?.size, 10_000_000, 'the failed attempt was of the original length');
  assert.match(failure.error!.message, /\(\d+ of 10000000 bytes\)/);
  const ok = successes(docs, 'S', name);
  assert.equal(ok.length, 1, 'then one success');
  assert.ok(docs.indexOf(failure) < docs.indexOf(ok[0]!), 'the failure comes first');
  assert.equal(ok[0]!.file?.size, 1_000_000, 'the success is of the shorter file');
  assert.equal(ok[0]!.upload?.bytes, 1_000_000);
  const stored = receiver.stored().get(`S/${name}`);
  assert.equal(stored?.bytes, 1_000_000, 'the receiver stored the shorter file');
  assert.equal(stored?.sha256, shrunk, 'the receiver stored exactly the shorter file');
  assert.equal(stored?.count, 1);
});

test('a file deleted while queued: a file_vanished failure, the rest uploaded, the booking summary says 1 not uploaded; written back, it is uploaded', { timeout: 30_000 }, async (t) => {
  const receiver = await UploadReceiver.start({ rateBytesPerSec: 1e6 });
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver, { concurrency: 1 });
  // The 2 MB file goes first (2 s at 1 MB/s); the small ones arrive while it uploads and wait in the queue.
  const [big] = writeBooking(cfg, 'D', [2_000_000], { marker: false }) as [string];
  const agent = startAgent(t, cfg);
  await receiver.waitFor((r) => r.uploads().some((u) => u.file === big && u.status === 0 && u.startedAt !== null), 10_000);
  const small = writeBooking(cfg, 'D', [20_000, 21_000, 22_000, 23_000], { first: 2, marker: false });
  const victim = small[1]!;
  await waitUntil(() => small.every((n) => uploadStatus(cfg.stateDir, path.join('D', n)) === 'pending'), 5_000, () => 'the small files are queued');
  assert.ok(!receiver.stored().has(`D/${big}`), 'the small files were queued while the big one was still uploading (test setup)');
  fs.rmSync(path.join(cfg.watchDir, 'D', victim));
  fs.writeFileSync(path.join(cfg.watchDir, 'D', '.complete'), '');

  const line = /Saved \d+ images [^"]* of booking D [^"]*/;
  await agent.waitForLog(line, 15_000);
  assert.match(line.exec(agent.log())![0], /^Saved 4 images .*; 1 not uploaded$/, 'the summary line counts the vanished file');
  assert.ok(!receiver.uploads().some((r) => r.file === victim), 'the vanished file was never sent');

  // The file comes back: it is a new file, not one to wait out its old verdict for.
  const back = crypto.randomBytes(5_000);
  fs.writeFileSync(path.join(cfg.watchDir, 'D', victim), back);
  await waitUntil(() => receiver.stored().has(`D/${victim}`), 10_000, () => 'the file written back is uploaded');
  assert.equal(receiver.stored().get(`D/${victim}`)?.sha256, sha256(back));
  const result = await agent.stop();
  assert.equal(result.code, 0, result.stderr);

  for (const name of [big, ...small.filter((n) => n !== victim)]) assert.equal(receiver.stored().get(`D/${name}`)?.count, 1, `${name} stored once`);
  const docs = documents(cfg.stateDir);
  const gone = docs.filter((d) => d.event.dataset === 'booth.upload' && d.file?.name === victim && d.upload?.outcome !== 'success');
  assert.equal(gone.length, 1, `one document for the vanished file: ${JSON.stringify(gone)}`);
  assert.equal(gone[0]!.upload?.outcome, 'failure');
  assert.equal(gone[0]!.error?.type, 'file_vanished');
  assert.match(gone[0]!.error!.message, /disappeared before it was uploaded/);
  for (const name of [big, ...small]) assert.equal(successes(docs, 'D', name).length, 1, `${name}: one success document`);
  const summary = docs.filter((d) => d.event.dataset === 'booth.booking' && d.booking['id'] === 'D');
  assert.equal(summary.length, 1);
  assert.equal(summary[0]!.booking['count_images'], 4);
  assert.equal(summary[0]!.booking['rejected_images'], 1);
});

test('an empty file is reported, and uploaded once it has its content', { timeout: 30_000 }, async (t) => {
  const receiver = await UploadReceiver.start();
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver);
  fs.mkdirSync(path.join(cfg.watchDir, 'E'));
  const file = path.join(cfg.watchDir, 'E', 'late.jpg');
  fs.writeFileSync(file, '');
  const agent = startAgent(t, cfg);
  await agent.waitForLog(/not uploading an empty file/);
  const content = crypto.randomBytes(1000);
  fs.writeFileSync(file, content);
  await waitUntil(() => receiver.stored().has('E/late.jpg'), 10_000, () => 'the file with its content is uploaded');
  assert.equal(receiver.stored().get('E/late.jpg')?.sha256, sha256(content));
  const result = await agent.stop();
  assert.equal(result.code, 0, result.stderr);
  const docs = documents(cfg.stateDir).filter((d) => d.file?.name === 'late.jpg');
  assert.deepEqual(docs.map((d) => [d.upload?.outcome, d.error?.type ?? null]), [['failure', 'empty_file'], ['success', null]]);
});

test('after a reset (the database unreadable, nothing to salvage), kept photos are not uploaded again: the upload ledger knows them (issue 16 item 5)', { timeout: 40_000 }, async (t) => {
  const receiver = await UploadReceiver.start();
  t.after(() => receiver.close());
  const dir = tempDir(t);
  const cfg = uploadConfig(dir, receiver, { after_upload: 'keep' });
  const a = writeBooking(cfg, 'A', Array.from({ length: 12 }, () => 20_000));
  const b = writeBooking(cfg, 'B', Array.from({ length: 12 }, () => 20_000));
  const run1 = startAgent(t, cfg);
  await run1.waitForLog(/Saved 12 images .* of booking A/, 15_000);
  await run1.waitForLog(/Saved 12 images .* of booking B/, 15_000);
  assert.equal((await run1.stop()).code, 0);
  assert.equal(receiver.uploads().length, 24);

  // The database is beyond salvage: every page garbage.
  const db = path.join(cfg.stateDir, 'buffer.db');
  fs.writeFileSync(db, crypto.randomBytes(fs.statSync(db).size));
  const c = writeBooking(cfg, 'C', [30_000, 30_000]);
  const run2 = startAgent(t, cfg);
  await run2.waitForLog(/Saved 2 images .* of booking C/, 15_000);
  const r2 = await run2.stop();
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /moved aside and started fresh/);

  assert.deepEqual(
    receiver.uploads().slice(24).map((r) => `${r.booking}/${r.file}`).sort(),
    c.map((n) => `C/${n}`).sort(),
    'only the new booking is uploaded; none of the 24 kept photos again',
  );
  for (const name of [...a.map((n) => `A/${n}`), ...b.map((n) => `B/${n}`)]) assert.equal(receiver.stored().get(name)?.count, 1, name);
  const docs = documents(cfg.stateDir);
  const reset = docs.find((d) => d.event.action === 'state_reset') as (Doc & { buffer?: { salvaged_documents: number } }) | undefined;
  assert.ok(reset, 'the reset is recorded');
  assert.match(reset.message ?? '', /24 uploaded files remembered/);
  assert.deepEqual(docs.filter((d) => d.event.dataset === 'booth.booking').map((d) => d.booking['id']), ['C'], 'bookings A and B are not summarized a second time');
});
