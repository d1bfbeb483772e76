// JSON-lines logging (winston). Under systemd: stderr, for journald. With log.file: a file rotated
// by size with a bounded number of files. Secrets never reach a log line: values read from secret
// files are scrubbed wherever they appear, and fields whose names say "secret" are masked.
import winston from 'winston';
import { RotatingFileTransport } from './rotating-file.ts';

export type Logger = winston.Logger;

export interface LogOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  file?: string | undefined;
  maxSizeBytes?: number;
  maxFiles?: number;
  /** Secret values (passwords, tokens, header values) to scrub from every line. */
  secrets?: Iterable<string>;
}

const REDACTED = '[REDACTED]';
const SENSITIVE_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|credential|signature/i;
// Credentials that may appear inside free text, such as an error message quoting a request.
const SENSITIVE_TEXT = [
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/g,
  /\bAWS4-HMAC-SHA256\s+Credential=[^\s,]+(,\s*SignedHeaders=[^\s,]+)?(,\s*Signature=[0-9a-f]+)?/g,
  /(\/\/[^/\s:@]+:)[^@\s/]+@/g,
];

export function redactor(secretValues: Iterable<string> = []) {
  // Longest first, so a secret containing another is replaced whole.
  const secrets = [...new Set(secretValues)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  const scrubText = (text: string): string => {
    let out = text;
    for (const s of secrets) out = out.split(s).join(REDACTED);
    out = out.replace(SENSITIVE_TEXT[0]!, `$1 ${REDACTED}`);
    out = out.replace(SENSITIVE_TEXT[1]!, `AWS4-HMAC-SHA256 ${REDACTED}`);
    out = out.replace(SENSITIVE_TEXT[2]!, `$1${REDACTED}@`);
    return out;
  };
  const scrub = (value: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof value === 'string') return scrubText(value);
    if (value === null || typeof value !== 'object') return value;
    // Past this depth nothing is written at all: unread content cannot be vouched for.
    if (depth > 8) return '[TRUNCATED]';
    if (seen.has(value)) return '[CIRCULAR]';
    seen.add(value);
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, seen));
    if (value instanceof Error) {
      return { name: value.name, message: scrubText(value.message), stack: value.stack && scrubText(value.stack) };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SENSITIVE_KEY.test(k) && v !== null && v !== undefined && typeof v !== 'boolean' ? REDACTED : scrub(v, depth + 1, seen);
    }
    return out;
  };
  return { scrubText, scrub: (v: unknown) => scrub(v, 0, new WeakSet()) };
}

export function createLogger(opts: LogOptions): Logger {
  const { scrub } = redactor(opts.secrets);
  const redact = winston.format((info) => {
    // Symbol-keyed fields (level, splat) are winston's own and are kept as they are.
    const scrubbed = scrub({ ...info }) as Record<string, unknown>;
    for (const key of Object.keys(info)) delete (info as Record<string, unknown>)[key];
    return Object.assign(info, scrubbed);
  });
  const format = winston.format.combine(
    winston.format.errors({ stack: true }),
    redact(),
    winston.format.timestamp(),
    winston.format.json(),
  );
  const transport = opts.file
    ? new RotatingFileTransport({ filename: opts.file, maxSizeBytes: opts.maxSizeBytes ?? 10_000_000, maxFiles: opts.maxFiles ?? 5 })
    : new winston.transports.Stream({ stream: process.stderr });
  return winston.createLogger({ level: opts.level, format, transports: [transport], exitOnError: false });
}

/** Waits until every line has been written; call before the process exits. */
export function closeLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    logger.on('finish', () => {
      clearTimeout(timer);
      // The file transport finishes its own stream slightly after the logger.
      setImmediate(resolve);
    });
    logger.end();
  });
}
