// Hostile file and folder names, end to end (issue 16): names generated as bytes — any byte Linux
// allows in a name (all but '/' and NUL, at most 255 per name), unicode of every plane, combining
// marks and bidi overrides, control characters, names that start with '.' or '..', backslashes,
// '%', '?', '#', spaces, names 255 bytes long — are written into real booking folders, the real
// agent (`booth-agent run`, a child process) watches them and uploads to the real upload receiver,
// and afterwards every file is accounted for:
//   - a file of a configured extension with content arrives exactly once, byte-identical (sha256),
//     at the path the URL template gives with booking and file name percent-encoded byte by byte
//     (RFC 3986: every byte but A–Z a–z 0–9 - . _ ~ as %XX), with one success document;
//   - an empty one is visibly refused: one failure document (`empty_file`) and `status --json`
//     counts it under `uploads.not_uploaded`;
//   - any other name (another extension, none: `.jpg` alone has none) is left alone, as the README
//     says ("only the configured extensions"): never sent, never recorded;
//   - nothing else reaches the server or the record: no stray path, no second upload, no phantom
//     file, nothing pending or failing at the end, no error logged.
// One fast-check run is one agent run over a batch of 2–4 bookings with 2–6 files each (the first
// batch is written by hand: EXAMPLE); the seed is fixed (and printed), so a failure reproduces. A run's files are written a minute old, as photos
// already in the folder at start are: names the watcher garbles (backslashes) are taken in by the
// first reconciliation scan, 1 s in, instead of after its 10 s grace.
//
// Names that are not valid UTF-8 cannot be opened or put in a URL by the text Node decodes them to
// (a byte 0xFF becomes U+FFFD): they are visibly refused — recorded, and counted by status.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { collect, runCli, startCli } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';
import { UploadReceiver } from './support/upload-receiver.ts';
import { documents, uploadConfig, type Doc } from './support/uploads.ts';

const SEED = Number(process.env['UPLOAD_NAMES_SEED'] ?? 160516);
const NUM_RUNS = Number(process.env['UPLOAD_NAMES_RUNS'] ?? 15);
const BOOTH_ID = 'FB-1042';
const EXTENSIONS = ['jpg', 'jpeg', 'png', 'heic', 'gif', 'mp4', 'mov'];
const MARKER = '.complete';
const NAME_MAX = 255;

// ---------------------------------------------------------------------------------------------
// What is generated

interface GenFile {
  name: Buffer;
  content: Buffer;
}

interface GenBooking {
  name: Buffer;
  files: GenFile[];
  /** Whether the booking's `.complete` marker is written too. */
  marker: boolean;
}

type Batch = GenBooking[];

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Pieces names are made of: the awkward ones on purpose, and random code points of every plane. */
const SPECIAL = [
  '.', '..', '...', '\\', '..\\', '\\..\\', '..\\..\\', '%', '%2F', '%2e%2e', '%00', '%%', '?', '#', '&', '=', '+', ';', ':', '@',
  ' ', '  ', '\t', '\n', '\r', '\r\n', '\x1b', '\x1b[31m', '\x1b]0;x\x07', '\x7f', '\x01', '\x08',
  '\u202e', '\u200f', '\u200b', '\ufeff', 'e\u0301', '\u0301', '\u{1F600}', '\u{1F469}\u200d\u{1F4BB}', '\u{10FFFF}', '\ufffd',
  'ü', 'ß', '中文', 'עברית', 'العربية', 'İ', 'K', '!', "'", '(', ')', '*', '~', '"', '<', '>', '|', '{', '}', '[', ']', '^', '`', '$',
  'IMG_0001', 'a', 'A', '0', '-', '_', '.jpg', '.JPG',
];

const isSurrogate = (cp: number): boolean => cp >= 0xd800 && cp <= 0xdfff;
const codePoint = fc
  .integer({ min: 1, max: 0x10ffff })
  .filter((cp) => cp !== 0x2f && !isSurrogate(cp))
  .map((cp) => String.fromCodePoint(cp));
const asciiChar = fc
  .integer({ min: 1, max: 0x7f })
  .filter((c) => c !== 0x2f)
  .map((c) => String.fromCharCode(c));

/** One piece of a valid UTF-8 name. */
const validAtom: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 2, arbitrary: codePoint },
  { weight: 2, arbitrary: asciiChar },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }).filter((s) => !s.includes('/') && !s.includes('\0')) },
).map(bytes);

/** Byte sequences that are not UTF-8: stray continuation bytes, overlong forms (of '/' and NUL too), surrogates, cut sequences. */
const INVALID = [[0xff], [0xfe], [0x80], [0xbf], [0xc0, 0xaf], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc3]];
const invalidAtom: fc.Arbitrary<Buffer> = fc.oneof(fc.constantFrom(...INVALID), fc.integer({ min: 0x80, max: 0xff }).map((b) => [b])).map((b) => Buffer.from(b));

/** How names begin: often plainly, often with dots (hidden files, `..foo`) or another awkward character. */
const prefixArb = fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 2, arbitrary: fc.constantFrom('.', '..', '...', '..\\', '.\\', '\\', ' ', '-', '%', '#', '?', '~', '\n') });

/** Fills a long name up to 255 bytes. */
const FILLERS = ['a', 'é', '中', '\u{1F600}', '\\', '.', ' ', '%'];

/**
 * A name of at most 255 bytes: a prefix and a few pieces, perhaps filled up to (about) 255 bytes, then `ext`.
 * With `invalid`, raw bytes that are not UTF-8 are among the pieces.
 */
function nameArb(ext: fc.Arbitrary<string>, invalid: boolean): fc.Arbitrary<Buffer> {
  const atom = invalid ? fc.oneof({ weight: 3, arbitrary: validAtom }, { weight: 1, arbitrary: invalidAtom }) : validAtom;
  return fc
    .record({ prefix: prefixArb, atoms: fc.array(atom, { minLength: 0, maxLength: 8 }), long: fc.integer({ min: 0, max: 3 }).map((n) => n === 0), filler: fc.constantFrom(...FILLERS), exact: fc.boolean(), ext })
    .map(({ prefix, atoms, long, filler, exact, ext }) => {
      const tail = bytes(ext);
      const pieces = [bytes(prefix), ...atoms];
      const size = () => pieces.reduce((n, p) => n + p.length, 0) + tail.length;
      if (long) while (size() < NAME_MAX) pieces.push(bytes(filler));
      while (size() > NAME_MAX) pieces.pop();
      // Exactly 255 bytes, the most a name may have.
      if (long && exact) while (size() < NAME_MAX) pieces.push(bytes('a'));
      return Buffer.concat([...pieces, tail]);
    })
    .filter((n) => n.length > 0 && n.length <= NAME_MAX && !n.includes(0x2f) && !n.includes(0) && !['.', '..', MARKER].includes(n.toString('latin1')));
}

/** A configured extension in any case; sometimes another one, or something that only looks like one. */
const extArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...EXTENSIONS).chain((e) => fc.mixedCase(fc.constant(e))).map((e) => `.${e}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '.txt', '.jpg.part', '.jpgx', '.jpg ', '.jpg\n', '.jp\u0261', '.', '.JPEG~') },
);

const contentArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 3000 }).map((a) => Buffer.from(a)) },
);

function batchArb(invalid: boolean): fc.Arbitrary<Batch> {
  const file = fc.record({ name: nameArb(extArb, invalid), content: contentArb });
  const booking = fc.record({
    name: nameArb(fc.constant(''), invalid),
    files: fc.uniqueArray(file, { minLength: 2, maxLength: 6, selector: (f) => f.name.toString('hex') }),
    marker: fc.boolean(),
  });
  return fc.uniqueArray(booking, { minLength: 2, maxLength: 4, selector: (b) => b.name.toString('hex') });
}

// ---------------------------------------------------------------------------------------------
// The oracle

const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** RFC 3986 percent-encoding of a path segment, byte by byte: all but the unreserved characters. */
function encodeBytes(b: Buffer): string {
  let out = '';
  for (const byte of b) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const isUtf8 = (b: Buffer): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

/** A name for messages: as JSON (control characters escaped) and as hex bytes. */
const show = (b: Buffer): string => `${JSON.stringify(b.toString('utf8'))} (hex ${b.toString('hex')})`;

/** What the agent is to do with one file, by the README's rules. */
type Expected = 'upload' | 'refuse-empty' | 'ignore';

interface FileCase {
  booking: Buffer;
  file: GenFile;
  /** The path the upload must arrive at. */
  urlPath: string;
  utf8: boolean;
  expected: Expected;
  label: string;
}

function cases(batch: Batch): FileCase[] {
  const ext = new Set(EXTENSIONS);
  return batch.flatMap((b) =>
    b.files.map((f) => {
      // The agent's rule: the extension as Node's path.extname reads it, case-insensitive
      // (`.jpg` alone is a hidden file without one; `..jpg` has one).
      const candidate = ext.has(path.extname(f.name.toString('utf8')).slice(1).toLowerCase());
      const expected: Expected = !candidate ? 'ignore' : f.content.length === 0 ? 'refuse-empty' : 'upload';
      return {
        booking: b.name,
        file: f,
        urlPath: `/booths/${encodeBytes(bytes(BOOTH_ID))}/bookings/${encodeBytes(b.name)}/images/${encodeBytes(f.name)}`,
        utf8: isUtf8(b.name) && isUtf8(f.name),
        expected,
        label: `booking ${show(b.name)}, file ${show(f.name)} (${f.content.length} bytes)`,
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// One agent run over a batch

interface StatusJson {
  uploads: { pending: number; failing: number; rejected: number; failing_codes: Record<string, number>; not_uploaded: Record<string, number> };
}

interface Outcome {
  receiver: UploadReceiver;
  docs: Doc[];
  status: StatusJson;
  stderr: string;
  code: number | null;
}

/** The batch's files, written a minute ago; absolute paths are Buffers, so every byte is kept. */
function writeBatch(watchDir: string, batch: Batch): void {
  const old = new Date(Date.now() - 60_000);
  const root = bytes(watchDir);
  const slash = bytes('/');
  for (const b of batch) {
    const dir = Buffer.concat([root, slash, b.name]);
    fs.mkdirSync(dir);
    for (const f of b.files) {
      const file = Buffer.concat([dir, slash, f.name]);
      fs.writeFileSync(file, f.content);
      fs.utimesSync(file, old, old);
    }
    if (b.marker) fs.writeFileSync(Buffer.concat([dir, slash, bytes(MARKER)]), '');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the agent over `batch` until every file it must upload has arrived and every empty one is
 * recorded (or `timeoutMs` passed), then `lingerMs` more — a reconciliation scan or two, time for
 * a second upload or a phantom record that should not come — and stops it.
 */
async function runBatch(batch: Batch, opts: { timeoutMs: number; lingerMs: number }): Promise<Outcome> {
  const receiver = await UploadReceiver.start();
  const cleanup: (() => void)[] = [];
  const dir = tempDir({ after: (fn: () => void) => cleanup.push(fn) }, 'booth-agent-names-');
  try {
    const cfg = uploadConfig(dir, receiver, { settle_time: '100ms', reconcile_interval: '1s' });
    writeBatch(cfg.watchDir, batch);
    const all = cases(batch);
    const uploads = all.filter((c) => c.expected === 'upload' && c.utf8);
    const empties = all.filter((c) => c.expected === 'refuse-empty' && c.utf8).length;
    const child = startCli(['run', '--config', cfg.file]);
    const done = collect(child, undefined, opts.timeoutMs + opts.lingerMs + 20_000);
    const arrived = () => {
      const paths = new Set(receiver.uploads().filter((r) => r.status === 201).map((r) => r.path));
      return uploads.every((c) => paths.has(c.urlPath));
    };
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      if (arrived() && (empties === 0 || documents(cfg.stateDir).filter((d) => d.error?.type === 'empty_file').length >= empties)) break;
      if (Date.now() > deadline) break;
      await sleep(150);
    }
    // `status` beside the running agent, as the technician runs it, towards the end of the wait.
    const [statusRun] = await Promise.all([sleep(Math.max(0, opts.lingerMs - 600)).then(() => runCli(['status', '--config', cfg.file, '--json'])), sleep(opts.lingerMs)]);
    child.kill('SIGTERM');
    const result = await done;
    const status = JSON.parse(statusRun.stdout) as StatusJson;
    return { receiver, docs: documents(cfg.stateDir), status, stderr: result.stderr, code: result.code };
  } finally {
    await receiver.close();
    for (const fn of cleanup) fn();
  }
}

/**
 * Checks every file of the batch against what the receiver saw, what the agent recorded and what
 * `status --json` says. A file whose name is not UTF-8 may arrive under the faithful percent-encoding
 * of its bytes, or be refused — visibly: counted by status as not uploaded (or refused by the server).
 */
function check(batch: Batch, out: Outcome): void {
  const problems: string[] = [];
  const all = cases(batch);
  const records = out.receiver.uploads();
  const uploadDocs = out.docs.filter((d) => d.event.dataset === 'booth.upload');
  const docsOf = (c: FileCase) => uploadDocs.filter((d) => d.booking['id'] === c.booking.toString('utf8') && d.file?.name === c.file.name.toString('utf8'));

  if (out.code !== 0) problems.push(`the agent exited with ${out.code}`);
  const errors = out.stderr.split('\n').filter((l) => l.includes('"level":"error"'));
  if (errors.length > 0) problems.push(`the agent logged errors:\n    ${errors.slice(0, 5).join('\n    ')}`);

  let refusedInvalid = 0;
  for (const c of all) {
    const at = records.filter((r) => r.path === c.urlPath);
    const mine = c.utf8 ? docsOf(c) : [];
    if (c.expected === 'ignore') {
      if (at.length > 0) problems.push(`${c.label}: not of a configured extension, yet sent ${at.length} time(s)`);
      if (mine.length > 0) problems.push(`${c.label}: not of a configured extension, yet recorded (${mine.map((d) => d.upload?.outcome).join(', ')})`);
      continue;
    }
    if (c.expected === 'refuse-empty') {
      if (at.length > 0) problems.push(`${c.label}: empty, yet sent`);
      if (!c.utf8) {
        refusedInvalid++;
        continue;
      }
      const refusals = mine.filter((d) => d.upload?.outcome === 'failure' && d.error?.type === 'empty_file');
      if (refusals.length !== 1 || mine.length !== 1) problems.push(`${c.label}: empty — expected one empty_file failure document, got ${JSON.stringify(mine.map((d) => [d.upload?.outcome, d.error?.type]))}`);
      continue;
    }
    // To be uploaded.
    const ok = at.filter((r) => r.status === 201);
    if (!c.utf8 && ok.length === 0) {
      // Not sent under its bytes' encoding: it must be refused visibly (counted below).
      refusedInvalid++;
      continue;
    }
    if (ok.length !== 1 || at.length !== 1) {
      const elsewhere = records.filter((r) => r.sha256 === sha256(c.file.content)).map((r) => `${r.status} ${r.path}`);
      problems.push(`${c.label}: expected to arrive once at ${c.urlPath}; answered there: [${at.map((r) => r.status).join(', ')}]${elsewhere.length ? `; its bytes arrived at: ${elsewhere.join(', ')}` : '; its bytes never arrived'}`);
      continue;
    }
    const r = ok[0]!;
    if (r.sha256 !== sha256(c.file.content) || r.bytes !== c.file.content.length) problems.push(`${c.label}: arrived with other bytes (${r.bytes} bytes, sha256 ${r.sha256})`);
    if (r.booking !== c.booking.toString('utf8') || r.file !== c.file.name.toString('utf8')) problems.push(`${c.label}: the server decoded booking ${JSON.stringify(r.booking)}, file ${JSON.stringify(r.file)}`);
    if (c.utf8) {
      const successes = mine.filter((d) => d.upload?.outcome === 'success');
      if (successes.length !== 1) problems.push(`${c.label}: ${successes.length} success documents, expected 1`);
      else if (successes[0]!.upload!.bytes !== c.file.content.length) problems.push(`${c.label}: success document says ${successes[0]!.upload!.bytes} bytes`);
    }
  }

  // Nothing else reached the server, nothing else was recorded.
  const expectedPaths = new Set(all.filter((c) => c.expected === 'upload').map((c) => c.urlPath));
  for (const r of records) {
    if (!expectedPaths.has(r.path)) problems.push(`a request no file asked for: ${r.method} ${r.path} (status ${r.status}, ${r.bytes} bytes)`);
    else if (r.status !== 201) problems.push(`a request answered ${r.status}: ${r.path}`);
  }
  // A name that is not UTF-8 is recorded as refused under its label: `[bytes <hex>] <lossy text>`.
  const label = (name: Buffer) => (isUtf8(name) ? name.toString('utf8') : `[bytes ${name.toString('hex')}] ${name.toString('utf8')}`);
  const known = new Set(all.filter((c) => c.expected !== 'ignore').map((c) => `${label(c.booking)}\0${label(c.file.name)}`));
  for (const d of uploadDocs) {
    const key = `${String(d.booking['id'])}\0${d.file?.name}`;
    if (!known.has(key)) problems.push(`an upload document of no generated file: booking ${JSON.stringify(d.booking['id'])}, file ${JSON.stringify(d.file?.name)}, ${d.upload?.outcome}${d.error ? ` ${d.error.type}: ${d.error.message}` : ''}`);
  }

  // What status says: nothing pending or failing; every file not uploaded counted, with its cause.
  const u = out.status.uploads;
  const empties = all.filter((c) => c.expected === 'refuse-empty' && c.utf8).length;
  const notUploaded = Object.values(u.not_uploaded).reduce((a, b) => a + b, 0);
  if (u.pending !== 0 || u.failing !== 0) problems.push(`status: ${u.pending} pending, ${u.failing} failing at the end`);
  if (refusedInvalid === 0) {
    if (u.rejected !== empties || JSON.stringify(u.not_uploaded) !== JSON.stringify(empties > 0 ? { 'empty file': empties } : {})) {
      problems.push(`status: rejected ${u.rejected}, not_uploaded ${JSON.stringify(u.not_uploaded)} — expected ${empties} empty file(s) and nothing else`);
    }
  } else if (u.rejected !== empties + refusedInvalid || notUploaded + Object.values(u.failing_codes).reduce((a, b) => a + b, 0) !== empties + refusedInvalid) {
    const lost = all.filter((c) => !c.utf8 && c.expected !== 'ignore').map((c) => `\n    ${c.label}`);
    problems.push(
      `files whose names are not UTF-8 were neither uploaded under their bytes' encoding nor visibly refused: status counts ${u.rejected} rejected, not_uploaded ${JSON.stringify(u.not_uploaded)}, failing_codes ${JSON.stringify(u.failing_codes)} — expected ${empties} empty and ${refusedInvalid} refused not-UTF-8 file(s); not-UTF-8 names:${lost.join('')}`,
    );
  }
  if (problems.length > 0) assert.fail(`${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
}

/** What kinds of names a batch holds, for the diagnostic that shows the runs covered them. */
function tally(batch: Batch, into: Map<string, number>): void {
  const kinds: [string, (n: Buffer) => boolean][] = [
    ["starts with '..'", (n) => n.toString('latin1').startsWith('..')],
    ["starts with '.'", (n) => n[0] === 0x2e],
    ['backslash', (n) => n.includes(0x5c)],
    ['control character', (n) => /[\x00-\x1f\x7f]/.test(n.toString('latin1'))],
    ['%, ? or #', (n) => /[%?#]/.test(n.toString('latin1'))],
    ['space', (n) => n.includes(0x20)],
    ['beyond the BMP', (n) => [...n.toString('utf8')].some((c) => c.codePointAt(0)! > 0xffff)],
    ['bidi override or combining mark', (n) => /[\u202e\u200f\u0300-\u036f]/.test(n.toString('utf8'))],
    ['255 bytes', (n) => n.length === NAME_MAX],
    ['200 bytes or more', (n) => n.length >= 200],
  ];
  const count = (k: string) => into.set(k, (into.get(k) ?? 0) + 1);
  for (const b of batch) {
    for (const [k, test] of kinds) if (test(b.name)) count(`booking: ${k}`);
    for (const c of cases([{ ...b }])) {
      count(`file: ${c.expected === 'upload' ? 'to upload' : c.expected === 'refuse-empty' ? 'empty' : 'other extension'}`);
      for (const [k, test] of kinds) if (test(c.file.name)) count(`file: ${k}`);
    }
  }
}

const describeBatch = (batch: Batch): string =>
  batch.map((b) => `  booking ${show(b.name)}${b.marker ? ' (+marker)' : ''}:\n${b.files.map((f) => `    ${show(f.name)}, ${f.content.length} bytes`).join('\n')}`).join('\n');

/**
 * A batch written by hand, run first: names that differ only in Unicode normalization (NFC é and
 * NFD e + U+0301, as files and as folders) or in case, `.jpg` (a hidden file without extension:
 * left alone) beside `..jpg` and `.complete.jpg` (photos), backslash paths that would climb out
 * of the folder if a watcher took them for separators, and the longest names there are.
 */
const EXAMPLE: Batch = (() => {
  let n = 0;
  const photo = (size = 700) => {
    n++;
    return crypto.createHash('sha512').update(String(n)).digest().subarray(0, 64).toString('hex').repeat(Math.ceil(size / 128)).slice(0, size);
  };
  const files = (names: string[]) => names.map((name) => ({ name: bytes(name), content: bytes(name === 'empty.jpg' ? '' : photo()) }));
  return [
    {
      name: bytes('..\\..\\B'),
      marker: true,
      files: files([
        '\u00e9.jpg', 'e\u0301.jpg', 'IMG.JPG', 'img.jpg', '.jpg', '..jpg', '.complete.jpg', '..\\..\\secret.jpg', 'x\\..\\..jpg',
        'a%2Fb%00.jpg', 'a?b#c&d=e.jpg', 'line\nbreak\r\t.jpg', '\u202egpj.exe.jpg', 'x'.repeat(251) + '.jpg', '\u{1F600}'.repeat(62) + '.gif', 'empty.jpg', 'notes.txt',
      ]),
    },
    { name: bytes('\u00e9'), marker: false, files: files(['a.jpg']) },
    { name: bytes('e\u0301'), marker: true, files: files(['a.jpg']) },
    { name: bytes('...'), marker: true, files: files(['IMG_0001.jpg']) },
    { name: bytes('%\\ \x1b[2J'.repeat(36) + '%'), marker: false, files: files(['%.mov', '.hidden.jpeg']) },
  ];
})();

/** One agent run over `batch`, checked; a failure shows the whole batch, names as JSON and hex. */
async function runAndCheck(batch: Batch, opts: { timeoutMs: number; lingerMs: number }): Promise<void> {
  try {
    check(batch, await runBatch(batch, opts));
  } catch (err) {
    throw new Error(`batch:\n${describeBatch(batch)}\n${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Reports a failed property by its own message (which shows the batch's names readably) instead of fast-check's dump of buffers. */
function reporter(details: fc.RunDetails<[Batch]>): void {
  if (!details.failed) return;
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance ?? (details.interrupted ? 'interrupted' : 'failed'));
  throw new Error(
    `property failed after ${details.numRuns} run(s) and ${details.numShrinks} shrink(s) — replay with seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)}\n` +
      error,
  );
}

// ---------------------------------------------------------------------------------------------

// The three run side by side (each is mostly waiting for the agent): the file takes as long as the property.
describe('file and folder names through watcher → URL → receiver (issue 16)', { concurrency: true }, () => {
  test(`generated names (valid UTF-8: unicode, control characters, '.'/'..' prefixes, backslashes, %?#, 255 bytes) through watcher → URL → receiver: each file arrives once, byte-identical, at its encoded path, or is visibly refused`, { timeout: 300_000 }, async (t: TestContext) => {
    t.diagnostic(`fast-check seed ${SEED}, numRuns ${NUM_RUNS} (UPLOAD_NAMES_SEED / UPLOAD_NAMES_RUNS change them)`);
    let runs = 0;
    let files = 0;
    const kinds = new Map<string, number>();
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(batchArb(false), async (batch) => {
        runs++;
        files += batch.reduce((n, b) => n + b.files.length, 0);
        if (runs <= NUM_RUNS) tally(batch, kinds);
        await runAndCheck(batch, { timeoutMs: 15_000, lingerMs: 1100 });
      }),
      {
        seed: SEED,
        numRuns: NUM_RUNS,
        examples: [[EXAMPLE]],
        // A failure is shrunk (each step is an agent run) for at most this long.
        plugins: [fc.interruptAfterTimeLimit(200_000, { failOnInterrupt: true })],
        reporter,
      },
    );
    t.diagnostic(`${runs} agent runs over ${files} generated files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.diagnostic(`names generated: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  });

  // Found by this property, and fixed: a name that is not valid UTF-8 (a byte 0xFF in the file
  // name, or in the booking folder's) was silently lost — Node's fs hands the watcher the name
  // decoded lossily (0xFF → U+FFFD), which names no file. The reconciliation scan lists names as
  // bytes and records such a file as not uploaded (`[bytes <hex>] <text>`, status: "a name that is
  // not UTF-8"). A 255-byte name decoded to 651 bytes made the watcher log an error
  // (ENAMETOOLONG): now a warning, and the scan takes the file.
  test('names that are not valid UTF-8 (file 61ff2e6a7067 "a\\xff.jpg", file c0af2e6a7067, a 255-byte file of 0xFF bytes, booking folder 42ff): uploaded under the percent-encoding of their bytes, or visibly refused', { timeout: 60_000 }, async () => {
    const photo = (n: number) => crypto.createHash('sha256').update(String(n)).digest();
    const batch: Batch = [
      {
        name: bytes('B1'),
        marker: true,
        files: [
          { name: Buffer.from('61ff2e6a7067', 'hex'), content: photo(1) }, // "a\xff.jpg": the minimal case
          { name: Buffer.from('c0af2e6a7067', 'hex'), content: photo(2) }, // an overlong '/' and ".jpg"
          { name: bytes('IMG_0001.jpg'), content: photo(3) }, // a plain one beside them: uploaded
          { name: Buffer.concat([Buffer.alloc(200, 0xff), bytes('x'.repeat(51)), bytes('.jpg')]), content: photo(5) }, // 255 bytes; 651 decoded
        ],
      },
      { name: Buffer.from('42ff', 'hex'), marker: true, files: [{ name: bytes('IMG_0002.jpg'), content: photo(4) }] },
    ];
    // The scan runs every second: two more of them find nothing either.
    check(batch, await runBatch(batch, { timeoutMs: 10_000, lingerMs: 2200 }));
  });

  test('generated names with bytes that are not UTF-8 (3 runs, not shrunk): each file uploaded under its bytes\' encoding, or visibly refused', { timeout: 120_000 }, async (t: TestContext) => {
    t.diagnostic(`fast-check seed ${SEED}, numRuns 3`);
    await fc.assert(
      fc.asyncProperty(
        batchArb(true).filter((batch) => batch.some((b) => !isUtf8(b.name) || b.files.some((f) => !isUtf8(f.name)))),
        (batch) => runAndCheck(batch, { timeoutMs: 10_000, lingerMs: 2500 }),
      ),
      { seed: SEED, numRuns: 3, endOnFailure: true, reporter },
    );
  });
});
