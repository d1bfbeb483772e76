// `booth-agent export`: the unsent documents and dead letters as NDJSON on stdout, to carry the
// data out on a USB stick when a booth cannot reach OpenSearch.
import { DocumentBuffer } from '../buffer/buffer.ts';
import { parseDuration } from '../config/units.ts';
import { boothIdentity } from '../daemon.ts';
import { DATASETS, type Dataset } from '../../shared/documents/datasets.ts';
import { CONFIG_OPTION, type Command } from './command.ts';
import { configFor } from './config-for-command.ts';
import { CliError, EXIT } from './exit-codes.ts';

export const exportCommand: Command = {
  summary: 'write buffered documents and dead letters as NDJSON to stdout',
  usage: 'booth-agent export [--since DUR] [--kind upload|booking|network|heartbeat|agent] [--config PATH]',
  options: { ...CONFIG_OPTION, since: { type: 'string' }, kind: { type: 'string' } },
  async run(ctx) {
    const { config } = configFor(ctx);
    const since = ctx.values['since'] as string | undefined;
    const sinceMs = since === undefined ? undefined : parseDuration(since);
    if (sinceMs === undefined && since !== undefined) throw new CliError(`--since: expected a duration such as 2h or 7d, got "${since}"`, EXIT.usage);
    const kind = ctx.values['kind'] as string | undefined;
    const dataset = kind === undefined ? undefined : (`booth.${kind}` as Dataset);
    if (dataset && !DATASETS.includes(dataset)) {
      throw new CliError(`--kind: expected one of ${DATASETS.map((d) => d.slice(6)).join(', ')}, got "${kind}"`, EXIT.usage);
    }
    const buffer = DocumentBuffer.open({ stateDir: config.state_dir, maxSizeBytes: config.buffer.max_size, maxAgeMs: config.buffer.max_age, booth: boothIdentity(config), check: false });
    try {
      for (const { body } of buffer.documents({ sinceMs: sinceMs === undefined ? 0 : Date.now() - sinceMs, dataset })) {
        if (!ctx.stdout.write(`${body}\n`)) await new Promise((r) => ctx.stdout.once('drain', r));
      }
    } finally {
      buffer.close();
    }
    return EXIT.ok;
  },
};
