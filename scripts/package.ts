// Builds the self-contained bundle a booth installs (`npm run bundle -- --arch x64|arm64`):
//
//   booth-agent-<version>-linux-<arch>/
//     bin/booth-agent            launcher: the bundled agent on the bundled Node.js
//     lib/booth-agent.mjs        the agent, one minified module (+ .map, + LEGAL.txt licences)
//     lib/booth-agent-host-facts.mjs  the host-facts child (systeminformation, run as a process of its own)
//     node/bin/node, node/LICENSE  Node.js for <arch>, the npm registry's node-linux-<arch> package
//     node_modules/better-sqlite3  the one module kept outside the agent (a native addon), with
//                                  only the prebuilt binary for linux-<arch>
//     share/                     provision.sh, the systemd unit, its environment file, the config template,
//                                README.md
//     VERSION ARCH NODE_VERSION SHA256SUMS
//
// packed as booth-agent-<version>-linux-<arch>.tar.xz.
//
// Everything comes from the npm registry or this checkout: nothing is compiled, so an arm64 bundle
// is built on an x64 machine, and every ELF file in it is checked to be for <arch> before packing.
// The tarball is reproducible: sorted names, fixed owner, every mtime the commit's time.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './agent-module.ts';

export type Arch = 'x64' | 'arm64';
export const ARCHES: readonly Arch[] = ['x64', 'arm64'];

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ELF_MACHINE: Record<Arch, number> = { x64: 62, arm64: 183 };

export interface PackageOptions {
  arch: Arch;
  /** Where the tarball goes; default dist/. */
  outDir?: string;
  /** Overrides package.json's version (tests make upgrades out of one checkout). */
  version?: string;
  log?: (line: string) => void;
}

export interface PackageResult {
  file: string;
  version: string;
  bytes: number;
  unpackedBytes: number;
}

export async function packageBundle(opts: PackageOptions): Promise<PackageResult> {
  const log = opts.log ?? (() => {});
  const version = opts.version ?? readJson(path.join(ROOT, 'package.json')).version;
  const name = `booth-agent-${version}-linux-${opts.arch}`;
  const outDir = path.resolve(opts.outDir ?? path.join(ROOT, 'dist'));
  fs.mkdirSync(outDir, { recursive: true });
  // Staged in the checkout's dist/ whatever outDir is: the source map names the sources relative to
  // lib/, so a stage elsewhere (--out, another checkout path) would give a different tarball.
  fs.mkdirSync(path.join(ROOT, 'dist'), { recursive: true });
  const work = fs.mkdtempSync(path.join(ROOT, 'dist', `.stage-${opts.arch}-`));
  try {
    const stage = path.join(work, name);
    fs.mkdirSync(stage, { recursive: true });
    await bundle(path.join(stage, 'lib', 'booth-agent.mjs'), version);
    const nodeVersion = addNodeRuntime(stage, opts.arch, log);
    addBetterSqlite(stage, opts.arch);
    addDeployFiles(stage);
    fs.writeFileSync(path.join(stage, 'VERSION'), `${version}\n`);
    fs.writeFileSync(path.join(stage, 'ARCH'), `${opts.arch}\n`);
    fs.writeFileSync(path.join(stage, 'NODE_VERSION'), `${nodeVersion}\n`);
    checkElfFiles(stage, opts.arch);
    fs.writeFileSync(path.join(stage, 'SHA256SUMS'), checksums(stage));
    const file = path.join(outDir, `${name}.tar.xz`);
    pack(work, name, file);
    return { file, version, bytes: fs.statSync(file).size, unpackedBytes: treeSize(stage) };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The Node.js the checkout runs on (the `node` devDependency, pinned by package-lock), for `arch`. */
function addNodeRuntime(stage: string, arch: Arch, log: (line: string) => void): string {
  const version = readJson(path.join(ROOT, 'node_modules', 'node', 'package.json')).version;
  const cache = path.join(ROOT, 'dist', 'cache');
  fs.mkdirSync(cache, { recursive: true });
  const tgz = path.join(cache, `node-linux-${arch}-${version}.tgz`);
  if (!fs.existsSync(tgz)) {
    log(`fetching node-linux-${arch}@${version} from the npm registry`);
    // npm pack checks the tarball against the registry's integrity hash before writing it.
    execFileSync('npm', ['pack', `node-linux-${arch}@${version}`, '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const dest = path.join(stage, 'node');
  fs.mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', dest, '--strip-components=1', 'package/bin/node', 'package/LICENSE']);
  return version;
}

/** better-sqlite3 without its sources and with only the prebuilt binary for linux-<arch>. */
function addBetterSqlite(stage: string, arch: Arch): void {
  const from = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const to = path.join(stage, 'node_modules', 'better-sqlite3');
  for (const entry of ['package.json', 'LICENSE', 'lib']) fs.cpSync(path.join(from, entry), path.join(to, entry), { recursive: true });
  const binary = path.join(from, 'prebuilds', `linux-${arch}.node`);
  if (!fs.existsSync(binary)) throw new Error(`better-sqlite3 has no prebuilt binary for linux-${arch} (${binary})`);
  fs.mkdirSync(path.join(to, 'prebuilds'));
  fs.copyFileSync(binary, path.join(to, 'prebuilds', `linux-${arch}.node`));
}

function addDeployFiles(stage: string): void {
  const share = path.join(stage, 'share');
  fs.mkdirSync(share);
  for (const file of ['provision.sh', 'booth-agent.service', 'booth-agent.env', 'config.template.yaml']) {
    fs.copyFileSync(path.join(ROOT, 'deploy', file), path.join(share, file));
  }
  // The unit's Documentation= (file:/opt/booth-agent/current/share/README.md).
  fs.copyFileSync(path.join(ROOT, 'README.md'), path.join(share, 'README.md'));
  fs.chmodSync(path.join(share, 'provision.sh'), 0o755);
  fs.mkdirSync(path.join(stage, 'bin'));
  fs.copyFileSync(path.join(ROOT, 'deploy', 'launcher.sh'), path.join(stage, 'bin', 'booth-agent'));
  fs.chmodSync(path.join(stage, 'bin', 'booth-agent'), 0o755);
}

/** Every ELF file (executables, shared objects, addons) must be for `arch`: a wrong one only fails on the booth. */
export function checkElfFiles(dir: string, arch: Arch): void {
  for (const file of filesIn(dir)) {
    const head = Buffer.alloc(20);
    const fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, head, 0, 20, 0);
    fs.closeSync(fd);
    if (n < 20 || head.readUInt32BE(0) !== 0x7f454c46) continue;
    const machine = head.readUInt16LE(18);
    if (machine !== ELF_MACHINE[arch]) {
      throw new Error(`${path.relative(dir, file)} is an ELF file for machine ${machine}, not ${arch} (${ELF_MACHINE[arch]})`);
    }
  }
}

function checksums(stage: string): string {
  return filesIn(stage)
    .map((file) => `${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}  ${path.relative(stage, file)}\n`)
    .join('');
}

function pack(work: string, name: string, file: string): void {
  // The commit's time, so that the same commit gives the same tarball byte for byte.
  const epoch = process.env['SOURCE_DATE_EPOCH'] ?? gitCommitTime() ?? '0';
  const tmp = `${file}.tmp`;
  // xz: 29 MB where gzip -9 gives 44 MB (the Node binary is most of it), for a thousand booths on
  // venue networks; xz-utils is on every Debian and Raspberry Pi OS system.
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mode=go-w', `--mtime=@${epoch}`, '-C', work, '-cf', tmp, name]);
  execFileSync('xz', ['-6', '-T0', '--force', '--suffix=.xz', tmp]);
  fs.renameSync(`${tmp}.xz`, file);
}

function gitCommitTime(): string | undefined {
  try {
    return execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Regular files under `dir`, in the order SHA256SUMS lists them (names sorted at every level). */
export function filesIn(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesIn(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

function treeSize(dir: string): number {
  return filesIn(dir).reduce((sum, f) => sum + fs.statSync(f).size, 0);
}

function readJson(file: string): { version: string } {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string };
}
