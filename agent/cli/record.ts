// `booth-agent record`: NDJSON documents from the booth's own software (or tests), validated
// against the document schema, stamped with the missing common fields and recorded durably.
import fs from 'node:fs';
import readline from 'node:readline';
import { DocumentBuffer } from '../buffer/buffer.ts';
import { boothIdentity } from '../daemon.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { expandDottedKeys, stamp } from '../../shared/documents/stamp.ts';
import { CONFIG_OPTION, type Command } from './command.ts';
import { configFor } from './config-for-command.ts';
import { CliError, EXIT } from './exit-codes.ts';

const BATCH = 500;
const MAX_LINE_CHARS = 1_000_000;
const MAX_REPORTED = 100;

export const record: Command = {
  summary: 'record NDJSON documents from stdin or --file for the daemon to ship',
  usage: 'booth-agent record [--file F] [--config PATH]',
  options: { ...CONFIG_OPTION, file: { type: 'string', short: 'f' } },
  async run(ctx) {
    const { config } = configFor(ctx);
    // Loaded here, not at the top: building every dataset's schema costs the daemon memory it never uses.
    const { validateDocument } = await import('../../shared/documents/validate.ts');
    const file = ctx.values['file'] as string | undefined;
    let input: NodeJS.ReadableStream;
    try {
      input = file ? fs.createReadStream(file) : ctx.stdin;
      if (file) fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.fatal);
    }
    const booth = boothIdentity(config);
    // Short-lived: leave the full check of a large file to the daemon.
    const buffer = DocumentBuffer.open({ stateDir: config.state_dir, maxSizeBytes: config.buffer.max_size, maxAgeMs: config.buffer.max_age, booth, check: false });
    let batch: BoothDocument[] = [];
    let recorded = 0;
    let invalid = 0;
    const reportInvalid = (line: number, reason: string) => {
      invalid++;
      if (invalid <= MAX_REPORTED) ctx.stderr.write(`line ${line}: ${reason}\n`);
    };
    const flush = () => {
      if (batch.length === 0) return;
      buffer.record(batch);
      recorded += batch.length;
      batch = [];
    };
    try {
      let lineNo = 0;
      for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
        lineNo++;
        if (line.trim() === '') continue;
        if (line.length > MAX_LINE_CHARS) {
          reportInvalid(lineNo, `longer than ${MAX_LINE_CHARS} characters`);
          continue;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch (err) {
          reportInvalid(lineNo, `not JSON (${(err as Error).message})`);
          continue;
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          reportInvalid(lineNo, 'expected a JSON object');
          continue;
        }
        let expanded: Record<string, unknown>;
        try {
          expanded = expandDottedKeys(parsed) as Record<string, unknown>;
        } catch (err) {
          reportInvalid(lineNo, (err as Error).message);
          continue;
        }
        const result = validateDocument(stamp(expanded, booth));
        if (!result.ok) {
          reportInvalid(lineNo, result.reason);
          continue;
        }
        batch.push(result.doc);
        if (batch.length >= BATCH) flush();
      }
      flush();
    } finally {
      buffer.close();
    }
    if (invalid > MAX_REPORTED) ctx.stderr.write(`… and ${invalid - MAX_REPORTED} more invalid lines\n`);
    ctx.stdout.write(`recorded ${recorded} document${recorded === 1 ? '' : 's'}${invalid ? `; ${invalid} invalid line${invalid === 1 ? '' : 's'} not recorded` : ''}\n`);
    return invalid > 0 ? EXIT.dataError : EXIT.ok;
  },
};
