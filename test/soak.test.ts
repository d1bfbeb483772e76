// The 3-minute fault soak (soak/soak.ts, `npm run soak -- --minutes 3`) as part of the suite: the
// real agent through upload and cluster faults, SIGKILLs, a full disk, poison and clock jumps must
// end with every promise kept (the soak exits 1 and prints each violation otherwise). The full disk
// needs root (a tmpfs) and the clock jumps libfaketime: where either is missing the soak runs
// without that phase, and the test of its effect is skipped with the reason.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collect } from './support/cli.ts';
import { libfaketime, needs, tmpfs } from './support/needs.ts';

const RUN = fileURLToPath(new URL('../soak/run.ts', import.meta.url));
const diskFullNeeds = needs(tmpfs);
const clockJumpNeeds = needs(libfaketime);

test('the 3-minute soak keeps every promise', { timeout: 10 * 60_000 }, async (t) => {
  const child = spawn(process.execPath, [RUN, '--minutes', '3', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await collect(child, undefined, 9 * 60_000);
  t.diagnostic(r.stdout);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^violations\s+0$/m);
  // Every fault happened (the evidence lines), not just was scheduled.
  for (const evidence of [/SIGKILLs \(each followed by a restart\)\s+[1-9]/, /upload server: status500\s+[1-9]/, /cluster: down\s+[1-9]/, /poison documents \/ dead letters\s+([1-9]\d*) \/ \1$/m]) {
    assert.match(r.stdout, evidence);
  }
  await t.test('the disk filled and the agent noticed', diskFullNeeds, () => {
    assert.match(r.stdout, /^disk-full episode\s+done/m);
    assert.match(r.stdout, /agent log: disk full\s+[1-9]/);
  });
  await t.test('the wall clock jumped and the agent recorded the skew', clockJumpNeeds, () => {
    assert.match(r.stdout, /^wall-clock jumps of \+2 h and -2 h\s+done/m);
    assert.match(r.stdout, /agent event clock_skew\s+[1-9]/);
  });
});
