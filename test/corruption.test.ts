// Bad state (SPEC §6): a corrupt or unreadable database is moved aside, kept for inspection, a
// fresh one is started and a state_reset event says so; the agent keeps running.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { DocumentBuffer, type BackgroundCheck } from '../agent/buffer/buffer.ts';
import { checkInSteps } from '../agent/buffer/check.ts';
import { prepare } from '../agent/buffer/statements.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { SYNC_CHECK_MAX_BYTES } from '../agent/buffer/open.ts';
import { collect, runAgentUntilStarted, runCli, startCli } from './support/cli.ts';
import { OpenSearchStandIn } from './support/opensearch.ts';
import { waitUntil } from './support/uploads.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

function openBuffer(stateDir: string) {
  return DocumentBuffer.open({ stateDir, maxSizeBytes: 1e9, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
}

function stateResets(buf: DocumentBuffer) {
  return [...buf.documents()].map((e) => JSON.parse(e.body)).filter((d) => d.event.action === 'state_reset');
}

test('a database overwritten with garbage: run quarantines it, starts fresh, records state_reset, exits 0 on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  const seed = openBuffer(cfg.stateDir);
  seed.record(Array.from({ length: 100 }, (_, i) => sampleDoc('booth.upload', i)));
  seed.close();
  const dbFile = path.join(cfg.stateDir, 'buffer.db');
  fs.writeFileSync(dbFile, crypto.randomBytes(256 * 1024));

  const result = await runAgentUntilStarted(cfg.file);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /moved aside and started fresh/);
  assert.match(result.stderr, /not a SQLite database/);

  const quarantined = fs.readdirSync(cfg.stateDir).filter((f) => /^buffer\.db\.corrupt-[^-]+.*Z$/.test(f));
  assert.equal(quarantined.length, 1, `kept for inspection: ${fs.readdirSync(cfg.stateDir).join(', ')}`);
  assert.equal(fs.statSync(path.join(cfg.stateDir, quarantined[0]!)).size, 256 * 1024, 'the old file is kept unchanged');

  const buf = openBuffer(cfg.stateDir);
  t.after(() => buf.close());
  const resets = stateResets(buf);
  assert.equal(resets.length, 1);
  assert.match(resets[0].message, /not a SQLite database/);
  assert.equal(resets[0].buffer.quarantined_path, path.join(cfg.stateDir, quarantined[0]!));
  assert.equal(buf.integrityCheck(), 'ok');
  const actions = [...buf.documents({ dataset: 'booth.agent' })].map((e) => JSON.parse(e.body).event.action);
  assert.deepEqual(actions.sort(), ['connectivity_lost', 'started', 'state_reset', 'stopped']);
});

test('a damaged page inside a small database is found at open', (t) => {
  const dir = tempDir(t);
  const buf = openBuffer(dir);
  buf.record(Array.from({ length: 2000 }, (_, i) => sampleDoc('booth.upload', i)));
  buf.close();
  const file = path.join(dir, 'buffer.db');
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  // Scribble over a table page in the middle of the file.
  fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 2 / 4096) * 4096);
  fs.closeSync(fd);

  const reopened = openBuffer(dir);
  t.after(() => reopened.close());
  assert.ok(reopened.reset, 'the damage was noticed');
  assert.equal(stateResets(reopened).length, 1);
  // The documents on the other pages are read back from the file moved aside, each once.
  const uploads = [...reopened.documents({ dataset: 'booth.upload' })].map((e) => JSON.parse(e.body).event.id as string);
  assert.equal(new Set(uploads).size, uploads.length, 'no document twice');
  assert.ok(uploads.length >= 1950 && uploads.length < 2000, `one page's documents lost, the rest recovered: ${uploads.length}`);
  assert.match(stateResets(reopened)[0].message, new RegExp(`${uploads.length} unsent documents of the 2000 it held were recovered`));
});

/** A state dir whose database is too large to check at open, with a damaged page a third of the way in. */
function damagedLargeDatabase(t: TestContext): string {
  const dir = tempDir(t);
  const buf = openBuffer(dir);
  const batch = Array.from({ length: 1000 }, (_, i) => sampleDoc('booth.upload', i));
  while (fs.statSync(path.join(dir, 'buffer.db')).size <= SYNC_CHECK_MAX_BYTES * 1.1) {
    for (let i = 0; i < 20; i++) buf.record(batch);
    buf.checkpoint();
  }
  buf.close();
  const file = path.join(dir, 'buffer.db');
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, Math.floor(fs.statSync(file).size / 3 / 4096) * 4096);
  fs.closeSync(fd);
  return dir;
}

test('a large database is checked in the background, and a damaged one replaced while the agent runs', { timeout: 60_000 }, async (t) => {
  const dir = damagedLargeDatabase(t);
  const started = performance.now();
  const big = openBuffer(dir);
  t.after(() => big.close());
  assert.ok(performance.now() - started < 2000, 'a large file does not hold up the start');
  assert.equal(big.reset, undefined, 'not checked at open');
  const held = big.stats().queued;
  const result = await big.checkInBackground();
  assert.equal(result.kind, 'replaced');
  assert.equal(stateResets(big).length, 1, 'replaced with a fresh buffer and said so');
  assert.equal(fs.readdirSync(dir).filter((f) => /^buffer\.db\.corrupt-.*Z$/.test(f)).length, 1);
  const recovered = big.stats().queued - 1;
  assert.ok(recovered > held * 0.99 && recovered < held, `two damaged pages lost, the rest recovered: ${recovered} of ${held}`);
  big.record([sampleDoc('booth.upload', 1)]);
  assert.equal(big.stats().queued, recovered + 2);
});

test('a batch in flight when the database is replaced: its answer does not touch the new documents, which are numbered past it', { timeout: 60_000 }, async (t) => {
  const big = openBuffer(damagedLargeDatabase(t));
  t.after(() => big.close());
  const inFlight = big.lease(500, 1e9);
  assert.equal(inFlight.length, 500);
  assert.equal((await big.checkInBackground({ deferMs: 0 })).kind, 'replaced');
  const fresh = Array.from({ length: 600 }, (_, i) => sampleDoc('booth.upload', 10_000 + i));
  big.record(fresh);
  const queued = big.stats().queued;
  const inFlightSeqs = new Set(inFlight.map((d) => d.seq));
  const renumbered = big.lease(1e7, 1e12).map((d) => d.seq);
  assert.equal(renumbered.length, queued);
  assert.ok(renumbered.every((seq) => !inFlightSeqs.has(seq)), 'no document of the fresh file takes a number still in flight');
  big.settle({ release: renumbered });

  big.settle({ delivered: [...inFlightSeqs] });
  assert.equal(big.stats().queued, queued, 'every document is still there');
  const ids = new Set([...big.documents({ dataset: 'booth.upload' })].map((e) => JSON.parse(e.body).event.id as string));
  assert.ok(fresh.every((d) => ids.has(d.event.id)));
});

test('the background check waits while a sink drains (holds a lease), then reads on and finds the damage', { timeout: 60_000 }, async (t) => {
  const big = openBuffer(damagedLargeDatabase(t));
  t.after(() => big.close());
  const inFlight = big.lease(500, 1e9);
  let result: BackgroundCheck | undefined;
  const check = big.checkInBackground().then((r) => (result = r));
  // Long enough for the whole file to be read were the check not waiting (a few poll intervals).
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(result, undefined, 'nothing found while the drain runs: nothing read');
  big.settle({ release: inFlight.map((d) => d.seq) });
  assert.equal((await check).kind, 'replaced');
  assert.equal(stateResets(big).length, 1);
});

test('a background check still waiting for a drain when the buffer closes says it stopped: nothing found, nothing replaced', { timeout: 60_000 }, async (t) => {
  const dir = damagedLargeDatabase(t);
  const big = openBuffer(dir);
  big.lease(500, 1e9);
  const check = big.checkInBackground();
  await new Promise((r) => setTimeout(r, 600)); // a couple of the check's polls
  big.close();
  assert.deepEqual(await check, { kind: 'stopped' });
  assert.equal(fs.readdirSync(dir).filter((f) => /^buffer\.db\.corrupt-/.test(f)).length, 0, 'the damaged file was not moved aside');
});

test('checkInSteps: while draining it reads nothing, however long; past its deferral it reads on regardless', { timeout: 60_000 }, async (t) => {
  const dir = damagedLargeDatabase(t);
  const db = new Database(path.join(dir, 'buffer.db'));
  t.after(() => db.close());
  const stmts = prepare(db);
  let draining = true;
  let polls = 0;
  let settled = false;
  const check = checkInSteps(db, stmts, () => (polls++, draining)).finally(() => (settled = true));
  await waitUntil(() => polls >= 4, 10_000, () => `the check looked ${polls} times`);
  assert.equal(settled, false, 'still waiting');
  draining = false;
  await assert.rejects(check, (err: Error & { code?: string }) => err.code?.startsWith('SQLITE_CORRUPT') === true);
  // With no time left to wait, a drain does not hold it up.
  await assert.rejects(checkInSteps(db, stmts, () => true, { deferMs: 0 }), (err: Error & { code?: string }) => err.code?.startsWith('SQLITE_CORRUPT') === true);
});

test("the reviewer's reset: damage found by the answer to a batch in flight keeps the state_reset event, recovers what the file still holds and tells status", (t) => {
  // Issue 16 item 4: OpenSearch hanging with the agent's first batch (started) in flight, 2,000
  // bookings recorded by another process, dd over 100 pages, then OpenSearch answers.
  const dir = tempDir(t);
  const daemon = openBuffer(dir);
  t.after(() => daemon.close());
  daemon.record([sampleDoc('booth.agent', 0)]);
  const batch = daemon.lease(500, 1e9);
  assert.deepEqual(batch.map((d) => d.dataset), ['booth.agent']);
  const writer = openBuffer(dir);
  for (let i = 0; i < 2000; i++) writer.record([sampleDoc('booth.booking', i)]);
  writer.close();
  const fd = fs.openSync(path.join(dir, 'buffer.db'), 'r+');
  fs.writeSync(fd, crypto.randomBytes(4096 * 100), 0, 4096 * 100, 4096); // dd bs=4096 seek=1 count=100 conv=notrunc
  fs.closeSync(fd);

  daemon.settle({ delivered: batch.map((d) => d.seq) });
  const resets = stateResets(daemon);
  assert.equal(resets.length, 1, 'the state_reset event survives the answer that found the damage');
  const bookings = [...daemon.documents({ dataset: 'booth.booking' })].map((e) => JSON.parse(e.body).event.id as string);
  assert.equal(new Set(bookings).size, bookings.length, 'no document twice');
  t.diagnostic(`recovered ${bookings.length} of 2000 bookings`);
  assert.ok(bookings.length >= 1000, `most of the bookings recovered: ${bookings.length}`);
  const facts = daemon.getState<{ documents_held?: number; salvaged: { documents: number } }>('buffer.last_reset');
  assert.ok(facts, 'the reset is kept for status');
  assert.equal(facts.salvaged.documents, bookings.length + 1, 'the bookings and the started event, still unanswered in the old file');
  assert.match(resets[0].message, new RegExp(`${bookings.length + 1} unsent documents`));
  assert.equal(daemon.stats().queued, facts.salvaged.documents + 1, 'the answer about the old file deleted nothing in the fresh one');
  const validation = validateDocument(resets[0]);
  assert.ok(validation.ok, `the state_reset event fits the document schema: ${validation.ok ? '' : validation.reason}`);
});

test('at most three quarantined databases are kept', (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 5; i++) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'buffer.db'), crypto.randomBytes(8192));
    let clock = Date.parse('2026-11-24T10:00:00Z') + i * 1000;
    const b = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 1e9, maxAgeMs: 1e9, booth: BOOTH, now: () => clock++ });
    b.close();
  }
  assert.equal(fs.readdirSync(dir).filter((f) => /^buffer\.db\.corrupt-.*Z$/.test(f)).length, 3);
});

test('run exits 1 with a clear message when the state dir cannot be created', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  // The state dir disappears and a file takes its place after the config was checked.
  fs.rmSync(cfg.stateDir, { recursive: true, force: true });
  const blocker = path.join(dir, 'blocker');
  fs.writeFileSync(blocker, 'not a folder');
  const cfg2 = writeConfig(dir, { state_dir: path.join(blocker, 'state') }, 'config2.yaml');
  const result = await runCli(['run', '--config', cfg2.file]);
  assert.equal(result.code, 78, 'caught by the config check already');
  assert.match(result.stderr, /state_dir: .*blocker is a file/);
});

test('export on a damaged database changes nothing: the file stays where it is, byte for byte, and no fresh one is started', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir);
  const seed = openBuffer(cfg.stateDir);
  seed.record(Array.from({ length: 2000 }, (_, i) => sampleDoc('booth.booking', i)));
  seed.close();
  const file = path.join(cfg.stateDir, 'buffer.db');
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, crypto.randomBytes(4096 * 100), 0, 4096 * 100, 4096);
  fs.closeSync(fd);
  const before = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  // SQLite's sidecar files of a reader (-wal, -shm) aside.
  const files = () => fs.readdirSync(cfg.stateDir).filter((f) => !/-(wal|shm)$/.test(f)).sort();
  const listing = files();

  const r = await runCli(['export', '--config', cfg.file]);
  assert.doesNotMatch(r.stderr, /    at /, 'no stack');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /the database is damaged .*documents exported before the damage; the file is left as it is/);
  assert.deepEqual(files(), listing, 'nothing moved aside, nothing created');
  assert.equal(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), before, 'the file is unchanged');
});

test('the reviewer reproduction with the real agent: OpenSearch hanging, 2,000 bookings recorded, dd over 100 pages — state_reset and the recovered bookings reach OpenSearch, status warns', { timeout: 90_000 }, async (t) => {
  const standIn = await OpenSearchStandIn.start({ seed: 16 });
  t.after(() => standIn.close());
  standIn.faults = { latencyMs: 60_000 };
  const dir = tempDir(t);
  const cfg = writeConfig(dir, { opensearch: { url: standIn.url, batch: { max_docs: 500, interval: '50ms' }, request_timeout: '2s', retry: { min_delay: '50ms', max_delay: '500ms' } } });
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child, undefined, 80_000);
  await waitUntil(() => standIn.requests.length > 0 || fs.existsSync(path.join(cfg.stateDir, 'booth-agent.pid')), 15_000, () => 'the agent started');
  const bookings = Array.from({ length: 2000 }, (_, i) => sampleDoc('booth.booking', i));
  const recorded = await runCli(['record', '--config', cfg.file], { input: bookings.map((d) => JSON.stringify(d)).join('\n') + '\n' });
  assert.equal(recorded.code, 0, recorded.stderr);
  const fd = fs.openSync(path.join(cfg.stateDir, 'buffer.db'), 'r+');
  fs.writeSync(fd, crypto.randomBytes(4096 * 100), 0, 4096 * 100, 4096);
  fs.closeSync(fd);
  standIn.faults = {};
  const reset = () => standIn.documents().find((d) => (d.source as { event?: { action?: string } }).event?.action === 'state_reset');
  await waitUntil(() => reset() !== undefined, 40_000, () => `no state_reset among ${standIn.count()} stored`);
  const ids = new Set(bookings.map((d) => d.event.id));
  await waitUntil(() => ((reset()!.source as { buffer: { salvaged_documents: number } }).buffer.salvaged_documents > 0 && [...standIn.ids()].filter((id) => ids.has(id)).length >= 1000), 30_000, () => `${standIn.count()} stored`);
  const delivered = [...standIn.ids()].filter((id) => ids.has(id)).length;
  t.diagnostic(`${delivered} of 2000 bookings reached OpenSearch after the reset`);

  const status = await runCli(['status', '--config', cfg.file, '--json']);
  assert.equal(status.code, 1, status.stdout);
  const report = JSON.parse(status.stdout) as { buffer_reset?: { documents_held?: number; recovered: { documents: number } } };
  assert.ok(report.buffer_reset, 'status --json tells the reset');
  assert.ok(report.buffer_reset.recovered.documents >= 1000);
  const screen = await runCli(['status', '--config', cfg.file]);
  assert.match(screen.stdout, /The buffer database was damaged and replaced \S+ ago[\s\S]*?: \d+ (of \d+ )?unsent\s+measurements\s+were\s+recovered/);
  child.kill('SIGTERM');
  assert.equal((await done).code, 0);
});
