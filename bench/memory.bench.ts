// Where the idle agent's memory goes (issue 19): a ladder of processes idle side by side under the
// service's flags (deploy/booth-agent.env), each one part more than the last — Node itself (an empty
// ES module); SQLite; gzip and a POST; node:https, which makes the least any agent doing this job costs
// (bench/floor/job.ts); then got, winston, yaml, zod with the agent's config schema and chokidar swapped
// in one at a time (bench/floor/steps/), each step bundled like the agent (scripts/agent-module.ts) —
// and the agent itself. All run at once for the same minutes; each measures only its own process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions } from '../scripts/agent-module.ts';
import { OpenSearchStandIn } from '../test/support/opensearch.ts';
import { UploadReceiver } from '../test/support/upload-receiver.ts';
import { AGENT, requireBuiltAgent } from './agent-process.ts';
import { idleProcess, writeIdleConfig, type Idle } from './network.bench.ts';
import type { Result } from './table.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
/** Built beside the agent's bundle, so that better-sqlite3 resolves from node_modules as it does there. */
const OUT = here('../dist/bench-memory');

interface Step {
  name: string;
  /** What the step adds, kept by every step after it: imports, lines run before the job, runJob's parts. */
  imports: string[];
  before: string[];
  parts: string[];
  /** runJob's parts for this step alone (the first steps switch the job's later parts off). */
  own?: string[];
}

const STEPS: Step[] = [
  { name: 'SQLite (WAL, a row written every 30 s) and a log line', imports: [], parts: [], before: [], own: ['post: false', 'tls: false'] },
  { name: '+ gzip and a keep-alive POST over node:http every 30 s', imports: [], parts: [], before: [], own: ['tls: false'] },
  { name: '+ node:https loaded: the floor of the job (bench/floor/job.ts)', imports: [], parts: [], before: [] },
  { name: '+ got sends the POST', imports: [`import { gotSend } from ${JSON.stringify(here('./floor/steps/got.ts'))};`], parts: ['send: gotSend'], before: [] },
  { name: '+ winston writes the log line', imports: [`import { winstonLog } from ${JSON.stringify(here('./floor/steps/winston.ts'))};`], parts: ['log: winstonLog'], before: [] },
  { name: '+ yaml reads the config file', imports: [`import { readYaml } from ${JSON.stringify(here('./floor/steps/yaml.ts'))};`], parts: [], before: ["const config = readYaml(fs.readFileSync(process.argv[4], 'utf8'));"] },
  { name: "+ zod checks it with the agent's config schema", imports: [`import { checkConfig } from ${JSON.stringify(here('./floor/steps/config.ts'))};`], parts: [], before: ['checkConfig(config);'] },
  { name: '+ chokidar watches the photo folder', imports: [`import { watchFolder } from ${JSON.stringify(here('./floor/steps/chokidar.ts'))};`], parts: [], before: ['watchFolder(process.argv[5]);'] },
];

/** Step k's entry module: the job with the first k steps' parts. */
function entry(k: number): string {
  const steps = STEPS.slice(0, k + 1);
  return [
    // As the agent's main.ts: the lazy Intl.ListFormat and web globals got would otherwise build.
    `import ${JSON.stringify(here('../agent/cli/lazy-intl.ts'))};`,
    `import ${JSON.stringify(here('../agent/cli/lazy-web-globals.ts'))};`,
    "import fs from 'node:fs';",
    `import { runJob } from ${JSON.stringify(here('./floor/job.ts'))};`,
    ...steps.flatMap((s) => s.imports),
    ...steps.flatMap((s) => s.before),
    `runJob({ ${[...steps.flatMap((s) => s.parts), ...(steps.at(-1)!.own ?? [])].join(', ')} });`,
    // keep `fs` used in every step
    'void fs;',
  ].join('\n');
}

async function buildSteps(): Promise<string[]> {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  const entryPoints: Record<string, string> = {};
  STEPS.forEach((_, k) => {
    const file = path.join(OUT, `step-${k}.ts`);
    fs.writeFileSync(file, entry(k));
    entryPoints[`step-${k}`] = file;
  });
  await build({ ...bundleOptions(entryPoints, OUT), sourcemap: false });
  return STEPS.map((_, k) => path.join(OUT, `step-${k}.mjs`));
}

const mb = (n: number) => n.toFixed(1);
const split = (r: Idle) => `anon ${mb(r.endAnon)} + file ${mb(r.endFile)}`;

export async function memoryBenchmarks(opts: { idleMinutes: number }): Promise<Result[]> {
  requireBuiltAgent();
  const steps = await buildSteps();
  const receiver = await UploadReceiver.start();
  const standIn = await OpenSearchStandIn.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-memory-bench-'));
  try {
    const config = writeIdleConfig(dir, receiver, standIn);
    const outbox = path.join(dir, 'outbox');
    const bulk = `${standIn.url}/_bulk`;
    const [empty, agent, ...ladder] = await Promise.all([
      idleProcess(opts.idleMinutes, [here('./floor/empty.mjs')]),
      idleProcess(opts.idleMinutes, [AGENT, 'run', '--config', config]),
      ...steps.map((file, k) => idleProcess(opts.idleMinutes, [file, bulk, path.join(dir, `step-${k}.db`), config, outbox])),
    ]);
    const rows: Result[] = [{ name: `Node's floor: an empty ES module, same flags (${split(empty!)})`, value: empty!.endRss, unit: 'MB' }];
    let previous = empty!;
    ladder.forEach((r, k) => {
      rows.push({ name: `${STEPS[k]!.name} (${split(r)}; ${r.endRss >= previous.endRss ? '+' : ''}${mb(r.endRss - previous.endRss)} MB)`, value: r.endRss, unit: 'MB' });
      previous = r;
    });
    const above = agent!.endRss - previous.endRss;
    rows.push({ name: `the idle agent (bundled, deploy/booth-agent.env) after ${opts.idleMinutes} min (${split(agent!)}; ${mb(Math.abs(above))} MB ${above >= 0 ? 'above' : 'below'} the last step)`, value: agent!.endRss, unit: 'MB', target: { op: '<', value: 55 } });
    return rows;
  } finally {
    await receiver.close();
    await standIn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
