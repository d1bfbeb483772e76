#!/usr/bin/env node
// The `booth-agent` command. Plain JavaScript so it can say clearly when the Node.js running it is
// too old; everything else is TypeScript, run by Node 24 directly (or compiled, in a bundle).
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `booth-agent needs Node.js 24 or newer; this is ${process.version} (${process.execPath}).\n` +
      'Run it through npm (npx booth-agent, npm run demo), which puts the project\'s own Node 24 first on PATH.\n',
  );
  process.exit(1);
}
const compiled = new URL('./main.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('./main.ts', import.meta.url).href);
