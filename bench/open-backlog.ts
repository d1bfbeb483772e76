// Child process of the buffer benchmark: opens a large buffer as the daemon would and reports
// how long that took and how much memory the process holds afterwards.
import fs from 'node:fs';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { BOOTH } from '../test/support/documents.ts';

const dir = process.argv[2]!;
const t0 = performance.now();
const buf = DocumentBuffer.open({ stateDir: dir, maxSizeBytes: 2e9, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
const t1 = performance.now();
const stats = buf.stats();
const t2 = performance.now();
const batch = buf.lease(500, 5e6);
buf.settle({ delivered: batch.map((d) => d.seq) });
const t3 = performance.now();
const rssMb = process.memoryUsage().rss / 1e6;
// The full check of a large file runs in steps right after start: its memory counts too.
const checkStart = performance.now();
const check = await buf.checkInBackground();
const checkMs = performance.now() - checkStart;
const peakRssMb = (process.resourceUsage().maxRSS * 1024) / 1e6;
buf.close();
process.stdout.write(
  JSON.stringify({ openMs: t1 - t0, statsMs: t2 - t1, leaseMs: t3 - t2, rssMb, peakRssMb, check, checkMs, queued: stats.queued, fileMb: fs.statSync(`${dir}/buffer.db`).size / 1e6 }),
);
