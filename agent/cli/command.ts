// What every command file exports; main.ts dispatches to them.
import type { ParseArgsConfig } from 'node:util';

export interface CommandContext {
  /** Options after the command name, parsed with the command's own option spec. */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: CommandContext): Promise<number>;
}

export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;
