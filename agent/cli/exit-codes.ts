// Exit codes of the command line (SPEC §3); 64/65/78 are the sysexits.h values operators know.
export const EXIT = {
  ok: 0,
  fatal: 1,
  usage: 64,
  dataError: 65,
  /** EX_TEMPFAIL: nothing wrong with the input; try again later (a database locked for minutes). */
  tempFail: 75,
  config: 78,
} as const;

/** Thrown by a command to end with a message and an exit code. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}
