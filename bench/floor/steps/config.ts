// The ladder's zod step: the agent's own config schema (agent/config/schema.ts) built and a config
// checked with it, as the agent does at start.
import { configSchema } from '../../../agent/config/schema.ts';

export function checkConfig(config: unknown): void {
  configSchema.parse(config);
}
