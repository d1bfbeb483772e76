// Runs SQLite's quick_check on a large buffer in a worker thread, so a start with a big backlog is
// not held up by reading the whole file. Posts "ok" or the first problem found.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file } = workerData as { file: string };
let result: string;
try {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  result = String(db.pragma('quick_check', { simple: true }));
  db.close();
} catch (err) {
  const code = (err as { code?: string }).code ?? '';
  result = code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' ? `${code}: ${(err as Error).message}` : 'ok';
}
parentPort?.postMessage(result);
