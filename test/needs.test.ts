// The switch that makes CI prove it ran every test (test/support/needs.ts): a test whose need is
// missing is skipped with its reason on a user's machine, and fails the run, naming the need, under
// BOOTH_AGENT_TEST_STRICT=1. Shown on a real test file, with the `openssl` command hidden from PATH.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collect, type CliResult } from './support/cli.ts';
import { needs, onPath, openssl, STRICT_ENV } from './support/needs.ts';
import { tempDir } from './support/tmp.ts';

/** network-probe.test.ts: six tests, one of them over TLS with certificates made by `openssl`. */
const FILE = fileURLToPath(new URL('./network-probe.test.ts', import.meta.url));
const TLS_TEST = 'a TLS server with a generated certificate: the handshake is timed (> 0)';

/** A PATH with every command of this one but `hidden`. */
function pathWithout(t: TestContext, hidden: string): string {
  const bin = tempDir(t, 'booth-agent-path-');
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir || !fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      if (name === hidden || fs.existsSync(path.join(bin, name))) continue;
      fs.symlinkSync(path.join(dir, name), path.join(bin, name));
    }
  }
  return bin;
}

/** Runs the file as `npm test` would, with `env` (minus what makes a nested runner report to this one). */
function runFile(env: NodeJS.ProcessEnv): Promise<CliResult> {
  const { NODE_TEST_CONTEXT: _nested, ...own } = env;
  const child = spawn(process.execPath, ['--test', '--test-reporter=tap', FILE], { env: own, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, undefined, 60_000);
}

const tapCount = (out: string, what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out)?.[1]);

test('a missing tool: skipped with its reason and how to install it; under BOOTH_AGENT_TEST_STRICT=1 the run fails naming it', { timeout: 120_000 }, async (t) => {
  const PATH = pathWithout(t, 'openssl');
  assert.equal(onPath('openssl', PATH), undefined, 'openssl is hidden');
  const { [STRICT_ENV]: _strict, ...env } = process.env;

  const relaxed = await runFile({ ...env, PATH });
  assert.equal(relaxed.code, 0, relaxed.stdout + relaxed.stderr);
  assert.equal(tapCount(relaxed.stdout, 'pass'), 5, relaxed.stdout);
  assert.equal(tapCount(relaxed.stdout, 'skipped'), 1, relaxed.stdout);
  const skipLine = relaxed.stdout.split('\n').find((l) => l.includes(TLS_TEST));
  assert.match(relaxed.stdout, new RegExp(`^ok \\d+ - ${TLS_TEST.replace(/[()>]/g, '\\$&')} # SKIP openssl is not installed \\(apt-get install openssl`, 'm'), skipLine);

  // Strict: that test fails with the reason, without running; the five others still run and pass.
  const strict = await runFile({ ...env, PATH, [STRICT_ENV]: '1' });
  assert.equal(strict.code, 1, strict.stdout + strict.stderr);
  assert.equal(tapCount(strict.stdout, 'skipped'), 0, strict.stdout);
  assert.equal(tapCount(strict.stdout, 'pass'), 5, strict.stdout);
  assert.match(strict.stdout, new RegExp(`^not ok \\d+ - ${TLS_TEST.replace(/[()>]/g, '\\$&')}$`, 'm'));
  assert.match(strict.stdout + strict.stderr, /BOOTH_AGENT_TEST_STRICT=1 and this test cannot run here: openssl is not installed \(apt-get install openssl/);
});

test('a tool that is there: the test runs, strict or not', { timeout: 60_000, ...needs(openssl) }, async () => {
  const strict = await runFile({ ...process.env, [STRICT_ENV]: '1' });
  assert.equal(strict.code, 0, strict.stdout + strict.stderr);
  assert.equal(tapCount(strict.stdout, 'pass'), 6, strict.stdout);
  assert.equal(tapCount(strict.stdout, 'skipped'), 0, strict.stdout);
});
