// One daemon per state directory (agent/pid-file.ts): a second `run` on the same config refuses to
// start, naming the first; a pid file left by a SIGKILLed agent is stale and taken over; a clean stop
// removes it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { claimPidFile, isRunning, PID_FILE, readPidFile } from '../agent/pid-file.ts';
import { collect, runCli, startCli, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { tryMount } from './support/mount.ts';
import { needs, tmpfs } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';

test('a second run on the same state directory exits 1 naming the first; after a SIGKILL the stale file is taken over; a clean stop removes it', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir, {});
  const first = startCli(['run', '--config', cfg.file]);
  const firstDone = collect(first, undefined, 30_000);
  t.after(() => first.kill('SIGKILL'));
  await waitForOutput(first, /"message":"started"/);
  const record = readPidFile(cfg.stateDir)!;
  assert.equal(record.pid, first.pid);
  assert.ok(isRunning(record));

  const second = await runCli(['run', '--config', cfg.file]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`another booth-agent \\(pid ${first.pid}, started .*\\) runs on this state directory`));
  assert.equal(first.exitCode, null, 'the first one runs on');

  first.kill('SIGKILL');
  await firstDone;
  assert.equal(readPidFile(cfg.stateDir)?.pid, first.pid, 'left behind by the killed agent');
  assert.equal(isRunning(readPidFile(cfg.stateDir)!), false);

  const third = startCli(['run', '--config', cfg.file]);
  const thirdDone = collect(third, undefined, 30_000);
  await waitForOutput(third, /"message":"started"/);
  assert.equal(readPidFile(cfg.stateDir)?.pid, third.pid, 'the stale file was taken over');
  third.kill('SIGTERM');
  assert.equal((await thirdDone).code, 0);
  assert.equal(fs.existsSync(path.join(cfg.stateDir, PID_FILE)), false, 'a clean stop removes it');
});

test('a recycled pid does not pass for the agent: the process start time must match too', (t) => {
  const dir = tempDir(t);
  // This very process, but with another start time: a pid reused by something else.
  fs.writeFileSync(path.join(dir, PID_FILE), JSON.stringify({ pid: process.pid, startedAt: Date.now() - 1000, version: '0.0.1', procStart: 1 }));
  assert.equal(isRunning(readPidFile(dir)!), false);
  const claim = claimPidFile(dir, '0.1.0');
  assert.equal(readPidFile(dir)?.version, '0.1.0');
  assert.throws(() => claimPidFile(dir, '0.1.0'), /another booth-agent \(pid \d+, started .*\) runs on this state directory/);
  claim.release();
  assert.equal(readPidFile(dir), undefined);
});

test('four agents started at the same moment: one runs, the three others exit 1 naming its pid (three rounds, one over a stale file)', { timeout: 90_000 }, async (t) => {
  for (const round of [1, 2, 3]) {
    const dir = tempDir(t);
    const cfg = writeConfig(dir, {});
    if (round === 3) {
      // A stale claim left by a killed agent: all four race to take it over.
      fs.mkdirSync(cfg.stateDir, { recursive: true });
      fs.writeFileSync(path.join(cfg.stateDir, PID_FILE), JSON.stringify({ pid: 999_999, startedAt: 1, version: '0.0.1' }));
    }
    const agents = Array.from({ length: 4 }, () => startCli(['run', '--config', cfg.file]));
    const done = agents.map((a) => collect(a, undefined, 40_000));
    t.after(() => agents.forEach((a) => a.kill('SIGKILL')));
    // The losers exit within moments; give the winner time to claim and start.
    await new Promise((r) => setTimeout(r, 4000));
    const alive = agents.filter((a) => a.exitCode === null && a.signalCode === null);
    assert.equal(alive.length, 1, `round ${round}: ${alive.length} agents run on one state directory`);
    const winner = alive[0]!;
    assert.equal(readPidFile(cfg.stateDir)?.pid, winner.pid, `round ${round}: the pid file names the one that runs`);
    winner.kill('SIGTERM');
    const results = await Promise.all(done);
    for (const [i, r] of results.entries()) {
      if (agents[i] === winner) continue;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`another booth-agent \\(pid ${winner.pid}, started`), `round ${round}: the loser names the winner`);
    }
  }
});

test('on a full disk a stale claim is taken over in its own space: the agent can start there (the soak found it could not)', needs(tmpfs), (t) => {
  const dir = fs.mkdtempSync('/tmp/booth-agent-pidfull-');
  assert.ok(tryMount(dir, '1m'));
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    fs.rmdirSync(dir);
  });
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir);
  fs.writeFileSync(path.join(stateDir, PID_FILE), JSON.stringify({ pid: 999_999, startedAt: 1, version: '0.0.1' }));
  // Fill the disk to the last byte.
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  const claim = claimPidFile(stateDir, '9.9.9');
  assert.equal(readPidFile(stateDir)?.pid, process.pid);
  claim.release();
  assert.equal(fs.existsSync(path.join(stateDir, PID_FILE)), false);
});
