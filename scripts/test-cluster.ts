// npm run test:cluster: the suite of test/cluster/ against a real OpenSearch — $OPENSEARCH_URL when
// set (a cluster of your own), else a local node (npm run opensearch) — and, for the writer role's
// test, a node with the security plugin ($OPENSEARCH_SECURE_URL with _CA and _ADMIN_PASSWORD_FILE
// when set, else a local one). Nodes started here are stopped after the run; nodes that were
// already running are used and left running.
import { spawn } from 'node:child_process';
import { ensureOpenSearch as ensure, opensearch } from './opensearch/control.ts';

async function main(): Promise<number> {
  const env: Record<string, string> = {};
  const stopAfter: boolean[] = [];
  try {
    if (!process.env['OPENSEARCH_URL']) {
      const node = await ensure(false);
      env['OPENSEARCH_URL'] = node.vars['OPENSEARCH_URL']!;
      if (node.started) stopAfter.push(false);
    }
    if (!process.env['OPENSEARCH_SECURE_URL']) {
      const node = await ensure(true);
      env['OPENSEARCH_SECURE_URL'] = node.vars['OPENSEARCH_URL']!;
      env['OPENSEARCH_SECURE_CA'] = node.vars['OPENSEARCH_CA']!;
      env['OPENSEARCH_SECURE_ADMIN_PASSWORD_FILE'] = node.vars['OPENSEARCH_ADMIN_PASSWORD_FILE']!;
      if (node.started) stopAfter.push(true);
    }
    const started = performance.now();
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', 'test/cluster/*.test.ts'], { stdio: 'inherit', env: { ...process.env, ...env } });
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    process.stderr.write(`test:cluster: ${((performance.now() - started) / 1000).toFixed(0)} s against ${process.env['OPENSEARCH_URL'] ?? env['OPENSEARCH_URL']} and ${process.env['OPENSEARCH_SECURE_URL'] ?? env['OPENSEARCH_SECURE_URL']}\n`);
    return code;
  } finally {
    for (const secure of stopAfter) await opensearch('stop', secure);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test:cluster: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
