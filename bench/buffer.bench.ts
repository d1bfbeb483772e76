// Buffer benchmarks (issue 2): durable recording, single commits, lease+ack, and opening a
// million-document backlog within time and memory.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DocumentBuffer, type BackgroundCheck } from '../agent/buffer/buffer.ts';
import { BOOTH, sampleDoc } from '../test/support/documents.ts';
import type { Result } from './table.ts';

function freshBuffer(dir: string, maxSizeBytes = 2e9) {
  fs.rmSync(dir, { recursive: true, force: true });
  return DocumentBuffer.open({ stateDir: dir, maxSizeBytes, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
}

function rate(count: number, fn: () => void): number {
  const start = performance.now();
  fn();
  return count / ((performance.now() - start) / 1000);
}

export async function bufferBenchmarks(opts: { backlog: number }): Promise<Result[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-bench-'));
  try {
    const results: Result[] = [];
    const docs = Array.from({ length: 30_000 }, (_, i) => sampleDoc('booth.upload', i));
    const docBytes = Buffer.byteLength(JSON.stringify(docs[0]));

    let buf = freshBuffer(path.join(root, 'record'));
    results.push({
      name: `durable recording, 100 docs per transaction (${docBytes} B docs)`,
      value: rate(docs.length, () => {
        for (let i = 0; i < docs.length; i += 100) buf.record(docs.slice(i, i + 100));
      }),
      unit: 'docs/s',
      target: { op: '>=', value: 30_000 },
    });
    results.push({
      name: 'durable single-document commits',
      value: rate(1000, () => {
        for (let i = 0; i < 1000; i++) buf.record([docs[i]!]);
      }),
      unit: 'commits/s',
      target: { op: '>=', value: 300 },
    });
    const queued = buf.stats().queued;
    results.push({
      name: 'lease + ack, batches of 500',
      value: rate(queued, () => {
        for (let b = buf.lease(500, 5e6); b.length > 0; b = buf.lease(500, 5e6)) buf.settle({ delivered: b.map((d) => d.seq) });
      }),
      unit: 'docs/s',
      target: { op: '>=', value: 50_000 },
    });
    buf.close();

    const bigDir = path.join(root, 'backlog');
    buf = freshBuffer(bigDir);
    for (let n = 0; n < opts.backlog; n += 1000) buf.record(Array.from({ length: 1000 }, (_, i) => sampleDoc('booth.upload', n + i)));
    buf.close();
    // Memory is measured on the compiled agent (npm run build), the form a booth runs: running
    // TypeScript from source adds ~20 MB for Node's type stripper.
    const compiled = fileURLToPath(new URL('../dist/bench/open-backlog.js', import.meta.url));
    if (!fs.existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build first (npm run bench does)`);
    const child = spawnSync(process.execPath, [compiled, bigDir], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`open-backlog failed: ${child.stderr}`);
    const measured = JSON.parse(child.stdout) as { openMs: number; statsMs: number; leaseMs: number; rssMb: number; peakRssMb: number; check: BackgroundCheck; checkMs: number; queued: number; fileMb: number };
    if (measured.check.kind !== 'ok') throw new Error(`the background check of the backlog said: ${JSON.stringify(measured.check)}`);
    if (measured.queued < opts.backlog) throw new Error(`backlog holds ${measured.queued}, expected ${opts.backlog}`);
    const label = `${(opts.backlog / 1e6).toLocaleString('en-US')}M docs buffered (${Math.round(measured.fileMb)} MB)`;
    results.push({ name: `open with ${label}`, value: measured.openMs, unit: 'ms', target: { op: '<=', value: 2000 } });
    results.push({ name: `stats + first lease with ${label}`, value: measured.statsMs + measured.leaseMs, unit: 'ms' });
    results.push({ name: `RSS after open, stats, lease with ${label} (compiled)`, value: measured.rssMb, unit: 'MB', target: { op: '<=', value: 100 } });
    results.push({ name: `background integrity check of ${label}`, value: measured.checkMs / 1000, unit: 's' });
    results.push({ name: `peak RSS incl. the background integrity check`, value: measured.peakRssMb, unit: 'MB', target: { op: '<=', value: 100 } });
    return results;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
