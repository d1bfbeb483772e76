// A full disk never crashes the agent (SPEC §6), also when it refuses the row of a booking the
// file watcher has just reported: the 30-minute soak saw the agent exit when that error escaped
// the watcher's event handler. The source runs in-process here, wired as the daemon wires it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { DiskFullError } from '../agent/buffer/errors.ts';
import { loadConfig } from '../agent/config/load.ts';
import { uploadOptions } from '../agent/daemon.ts';
import { createLogger } from '../agent/log/logger.ts';
import { Recorder } from '../agent/sources/recorder.ts';
import { UploadSource } from '../agent/sources/uploads/source.ts';
import { BOOTH } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';
import { UploadReceiver } from './support/upload-receiver.ts';
import { uploadConfig, waitUntil, writeBooking } from './support/uploads.ts';

test('a new booking whose row the full disk refuses: no crash, and its files are uploaded once the disk has room', { timeout: 30_000 }, async (t) => {
  const receiver = await UploadReceiver.start();
  t.after(() => receiver.close());
  const cfg = uploadConfig(tempDir(t), receiver);
  const loaded = loadConfig(cfg.file);
  assert.ok(loaded.ok);
  const logger = createLogger({ level: 'error', file: `${cfg.dir}/agent.log` });
  const buffer = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 1e8, maxAgeMs: 1e12, booth: BOOTH });
  // What the buffer raises for a full disk, for the bookings table only: the rest of the buffer works.
  let full = true;
  let refused = 0;
  const putBooking = buffer.putBooking.bind(buffer);
  buffer.putBooking = (row) => {
    if (full) {
      refused++;
      throw new DiskFullError(buffer.file, Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
    }
    putBooking(row);
  };
  const source = new UploadSource(uploadOptions(loaded.config, loaded.secrets), new Recorder(buffer, BOOTH, logger), buffer, logger);
  t.after(async () => {
    await source.stop(Date.now() + 2000);
    buffer.close();
  });
  source.start();

  const names = writeBooking(cfg, 'B1', [10_000, 20_000]);
  await waitUntil(() => refused >= 3, 10_000, () => `${refused} refusals`);
  assert.equal(receiver.stored().size, 0, 'nothing taken in while its booking cannot be written');
  full = false;
  await waitUntil(() => names.every((n) => receiver.stored().has(`B1/${n}`)), 10_000, () => `${receiver.stored().size} stored`);
  assert.equal(buffer.getBooking('B1')?.id, 'B1');
});
