// `npm run opensearch -- <command>` from another script (test:cluster, the report benchmark), each
// in a child: which node (plain or with security) is chosen from the environment when
// scripts/opensearch.ts loads. Its KEY=value lines (OPENSEARCH_URL, OPENSEARCH_CA, …) are returned.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../opensearch.ts', import.meta.url));

export function opensearch(command: 'start' | 'stop' | 'status', secure = false): Promise<{ code: number; vars: Record<string, string> }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, command], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...(secure ? { BOOTH_OPENSEARCH_SECURITY: '1' } : {}) } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? 1, vars: Object.fromEntries([...out.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!])) }));
  });
}

/** A running node: started unless it was already running (`started` says which, so the caller stops only its own). */
export async function ensureOpenSearch(secure = false): Promise<{ vars: Record<string, string>; started: boolean }> {
  const running = (await opensearch('status', secure)).code === 0;
  const { code, vars } = await opensearch('start', secure);
  if (code !== 0 || !vars['OPENSEARCH_URL']) throw new Error(`could not start ${secure ? 'the node with security' : 'the node'} (npm run opensearch -- start)`);
  return { vars, started: !running };
}
