// Builds the agent a booth runs: one minified ES module, dist/bundle/booth-agent.mjs, with every
// JavaScript dependency inside it. better-sqlite3 stays outside (a native addon, loaded from
// node_modules). Minified, the agent idles ~10 MB smaller than as separate modules: V8 keeps every
// module's source text in the heap, comments and long names included. Names are not kept
// (esbuild's keep-names costs another 6 MB); the source map beside the bundle turns stack traces
// back into our file names when Node runs with --enable-source-maps.
// Beside it, booth-agent-host-facts.mjs: the host-facts child, the one place systeminformation runs.
import { build, type Metafile } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLE = fileURLToPath(new URL('../dist/bundle/booth-agent.mjs', import.meta.url));
/**
 * The host-facts child (agent/sources/host-facts/collect.ts): a bundle of its own beside the agent's,
 * with systeminformation inside — which the agent's bundle never contains. The agent runs it as a
 * child process (host-facts.ts finds it by this name, relative to itself).
 */
export const HOST_FACTS_CHILD = 'booth-agent-host-facts.mjs';

/**
 * `version` overrides package.json's in the agent (a tarball built with `--version`). Writes
 * `outfile` and, beside it, the host-facts child; returns esbuild's account of what went into each.
 */
export async function bundle(outfile = BUNDLE, version?: string): Promise<Metafile> {
  const result = await build({
    entryPoints: {
      [path.basename(outfile, '.mjs')]: fileURLToPath(new URL('../agent/cli/main.ts', import.meta.url)),
      [path.basename(HOST_FACTS_CHILD, '.mjs')]: fileURLToPath(new URL('../agent/sources/host-facts/collect.ts', import.meta.url)),
    },
    outdir: path.dirname(outfile),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    // Third-party licence texts go to booth-agent.mjs.LEGAL.txt, not into memory.
    legalComments: 'external',
    // The demo's stand-ins (test/support) stay out: a booth never runs the demo, and bundled they
    // cost the agent ~8 MB even unused. The demo runs from a checkout (npm run demo).
    external: ['better-sqlite3', '../../test/support/*'],
    // Some bundled CommonJS packages call require() for Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    define: {
      __BOOTH_AGENT_HOST_FACTS_CHILD__: JSON.stringify(`./${HOST_FACTS_CHILD}`),
      ...(version ? { __BOOTH_AGENT_VERSION__: JSON.stringify(version) } : {}),
    },
    logLevel: 'warning',
  });
  return result.metafile;
}
