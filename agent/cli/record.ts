// `booth-agent record`: NDJSON documents from the booth's own software (or tests), validated
// against the document schema, stamped with the missing common fields and recorded durably.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DocumentBuffer } from '../buffer/buffer.ts';
import { DatabaseBusyError } from '../buffer/errors.ts';
import { boothIdentity } from '../daemon.ts';
import type { BoothDocument } from '../../shared/documents/schema.ts';
import { expandDottedKeys, stamp } from '../../shared/documents/stamp.ts';
import { boundedLines } from './bounded-lines.ts';
import { CONFIG_OPTION, type Command } from './command.ts';
import { configFor } from './config-for-command.ts';
import { CliError, EXIT } from './exit-codes.ts';

const BATCH = 500;
const MAX_LINE_CHARS = 1_000_000;
const MAX_REPORTED = 100;
/** How long `record` waits for another process's write lock (the daemon's or a maintenance job's). */
const BUSY_WAIT_MS = 120_000;

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
    // A database locked by another writer is waited for (each try waits SQLite's busy timeout
    // too) for up to BUSY_WAIT_MS at a time; then the command gives up clearly, having recorded
    // only whole batches.
    let recorded = 0;
    const patiently = async <T>(fn: () => T): Promise<T> => {
      let until: number | undefined;
      for (;;) {
        try {
          return fn();
        } catch (err) {
          if (!(err instanceof DatabaseBusyError)) throw err;
          if (until === undefined) {
            until = Date.now() + BUSY_WAIT_MS;
            ctx.stderr.write('the database is locked by another process that is writing to it; waiting…\n');
          } else if (Date.now() > until) {
            throw busyFailure(recorded);
          }
          await sleep(250);
        }
      }
    };
    // Short-lived: leave the full check of a large file to the daemon.
    const buffer = await patiently(() =>
      DocumentBuffer.open({ stateDir: config.state_dir, maxSizeBytes: config.buffer.max_size, maxAgeMs: config.buffer.max_age, booth, check: false }),
    );
    let batch: BoothDocument[] = [];
    let invalid = 0;
    const reportInvalid = (line: number, reason: string) => {
      invalid++;
      if (invalid <= MAX_REPORTED) ctx.stderr.write(`line ${line}: ${reason}\n`);
    };
    const flush = async () => {
      if (batch.length === 0) return;
      await patiently(() => buffer.record(batch));
      recorded += batch.length;
      batch = [];
    };
    try {
      let lineNo = 0;
      for await (const line of boundedLines(input as AsyncIterable<Buffer | string>, MAX_LINE_CHARS)) {
        lineNo++;
        if (line === undefined) {
          reportInvalid(lineNo, `longer than ${MAX_LINE_CHARS} characters`);
          continue;
        }
        if (line.trim() === '') continue;
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
        if ('dead_letter' in parsed && 'document' in parsed) {
          const why = (parsed as { dead_letter?: { reason?: unknown } }).dead_letter?.reason;
          reportInvalid(lineNo, `a dead letter from export (OpenSearch refused it: ${String(why).slice(0, 200)}); fix its document and record that alone`);
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
        if (batch.length >= BATCH) await flush();
      }
      await flush();
    } finally {
      buffer.close();
    }
    if (invalid > MAX_REPORTED) ctx.stderr.write(`… and ${invalid - MAX_REPORTED} more invalid lines\n`);
    ctx.stdout.write(`recorded ${recorded} document${recorded === 1 ? '' : 's'}${invalid ? `; ${invalid} invalid line${invalid === 1 ? '' : 's'} not recorded` : ''}\n`);
    return invalid > 0 ? EXIT.dataError : EXIT.ok;
  },
};

function busyFailure(recorded: number): CliError {
  return new CliError(`the database stayed locked by another process for ${BUSY_WAIT_MS / 1000} s; ${recorded} documents were recorded before — run record again for the rest (a given event.id is never stored twice)`, EXIT.tempFail);
}
