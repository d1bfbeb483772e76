// `npm run bench`: runs the benchmarks and prints one table. Options:
//   --backlog N   documents in the large-backlog benchmark (default 1,000,000)
import { parseArgs } from 'node:util';
import { bufferBenchmarks } from './buffer.bench.ts';
import { met, printTable, type Result } from './table.ts';

const { values } = parseArgs({ options: { backlog: { type: 'string', default: '1000000' } } });
const results: Result[] = [];
console.log(`booth-agent benchmarks on ${process.platform}-${process.arch}, Node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
results.push(...(await bufferBenchmarks({ backlog: Number(values.backlog) })));
printTable(results);
const missed = results.filter((r) => !met(r));
if (missed.length > 0) {
  console.log(`\n${missed.length} target${missed.length === 1 ? '' : 's'} missed`);
  process.exitCode = 1;
}
