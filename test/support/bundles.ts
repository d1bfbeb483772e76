// Bundles for the tests (scripts/package.ts): built once per architecture, version and state of the
// checkout, and shared by the test files (separate processes, running at the same time), plus quick
// variants of a built bundle (another version, something broken) for the provisioning tests.
//
// A build takes half a minute (xz), so it is kept in dist/test-bundles/<stamp>/, where the stamp
// hashes everything that goes into a bundle: the git HEAD (whose time is every mtime in the tarball)
// and the sources and lock files; <tarball>.json says which commit it is of. A process builds under
// a lock (an atomic mkdir, taken over when its owner is gone); the others wait for it and reuse its
// tarball. The tarball is moved into place with a rename, so it is never seen half-written. Bundles
// of other states of the checkout go once nobody has asked for them for a while.
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { filesIn, packageBundle, type Arch } from '../../scripts/package.ts';

export type { Arch } from '../../scripts/package.ts';

const run = promisify(execFile);

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TEST_BUNDLES = path.join(ROOT, 'dist', 'test-bundles');
/** What goes into a bundle, besides the git HEAD. */
const STAMPED_DIRS = ['agent', 'shared', 'scripts', 'deploy'];
const STAMPED_FILES = ['package.json', 'package-lock.json', 'README.md', 'node_modules/.package-lock.json'];
/** A lock older than this is a leftover whatever its owner (a build takes well under a minute). */
const LOCK_MAX_AGE_MS = 15 * 60_000;
/** Bundles of other states of the checkout are removed once nobody asked for them for this long
 * (a test file is done with its bundle long before). */
const KEEP_OLD_STAMPS_MS = 15 * 60_000;

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The commit a build is made of and its time, which package.ts gives every file in the tarball. */
export interface BuildInfo {
  head: string;
  /** Seconds since the epoch: SOURCE_DATE_EPOCH if set, else the commit's time. */
  sourceDateEpoch: string;
}

export function currentBuildInfo(): BuildInfo {
  let head = 'no-git';
  let time = '0';
  try {
    [head = head, time = time] = execFileSync('git', ['log', '-1', '--format=%H %ct'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(' ');
  } catch {
    // Not a git checkout: package.ts then uses mtime 0, and the sources still make the stamp.
  }
  return { head, sourceDateEpoch: process.env['SOURCE_DATE_EPOCH'] ?? time };
}

/** Hash of the commit (and its time) and of every source that goes into a bundle. */
export function sourceStamp(info: BuildInfo = currentBuildInfo()): string {
  const h = crypto.createHash('sha256');
  h.update(`head ${info.head}\nSOURCE_DATE_EPOCH ${info.sourceDateEpoch}\n`);
  const files = [...STAMPED_DIRS.flatMap((d) => filesIn(path.join(ROOT, d))), ...STAMPED_FILES.map((f) => path.join(ROOT, f))];
  for (const file of files) {
    const rel = path.relative(ROOT, file);
    let content: Buffer;
    try {
      content = fs.readFileSync(file);
    } catch {
      content = Buffer.from('(missing)');
    }
    h.update(`${rel}\0${content.length}\0`).update(content);
  }
  return h.digest('hex').slice(0, 20);
}

/** What a tarball of ensureBundle was built from (others commit to this checkout meanwhile). */
export function bundleInfo(tarball: string): BuildInfo {
  return JSON.parse(fs.readFileSync(`${tarball}.json`, 'utf8')) as BuildInfo;
}

/** Runs `fn` with SOURCE_DATE_EPOCH set (package.ts reads it when it packs). */
export async function withSourceDateEpoch<T>(epoch: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env['SOURCE_DATE_EPOCH'];
  process.env['SOURCE_DATE_EPOCH'] = epoch;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env['SOURCE_DATE_EPOCH'];
    else process.env['SOURCE_DATE_EPOCH'] = before;
  }
}

const built = new Map<string, Promise<string>>();

/**
 * The tarball of the bundle for `arch` (version: package.json's), built at most once per state of
 * the checkout, however many test processes ask for it at the same time.
 */
export function ensureBundle(arch: Arch, version = packageVersion()): Promise<string> {
  const key = `${arch} ${version}`;
  let p = built.get(key);
  if (!p) {
    p = buildOnce(arch, version);
    built.set(key, p);
    p.catch(() => built.delete(key));
  }
  return p;
}

async function buildOnce(arch: Arch, version: string): Promise<string> {
  // The commit read once: the stamp and every mtime in the tarball are of the same one, even when
  // someone commits during the build.
  const info = currentBuildInfo();
  const stamp = sourceStamp(info);
  const dir = path.join(TEST_BUNDLES, stamp);
  const file = path.join(dir, `booth-agent-${version}-linux-${arch}.tar.xz`);
  if (fs.existsSync(file)) return markUsed(dir, file);
  fs.mkdirSync(TEST_BUNDLES, { recursive: true });
  // One lock for all builds: concurrent builds only compete for the CPU, and they share dist/cache.
  await withLock(path.join(TEST_BUNDLES, '.lock'), async () => {
    if (fs.existsSync(file)) return;
    pruneOld(stamp);
    const out = fs.mkdtempSync(path.join(TEST_BUNDLES, '.build-'));
    try {
      const r = await withSourceDateEpoch(info.sourceDateEpoch, () => packageBundle({ arch, version, outDir: out }));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(`${file}.json`, `${JSON.stringify(info)}\n`);
      fs.renameSync(r.file, file);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
  return file;
}

/** The stamp directory's mtime is when it was last asked for: pruneOld keeps it while it is used. */
function markUsed(dir: string, file: string): string {
  try {
    const now = new Date();
    fs.utimesSync(dir, now, now);
  } catch {
    // Pruned just now by another process: it is rebuilt next time.
  }
  return file;
}

/** Runs `fn` holding the lock `lockDir` (made with mkdir, which only one process can do). */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (lockIsStale(lockDir)) {
      // Renamed away first, so that two waiters that both saw it stale do not both remove a lock.
      const grave = `${lockDir}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
      try {
        fs.renameSync(lockDir, grave);
        fs.rmSync(grave, { recursive: true, force: true });
      } catch {
        // Someone else took it over first.
      }
      continue;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  fs.writeFileSync(path.join(lockDir, 'owner'), `${process.pid}\n${os.hostname()}\n`);
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function lockIsStale(lockDir: string): boolean {
  let age: number;
  try {
    age = Date.now() - fs.statSync(lockDir).mtimeMs;
  } catch {
    return false; // gone: try again
  }
  if (age > LOCK_MAX_AGE_MS) return true;
  let owner: string;
  try {
    owner = fs.readFileSync(path.join(lockDir, 'owner'), 'utf8');
  } catch {
    // Between its mkdir and writing the owner file, or its owner died right there.
    return age > 30_000;
  }
  const [pid, host] = owner.split('\n');
  if (host !== os.hostname()) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Removes bundles of other states of the checkout not asked for within KEEP_OLD_STAMPS_MS, and abandoned builds. */
function pruneOld(stamp: string): void {
  for (const entry of fs.readdirSync(TEST_BUNDLES)) {
    if (entry === stamp || entry === '.lock' || entry.startsWith('.lock.')) continue;
    const p = path.join(TEST_BUNDLES, entry);
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > KEEP_OLD_STAMPS_MS) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // Removed meanwhile.
    }
  }
}

// ---- unpacking and repacking ------------------------------------------------------------------

/** Unpacks a bundle tarball into `dest` (GNU tar detects the compression); returns its top directory. */
export function unpackBundle(tarball: string, dest: string): string {
  fs.mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xf', tarball, '-C', dest]);
  return topDir(tarball, dest);
}

function topDir(tarball: string, dest: string): string {
  const tops = fs.readdirSync(dest).filter((e) => e.startsWith('booth-agent-'));
  if (tops.length !== 1) throw new Error(`${tarball}: expected one booth-agent-* directory, found ${tops.join(', ') || 'none'}`);
  return path.join(dest, tops[0] as string);
}

let scratchDir: string | undefined;
/** A temporary folder of this process, removed when it exits. */
function scratch(): string {
  if (!scratchDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-bundles-'));
    scratchDir = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return scratchDir;
}

const unpackedSources = new Map<string, Promise<string>>();
/** `tarball` unpacked once per process (the repacks copy it). */
function unpackedOnce(tarball: string): Promise<string> {
  let top = unpackedSources.get(tarball);
  if (!top) {
    const dest = fs.mkdtempSync(path.join(scratch(), 'src-'));
    top = run('tar', ['-xf', tarball, '-C', dest]).then(() => topDir(tarball, dest));
    unpackedSources.set(tarball, top);
  }
  return top;
}

export interface RepackOptions {
  /** The VERSION of the new bundle (and its top directory's name). */
  version: string;
  /** The ARCH it says it is for (default: the source's); the binaries stay what they are. */
  arch?: Arch;
  /** Changes the unpacked bundle (its top directory) before the checksums are made. */
  mutate?: (dir: string) => void | Promise<void>;
  /** false: keep the source's SHA256SUMS, so that it no longer matches (a damaged bundle). Default true. */
  updateSums?: boolean;
  /** Where the tarball goes (default: a temporary folder of this process). */
  outDir?: string;
  /** none (default): a plain .tar, packed in a fraction of a second; gzip: .tar.gz, gzip -1 (~2 s). */
  compress?: 'none' | 'gzip';
}

/**
 * A variant of the bundle `src`: another version, optionally broken by `mutate`, with fresh
 * SHA256SUMS, packed as a plain .tar or a .tar.gz (provision.sh's `tar -xf` reads either, like the
 * .tar.xz of a build, which takes 30 s to pack).
 */
export async function repackBundle(src: string, opts: RepackOptions): Promise<string> {
  const from = await unpackedOnce(src);
  const arch = opts.arch ?? (fs.readFileSync(path.join(from, 'ARCH'), 'utf8').trim() as Arch);
  const name = `booth-agent-${opts.version}-linux-${arch}`;
  const work = fs.mkdtempSync(path.join(scratch(), 'repack-'));
  try {
    const dir = path.join(work, name);
    await run('cp', ['-a', from, dir]);
    fs.writeFileSync(path.join(dir, 'VERSION'), `${opts.version}\n`);
    fs.writeFileSync(path.join(dir, 'ARCH'), `${arch}\n`);
    await opts.mutate?.(dir);
    if (opts.updateSums ?? true) {
      fs.rmSync(path.join(dir, 'SHA256SUMS'));
      fs.writeFileSync(path.join(dir, 'SHA256SUMS'), checksums(dir, from));
    }
    const outDir = opts.outDir ?? fs.mkdtempSync(path.join(scratch(), 'out-'));
    fs.mkdirSync(outDir, { recursive: true });
    const gzip = opts.compress === 'gzip';
    const file = path.join(outDir, `${name}.tar${gzip ? '.gz' : ''}`);
    await run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', ...(gzip ? ['-I', 'gzip -1'] : []), '-C', work, '-cf', `${file}.tmp`, name]);
    fs.renameSync(`${file}.tmp`, file);
    return file;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * SHA256SUMS of a bundle directory, as scripts/package.ts writes it. With `copiedFrom` (the bundle
 * `dir` is a `cp -a` of), a file of the same size and mtime there keeps its hash from its SHA256SUMS.
 */
export function checksums(dir: string, copiedFrom?: string): string {
  const known = new Map<string, string>();
  if (copiedFrom) {
    for (const line of fs.readFileSync(path.join(copiedFrom, 'SHA256SUMS'), 'utf8').split('\n')) {
      const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
      if (m) known.set(m[2] as string, m[1] as string);
    }
  }
  const hash = (file: string, rel: string): string => {
    const was = known.get(rel);
    if (was && copiedFrom) {
      const a = fs.statSync(file);
      const b = fs.statSync(path.join(copiedFrom, rel), { throwIfNoEntry: false });
      if (b && a.size === b.size && a.mtimeMs === b.mtimeMs) return was;
    }
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  };
  return filesIn(dir)
    .map((file) => {
      const rel = path.relative(dir, file);
      return `${hash(file, rel)}  ${rel}\n`;
    })
    .join('');
}

// ---- ways to break a bundle (for `mutate`) ------------------------------------------------------

/** The agent of the bundle in `dir` rejects every config: check-config exits 78 naming booth.id. */
export function failCheckConfig(dir: string): void {
  const lib = path.join(dir, 'lib');
  fs.renameSync(path.join(lib, 'booth-agent.mjs'), path.join(lib, 'booth-agent.real.mjs'));
  fs.writeFileSync(
    path.join(lib, 'booth-agent.mjs'),
    [
      "if (process.argv[2] === 'check-config') {",
      "  process.stderr.write('config.yaml: 1 problem\\n  booth.id: rejected by this build (test)\\n');",
      '  process.exit(78);',
      '}',
      "await import('./booth-agent.real.mjs');",
      '',
    ].join('\n'),
  );
}

/**
 * Puts the Node.js binary for `arch` into the bundle in `dir` (from the same npm registry package
 * the bundle's is from, cached in dist/cache), e.g. an aarch64 one into an x64 bundle.
 */
export function replaceNode(dir: string, arch: Arch): void {
  const version = fs.readFileSync(path.join(dir, 'NODE_VERSION'), 'utf8').trim();
  const cache = path.join(ROOT, 'dist', 'cache');
  const tgz = path.join(cache, `node-linux-${arch}-${version}.tgz`);
  if (!fs.existsSync(tgz)) {
    fs.mkdirSync(cache, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(cache, '.fetch-'));
    try {
      execFileSync('npm', ['pack', `node-linux-${arch}@${version}`, '--pack-destination', tmp, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
      fs.renameSync(path.join(tmp, path.basename(tgz)), tgz);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const node = path.join(dir, 'node', 'bin', 'node');
  fs.writeFileSync(node, execFileSync('tar', ['-xzOf', tgz, 'package/bin/node'], { maxBuffer: 512 * 1024 * 1024 }));
  fs.chmodSync(node, 0o755);
}
