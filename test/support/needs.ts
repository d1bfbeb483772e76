// What a test needs from the machine beyond a clone and `npm ci`: a system tool, root, a small
// tmpfs, libfaketime, the OpenSearch API specification beside the checkout. A user's bare clone
// skips a test whose needs are missing, with the reason and how to get it; CI sets
// BOOTH_AGENT_TEST_STRICT=1, under which a missing need is an error naming it — so a green CI run
// has run every test, and a bare clone still passes.
import fs from 'node:fs';
import path from 'node:path';
import { canMountTmpfs } from './mount.ts';
import { fileURLToPath } from 'node:url';

/** The switch CI sets: every skip for a missing need becomes a failure. */
export const STRICT_ENV = 'BOOTH_AGENT_TEST_STRICT';

export interface Need {
  /** Why the test cannot run here and how to make it run, or undefined when the need is met. */
  missing(): string | undefined;
}

/** A need checked once per process (a tmpfs mount or a folder walk is not free). */
function need(check: () => string | undefined): Need {
  let result: { reason: string | undefined } | undefined;
  return { missing: () => (result ??= { reason: check() }).reason };
}

/** Where an executable named `command` is on PATH, or undefined. */
export function onPath(command: string, searchPath = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A command on PATH; `install` says how to get it, e.g. `apt-get install openssl`. */
export function tool(command: string, install: string): Need {
  return need(() => (onPath(command) ? undefined : `${command} is not installed (${install})`));
}

// The system tools the tests use that a fresh machine may lack, with the Debian package of each.
export const openssl = tool('openssl', 'apt-get install openssl; the TLS tests make their certificates with it');
export const xz = tool('xz', 'apt-get install xz-utils; the bundles are .tar.xz');
export const fileCommand = tool('file', 'apt-get install file; it names the architecture of each binary in a bundle');
export const chromium = tool('chromium', 'apt-get install chromium; the report test renders the HTML in a real browser');

const isRoot = (): boolean => process.getuid?.() === 0;

/** Root, for `why` (e.g. "to run provision.sh"). */
export function rootFor(why: string): Need {
  return need(() => (isRoot() ? undefined : `needs root ${why}`));
}

/** A small tmpfs the test mounts itself: a real full disk. */
export const tmpfs: Need = need(() => (canMountTmpfs() ? undefined : 'needs root to mount a small tmpfs (a real full disk)'));

/** libfaketime, preloaded into the agent so that its wall clock jumps while its monotonic clock does not. */
export function findLibfaketime(): string | undefined {
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    const lib = path.join(dir, 'faketime', 'libfaketime.so.1');
    if (fs.existsSync(lib)) return lib;
  }
  return undefined;
}

export const libfaketime: Need = need(() => (findLibfaketime() ? undefined : 'libfaketime is not installed (apt-get install faketime)'));

/** The `shared` folder beside the checkout, where our machines and CI keep the specification. */
export const API_SPEC_ROOT = fileURLToPath(new URL('../../../shared/opensearch-api-spec/', import.meta.url));

/**
 * The official OpenSearch API specification, which our development machines and CI keep in
 * ../shared beside the checkout; it is never copied into the project, so a user's clone lacks it.
 */
export const apiSpec: Need = need(() =>
  fs.existsSync(path.join(API_SPEC_ROOT, 'spec'))
    ? undefined
    : `the OpenSearch API specification is not beside the checkout (${path.relative(process.cwd(), API_SPEC_ROOT) || API_SPEC_ROOT}): only the project's development machines and CI have it`,
);

/** Systemd not running, for a test of what provision.sh does without it. */
export const noSystemd: Need = need(() => (fs.existsSync('/run/systemd/system') ? 'systemd runs on this machine (the test is of one where it does not)' : undefined));

/**
 * Test options for a test (or suite) that needs these. When one is missing: `{ skip: reason }`, or,
 * under BOOTH_AGENT_TEST_STRICT=1, an already aborted signal — the runner then fails that test with
 * the reason without running it, and runs the rest.
 */
export function needs(...wanted: Need[]): { skip: string | false; signal?: AbortSignal } {
  const reasons = wanted.map((n) => n.missing()).filter((r): r is string => r !== undefined);
  if (reasons.length === 0) return { skip: false };
  const reason = reasons.join('; ');
  if (process.env[STRICT_ENV] === '1') return { skip: false, signal: AbortSignal.abort(new Error(`${STRICT_ENV}=1 and this test cannot run here: ${reason}`)) };
  return { skip: reason };
}
