// npm run opensearch -- start | stop | status: a real single-node OpenSearch on loopback for the
// cluster tests (test/cluster/), fetched once from Maven Central. `start` prints
// OPENSEARCH_URL=http://127.0.0.1:<port> as its last line.
import { cacheDir, FetchError, fetchArtifacts, OPENSEARCH_VERSION } from './opensearch/artifacts.ts';
import { findJdk, JavaError } from './opensearch/java.ts';
import { assemble, NodeError, start, status, stop, type NodeState } from './opensearch/node.ts';

const log = (line: string) => process.stderr.write(`opensearch: ${line}\n`);

/** Fetches, assembles and starts the node (or finds it running). */
async function startNode(): Promise<NodeState> {
  const jdk = findJdk();
  const dir = cacheDir();
  const { missing } = await fetchArtifacts(dir, log);
  for (const m of missing) log(`not available: ${m.coordinates} — ${m.error}; the node runs without ${m.plugin.installsAs}`);
  const plugins = assemble(jdk, dir, log);
  return start(jdk, plugins, log);
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'start': {
      const started = performance.now();
      const node = await startNode();
      log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      if (node.ca) process.stdout.write(`OPENSEARCH_CA=${node.ca}\nOPENSEARCH_ADMIN_PASSWORD_FILE=${node.adminPasswordFile}\n`);
      process.stdout.write(`OPENSEARCH_URL=${node.url}\n`);
      return 0;
    }
    case 'stop':
      log((await stop()) ? 'stopped; its data is removed' : 'was not running');
      return 0;
    case 'status': {
      const node = await status();
      process.stdout.write(node ? `running: OpenSearch ${OPENSEARCH_VERSION} at ${node.url} (pid ${node.pid}); plugins: ${node.plugins.join(', ') || 'none'}\n` : 'not running\n');
      return node ? 0 : 3;
    }
    default:
      process.stderr.write('usage: npm run opensearch -- start | stop | status\n');
      return 64;
  }
}

if (import.meta.main) {
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const known = err instanceof FetchError || err instanceof JavaError || err instanceof NodeError;
      process.stderr.write(`opensearch: ${known ? (err as Error).message : (err as Error).stack}\n`);
      process.exit(1);
    },
  );
}
