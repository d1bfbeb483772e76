// `npm run bench`: runs the benchmarks and prints one table. Options:
//   --backlog N   documents in the large-backlog benchmark (default 1,000,000)
//   --drain N     documents in the drain benchmark (default 200,000)
//   --only NAME   buffer | drain | upload | network | memory | report (report needs Java and Maven: a real
//                 OpenSearch, $OPENSEARCH_URL or npm run opensearch's)
//   --idle-minutes N   how long the idle agent (and the memory ladder) is watched (default 5; 2 with --peers)
//   --peers       only the comparison with peers (bench/peers.bench.ts): drain vs rsyslog's
//                 omelasticsearch, uploads vs curl -T, idle CPU/RSS vs rsyslogd; see BENCHMARKS.md
//   --peer-docs N documents in the peer drain backlog (default 200,000)
//   --drain-only  with --peers: only the drains (to the faithful stand-in and to the null _bulk sink)
//   --null-only   with --peers: only booth-agent's drains to the null _bulk sink, every run's figures
//   --runs N      runs of each peer drain and upload comparison; medians are printed (default 3)
import { parseArgs } from 'node:util';
import { bufferBenchmarks } from './buffer.bench.ts';
import { drainBenchmarks } from './drain.bench.ts';
import { memoryBenchmarks } from './memory.bench.ts';
import { networkBenchmarks } from './network.bench.ts';
import { peersBenchmarks } from './peers.bench.ts';
import { reportBenchmarks } from './report.bench.ts';
import { uploadBenchmarks } from './upload.bench.ts';
import { met, printTable, type Result } from './table.ts';

const { values } = parseArgs({ options: { backlog: { type: 'string', default: '1000000' }, drain: { type: 'string', default: '200000' }, only: { type: 'string' }, 'idle-minutes': { type: 'string' }, peers: { type: 'boolean', default: false }, 'drain-only': { type: 'boolean', default: false }, 'null-only': { type: 'boolean', default: false }, 'peer-docs': { type: 'string', default: '200000' }, runs: { type: 'string', default: '3' } } });
const results: Result[] = [];
console.log(`booth-agent benchmarks on ${process.platform}-${process.arch}, Node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
if (values.peers) results.push(...(await peersBenchmarks({ docs: Number(values['peer-docs']), runs: Number(values.runs), idleMinutes: Number(values['idle-minutes'] ?? '2'), drainOnly: values['drain-only'], nullOnly: values['null-only'] })));
const all = !values.peers && !values.only;
if (all || values.only === 'buffer') results.push(...(await bufferBenchmarks({ backlog: Number(values.backlog) })));
if (all || values.only === 'drain') results.push(...(await drainBenchmarks({ backlog: Number(values.drain) })));
if (all || values.only === 'upload') results.push(...(await uploadBenchmarks({ files: 10, fileMb: 100 })));
if (all || values.only === 'network') results.push(...(await networkBenchmarks({ idleMinutes: Number(values['idle-minutes'] ?? '5') })));
if (all || values.only === 'memory') results.push(...(await memoryBenchmarks({ idleMinutes: Number(values['idle-minutes'] ?? '5') })));
if (all || values.only === 'report') results.push(...(await reportBenchmarks({ runs: 3 })));
printTable(results);
const missed = results.filter((r) => !met(r));
if (missed.length > 0) {
  console.log(`\n${missed.length} target${missed.length === 1 ? '' : 's'} missed`);
  process.exitCode = 1;
}
