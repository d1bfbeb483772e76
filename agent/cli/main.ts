// Dispatches `booth-agent <command>` to the command files beside this one.
import './lazy-intl.ts';
import './lazy-web-globals.ts';
import { parseArgs } from 'node:util';
import { checkConfig } from './check-config.ts';
import { demo } from './demo.ts';
import type { Command } from './command.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { exportCommand } from './export.ts';
import { fleetSetupCommand } from './fleet-setup.ts';
import { probeCommand } from './probe.ts';
import { reportCommand } from './report.ts';
import { record } from './record.ts';
import { run } from './run.ts';
import { statusCommand } from './status.ts';
import { version } from './version.ts';

const COMMANDS: Record<string, Command> = {
  run,
  'check-config': checkConfig,
  record,
  export: exportCommand,
  status: statusCommand,
  probe: probeCommand,
  'fleet-setup': fleetSetupCommand,
  report: reportCommand,
  demo,
  version,
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: booth-agent <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'The config file is --config PATH, else $BOOTH_AGENT_CONFIG, else /etc/booth-agent/config.yaml.',
    'booth-agent <command> --help shows the options of a command.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') return version.run(context({}, []));
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`booth-agent: unknown command "${name}"\n\n${help()}`);
    return EXIT.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true });
  } catch (err) {
    process.stderr.write(`booth-agent ${name}: ${(err as Error).message}\nUsage: ${command.usage}\n`);
    return EXIT.usage;
  }
  if (parsed.values['help']) {
    process.stdout.write(`${command.summary}\nUsage: ${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(context(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals));
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`booth-agent ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`booth-agent ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.fatal;
  }
}

function context(values: Record<string, string | boolean | undefined>, positionals: string[]) {
  return { values, positionals, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

const code = await main(process.argv.slice(2));
// Exit once stdout has drained (a pipe to `head` or a file), even if a library left a handle open.
process.stdout.write('', () => process.exit(code));
