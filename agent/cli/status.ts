// `booth-agent status [--json]` (SPEC §8): the booth's health for the technician standing next to it,
// read-only beside a running daemon. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
import { printable, printableDeep } from '../printable.ts';
import { EXIT_OF_VERDICT, problemsOf, verdictOf } from '../status/problems.ts';
import { renderStatus } from '../status/render.ts';
import { collectStatus } from '../status/report.ts';
import { CONFIG_OPTION, type Command } from './command.ts';
import { configFor } from './config-for-command.ts';

export const statusCommand: Command = {
  summary: "the booth's health at a glance (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN); --json for machines",
  usage: 'booth-agent status [--config PATH] [--json]',
  options: { ...CONFIG_OPTION, json: { type: 'boolean' } },
  async run(ctx) {
    const { config, path, secrets } = configFor(ctx);
    let report;
    try {
      report = collectStatus(config, Date.now(), secrets.values());
    } catch (err) {
      const message = `cannot read the agent's state in ${config.state_dir}: ${(err as Error).message}`;
      ctx.stdout.write(ctx.values['json'] ? `${JSON.stringify({ verdict: 'UNKNOWN', problems: [{ severity: 'critical', message }] })}\n` : `UNKNOWN: ${printable(message)}\n`);
      return EXIT_OF_VERDICT.UNKNOWN;
    }
    if (!report) {
      const message = `no state in ${config.state_dir}: the agent has never run on this booth (start it: sudo systemctl start booth-agent)`;
      ctx.stdout.write(ctx.values['json'] ? `${JSON.stringify({ verdict: 'UNKNOWN', problems: [{ severity: 'critical', message }] })}\n` : `UNKNOWN: ${printable(message)}\n`);
      return EXIT_OF_VERDICT.UNKNOWN;
    }
    const problems = problemsOf(report, { heartbeatIntervalMs: config.heartbeat.interval, configFile: path });
    const verdict = verdictOf(problems);
    if (ctx.values['json']) ctx.stdout.write(`${JSON.stringify({ ...report, problems, verdict })}\n`);
    else {
      const tty = (ctx.stdout as NodeJS.WriteStream).isTTY === true;
      // File names and server messages are the world's: escaped before the screen's own colours are added.
      ctx.stdout.write(renderStatus(printableDeep(report), printableDeep(problems), verdict, { color: tty && !ctx.env['NO_COLOR'] }));
    }
    return EXIT_OF_VERDICT[verdict];
  },
};
