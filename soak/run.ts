// `npm run soak -- --minutes N [--seed S]`: the fault soak of the whole pipeline (soak/soak.ts);
// prints what happened and every violated promise; exits 1 on any violation.
import { parseArgs } from 'node:util';
import { runSoak } from './soak.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '3' }, seed: { type: 'string', default: '1' }, quiet: { type: 'boolean' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes ${values.minutes}: expected a positive number`);
const log = values.quiet ? () => {} : (line: string) => console.log(line);
console.log(`booth-agent soak: ${minutes} min, seed ${values.seed}, Node ${process.version}`);
const s = await runSoak({ minutes, seed: Number(values.seed), log });
const rows: Array<[string, string]> = [
  ['bookings (404 bookings among them)', `${s.bookings} (${s.rejectedBookings})`],
  ['images uploaded intact / expected', `${s.images - s.violations.filter((v) => v.check.startsWith('every image')).length} / ${s.images} (${(s.bytes / 1e6).toFixed(1)} MB)`],
  ['fault phases', [...new Set(s.faultPhases)].map((p) => { const n = s.faultPhases.filter((x) => x === p).length; return n > 1 ? `${p} ×${n}` : p; }).join('; ')],
  ['SIGKILLs (each followed by a restart)', String(s.kills)],
  ['starts (started and killed on a full disk)', `${s.starts} (${s.livesOnFullDisk})`],
  ['disk-full episode', s.diskFull],
  ['wall-clock jumps of +2 h and -2 h', s.clockJumps],
  ['documents stored in OpenSearch', String(s.storedDocuments)],
  ['booth.upload success documents', String(s.uploadSuccessDocs)],
  ['booth.booking documents', String(s.bookingDocs)],
  ['documents recorded / stored once', `${s.recorded} / ${s.recordedStoredOnce}`],
  ['poison documents / dead letters', `${s.poison} / ${s.deadLetters}`],
  ['catch-up after the faults', `${s.drainSeconds.toFixed(0)} s`],
  ['peak RSS of the agent', `${s.peakRssMb} MB`],
  ['violations', String(s.violations.length)],
  ['what the faults did:', ''],
];
for (const [k, n] of Object.entries(s.evidence).sort()) rows.push([`  ${k}`, String(n)]);
const width = Math.max(...rows.map(([k]) => k.length));
console.log('');
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
for (const v of s.violations.slice(0, 30)) console.log(`\nVIOLATION ${v.check}: ${v.detail}`);
if (s.violations.length > 30) console.log(`\n… and ${s.violations.length - 30} more`);
// Exit once stdout is written, whatever handle a server or child left behind.
process.stdout.write('', () => process.exit(s.violations.length > 0 ? 1 : 0));
