// The stand-ins the bundle gives got for FormData and ReadableStream (agent/cli/lazy-web-globals.ts,
// LAZY_WEB_GLOBALS in scripts/agent-module.ts): got's `instanceof` checks on every request no
// longer load undici (Node's fetch) or the web streams, and the classes still work when used. In a
// child process: which of Node's internal modules are loaded is per process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from './support/tmp.ts';

const MODULE = new URL('../agent/cli/lazy-web-globals.ts', import.meta.url).href;

function inChild(t: Parameters<typeof tempDir>[0], body: string): Record<string, unknown> {
  const file = path.join(tempDir(t), 'child.mjs');
  fs.writeFileSync(
    file,
    `await import(${JSON.stringify(MODULE)});
const { FormData: LazyFormData, ReadableStream: LazyReadableStream } = globalThis.__boothAgentLazyGlobals;
const loaded = () => process.moduleLoadList.filter((m) => /undici|webstreams/.test(m));
${body}`,
  );
  return JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' })) as Record<string, unknown>;
}

test("got's checks — instanceof FormData and ReadableStream of a Buffer, a string, a stream — load neither undici nor the web streams", (t) => {
  const out = inChild(
    t,
    `const { Readable } = await import('node:stream');
const bodies = [Buffer.from('x'), 'text', Readable.from(['a']), {}, null, [1]];
const answers = bodies.map((b) => [b instanceof LazyFormData, b instanceof LazyReadableStream]);
console.log(JSON.stringify({ answers, loaded: loaded() }));`,
  );
  assert.deepEqual(out, { answers: Array(6).fill([false, false]), loaded: [] });
});

test('the real globals would load them: the same check on FormData loads undici', (t) => {
  const out = inChild(t, `void (Buffer.from('x') instanceof FormData); console.log(JSON.stringify({ undici: loaded().some((m) => m.includes('undici')) }));`);
  assert.deepEqual(out, { undici: true });
});

test('the classes still work: new builds a real one, and real instances are instances', (t) => {
  const out = inChild(
    t,
    `const form = new LazyFormData();
form.append('a', 'b');
const stream = new LazyReadableStream({ start(c) { c.enqueue('x'); c.close(); } });
const made = await new Response(new URLSearchParams('a=1')).formData();
console.log(JSON.stringify({
  form: [form instanceof LazyFormData, form instanceof FormData, form.get('a')],
  stream: [stream instanceof LazyReadableStream, stream instanceof ReadableStream],
  body: new Response('hello').body instanceof LazyReadableStream,
  madeByUndici: [made instanceof LazyFormData, made.get('a')],
}));`,
  );
  assert.deepEqual(out, { form: [true, true, 'b'], stream: [true, true], body: true, madeByUndici: [true, '1'] });
});
