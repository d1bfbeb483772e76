// Loads the config for a command, or ends it with exit 78 and every problem listed.
import { formatProblem, loadConfig, resolveConfigPath } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Secrets } from '../config/load.ts';
import { CliError, EXIT } from './exit-codes.ts';
import type { CommandContext } from './command.ts';

export function configFor(ctx: CommandContext): { config: Config; secrets: Secrets; path: string } {
  const file = resolveConfigPath(ctx.values['config'] as string | undefined, ctx.env);
  const result = loadConfig(file);
  for (const w of result.warnings) ctx.stderr.write(`warning: ${formatProblem(w)}\n`);
  if (!result.ok) {
    const lines = result.problems.map((p) => `  ${formatProblem(p)}`).join('\n');
    throw new CliError(`invalid config ${file}:\n${lines}`, EXIT.config);
  }
  return { config: result.config, secrets: result.secrets, path: file };
}
