// Crash safety (SPEC §6 "Durability"): a process recording documents is SIGKILLed at random
// moments, 20 times. Every document whose record() had returned must be present exactly once,
// with its state row committed in the same transaction, and the database must pass integrity_check.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from './support/tmp.ts';

const CHILD = fileURLToPath(new URL('./support/record-loop.ts', import.meta.url));

function runUntilKilled(stateDir: string, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acknowledged: string[] = [];
    let pending = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        else if (line.startsWith('ok ')) acknowledged.push(...line.slice(3).split(','));
      }
    });
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child ended with ${code ?? signal} before the kill: ${stderr}`));
      else resolve(acknowledged);
    });
  });
}

test('20 SIGKILLs while recording: every acknowledged document is present exactly once, integrity ok', { timeout: 120_000 }, async (t) => {
  const stateDir = tempDir(t);
  const acknowledged = new Set<string>();
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 20; round++) {
    const ids = await runUntilKilled(stateDir, 20 + Math.floor(random() * 300));
    for (const id of ids) acknowledged.add(id);

    const db = new Database(`${stateDir}/buffer.db`);
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `round ${round}`);
      const rows = db.prepare('SELECT event_id, count(*) AS n FROM outbox GROUP BY event_id').all() as { event_id: string; n: number }[];
      const present = new Map(rows.map((r) => [r.event_id, r.n]));
      for (const id of acknowledged) assert.equal(present.get(id), 1, `round ${round}: acknowledged ${id} must be present once`);
      for (const r of rows) assert.equal(r.n, 1, `round ${round}: ${r.event_id} duplicated`);
      // Atomicity: every document has its state row and every state row its document.
      const states = db.prepare('SELECT count(*) AS n FROM uploads').get() as { n: number };
      assert.equal(states.n, rows.length, `round ${round}: documents and state rows commit together`);
    } finally {
      db.close();
    }
  }
  assert.ok(acknowledged.size > 200, `the child recorded enough to mean something (${acknowledged.size})`);
});
