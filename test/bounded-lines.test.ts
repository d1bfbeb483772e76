// boundedLines (agent/cli/bounded-lines.ts): the lines of a stream, each at most N characters, as
// readline would give them — whatever the chunking — with an over-long line reported, not kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { boundedLines } from '../agent/cli/bounded-lines.ts';

async function collect(chunks: (string | Buffer)[], max: number): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for await (const line of boundedLines((async function* () { yield* chunks; })(), max)) out.push(line);
  return out;
}

test('lines split across chunks, \\r\\n endings, a multi-byte character split across chunks, no final newline', async () => {
  const euro = Buffer.from('€');
  assert.deepEqual(await collect([Buffer.from('ab\r\ncd'), Buffer.from('e\n\nx'), euro.subarray(0, 1), euro.subarray(1), Buffer.from('y')], 10), ['ab', 'cde', '', 'x€y']);
});

test('a line over the limit is undefined; the lines around it are intact', async () => {
  assert.deepEqual(await collect(['ok\n', 'x'.repeat(6), 'x'.repeat(6), '\nafter\n'], 10), ['ok', undefined, 'after']);
  assert.deepEqual(await collect(['1234567890\r\n12345678901\n'], 10), ['1234567890', undefined]);
});

test('property: for any text and any chunking, the lines are those of text.split("\\n") (CR-trimmed), each over the limit undefined (500 runs)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: fc.constantFrom('a', 'b', '\n', '\r', 'é', '€') , maxLength: 200 }), fc.array(fc.nat(40), { maxLength: 10 }), fc.integer({ min: 1, max: 20 }), async (text, cuts, max) => {
      const bytes = Buffer.from(text);
      const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const p of [...points, bytes.length]) {
        chunks.push(bytes.subarray(from, p));
        from = p;
      }
      const expected = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).map((l) => (l.length > max ? undefined : l));
      if (text.endsWith('\n') || text === '') expected.pop();
      assert.deepEqual(await collect(chunks, max), expected);
    }),
    { numRuns: 500, seed: 16 },
  );
});
