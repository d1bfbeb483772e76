// The tarballs a booth installs (npm run bundle -- --arch x64|arm64, scripts/package.ts): self-
// contained (they run with an empty environment, far from the checkout), only binaries for their
// architecture, small, and reproducible.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { bundle, HOST_FACTS_CHILD } from '../scripts/agent-module.ts';
import { ARCHES, packageBundle, type Arch } from '../scripts/package.ts';
import { bundleInfo, ensureBundle, ROOT, sourceStamp, unpackBundle, withSourceDateEpoch } from './support/bundles.ts';
import { collect, type CliResult } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { fileCommand, needs, xz } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';

const BUILD_TIMEOUT = 300_000;
const MB = 1e6;
/** Each tarball stays under this (x64: 32 MB, arm64: 31 MB, most of it Node.js). */
const MAX_TARBALL_BYTES = 45 * MB;
/** And unpacked under this (x64: 134 MB, arm64: 130 MB). */
const MAX_UNPACKED_BYTES = 170 * MB;
const ELF_NAME: Record<Arch, RegExp> = { x64: /\bx86-64\b/, arm64: /\bARM aarch64\b/ };

// Each bundle unpacked once for all tests, outside the checkout.
const unpackRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-tarball-'));
after(() => fs.rmSync(unpackRoot, { recursive: true, force: true }));
const unpacked = new Map<Arch, Promise<{ tarball: string; top: string }>>();
function unpackedBundle(arch: Arch): Promise<{ tarball: string; top: string }> {
  let p = unpacked.get(arch);
  if (!p) {
    p = ensureBundle(arch).then((tarball) => ({ tarball, top: unpackBundle(tarball, path.join(unpackRoot, arch)) }));
    unpacked.set(arch, p);
  }
  return p;
}

/** Runs `cmd args` under `env -i`: no PATH, no NODE_OPTIONS, nothing of the test's environment. */
function runClean(cmd: string, args: string[], cwd: string): Promise<CliResult> {
  return collect(spawn('/usr/bin/env', ['-i', cmd, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] }));
}

function files(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.lstatSync(path.join(dir, f)).isFile());
}

test('the x64 bundle runs in an empty directory with an empty environment, also through a symlink', { timeout: BUILD_TIMEOUT, ...needs(xz) }, async (t) => {
  const { top } = await unpackedBundle('x64');
  // Nothing of the checkout can help it: not under it, and no node_modules in any parent.
  assert.ok(!path.resolve(top).startsWith(ROOT), `${top} is outside ${ROOT}`);
  for (let d = path.dirname(top); ; d = path.dirname(d)) {
    assert.ok(!fs.existsSync(path.join(d, 'node_modules')), `${d}/node_modules exists`);
    if (d === path.dirname(d)) break;
  }
  const version = fs.readFileSync(path.join(top, 'VERSION'), 'utf8').trim();
  const nodeVersion = fs.readFileSync(path.join(top, 'NODE_VERSION'), 'utf8').trim();
  assert.match(nodeVersion, /^24\.\d+\.\d+$/);
  assert.equal(fs.readFileSync(path.join(top, 'ARCH'), 'utf8'), 'x64\n');

  const work = tempDir(t);
  const ok = writeConfig(work, {}, 'ok.yaml');
  const bad = writeConfig(work, { booth: { country: 'XX' } }, 'bad.yaml');
  // bin/booth-agent itself, a symlink to it elsewhere, and a relative symlink to that symlink.
  fs.mkdirSync(path.join(work, 'bin'));
  fs.symlinkSync(path.join(top, 'bin', 'booth-agent'), path.join(work, 'bin', 'booth-agent'));
  fs.symlinkSync('bin/booth-agent', path.join(work, 'agent'));
  for (const bin of [path.join(top, 'bin', 'booth-agent'), path.join(work, 'bin', 'booth-agent'), './agent']) {
    const v = await runClean(bin, ['version'], work);
    assert.equal(v.code, 0, `${bin} version: ${v.stderr}`);
    assert.match(v.stdout, new RegExp(`^booth-agent ${version.replaceAll('.', '\\.')}\\nnode v${nodeVersion.replaceAll('.', '\\.')} \\(linux-x64\\)\\nsqlite 3\\.\\d+\\.\\d+\\n$`));

    const good = await runClean(bin, ['check-config', '--config', ok.file], work);
    assert.equal(good.code, 0, `${bin} check-config: ${good.stderr}`);
    assert.match(good.stdout, /OK \(booth FB-1042, US\)/);

    const wrong = await runClean(bin, ['check-config', '--config', bad.file], work);
    assert.equal(wrong.code, 78, wrong.stdout);
    assert.match(wrong.stderr, /booth\.country: .*"XX"/);
  }
});

test('each bundle has binaries for its architecture only, and one better-sqlite3 prebuild', { timeout: 2 * BUILD_TIMEOUT, ...needs(xz, fileCommand) }, async () => {
  for (const arch of ARCHES) {
    const { top } = await unpackedBundle(arch);
    const all = files(top);
    // `file` (Debian's file package) judges every file, not just what looks like an ELF.
    const out = execFileSync('file', ['-N', '-F', '\t', ...all], { cwd: top, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    const kinds = new Map(
      out
        .trim()
        .split('\n')
        .map((line) => {
          const tab = line.indexOf('\t');
          return [line.slice(0, tab), line.slice(tab + 1).trim()] as const;
        }),
    );
    assert.equal(kinds.size, all.length);
    const elf = [...kinds].filter(([, kind]) => kind.startsWith('ELF'));
    assert.deepEqual(elf.map(([f]) => f).sort(), ['node/bin/node', `node_modules/better-sqlite3/prebuilds/linux-${arch}.node`], `${arch}: the ELF files`);
    for (const [f, kind] of elf) {
      assert.match(kind, ELF_NAME[arch], `${arch}: ${f} is ${kind}`);
      for (const other of ARCHES.filter((a) => a !== arch)) assert.doesNotMatch(kind, ELF_NAME[other], `${arch}: ${f} is ${kind}`);
    }
    const foreign = [...kinds].filter(([, kind]) => /Mach-O|PE32|MS Windows|COFF/.test(kind));
    assert.deepEqual(foreign, [], `${arch}: no binaries of other platforms`);
    assert.deepEqual(fs.readdirSync(path.join(top, 'node_modules', 'better-sqlite3', 'prebuilds')), [`linux-${arch}.node`]);
    assert.deepEqual(
      all.filter((f) => f.endsWith('.node')),
      [`node_modules/better-sqlite3/prebuilds/linux-${arch}.node`],
    );
    assert.equal(fs.readFileSync(path.join(top, 'ARCH'), 'utf8'), `${arch}\n`);
  }
});

test('the tarballs stay small', { timeout: 2 * BUILD_TIMEOUT, ...needs(xz) }, async (t) => {
  for (const arch of ARCHES) {
    const { tarball, top } = await unpackedBundle(arch);
    const bytes = fs.statSync(tarball).size;
    const unpackedBytes = files(top).reduce((sum, f) => sum + fs.statSync(path.join(top, f)).size, 0);
    t.diagnostic(`${path.basename(tarball)}: ${(bytes / MB).toFixed(1)} MB (${(unpackedBytes / MB).toFixed(1)} MB unpacked)`);
    assert.ok(bytes < MAX_TARBALL_BYTES, `${path.basename(tarball)} is ${bytes} bytes`);
    assert.ok(unpackedBytes < MAX_UNPACKED_BYTES, `${path.basename(tarball)} unpacks to ${unpackedBytes} bytes`);
  }
});

test('the tarball is made to be reproducible: sorted, owned by 0:0, every mtime the commit time, a deterministic agent module', { timeout: BUILD_TIMEOUT, ...needs(xz) }, async (t) => {
  const { tarball, top } = await unpackedBundle('x64');
  // The time of the commit it was built from (HEAD may have moved since: others commit here too).
  const commitTime = Number(bundleInfo(tarball).sourceDateEpoch);
  assert.ok(commitTime > 1.6e9, `commit time ${commitTime}`);
  const listing = execFileSync('tar', ['--list', '--verbose', '--full-time', '--numeric-owner', '-f', tarball], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const entries = listing
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^(\S+) (\d+)\/(\d+) +\d+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (.+)$/.exec(line);
      assert.ok(m, line);
      return { mode: m[1] as string, owner: `${m[2]}/${m[3]}`, mtime: Date.parse(`${m[4]}Z`) / 1000, name: (m[5] as string).replace(/\/$/, '') };
    });
  for (const e of entries) {
    assert.equal(e.owner, '0/0', e.name);
    assert.equal(e.mtime, commitTime, `${e.name}: mtime`);
    assert.doesNotMatch(e.mode, /^.{5}w|^.{8}w/, `${e.name}: ${e.mode} is writable by group or others`);
  }
  // tar --sort=name: each directory's entries in byte order, depth first.
  const expected: string[] = [];
  const visit = (rel: string): void => {
    expected.push(rel);
    const full = path.join(path.dirname(top), rel);
    if (!fs.lstatSync(full).isDirectory()) return;
    const names = fs.readdirSync(full).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const n of names) visit(`${rel}/${n}`);
  };
  visit(path.basename(top));
  assert.deepEqual(
    entries.map((e) => e.name),
    expected,
  );

  // The source map names the sources relative to lib/; they must not depend on where the checkout
  // or the output directory is (resolved from a stage in <checkout>/dist, they stay inside it).
  const map = JSON.parse(fs.readFileSync(path.join(top, 'lib', 'booth-agent.mjs.map'), 'utf8')) as { sources: string[] };
  const stageLib = '/checkout/dist/.stage/bundle/lib';
  const outside = map.sources.filter((s) => !path.posix.resolve(stageLib, s).startsWith('/checkout/'));
  assert.deepEqual(outside.slice(0, 5), [], 'source map entries outside the checkout');

  // esbuild gives the same module, map and licences twice (two places at the same depth).
  const a = path.join(ROOT, 'dist', `.repro-${process.pid}-a`, 'lib', 'booth-agent.mjs');
  const b = path.join(ROOT, 'dist', `.repro-${process.pid}-b`, 'lib', 'booth-agent.mjs');
  t.after(() => {
    for (const f of [a, b]) fs.rmSync(path.dirname(path.dirname(f)), { recursive: true, force: true });
  });
  await bundle(a);
  await bundle(b);
  for (const suffix of ['', '.map', '.LEGAL.txt']) {
    assert.ok(fs.readFileSync(`${a}${suffix}`).equals(fs.readFileSync(`${b}${suffix}`)), `booth-agent.mjs${suffix} differs between two builds`);
  }
  // And the host-facts child beside it.
  for (const suffix of ['', '.map']) {
    const [ca, cb] = [a, b].map((f) => path.join(path.dirname(f), `${HOST_FACTS_CHILD}${suffix}`));
    assert.ok(fs.readFileSync(ca!).equals(fs.readFileSync(cb!)), `${HOST_FACTS_CHILD}${suffix} differs between two builds`);
  }
});

// A second full build: ~35 s of xz on two cores, worth it — a tarball that differs between two
// builds of one commit cannot be checked against the one that was tested.
test(
  'two builds of the same commit are byte-identical',
  { timeout: 3 * BUILD_TIMEOUT, ...needs(xz) },
  async (t) => {
    const { tarball } = await unpackedBundle('x64');
    const info = bundleInfo(tarball);
    // Compared with the shared test bundle when the sources are still what it was built from
    // (others edit this checkout too), else with a first build made now.
    let reference = tarball;
    if (sourceStamp(info) !== path.basename(path.dirname(tarball))) {
      t.diagnostic('the sources changed since the test bundle was built: building twice');
      reference = (await withSourceDateEpoch(info.sourceDateEpoch, () => packageBundle({ arch: 'x64', outDir: tempDir(t) }))).file;
    }
    // Another output directory, so that nothing depends on where the tarball goes.
    const again = await withSourceDateEpoch(info.sourceDateEpoch, () => packageBundle({ arch: 'x64', outDir: tempDir(t) }));
    assert.equal(path.basename(again.file), path.basename(reference));
    assert.ok(fs.readFileSync(again.file).equals(fs.readFileSync(reference)), `${again.file} differs from ${reference}`);
  },
);
