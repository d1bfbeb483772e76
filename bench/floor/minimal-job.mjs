// The least any agent doing this job costs in Node (bench/network.bench.ts): no library, only what the
// job cannot do without — SQLite in WAL mode (better-sqlite3, a row written per cycle), gzip, node:https
// loaded (a booth ships over TLS; got loads it whatever the URL) and a keep-alive POST of the gzipped
// body to the URL in argv[2] every 30 s, and one JSON log line per cycle. Plain JavaScript on purpose:
// loading TypeScript would be counted too. argv[3] is the database file.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const http = require('node:http');
require('node:https');
const zlib = require('node:zlib');
const Database = require('better-sqlite3');

const [url, dbFile] = process.argv.slice(2);
const db = new Database(dbFile);
db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO outbox (doc) VALUES (?)');
const agent = new http.Agent({ keepAlive: true });

function cycle() {
  const doc = JSON.stringify({ '@timestamp': new Date().toISOString(), event: { dataset: 'heartbeat' } });
  insert.run(doc);
  zlib.gzip(`{"create":{"_index":"floor"}}\n${doc}\n`, (err, body) => {
    if (err) throw err;
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' } }, (res) => res.resume());
    req.on('error', () => {});
    req.end(body);
  });
  process.stdout.write(`${JSON.stringify({ level: 'info', message: 'cycle', timestamp: new Date().toISOString() })}\n`);
}
cycle();
setInterval(cycle, 30_000);
