// Builds the agent a booth runs: one minified ES module, dist/bundle/booth-agent.mjs, with every
// JavaScript dependency inside it. better-sqlite3 stays outside (a native addon, loaded from
// node_modules). Minified, the agent idles ~10 MB smaller than as separate modules: V8 keeps every
// module's source text in the heap, comments and long names included. Names are not kept
// (esbuild's keep-names costs another 6 MB); the source map beside the bundle turns stack traces
// back into our file names when Node runs with --enable-source-maps.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const BUNDLE = fileURLToPath(new URL('../dist/bundle/booth-agent.mjs', import.meta.url));

/** `version` overrides package.json's in the agent (a tarball built with `--version`). */
export async function bundle(outfile = BUNDLE, version?: string): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../agent/cli/main.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    sourcemap: 'linked',
    // Third-party licence texts go to booth-agent.mjs.LEGAL.txt, not into memory.
    legalComments: 'external',
    // The demo's stand-ins (test/support) stay out: a booth never runs the demo, and bundled they
    // cost the agent ~8 MB even unused. The demo runs from a checkout (npm run demo).
    external: ['better-sqlite3', '../../test/support/*'],
    // Some bundled CommonJS packages call require() for Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    ...(version ? { define: { __BOOTH_AGENT_VERSION__: JSON.stringify(version) } } : {}),
    logLevel: 'warning',
  });
}
