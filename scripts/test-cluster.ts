// npm run test:cluster: the suite of test/cluster/ against a real OpenSearch — $OPENSEARCH_URL when
// set (a cluster of your own), else a local node started for the run (npm run opensearch) and
// stopped after it.
import { spawn } from 'node:child_process';
import { startNode } from './opensearch.ts';
import { status, stop } from './opensearch/node.ts';

async function main(): Promise<number> {
  let url = process.env['OPENSEARCH_URL'];
  // A node already started with npm run opensearch is used and left running; one started here is stopped.
  const running = url === undefined ? await status() : undefined;
  const own = url === undefined && running === undefined;
  if (running) url = running.url;
  if (own) url = (await startNode()).url;
  try {
    const started = performance.now();
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', 'test/cluster/*.test.ts'], { stdio: 'inherit', env: { ...process.env, OPENSEARCH_URL: url } });
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    process.stderr.write(`test:cluster: ${((performance.now() - started) / 1000).toFixed(0)} s against ${url}\n`);
    return code;
  } finally {
    if (own) await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test:cluster: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
