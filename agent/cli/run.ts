import { runDaemon } from '../daemon.ts';
import { closeLogger, createLogger } from '../log/logger.ts';
import { CONFIG_OPTION, type Command } from './command.ts';
import { configFor } from './config-for-command.ts';
import { EXIT } from './exit-codes.ts';

/** After a stop signal the process exits by this time, whatever is still running. */
const HARD_STOP_MS = 10_000;

export const run: Command = {
  summary: 'run the agent in the foreground (systemd runs this)',
  usage: 'booth-agent run [--config PATH]',
  options: { ...CONFIG_OPTION },
  async run(ctx) {
    const { config, secrets } = configFor(ctx);
    const logger = createLogger({
      level: config.log.level,
      file: config.log.file,
      maxSizeBytes: config.log.max_size,
      maxFiles: config.log.max_files,
      secrets: secrets.values(),
    });
    const stopRequested = new Promise<string>((resolve) => {
      const onSignal = (signal: string) => {
        resolve(signal);
        setTimeout(() => {
          logger.error('clean stop took too long; exiting', { deadline_ms: HARD_STOP_MS });
          process.exit(EXIT.ok);
        }, HARD_STOP_MS).unref();
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    });
    process.on('uncaughtException', (err) => {
      logger.error('unexpected error; exiting so systemd restarts the agent', { error: err });
      void closeLogger(logger).then(() => process.exit(EXIT.fatal));
    });
    try {
      await runDaemon({ config, secrets, logger, stopRequested });
    } catch (err) {
      logger.error('cannot run', { error: err });
      ctx.stderr.write(`booth-agent: ${(err as Error).message}\n`);
      await closeLogger(logger);
      return EXIT.fatal;
    }
    await closeLogger(logger);
    return EXIT.ok;
  },
};
