// The 3-minute fault soak (soak/soak.ts, `npm run soak -- --minutes 3`) as part of the suite: the
// real agent through upload and cluster faults, SIGKILLs, a full disk, poison and clock jumps must
// end with every promise kept (the soak exits 1 and prints each violation otherwise).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collect } from './support/cli.ts';

const RUN = fileURLToPath(new URL('../soak/run.ts', import.meta.url));

test('the 3-minute soak keeps every promise', { timeout: 10 * 60_000 }, async (t) => {
  const child = spawn(process.execPath, [RUN, '--minutes', '3', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await collect(child, undefined, 9 * 60_000);
  t.diagnostic(r.stdout);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^violations\s+0$/m);
  // Every fault happened (the evidence lines), not just was scheduled.
  for (const evidence of [/SIGKILLs \(each followed by a restart\)\s+[1-9]/, /agent log: disk full\s+[1-9]/, /agent event clock_skew\s+[1-9]/, /upload server: status500\s+[1-9]/, /cluster: down\s+[1-9]/, /poison documents \/ dead letters\s+([1-9]\d*) \/ \1$/m]) {
    assert.match(r.stdout, evidence);
  }
});
