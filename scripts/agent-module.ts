// Builds the agent a booth runs: one minified ES module, dist/bundle/booth-agent.mjs, with every
// JavaScript dependency inside it. better-sqlite3 stays outside (a native addon, loaded from
// node_modules). Minified, the agent idles ~10 MB smaller than as separate modules: V8 keeps every
// module's source text in the heap, comments and long names included. Names are not kept
// (esbuild's keep-names costs another 6 MB); the source map beside the bundle turns stack traces
// back into our file names when Node runs with --enable-source-maps.
// Beside it, booth-agent-host-facts.mjs: the host-facts child, the one place systeminformation runs.
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
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
 * The bundled code's FormData and ReadableStream are the stand-ins of agent/cli/lazy-web-globals.ts:
 * got's `instanceof` checks on every request would otherwise load undici and the web streams
 * (~20 MB resident for the life of the agent, which sends neither a form nor a web stream).
 */
const LAZY_WEB_GLOBALS = {
  FormData: 'globalThis.__boothAgentLazyGlobals.FormData',
  ReadableStream: 'globalThis.__boothAgentLazyGlobals.ReadableStream',
};

/**
 * `node:http` through require, not as an ES module: Node builds an ES module's namespace by reading
 * every export, and node:http's WebSocket, CloseEvent and MessageEvent are getters that load undici
 * (Node's fetch) — about 1.2 MB of source and its objects, for the life of the agent, which uses none
 * of them. Required, the module is the same object and its getters stay unread.
 */
const httpWithoutUndici: Plugin = {
  name: 'http-without-undici',
  setup(b) {
    b.onResolve({ filter: /^(node:)?http$/ }, () => ({ path: 'http', namespace: 'http-without-undici' }));
    b.onLoad({ filter: /.*/, namespace: 'http-without-undici' }, () => ({
      contents: `import { createRequire } from 'node:module';
const http = createRequire(import.meta.url)('node:http');
export default http;
export const { METHODS, STATUS_CODES, Agent, ClientRequest, IncomingMessage, OutgoingMessage, Server, ServerResponse, createServer, validateHeaderName, validateHeaderValue, get, request, setMaxIdleHTTPParsers } = http;`,
      loader: 'js',
    }));
  },
};

/**
 * `node:http2` loaded when first used, not when the agent starts: got's HTTP/2 client reads
 * `http2.constants` at load and checks `instanceof Http2ServerResponse` when piping, while the agent
 * never speaks HTTP/2 — loading nghttp2's module costs ~4 MB resident for nothing. The constants are
 * plain numbers and strings, copied here from the Node that builds the bundle (a bundle is built for
 * the Node it ships with); everything else is read from the real module on first use.
 */
const lazyHttp2: Plugin = {
  name: 'lazy-http2',
  setup(b) {
    b.onResolve({ filter: /^(node:)?http2$/ }, () => ({ path: 'http2', namespace: 'lazy-http2' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-http2' }, async () => {
      const real = (await import('node:http2')).default;
      const keys = Object.keys(real).filter((k) => k !== 'constants');
      return {
        contents: `import { createRequire } from 'node:module';
let real;
const load = () => (real ??= createRequire(import.meta.url)('node:http2'));
export const constants = Object.freeze(${JSON.stringify(real.constants)});
// An Http2ServerResponse exists only once the module is loaded.
export class Http2ServerResponse {
  static [Symbol.hasInstance](value) { return real !== undefined && value instanceof real.Http2ServerResponse; }
}
const http2 = { constants, Http2ServerResponse };
for (const key of ${JSON.stringify(keys.filter((k) => k !== 'Http2ServerResponse'))}) Object.defineProperty(http2, key, { enumerable: true, get: () => load()[key] });
export default http2;`,
        loader: 'js',
      };
    });
  },
};

/**
 * How every module a booth runs is built: one minified ES module per entry, JavaScript dependencies
 * inside, better-sqlite3 outside, the lazy node:http, node:http2 and web globals. The benchmark that
 * measures what each library costs (bench/memory.bench.ts) builds its steps with these same options.
 */
export function bundleOptions(entryPoints: Record<string, string>, outdir: string, version?: string): BuildOptions {
  return {
    entryPoints,
    outdir,
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
      ...LAZY_WEB_GLOBALS,
      __BOOTH_AGENT_HOST_FACTS_CHILD__: JSON.stringify(`./${HOST_FACTS_CHILD}`),
      ...(version ? { __BOOTH_AGENT_VERSION__: JSON.stringify(version) } : {}),
    },
    plugins: [httpWithoutUndici, lazyHttp2],
    logLevel: 'warning',
  };
}

/**
 * `version` overrides package.json's in the agent (a tarball built with `--version`). Writes
 * `outfile` and, beside it, the host-facts child; returns esbuild's account of what went into each.
 */
export async function bundle(outfile = BUNDLE, version?: string): Promise<Metafile> {
  const entryPoints = {
    [path.basename(outfile, '.mjs')]: fileURLToPath(new URL('../agent/cli/main.ts', import.meta.url)),
    [path.basename(HOST_FACTS_CHILD, '.mjs')]: fileURLToPath(new URL('../agent/sources/host-facts/collect.ts', import.meta.url)),
  };
  const result = await build(bundleOptions(entryPoints, path.dirname(outfile), version));
  return result.metafile!;
}
