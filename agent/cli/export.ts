// `booth-agent export`: the unsent documents and dead letters as NDJSON on stdout, to carry the
// data out on a USB stick when a booth cannot reach OpenSearch.
import fs from 'node:fs';
import path from 'node:path';
import { DocumentBuffer } from '../buffer/buffer.ts';
import { isCorruption } from '../buffer/errors.ts';
import { DB_FILE } from '../buffer/open.ts';
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
    if (!fs.existsSync(path.join(config.state_dir, DB_FILE))) {
      ctx.stderr.write(`no state in ${config.state_dir}: nothing recorded yet, nothing to export\n`);
      return EXIT.ok;
    }
    // Read only, as status reads: exporting never changes the state, not even a damaged file's
    // (moving it aside is the daemon's job).
    const buffer = DocumentBuffer.open({ stateDir: config.state_dir, maxSizeBytes: config.buffer.max_size, maxAgeMs: config.buffer.max_age, booth: boothIdentity(config), readOnly: true });
    let exported = 0;
    try {
      for (const { body, deadLetter } of buffer.documents({ sinceMs: sinceMs === undefined ? 0 : Date.now() - sinceMs, dataset })) {
        // A dead letter is marked, with why OpenSearch refused it: {"dead_letter": {…}, "document": {…}}.
        const line = deadLetter ? `{"dead_letter":${JSON.stringify(deadLetter)},"document":${body}}` : body;
        if (!ctx.stdout.write(`${line}\n`)) await new Promise((r) => ctx.stdout.once('drain', r));
        exported++;
      }
    } catch (err) {
      if (!isCorruption(err)) throw err;
      throw new CliError(`the database is damaged (${(err as Error).message}): ${exported} documents exported before the damage; the file is left as it is (the agent moves a damaged database aside when it meets it)`, EXIT.fatal);
    } finally {
      buffer.close();
    }
    return EXIT.ok;
  },
};
