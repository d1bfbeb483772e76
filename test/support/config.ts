// Writes config files for tests: a minimal valid config with real folders, plus overrides.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { configSchema } from '../../agent/config/schema.ts';
import { sinkSettings, type SinkSettings } from '../../agent/sinks/opensearch/settings.ts';

export interface TestConfig {
  dir: string;
  file: string;
  stateDir: string;
  watchDir: string;
  config: Record<string, unknown>;
}

/** A minimal valid config in `dir` (state and watch folders created), deep-merged with `overrides`. */
export function writeConfig(dir: string, overrides: Record<string, unknown> = {}, name = 'config.yaml'): TestConfig {
  const stateDir = path.join(dir, 'state');
  const watchDir = path.join(dir, 'outbox');
  fs.mkdirSync(watchDir, { recursive: true });
  const base = {
    booth: { id: 'FB-1042', country: 'US' },
    state_dir: stateDir,
    uploads: { watch_dir: watchDir, url: 'http://127.0.0.1:9/booths/{booth_id}/bookings/{booking_id}/images/{file}' },
  };
  const config = merge(base, overrides);
  const file = path.join(dir, name);
  fs.writeFileSync(file, stringify(config));
  return { dir, file, stateDir, watchDir, config };
}

/**
 * The OpenSearch sink's settings as the agent derives them from a config: the schema's defaults
 * for `url`, deep-merged with `overrides` (e.g. `{ opensearch: { retry: … }, heartbeat: … }`).
 */
export function agentSinkSettings(url: string, overrides: Record<string, unknown> = {}): SinkSettings {
  const base = {
    booth: { id: 'FB-1042', country: 'US' },
    uploads: { watch_dir: '/nonexistent', url: 'http://127.0.0.1:9/{file}' },
    opensearch: { url },
  };
  return sinkSettings(configSchema.parse(merge(base, overrides)), new Map())!;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isObject(cur) && isObject(v) ? merge(cur, v) : v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
