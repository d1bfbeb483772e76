// Running the bundled agent as the service would, for benchmarks: its environment from
// deploy/booth-agent.env, and its peak resident memory.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { BOOTH } from '../test/support/documents.ts';
import { fileURLToPath } from 'node:url';

/** The bundled agent (npm run bundle): benchmarks measure the form a booth runs. */
export const AGENT = fileURLToPath(new URL('../dist/bundle/booth-agent.mjs', import.meta.url));
const SERVICE_ENV = fileURLToPath(new URL('../deploy/booth-agent.env', import.meta.url));

export function requireBuiltAgent(): void {
  if (!fs.existsSync(AGENT)) throw new Error(`${AGENT} is missing: run npm run bundle first (npm run bench does)`);
}

/** The environment the systemd service gives the agent (deploy/booth-agent.env). */
export function serviceEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(SERVICE_ENV, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** A process's peak resident set (VmHWM) in kB, or 0 once it is gone. */
export function peakRssKb(pid: number): number {
  try {
    return Number(/^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * The config of an agent that only drains: `stateDir` holds the backlog, an empty watch folder
 * beside the config in `dir`, uploads going nowhere; `opensearch` is merged into the sink's section.
 */
export function writeDrainConfig(dir: string, stateDir: string, opensearch: Record<string, unknown>): string {
  const outbox = path.join(dir, 'outbox');
  fs.mkdirSync(outbox, { recursive: true });
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    stringify({
      booth: { id: BOOTH.id, country: BOOTH.country },
      state_dir: stateDir,
      uploads: { watch_dir: outbox, url: 'http://127.0.0.1:9/{file}' },
      opensearch,
    }),
  );
  return config;
}
