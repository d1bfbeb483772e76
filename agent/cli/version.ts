import Database from 'better-sqlite3';
import { AGENT_VERSION } from '../../shared/version.ts';
import type { Command } from './command.ts';

export const version: Command = {
  summary: 'print the agent, Node.js and SQLite versions',
  usage: 'booth-agent version',
  options: {},
  async run({ stdout }) {
    const db = new Database(':memory:');
    const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    db.close();
    stdout.write(`booth-agent ${AGENT_VERSION}\nnode ${process.version} (${process.platform}-${process.arch})\nsqlite ${sqlite}\n`);
    return 0;
  },
};
