// deploy/provision.sh installing the x64 bundle into a directory tree (--root): idempotent, the
// right owners and modes, a unit systemd accepts, upgrades that keep the running version when the
// new one fails, the errors it names, and uninstalling. Each case has its own root; they share one
// built bundle and its quick repacks (test/support/bundles.ts).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { ensureBundle, failCheckConfig, packageVersion, repackBundle, replaceNode, ROOT, type Arch } from './support/bundles.ts';
import { collect, type CliResult } from './support/cli.ts';
import { needs, noSystemd, openssl, rootFor, tool, xz } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';
import { certificates } from './support/tls.ts';

const PROVISION = path.join(ROOT, 'deploy', 'provision.sh');
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const TIMEOUT = 300_000; // the first test to ask may wait for the bundle to be built
const HOST_ARCH: Arch = process.arch === 'arm64' ? 'arm64' : 'x64';
const OTHER_ARCH: Arch = HOST_ARCH === 'x64' ? 'arm64' : 'x64';
/** `systemd-analyze security` rates the unit 1.7 ("OK"); it must not get worse than this. */
const MAX_EXPOSURE = 2.0;
const UPLOAD_URL = 'https://fulfil.example.com/booths/{booth_id}/bookings/{booking_id}/images/{file}';
const OPENSEARCH_URL = 'https://search.example.com:9200';

/** The bundle as built (.tar.xz). */
const bundle = (): Promise<string> => ensureBundle(HOST_ARCH);
let plain: Promise<string> | undefined;
/** The same bundle as a plain .tar (byte for byte the same files): no 1.6 s of xz per install. */
const fastBundle = (): Promise<string> => (plain ??= bundle().then((src) => repackBundle(src, { version: packageVersion() })));

function required(root: string, tarball: string): string[] {
  return ['--root', root, '--bundle', tarball, '--booth-id', 'FB-1042', '--country', 'US', '--upload-url', UPLOAD_URL, '--watch-dir', '/srv/booth/outbox', '--opensearch-url', OPENSEARCH_URL];
}

function provision(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return collect(spawn('bash', [PROVISION, ...args], { env: { PATH: SYSTEM_PATH, LC_ALL: 'C', ...env }, stdio: ['pipe', 'pipe', 'pipe'] }), undefined, 120_000);
}

async function provisionOk(args: string[]): Promise<CliResult> {
  const r = await provision(args);
  assert.equal(r.code, 0, `provision.sh ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Every entry under `root`: type, mode, owner, size, content hash, mtime (ns) and link target. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (rel: string): void => {
    const full = path.join(root, rel);
    const st = fs.lstatSync(full, { bigint: true });
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : 'other';
    const content = type === 'file' ? crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex') : type === 'link' ? fs.readlinkSync(full) : '';
    out.set(rel, `${type} ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeNs} ${content}`);
    if (type === 'dir') for (const name of fs.readdirSync(full).sort()) visit(rel ? `${rel}/${name}` : name);
  };
  visit('');
  return out;
}

/** What differs between two snapshots; `touched`: directories whose mtime may differ (an entry made and removed again). */
function differences(a: Map<string, string>, b: Map<string, string>, touched: string[] = []): string[] {
  const out: string[] = [];
  const noMtime = (p: string, v: string | undefined): string | undefined => (v && touched.includes(p) ? v.split(' ').toSpliced(4, 1).join(' ') : v);
  for (const [p, v] of a) if (noMtime(p, b.get(p)) !== noMtime(p, v)) out.push(`${p}: ${v} → ${b.get(p) ?? '(gone)'}`);
  for (const [p, v] of b) if (!a.has(p)) out.push(`${p}: (new) ${v}`);
  return out;
}

function account(root: string, file: 'passwd' | 'group', name: string): string[] | undefined {
  let text = '';
  try {
    text = fs.readFileSync(path.join(root, 'etc', file), 'utf8');
  } catch {
    return undefined;
  }
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === name);
}

function agentIds(root: string): { uid: number; gid: number } {
  const user = account(root, 'passwd', 'booth-agent');
  assert.ok(user, 'booth-agent is in etc/passwd');
  return { uid: Number(user[2]), gid: Number(user[3]) };
}

function assertStat(root: string, rel: string, mode: number, uid: number, gid: number): void {
  const st = fs.lstatSync(path.join(root, rel));
  assert.equal((st.mode & 0o7777).toString(8), mode.toString(8), `${rel}: mode`);
  assert.equal(`${st.uid}:${st.gid}`, `${uid}:${gid}`, `${rel}: owner`);
}

function readConfig(root: string): Record<string, any> {
  return parse(fs.readFileSync(path.join(root, 'etc/booth-agent/config.yaml'), 'utf8')) as Record<string, any>;
}

function unitKeys(root: string): Map<string, string> {
  const text = fs.readFileSync(path.join(root, 'etc/systemd/system/booth-agent.service'), 'utf8');
  return new Map(
    text
      .split('\n')
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
  );
}

function versions(root: string): string[] {
  return fs.readdirSync(path.join(root, 'opt/booth-agent')).sort();
}

function current(root: string): string {
  return fs.readlinkSync(path.join(root, 'opt/booth-agent/current'));
}

/**
 * `systemd-analyze verify` (no output at all: it exits 0 on warnings too) and `security`, in a copy
 * of the tree given systemd's own targets and slices. Returns the exposure level.
 */
async function analyzeUnit(t: { after: (fn: () => void) => void }, root: string): Promise<number> {
  const scratch = tempDir(t, 'booth-agent-unit-');
  for (const dir of ['etc', 'opt', 'usr', 'var']) fs.cpSync(path.join(root, dir), path.join(scratch, dir), { recursive: true, verbatimSymlinks: true });
  const units = path.join(scratch, 'usr/lib/systemd/system');
  fs.mkdirSync(units, { recursive: true });
  for (const f of fs.readdirSync('/lib/systemd/system')) {
    if (f.endsWith('.target') || f.endsWith('.slice')) fs.cpSync(path.join('/lib/systemd/system', f), path.join(units, f), { verbatimSymlinks: true });
  }
  const unit = path.join(scratch, 'etc/systemd/system/booth-agent.service');
  const verify = await collect(spawn('systemd-analyze', ['verify', `--root=${scratch}`, unit], { stdio: ['pipe', 'pipe', 'pipe'] }));
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(`${verify.stdout}${verify.stderr}`, '', 'systemd-analyze verify says nothing');
  const security = await collect(spawn('systemd-analyze', ['security', '--offline=true', `--root=${scratch}`, unit], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const m = /Overall exposure level for booth-agent\.service: (\d+\.\d+)/.exec(security.stdout);
  assert.ok(m, `systemd-analyze security: ${security.stdout}${security.stderr}`);
  return Number(m[1]);
}

function secretFiles(t: { after: (fn: () => void) => void }): { dir: string; uploadAuth: string; password: string; token: string } {
  const dir = tempDir(t, 'booth-agent-secrets-');
  const write = (name: string, text: string): string => {
    fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
    return path.join(dir, name);
  };
  return { dir, uploadAuth: write('upload-auth', 'Bearer upload-token\n'), password: write('password', 's3cret\n'), token: write('token', 'opensearch-token\n') };
}

// provision.sh creates a user and files owned by it (root only, as the tests run in CI), with
// systemd's tools, from bundles packed with xz; the unit is checked with systemd-analyze.
const PROVISION_NEEDS = [
  rootFor('to run provision.sh (it creates a user and files owned by it)'),
  xz,
  tool('systemd-analyze', 'apt-get install systemd'),
  tool('systemd-sysusers', 'apt-get install systemd'),
  tool('systemctl', 'apt-get install systemd'),
  tool('setpriv', 'apt-get install util-linux'),
  tool('userdel', 'apt-get install passwd'),
  tool('groupdel', 'apt-get install passwd'),
];
describe('provision.sh', { concurrency: 3, ...needs(...PROVISION_NEEDS) }, () => {
  // The longest (six repacks, nine runs one after another) first.
  test('upgrades: side by side; a version whose check-config fails (78) or that does not start (1) leaves the current one; old versions pruned', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const src = await bundle();
    // An aarch64 node in a bundle that says x64 (or the other way round) cannot run here, unless
    // this machine runs foreign binaries (qemu-user binfmt): then a node that is not an executable.
    const noNode = foreignNodeRuns(t)
      ? (dir: string) => fs.writeFileSync(path.join(dir, 'node', 'bin', 'node'), Buffer.from('\x7fELF not really'))
      : (dir: string) => replaceNode(dir, OTHER_ARCH);
    const [v0, v1, v2, v3, v4, v5] = await Promise.all([
      repackBundle(src, { version: '0.1.0', compress: 'gzip' }),
      repackBundle(src, { version: '0.1.1' }),
      repackBundle(src, { version: '0.1.2', mutate: failCheckConfig }),
      repackBundle(src, { version: '0.1.3', mutate: noNode }),
      repackBundle(src, { version: '0.1.4' }),
      repackBundle(src, { version: '0.1.5' }),
    ]);
    const args = (tarball: string, ...more: string[]): string[] => [...required(root, tarball), ...more];

    await provisionOk(args(v0));
    assert.equal(current(root), '0.1.0');
    const up = await provisionOk(args(v1));
    assert.match(up.stdout, /previous version 0\.1\.0, kept for rollback/);
    assert.equal(current(root), '0.1.1');
    assert.deepEqual(versions(root), ['0.1.0', '0.1.1', 'current']);
    const installed = snapshot(root);

    const badConfig = await provision(args(v2));
    assert.equal(badConfig.code, 78, `${badConfig.stdout}${badConfig.stderr}`);
    assert.match(badConfig.stderr, /booth\.id: rejected by this build/);
    assert.match(badConfig.stderr, /does not validate with booth-agent 0\.1\.2; nothing switched, 0\.1\.1 stays/);
    // Only the versions' directory saw the new one come and go.
    assert.deepEqual(differences(installed, snapshot(root), ['opt/booth-agent']), [], 'a failed upgrade leaves no trace');

    const noStart = await provision(args(v3));
    assert.equal(noStart.code, 1, `${noStart.stdout}${noStart.stderr}`);
    assert.match(noStart.stderr, /booth-agent 0\.1\.3 does not start on this machine; nothing switched, 0\.1\.1 stays/);
    assert.deepEqual(differences(installed, snapshot(root), ['opt/booth-agent']), [], 'a failed upgrade leaves no trace');

    const again = await provisionOk(args(v1));
    assert.match(again.stdout, /nothing to change/);

    // --keep-versions N: the current, the previous, then the newest others up to N.
    await provisionOk(args(v4));
    assert.deepEqual(versions(root), ['0.1.0', '0.1.1', '0.1.4', 'current']);
    const pruned = await provisionOk(args(v5, '--keep-versions', '2'));
    assert.match(pruned.stdout, /removed \/opt\/booth-agent\/0\.1\.0/);
    assert.match(pruned.stdout, /removed \/opt\/booth-agent\/0\.1\.1/);
    assert.deepEqual(versions(root), ['0.1.4', '0.1.5', 'current']);
    assert.equal(current(root), '0.1.5');
    const steady = await provisionOk(args(v5, '--keep-versions', '2'));
    assert.match(steady.stdout, /nothing to change/);
    // One version would leave nothing to roll back to.
    const one = await provision(args(v5, '--keep-versions', '1'));
    assert.equal(one.code, 64, one.stderr);
    assert.match(one.stderr, /--keep-versions "1": .*at least 2/);
  });

  test('a second run with the same arguments changes nothing, not even an mtime', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const args = required(root, await bundle());
    const first = await provisionOk(args);
    assert.match(first.stdout, /done: booth-agent .* for booth FB-1042/);
    const before = snapshot(root);
    const second = await provisionOk(args);
    assert.match(second.stdout, /nothing to change/);
    assert.doesNotMatch(second.stdout, /changed:/);
    assert.deepEqual(differences(before, snapshot(root)), []);
    assert.ok(before.size > 40, `${before.size} entries compared`);
  });

  test('owners and modes: config and secrets root:booth-agent 0640, state and logs the agent 0700, a nologin system user, links, the unit enabled', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const secrets = secretFiles(t);
    const version = packageVersion();
    await provisionOk([...required(root, await bundle()), '--upload-auth-file', secrets.uploadAuth, '--opensearch-user', 'booth-FB-1042', '--opensearch-password-file', secrets.password]);

    const user = account(root, 'passwd', 'booth-agent');
    assert.ok(user);
    const { uid, gid } = agentIds(root);
    assert.ok(uid > 0 && uid < 1000, `a system uid: ${uid}`);
    assert.equal(account(root, 'group', 'booth-agent')?.[2], String(gid));
    assert.equal(user[5], '/var/lib/booth-agent');
    assert.equal(user[6], '/usr/sbin/nologin');

    assertStat(root, 'etc/booth-agent', 0o750, 0, gid);
    assertStat(root, 'etc/booth-agent/secrets', 0o750, 0, gid);
    assertStat(root, 'etc/booth-agent/config.yaml', 0o640, 0, gid);
    assertStat(root, 'etc/booth-agent/secrets/upload-authorization', 0o640, 0, gid);
    assertStat(root, 'etc/booth-agent/secrets/opensearch-password', 0o640, 0, gid);
    assertStat(root, 'etc/booth-agent/booth-agent.env', 0o644, 0, 0);
    assertStat(root, 'var/lib/booth-agent', 0o700, uid, gid);
    assertStat(root, 'var/log/booth-agent', 0o700, uid, gid);
    assertStat(root, 'etc/systemd/system/booth-agent.service', 0o644, 0, 0);
    assertStat(root, 'usr/lib/sysusers.d/booth-agent.conf', 0o644, 0, 0);
    assert.equal(fs.readFileSync(path.join(root, 'etc/booth-agent/secrets/opensearch-password'), 'utf8'), 's3cret\n');

    // The program: root's, nobody else may write it; current → the version; the command linked.
    assert.equal(current(root), version);
    for (const [rel, stat] of snapshot(path.join(root, 'opt/booth-agent', version))) {
      const [, mode, owner] = stat.split(' ') as [string, string, string];
      assert.equal(owner, '0:0', `${rel}: owner`);
      assert.equal(Number.parseInt(mode, 8) & 0o022, 0, `${rel}: mode ${mode}`);
    }
    assert.equal(fs.readlinkSync(path.join(root, 'usr/local/bin/booth-agent')), '/opt/booth-agent/current/bin/booth-agent');
    assert.ok(fs.existsSync(path.join(root, 'opt/booth-agent/current/bin/booth-agent')));
    assert.equal(fs.readlinkSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/booth-agent.service')), '/etc/systemd/system/booth-agent.service');
    // With --root nothing runs, but the installed program does.
    const v = await collect(spawn(path.join(root, 'opt/booth-agent/current/bin/booth-agent'), ['version'], { env: {}, stdio: ['pipe', 'pipe', 'pipe'] }));
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^booth-agent \S+\nnode v24\./);
  });

  test('the unit (after-upload keep): passes systemd-analyze verify silently, a low exposure, writes only state and logs, Documentation= exists', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    await provisionOk(required(root, await fastBundle()));
    const unit = unitKeys(root);
    assert.deepEqual(unit.get('ReadWritePaths')?.split(' '), ['/var/lib/booth-agent', '/var/log/booth-agent']);
    assert.equal(unit.get('ProtectHome'), 'yes');
    assert.equal(unit.get('ProtectSystem'), 'strict');
    assert.equal(unit.get('User'), 'booth-agent');
    assert.equal(unit.get('MemoryMax'), '256M');
    assert.equal(unit.get('MemoryHigh'), '192M');
    assert.equal(unit.get('CPUQuota'), '50%');
    assert.doesNotMatch(fs.readFileSync(path.join(root, 'etc/systemd/system/booth-agent.service'), 'utf8'), /@[A-Z_]+@/, 'every placeholder filled in');
    const doc = unit.get('Documentation') ?? '';
    assert.ok(doc.startsWith('file:/') && fs.existsSync(path.join(root, doc.slice('file:'.length))), `Documentation=${doc} is in the tree`);
    const exposure = await analyzeUnit(t, root);
    t.diagnostic(`systemd-analyze security: overall exposure ${exposure}`);
    assert.ok(exposure < MAX_EXPOSURE, `exposure ${exposure}`);
  });

  test('the unit with --after-upload delete and the watch dir under /home: the watch dir writable, ProtectHome=read-only', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const args = required(root, await fastBundle()).map((a) => (a === '/srv/booth/outbox' ? '/home/booth/outbox' : a));
    await provisionOk([...args, '--after-upload', 'delete', '--memory-max', '400M', '--cpu-quota', '30%']);
    const unit = unitKeys(root);
    assert.deepEqual(unit.get('ReadWritePaths')?.split(' '), ['/var/lib/booth-agent', '/var/log/booth-agent', '/home/booth/outbox']);
    assert.equal(unit.get('ProtectHome'), 'read-only');
    assert.equal(unit.get('MemoryMax'), '400M');
    assert.equal(unit.get('MemoryHigh'), '300M');
    assert.equal(unit.get('CPUQuota'), '30%');
    assert.equal(readConfig(root)['uploads'].after_upload, 'delete');
    assert.ok(fs.statSync(path.join(root, 'home/booth/outbox')).isDirectory());
    const exposure = await analyzeUnit(t, root);
    assert.ok(exposure < MAX_EXPOSURE, `exposure ${exposure}`);
  });

  test('the unit with --after-upload move: the watch dir and move_to writable', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    await provisionOk([...required(root, await fastBundle()), '--after-upload', 'move', '--move-to', '/srv/booth/uploaded']);
    const unit = unitKeys(root);
    assert.deepEqual(unit.get('ReadWritePaths')?.split(' '), ['/var/lib/booth-agent', '/var/log/booth-agent', '/srv/booth/outbox', '/srv/booth/uploaded']);
    assert.equal(unit.get('ProtectHome'), 'yes');
    const config = readConfig(root);
    assert.equal(config['uploads'].after_upload, 'move');
    assert.equal(config['uploads'].move_to, '/srv/booth/uploaded');
    const { uid, gid } = agentIds(root);
    const st = fs.statSync(path.join(root, 'srv/booth/uploaded'));
    assert.equal(`${st.uid}:${st.gid}`, `${uid}:${gid}`);
    const exposure = await analyzeUnit(t, root);
    assert.ok(exposure < MAX_EXPOSURE, `exposure ${exposure}`);
  });

  test('the same version with different contents is refused (64) and nothing changes', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const src = await bundle();
    const other = repackBundle(src, {
      version: packageVersion(),
      compress: 'gzip',
      mutate: (dir) => fs.appendFileSync(path.join(dir, 'share', 'booth-agent.env'), '# rebuilt\n'),
    });
    await provisionOk(required(root, src));
    const installed = snapshot(root);
    const r = await provision(required(root, await other));
    assert.equal(r.code, 64, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /booth-agent \S+ is already installed with different contents: give the new build its own version/);
    assert.deepEqual(differences(installed, snapshot(root)), []);
  });

  test('bad arguments, a bundle for another architecture or damaged, no systemd: the exit code and what is wrong, and nothing installed', { timeout: TIMEOUT }, async (t) => {
    const src = await bundle();
    const root = tempDir(t);
    const full = required(root, src);
    const without = (flag: string): string[] => {
      const i = full.indexOf(flag);
      return [...full.slice(0, i), ...full.slice(i + 2)];
    };
    const cases: [string[], number, RegExp][] = [
      ...['--booth-id', '--country', '--upload-url', '--watch-dir', '--opensearch-url'].map((flag) => [without(flag), 64, new RegExp(`${flag} is required`)] as [string[], number, RegExp]),
      [[...full, '--frobnicate'], 64, /unknown argument "--frobnicate"/],
      [[...full, '--booth-id'], 64, /--booth-id needs a value/],
      [[...without('--country'), '--country', 'us'], 64, /--country "us": expected an ISO 3166-1 alpha-2 code/],
      [[...without('--booth-id'), '--booth-id', 'FB 1042'], 64, /--booth-id "FB 1042"/],
      [[...without('--watch-dir'), '--watch-dir', 'outbox'], 64, /--watch-dir "outbox": expected an absolute path/],
      [[...full, '--after-upload', 'move'], 64, /--after-upload move needs --move-to/],
      [[...full, '--after-upload', 'shred'], 64, /--after-upload "shred"/],
      [[...full, '--opensearch-user', 'u'], 64, /--opensearch-user needs --opensearch-password-file/],
      [[...full, '--opensearch-token-file', '/nonexistent/token'], 64, /cannot read \/nonexistent\/token/],
      [[...full, '--keep-versions', '0'], 64, /--keep-versions "0"/],
      [[...without('--bundle'), '--bundle', '/nonexistent.tar.xz'], 64, /--bundle \/nonexistent\.tar\.xz: cannot read it/],
      [[...without('--bundle'), '--bundle', PROVISION], 64, /not a readable tarball/],
      [['--root', path.join(root, 'missing'), '--uninstall'], 64, /--root .*missing: no such directory/],
    ];
    for (const [args, code, message] of cases) {
      const r = await provision(args);
      assert.equal(r.code, code, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }

    const [foreign, damaged] = await Promise.all([
      repackBundle(src, { version: packageVersion(), arch: OTHER_ARCH }),
      repackBundle(src, { version: packageVersion(), updateSums: false, mutate: (dir) => fs.appendFileSync(path.join(dir, 'lib', 'booth-agent.mjs'), '\n') }),
    ]);
    const wrongArch = await provision([...without('--bundle'), '--bundle', foreign]);
    assert.equal(wrongArch.code, 64, wrongArch.stderr);
    assert.match(wrongArch.stderr, new RegExp(`is for ${OTHER_ARCH}, this machine is ${HOST_ARCH}`));
    const broken = await provision([...without('--bundle'), '--bundle', damaged]);
    assert.equal(broken.code, 64, broken.stderr);
    assert.match(broken.stderr, /contents do not match its SHA256SUMS/);

    // No systemd: a PATH with bash, coreutils, tar and xz, but no systemctl.
    const bin = tempDir(t, 'booth-agent-bin-');
    const tools = ['bash', 'sh', 'env', 'id', 'uname', 'mktemp', 'rm', 'mkdir', 'cat', 'cp', 'mv', 'ln', 'chmod', 'chown', 'chgrp', 'stat', 'readlink', 'dirname', 'sort', 'find', 'awk', 'cmp', 'tar', 'xz', 'gzip', 'sha256sum', 'setpriv', 'install', 'basename'];
    const link = (tool: string): void => {
      const where = SYSTEM_PATH.split(':').find((d) => fs.existsSync(path.join(d, tool)));
      assert.ok(where, `${tool} is installed`);
      fs.symlinkSync(path.join(where, tool), path.join(bin, tool));
    };
    tools.forEach(link);
    const noSystemd = await provision(full, { PATH: bin });
    assert.equal(noSystemd.code, 69, noSystemd.stderr);
    assert.match(noSystemd.stderr, /systemd's tools are required even with --root .*apt-get install systemd/);
    const noSystemdLive = await provision(['--uninstall'], { PATH: bin });
    assert.equal(noSystemdLive.code, 69, noSystemdLive.stderr);
    assert.match(noSystemdLive.stderr, /systemd is required \(systemctl not found\)/);
    assert.deepEqual(fs.readdirSync(root), [], 'nothing written by any failed run');

    // The same PATH with systemd's tools is enough for an install: it was systemd that was missing.
    for (const tool of ['systemctl', 'systemd-sysusers']) link(tool);
    const r = await provision([...without('--bundle'), '--bundle', await fastBundle()], { PATH: bin });
    assert.equal(r.code, 0, r.stderr);
  });

  test('without --root on a machine where systemd is not running: 69', needs(noSystemd), async () => {
    // No install arguments: even where systemd did run, this could not install anything.
    const r = await provision([]);
    assert.equal(r.code, 69, r.stderr);
    assert.match(r.stderr, /systemd is installed but not running/);
  });

  test('a config template with the placeholders, a region, basic-auth and token secrets, a CA: the config names the installed files', { timeout: TIMEOUT, ...needs(openssl) }, async (t) => {
    const root = tempDir(t);
    const src = await fastBundle();
    const secrets = secretFiles(t);
    const ca = path.join(secrets.dir, 'ca.pem');
    fs.writeFileSync(ca, certificates().ca);
    const template = path.join(secrets.dir, 'template.yaml');
    fs.writeFileSync(
      template,
      [
        '# our own template',
        'booth:',
        '  id: @BOOTH_ID@',
        '  country: @COUNTRY@',
        '  region: @REGION@',
        '  labels: {model: mirror-2}',
        'state_dir: @STATE_DIR@',
        'uploads:',
        '  watch_dir: @WATCH_DIR@',
        '  url: @UPLOAD_URL@',
        '  header_files: {Authorization: "@SECRETS_DIR@/upload-authorization"}',
        'opensearch:',
        '  url: @OPENSEARCH_URL@',
        '  index_prefix: @INDEX_PREFIX@',
        '  auth: {type: basic, username: booth-FB-1042, password_file: "@SECRETS_DIR@/opensearch-password"}',
        '',
      ].join('\n'),
    );
    const base = [...required(root, src), '--region', 'us-east', '--upload-auth-file', secrets.uploadAuth, '--opensearch-user', 'booth-FB-1042', '--opensearch-password-file', secrets.password];

    await provisionOk([...base, '--config-template', template, '--index-prefix', 'photobooth']);
    assert.deepEqual(readConfig(root), {
      booth: { id: 'FB-1042', country: 'US', region: 'us-east', labels: { model: 'mirror-2' } },
      state_dir: '/var/lib/booth-agent',
      uploads: { watch_dir: '/srv/booth/outbox', url: UPLOAD_URL, header_files: { Authorization: '/etc/booth-agent/secrets/upload-authorization' } },
      opensearch: { url: OPENSEARCH_URL, index_prefix: 'photobooth', auth: { type: 'basic', username: 'booth-FB-1042', password_file: '/etc/booth-agent/secrets/opensearch-password' } },
    });
    assert.match(fs.readFileSync(path.join(root, 'etc/booth-agent/config.yaml'), 'utf8'), /^# our own template/);

    // The bundle's own template: basic auth and the CA.
    await provisionOk([...base, '--ca-file', ca]);
    const basic = readConfig(root);
    assert.deepEqual(basic['booth'], { id: 'FB-1042', country: 'US', region: 'us-east' });
    assert.deepEqual(basic['uploads'].header_files, { Authorization: '/etc/booth-agent/secrets/upload-authorization' });
    assert.deepEqual(basic['opensearch'].auth, { type: 'basic', username: 'booth-FB-1042', password_file: '/etc/booth-agent/secrets/opensearch-password' });
    assert.equal(basic['opensearch'].index_prefix, 'booth');
    for (const tls of [basic['uploads'].tls, basic['opensearch'].tls]) assert.deepEqual(tls, { ca_file: '/etc/booth-agent/ca.pem', verify: true });
    assertStat(root, 'etc/booth-agent/ca.pem', 0o644, 0, 0);
    assert.equal(fs.readFileSync(path.join(root, 'etc/booth-agent/ca.pem'), 'utf8'), fs.readFileSync(ca, 'utf8'));

    // A bearer token instead; no region.
    const token = [...required(root, src), '--opensearch-token-file', secrets.token];
    await provisionOk(token);
    const bearer = readConfig(root);
    assert.deepEqual(bearer['booth'], { id: 'FB-1042', country: 'US' });
    assert.deepEqual(bearer['opensearch'].auth, { type: 'bearer', token_file: '/etc/booth-agent/secrets/opensearch-token' });
    assert.deepEqual(bearer['uploads'].header_files, {});
    const { gid } = agentIds(root);
    assertStat(root, 'etc/booth-agent/secrets/opensearch-token', 0o640, 0, gid);
    assert.equal(fs.readFileSync(path.join(root, 'etc/booth-agent/secrets/opensearch-token'), 'utf8'), 'opensearch-token\n');

    // check-config is the judge of what provision.sh passes through: a bad region → 78, naming it.
    const installed = snapshot(root);
    const bad = await provision([...token, '--region', 'us east']);
    assert.equal(bad.code, 78, bad.stdout);
    assert.match(bad.stderr, /booth\.region/);
    assert.deepEqual(differences(installed, snapshot(root)), []);
  });

  test('--uninstall keeps config, data, logs and the user; --purge removes them; again: nothing to do', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const secrets = secretFiles(t);
    await provisionOk([...required(root, await fastBundle()), '--upload-auth-file', secrets.uploadAuth]);
    fs.writeFileSync(path.join(root, 'var/lib/booth-agent/buffer.db'), 'data');

    const un = await provisionOk(['--root', root, '--uninstall']);
    assert.match(un.stdout, /kept \/etc\/booth-agent, \/var\/lib\/booth-agent, \/var\/log\/booth-agent and the user booth-agent/);
    for (const gone of ['opt/booth-agent', 'usr/local/bin/booth-agent', 'etc/systemd/system/booth-agent.service', 'etc/systemd/system/multi-user.target.wants/booth-agent.service']) {
      assert.ok(!fs.existsSync(path.join(root, gone)) && !isLink(path.join(root, gone)), `${gone} removed`);
    }
    for (const kept of ['etc/booth-agent/config.yaml', 'etc/booth-agent/secrets/upload-authorization', 'var/lib/booth-agent/buffer.db', 'var/log/booth-agent']) {
      assert.ok(fs.existsSync(path.join(root, kept)), `${kept} kept`);
    }
    assert.ok(account(root, 'passwd', 'booth-agent'));

    const twice = await provisionOk(['--root', root, '--uninstall']);
    assert.match(twice.stdout, /booth-agent is not installed; nothing changed/);
    assert.doesNotMatch(twice.stdout, /changed:/);

    const purge = await provisionOk(['--root', root, '--uninstall', '--purge']);
    assert.match(purge.stdout, /removed the user booth-agent/);
    for (const gone of ['etc/booth-agent', 'var/lib/booth-agent', 'var/log/booth-agent', 'usr/lib/sysusers.d/booth-agent.conf']) {
      assert.ok(!fs.existsSync(path.join(root, gone)), `${gone} removed`);
    }
    assert.equal(account(root, 'passwd', 'booth-agent'), undefined, 'the user removed');
    assert.equal(account(root, 'group', 'booth-agent'), undefined, 'its group removed');

    const again = await provisionOk(['--root', root, '--uninstall', '--purge']);
    assert.match(again.stdout, /booth-agent is not installed; nothing changed/);
    assert.doesNotMatch(again.stdout, /changed:/);
  });

  test('secrets: a failing upgrade installs none of its new secrets; a secret no longer asked for is removed', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const dir = tempDir(t, 'booth-agent-secrets-');
    const file = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
      return path.join(dir, name);
    };
    const src = await bundle();
    const [good, failing] = await Promise.all([fastBundle(), repackBundle(src, { version: '0.1.9', mutate: failCheckConfig })]);
    const base = required(root, good);
    await provisionOk([...base, '--opensearch-user', 'booth', '--opensearch-password-file', file('pw', 'old-password\n')]);
    const secret = path.join(root, 'etc/booth-agent/secrets/opensearch-password');
    assert.equal(fs.readFileSync(secret, 'utf8'), 'old-password\n');

    // The new version does not validate: the running one keeps its password, nothing new lands.
    const withFailing = [...required(root, failing), '--opensearch-user', 'booth', '--opensearch-password-file', file('pw2', 'new-password\n'), '--upload-auth-file', file('auth', 'Bearer x\n')];
    const refused = await provision(withFailing);
    assert.equal(refused.code, 78, refused.stderr);
    assert.equal(fs.readFileSync(secret, 'utf8'), 'old-password\n');
    assert.ok(!fs.existsSync(path.join(root, 'etc/booth-agent/secrets/upload-authorization')));
    assert.equal(current(root), packageVersion());

    // From basic auth to a token: the password file goes.
    const switched = await provisionOk([...base, '--opensearch-token-file', file('token', 'tok\n')]);
    assert.match(switched.stdout, /removed \/etc\/booth-agent\/secrets\/opensearch-password/);
    assert.deepEqual(fs.readdirSync(path.join(root, 'etc/booth-agent/secrets')), ['opensearch-token']);
    assert.equal(readConfig(root)['opensearch'].auth.token_file, '/etc/booth-agent/secrets/opensearch-token');
  });

  test('a watch dir under /tmp is refused (the service has a private /tmp); run from an unpacked bundle, it installs that bundle', { timeout: TIMEOUT }, async (t) => {
    const root = tempDir(t);
    const tarball = await fastBundle();
    const args = required(root, tarball);
    const tmpWatch = await provision(args.map((a) => (a === '/srv/booth/outbox' ? '/tmp/outbox' : a)));
    assert.equal(tmpWatch.code, 64);
    assert.match(tmpWatch.stderr, /\/tmp\/outbox is under \/tmp or \/var\/tmp, which the service cannot see \(PrivateTmp\)/);

    // The bundle's own share/provision.sh, no --bundle: the bundle it is in.
    const unpacked = tempDir(t, 'booth-agent-unpacked-');
    spawnSync('tar', ['-xf', tarball, '-C', unpacked]);
    const top = path.join(unpacked, fs.readdirSync(unpacked)[0]!);
    const withoutBundle = args.filter((a, i) => a !== '--bundle' && args[i - 1] !== '--bundle');
    const r = await collect(spawn('bash', [path.join(top, 'share/provision.sh'), ...withoutBundle], { env: { PATH: SYSTEM_PATH, LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] }), undefined, 120_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(current(root), packageVersion());
    assert.equal(fs.readFileSync(path.join(root, 'opt/booth-agent', packageVersion(), 'SHA256SUMS'), 'utf8'), fs.readFileSync(path.join(top, 'SHA256SUMS'), 'utf8'));
  });
});

/** Whether the Node.js binary of the other architecture runs here (binfmt_misc with qemu-user). */
function foreignNodeRuns(t: { after: (fn: () => void) => void }): boolean {
  const dir = tempDir(t, 'booth-agent-foreign-');
  const nodeVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/node/package.json'), 'utf8')) as { version: string }).version;
  fs.writeFileSync(path.join(dir, 'NODE_VERSION'), `${nodeVersion}\n`);
  fs.mkdirSync(path.join(dir, 'node', 'bin'), { recursive: true });
  replaceNode(dir, OTHER_ARCH);
  return spawnSync(path.join(dir, 'node', 'bin', 'node'), ['--version'], { stdio: 'ignore' }).status === 0;
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
