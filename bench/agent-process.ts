// Running the bundled agent as the service would, for benchmarks: its environment from
// deploy/booth-agent.env, and its peak resident memory.
import fs from 'node:fs';
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
