// The least any agent doing this job does, and so the least it can cost in Node (bench/memory.bench.ts):
// SQLite in WAL mode with a row written per cycle, gzip, node:https loaded (a booth ships over TLS; got
// loads it whatever the URL), a keep-alive POST of the gzipped `_bulk` body every 30 s, one JSON log
// line per cycle. The ladder's later steps swap in a library for one part (steps/).
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';

// Node's modules are required when a step uses them, so that the first steps load only their own; and
// node:http is required, not imported: an ES module import reads its undici getters (as in the agent's bundle).
const require = createRequire(import.meta.url);

export interface JobParts {
  /** Off: only the SQLite part. */
  post: boolean;
  /** node:https loaded (a booth ships over TLS; got loads it whatever the URL). */
  tls: boolean;
  send: (url: string, body: Buffer) => Promise<void>;
  log: (message: string) => void;
}

function plainSend(): JobParts['send'] {
  const http = require('node:http') as typeof import('node:http');
  const agent = new http.Agent({ keepAlive: true });
  return (url, body) =>
    new Promise((resolve) => {
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      req.end(body);
    });
}
const plainLog = (message: string): void => {
  process.stdout.write(`${JSON.stringify({ level: 'info', message, timestamp: new Date().toISOString() })}\n`);
};

/** argv: the `_bulk` URL, the database file. */
export function runJob(parts: Partial<JobParts> = {}): void {
  const [url, dbFile] = process.argv.slice(2) as [string, string];
  const post = parts.post ?? true;
  if (parts.tls ?? true) require('node:https');
  const zlib = post ? (require('node:zlib') as typeof import('node:zlib')) : undefined;
  const send = post ? (parts.send ?? plainSend()) : undefined;
  const log = parts.log ?? plainLog;
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO outbox (doc) VALUES (?)');
  const cycle = async (): Promise<void> => {
    const doc = JSON.stringify({ '@timestamp': new Date().toISOString(), event: { dataset: 'heartbeat' } });
    insert.run(doc);
    if (send) await send(url, zlib!.gzipSync(`{"create":{"_index":"floor"}}\n${doc}\n`));
    log('cycle');
  };
  void cycle();
  setInterval(() => void cycle(), 30_000);
}
