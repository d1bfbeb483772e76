import { formatProblem, loadConfig, resolveConfigPath } from '../config/load.ts';
import { CONFIG_OPTION, type Command } from './command.ts';
import { EXIT } from './exit-codes.ts';

export const checkConfig: Command = {
  summary: 'validate the config and the files it names; print every problem with its key path',
  usage: 'booth-agent check-config [--config PATH]',
  options: { ...CONFIG_OPTION },
  async run({ values, env, stdout, stderr }) {
    const file = resolveConfigPath(values['config'] as string | undefined, env);
    const result = loadConfig(file);
    for (const w of result.warnings) stderr.write(`warning: ${formatProblem(w)}\n`);
    if (!result.ok) {
      stderr.write(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}\n`);
      for (const p of result.problems) stderr.write(`  ${formatProblem(p)}\n`);
      return EXIT.config;
    }
    stdout.write(`${file}: OK (booth ${result.config.booth.id}, ${result.config.booth.country})\n`);
    return EXIT.ok;
  },
};
