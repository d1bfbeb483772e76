// Child process for the crash test: records batches of upload documents in a loop, each batch in
// one transaction together with the uploads-state rows of its files, and prints the event ids of
// a batch only after record() returned. The parent SIGKILLs it at random moments.
import { DocumentBuffer } from '../../agent/buffer/buffer.ts';
import { BOOTH, sampleDoc } from './documents.ts';

const stateDir = process.argv[2]!;
const buffer = DocumentBuffer.open({ stateDir, maxSizeBytes: 500e6, maxAgeMs: 30 * 86_400_000, booth: BOOTH });
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const n = 1 + (i % 7) * 3;
  const docs = Array.from({ length: n }, (_, k) => sampleDoc('booth.upload', i * 100 + k));
  buffer.record(docs, (tx) => {
    for (const d of docs) tx.putUpload({ path: `4711/${d.event.id}.jpg`, bookingId: '4711', size: 1, mtimeMs: 1, status: 'uploaded', attempts: 1 });
  });
  // Pipes are written synchronously on Linux: once this returns the parent can read the line.
  process.stdout.write(`ok ${docs.map((d) => d.event.id).join(',')}\n`);
  if (i % 50 === 49) await new Promise((r) => setImmediate(r));
}
