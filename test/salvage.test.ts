// Salvage of a damaged buffer database (issue 16 item 4) and the upload ledger (item 5): what is
// read back is exactly what was recorded — never garbage taken for a document, never one twice —
// whatever the damage.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { salvage, type SalvagedDoc } from '../agent/buffer/salvage.ts';
import { LEDGER_FILE, UploadLedger } from '../agent/buffer/upload-ledger.ts';
import { BOOTH, sampleDoc } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

/** The documents salvage hands over, in the order it found them. */
function salvaged(file: string): { documents: SalvagedDoc[]; documentsHeld: number | undefined } {
  const documents: SalvagedDoc[] = [];
  const s = salvage(file, { document: (d) => documents.push(d), deadLetter: () => {} });
  assert.equal(s.documents, documents.length);
  return { documents, documentsHeld: s.documentsHeld };
}

const open = (stateDir: string) => DocumentBuffer.open({ stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH });

/** A closed database of `n` documents of mixed kinds, some with bodies spilling onto overflow pages; their bodies by event id. */
function seeded(dir: string, n: number): Map<string, string> {
  const buf = open(dir);
  const kinds = ['booth.upload', 'booth.booking', 'booth.network', 'booth.agent'] as const;
  const docs = Array.from({ length: n }, (_, i) => {
    const doc = sampleDoc(kinds[i % kinds.length]!, i);
    // Every 50th document is large (~9 KB): its body continues on overflow pages.
    return i % 50 === 0 ? { ...doc, message: 'x'.repeat(9000) } : doc;
  });
  for (let i = 0; i < docs.length; i += 100) buf.record(docs.slice(i, i + 100));
  buf.close();
  return new Map(docs.map((d) => [d.event.id, JSON.stringify(d)]));
}

test('an undamaged file is salvaged whole: every document, byte for byte, and its count', (t) => {
  const dir = tempDir(t);
  const bodies = seeded(dir, 1000);
  const s = salvaged(path.join(dir, 'buffer.db'));
  assert.equal(s.documents.length, 1000);
  assert.equal(s.documentsHeld, 1000);
  for (const d of s.documents) assert.equal(d.body, bodies.get(d.eventId));
});

test('property: whatever pages are overwritten, salvage never throws and returns only recorded documents, each once, intact', (t) => {
  const dir = tempDir(t);
  const bodies = seeded(dir, 1500);
  const file = path.join(dir, 'buffer.db');
  const pristine = fs.readFileSync(file);
  const pages = pristine.length / 4096;
  const runs = 60;
  t.diagnostic(`fast-check: ${runs} runs, seed 1604; ${pages} pages`);
  fc.assert(
    fc.property(
      fc.array(fc.record({ page: fc.integer({ min: 0, max: pages - 1 }), count: fc.integer({ min: 1, max: 20 }), fill: fc.constantFrom('random', 'zero', 'shuffle') }), { minLength: 1, maxLength: 6 }),
      (damage) => {
        const copy = Buffer.from(pristine);
        for (const d of damage) {
          const start = d.page * 4096;
          const end = Math.min(copy.length, start + d.count * 4096);
          if (d.fill === 'zero') copy.fill(0, start, end);
          else if (d.fill === 'random') crypto.randomFillSync(copy, start, end - start);
          else pristine.copy(copy, start, Math.max(0, copy.length - (end - start)), copy.length); // another page's valid content
        }
        fs.writeFileSync(`${file}.damaged`, copy);
        const s = salvaged(`${file}.damaged`);
        const seen = new Set<string>();
        for (const doc of s.documents) {
          assert.equal(doc.body, bodies.get(doc.eventId), `${doc.eventId} is a recorded document, intact`);
          assert.ok(!seen.has(doc.eventId), `${doc.eventId} once`);
          seen.add(doc.eventId);
        }
        const destroyed = damage.reduce((sum, d) => sum + d.count, 0);
        assert.ok(s.documents.length >= 1500 - destroyed * 40, `${s.documents.length} recovered with at most ${destroyed} pages damaged`);
      },
    ),
    { numRuns: runs, seed: 1604 },
  );
});

test('the ledger holds every upload and summary committed; a torn last line is skipped; an upgraded agent writes it from the database', (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  const row = (i: number, status: 'uploaded' | 'pending') => ({ path: `A/IMG_${i}.jpg`, bookingId: 'A', size: 1000 + i, mtimeMs: 1_700_000_000_000 + i, status, attempts: 1, endedAt: 1_700_000_100_000 + i, speedMbS: 4.2 });
  buf.putUploads([row(1, 'uploaded'), row(2, 'pending'), row(3, 'uploaded')]);
  buf.record([sampleDoc('booth.booking', 1)], (tx) => tx.putBooking({ id: 'A', firstSeenAt: 1, finishedAt: 2, summarizedAt: 3 }));
  buf.close();
  const ledger = new UploadLedger(dir);
  const read = () => ledger.read();
  assert.deepEqual([...read().uploads.keys()].sort(), ['A/IMG_1.jpg', 'A/IMG_3.jpg'], 'only uploaded files');
  assert.deepEqual(read().bookings.get('A'), { id: 'A', firstSeenAt: 1, finishedAt: 2, summarizedAt: 3 });

  fs.appendFileSync(ledger.file, '{"p":"A/IMG_9.jpg","b":"A","s":1');
  assert.equal(read().uploads.size, 2, 'a torn line (power loss mid-append) is skipped');

  fs.rmSync(ledger.file);
  open(dir).close();
  assert.deepEqual([...read().uploads.keys()].sort(), ['A/IMG_1.jpg', 'A/IMG_3.jpg'], 'written from the database at the next open');
  assert.equal(read().bookings.size, 1);
  assert.equal(fs.statSync(path.join(dir, LEDGER_FILE)).mode & 0o777, 0o600);
});

test("a ledger grown far past the database is compacted at open to the database's uploaded files", (t) => {
  const dir = tempDir(t);
  const buf = open(dir);
  const row = { path: 'A/IMG_1.jpg', bookingId: 'A', size: 1000, mtimeMs: 1_700_000_000_000, status: 'uploaded' as const, attempts: 1, endedAt: 1, speedMbS: 1 };
  // The same file re-uploaded 20,000 times (changed each time): one row, 20,000 lines.
  for (let i = 0; i < 200; i++) buf.putUploads(Array.from({ length: 100 }, (_, j) => ({ ...row, size: 1000 + i * 100 + j })));
  buf.close();
  const ledger = new UploadLedger(dir);
  const before = fs.statSync(ledger.file).size;
  assert.ok(before > 1e6, `${before} bytes`);
  open(dir).close();
  const after = fs.statSync(ledger.file).size;
  assert.ok(after < 200, `compacted to one line: ${after} bytes`);
  assert.equal(ledger.read().uploads.get('A/IMG_1.jpg')?.size, 1000 + 199 * 100 + 99, 'the database\'s (last) state');
});
