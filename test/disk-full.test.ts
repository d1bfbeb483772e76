// A full disk never crashes the agent (SPEC §6): the buffer reports it, new documents wait in
// memory, and they are recorded when space returns. Uses a real 3 MB tmpfs (needs root, as CI has).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { DiskFullError } from '../agent/buffer/errors.ts';
import { createLogger } from '../agent/log/logger.ts';
import { Recorder } from '../agent/sources/recorder.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tryMount } from './support/mount.ts';
import { needs, tmpfs } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';

test('disk full: record throws DiskFullError, the recorder holds documents and writes them when space returns', needs(tmpfs), (t) => {
  const dir = fs.mkdtempSync('/tmp/booth-agent-diskfull-');
  assert.ok(tryMount(dir, '3m'));
  const stateDir = path.join(dir, 'state');
  const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: 100e6, maxAgeMs: 1e12, booth: BOOTH });
  const logDir = tempDir(t);
  const logger = createLogger({ level: 'error', file: path.join(logDir, 'agent.log') });
  t.after(() => {
    buffer.close();
    execFileSync('umount', ['-l', dir]);
    fs.rmdirSync(dir);
  });
  const recorder = new Recorder(buffer, BOOTH, logger);

  // Another program fills the disk.
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024));
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  fs.closeSync(fd);

  let recorded = 0;
  let sawFull = false;
  for (let i = 0; i < 2000 && !sawFull; i++) {
    try {
      buffer.record([sampleDoc('booth.upload', i)]);
      recorded++;
    } catch (err) {
      assert.ok(err instanceof DiskFullError, `expected DiskFullError, got ${(err as Error).message}`);
      sawFull = true;
    }
  }
  assert.ok(sawFull, 'the disk filled up');

  // The recorder keeps going: plain documents wait in memory…
  for (let i = 0; i < 10; i++) recorder.record([sampleDoc('booth.network', i)]);
  assert.deepEqual(recorder.health(), { diskFull: true, held: 10, heldDropped: 0 });
  // …while a document that must commit with a state change is refused to its caller.
  assert.throws(() => recorder.record([sampleDoc('booth.upload', 1)], (tx) => tx.setState('x', 1)), DiskFullError);

  fs.rmSync(filler);
  recorder.flushHeld();
  assert.deepEqual(recorder.health(), { diskFull: false, held: 0, heldDropped: 0 });
  const stats = buffer.stats();
  assert.equal(stats.queuedByDataset['booth.network'], 10);
  assert.equal(stats.queuedByDataset['booth.upload'] ?? 0, recorded);
  assert.equal(buffer.integrityCheck(), 'ok');
});
