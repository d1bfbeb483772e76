// `npm run fleet-sim` (issue 8): a fleet of booths comes back online at the same moment, each with
// a day of backlog, against an OpenSearch stand-in capped at a fixed request rate that answers 429
// beyond it. Each booth is the real agent code — its own SQLite buffer in its own state dir and the
// real OpenSearch sink with the agent's default settings — run in groups in child processes
// (bench/fleet-booths.ts), while this process is the stand-in and the referee.
//
//   npm run fleet-sim -- [--booths 1000] [--backlog-per-booth 1750] [--cap 50] [--processes 1]
//                        [--max-docs 500] [--heartbeat-interval 30] [--retry-min 1s] [--retry-max 5m] [--timeout 900]
//                        [--state-root /dev/shm]
//
// The default is the scenario: 1,000 booths against 50 req/s (~4 minutes, ~3 GB of RAM).
// On a 2-core machine that keeps both cores busy — the report's CPU and event-loop lines say how
// much — and `--booths 200 --cap 10` (the same 20 booths per request/s) is a lighter check. One
// booth process is faster than several there (they compete with the stand-in for the same cores).
//
// The booths' state dirs are on tmpfs (/dev/shm where there is one): a thousand booths have a
// thousand disks, and one disk here would queue every booth's commit (fsync) behind the others'.
//
// Goals: every booth's heartbeat within 2 heartbeat intervals, drain within 1.3× the ideal
// (documents / (cap × documents per request)), nothing lost and nothing stored twice.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OpenSearchStandIn } from '../test/support/opensearch.ts';
import { agentSinkSettings } from '../test/support/config.ts';
import { DAY_DOCS, type FromGroup, type GroupOptions, type ToGroup } from './fleet-booths.ts';
import { met, printTable, type Result } from './table.ts';

const { values } = parseArgs({
  options: {
    booths: { type: 'string', default: '1000' },
    'backlog-per-booth': { type: 'string', default: String(DAY_DOCS) },
    cap: { type: 'string', default: '50' },
    processes: { type: 'string', default: '1' },
    'max-docs': { type: 'string' },
    'heartbeat-interval': { type: 'string', default: '30' },
    'retry-min': { type: 'string' },
    'retry-max': { type: 'string' },
    timeout: { type: 'string', default: '900' },
    'state-root': { type: 'string' },
  },
});
const booths = Number(values.booths);
const perBooth = Number(values['backlog-per-booth']);
const cap = Number(values.cap);
const processes = Math.min(booths, Number(values.processes));
const heartbeatIntervalMs = Number(values['heartbeat-interval']) * 1000;
const timeoutMs = Number(values.timeout) * 1000;
// The agent's own opensearch defaults, except what is asked for here.
const opensearch: Record<string, unknown> = {
  ...(values['max-docs'] ? { batch: { max_docs: Number(values['max-docs']) } } : {}),
  ...(values['retry-min'] || values['retry-max']
    ? { retry: { ...(values['retry-min'] ? { min_delay: values['retry-min'] } : {}), ...(values['retry-max'] ? { max_delay: values['retry-max'] } : {}) } }
    : {}),
};

const WORKER = fileURLToPath(new URL('./fleet-booths.ts', import.meta.url));
const stateRoot = values['state-root'] ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
const root = fs.mkdtempSync(path.join(stateRoot, 'booth-agent-fleet-'));
const standIn = await OpenSearchStandIn.start({ seed: 8 });
const groups: ChildProcess[] = [];
const cleanup = () => {
  for (const g of groups) if (g.exitCode === null) g.kill('SIGKILL');
  fs.rmSync(root, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

function waitFor<T extends FromGroup['type']>(g: ChildProcess, type: T): Promise<Extract<FromGroup, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromGroup) => {
      if (m.type !== type) return;
      g.off('message', onMessage);
      g.off('exit', onExit);
      resolve(m as Extract<FromGroup, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`a booth group exited (${code}) before "${type}"`));
    g.on('message', onMessage);
    g.once('exit', onExit);
  });
}

try {
  const settings = agentSinkSettings(standIn.url, { opensearch });
  const docsPerRequest = settings.maxDocs;
  console.log(
    `fleet-sim: ${booths} booths × ${perBooth} backlog docs (+1 heartbeat each), ${processes} booth process(es), stand-in capped at ${cap} req/s, ` +
      `${docsPerRequest} docs/request, retry ${settings.minDelayMs} ms–${settings.maxDelayMs} ms, heartbeat every ${heartbeatIntervalMs / 1000} s, state in ${stateRoot}`,
  );

  // Build: each group records its booths' backlogs (in parallel across groups).
  const buildStart = performance.now();
  const per = Math.ceil(booths / processes);
  for (let first = 0; first < booths; first += per) {
    const opts: GroupOptions = { first, count: Math.min(per, booths - first), root, url: standIn.url, backlogPerBooth: perBooth, opensearch, heartbeatIntervalMs };
    groups.push(fork(WORKER, [JSON.stringify(opts)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }
  const built = await Promise.all(groups.map((g) => waitFor(g, 'built')));
  const backlogDocs = built.reduce((s, b) => s + b.docs, 0);
  console.log(`built ${backlogDocs.toLocaleString('en-US')} backlog documents in ${((performance.now() - buildStart) / 1000).toFixed(1)} s`);

  // The moment the fleet comes back online.
  standIn.faults.maxRequestsPerSecond = cap;
  standIn.requests.length = 0;
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  for (const g of groups) g.send({ type: 'go' } satisfies ToGroup);
  const stored = () => standIn.count() - standIn.count('*-heartbeat-*');
  let drainMs: number | undefined;
  let last = 0;
  let lastReport = t0;
  let seen = 0;
  // Accepted requests per 1 s window, counted when answered (a request's arrival time says little
  // about when it was counted against the cap: its body may arrive much later on a busy machine).
  const acceptedPerSecond: number[] = [];
  let acceptedBefore = 0;
  let nextSecond = t0 + 1000;
  while (Date.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, 100));
    if (Date.now() >= nextSecond) {
      nextSecond += 1000;
      let n = 0;
      for (const r of standIn.requests) if (r.status === 200 && r.path === '/_bulk') n++;
      acceptedPerSecond.push(n - acceptedBefore);
      acceptedBefore = n;
    }
    const n = stored();
    if (n >= backlogDocs) {
      drainMs = Date.now() - t0;
      break;
    }
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      let taken = 0;
      let refused = 0;
      for (let i = seen; i < standIn.requests.length; i++) {
        const r = standIn.requests[i]!;
        if (r.path !== '/_bulk') continue;
        if (r.status === 200) taken++;
        else if (r.status === 429) refused++;
      }
      seen = standIn.requests.length;
      console.log(
        `  ${Math.round((lastReport - t0) / 1000)} s: ${n.toLocaleString('en-US')} stored (+${Math.round((n - last) / 10).toLocaleString('en-US')}/s), ` +
          `${standIn.count('*-heartbeat-*')} heartbeats; requests in these 10 s: ${taken} taken, ${refused} refused`,
      );
      last = n;
    }
  }
  const standInCpu = process.cpuUsage(cpu0);
  const standInElu = performance.eventLoopUtilization(elu0).utilization;
  const windowMs = (drainMs ?? timeoutMs);

  // Heartbeats stop; every buffer empties; the groups hand over what they recorded.
  for (const g of groups) g.send({ type: 'finish', timeoutMs: 120_000 } satisfies ToGroup);
  const finished = await Promise.all(groups.map((g) => waitFor(g, 'finished')));

  // Referee: every recorded document stored exactly once, counted in the stand-in.
  const storedIds = standIn.ids();
  const storedTotal = standIn.count();
  const duplicates = storedTotal - storedIds.size;
  let lostBacklog = 0;
  let recordedBacklog = 0;
  let lastHeartbeatMissing = 0;
  const knownIds = new Set<string>();
  const boothOfHeartbeat = new Map<string, string>();
  for (const f of finished) {
    for (const b of JSON.parse(fs.readFileSync(f.idsFile, 'utf8')) as { booth: string; recorded: string[]; heartbeats: string[] }[]) {
      recordedBacklog += b.recorded.length;
      for (const id of b.recorded) {
        knownIds.add(id);
        if (!storedIds.has(id)) lostBacklog++;
      }
      for (const id of b.heartbeats) {
        knownIds.add(id);
        boothOfHeartbeat.set(id, b.booth);
      }
      if (!storedIds.has(b.heartbeats[b.heartbeats.length - 1]!)) lastHeartbeatMissing++;
    }
  }
  const unknown = [...storedIds].filter((id) => !knownIds.has(id)).length;

  // When each booth's first heartbeat arrived: the first accepted request it led.
  const firstHeartbeat = new Map<string, number>();
  const perSecond = new Map<number, { all: number; accepted: number }>();
  let answered429 = 0;
  let accepted = 0;
  for (const r of standIn.requests) {
    if (r.path !== '/_bulk') continue;
    const second = Math.floor((r.at - t0) / 1000);
    const w = perSecond.get(second) ?? { all: 0, accepted: 0 };
    w.all++;
    if (r.status === 429) answered429++;
    if (r.status === 200) {
      w.accepted++;
      if (r.at - t0 <= windowMs) accepted++;
      const booth = r.firstId !== undefined ? boothOfHeartbeat.get(r.firstId) : undefined;
      if (booth && !firstHeartbeat.has(booth)) firstHeartbeat.set(booth, r.at - t0);
    }
    perSecond.set(second, w);
  }
  const heartbeatsAllMs = firstHeartbeat.size === booths ? Math.max(...firstHeartbeat.values()) : Number.POSITIVE_INFINITY;
  const hbTimes = [...firstHeartbeat.values()].sort((a, b) => a - b);
  const hbMedianMs = hbTimes[Math.floor(hbTimes.length / 2)] ?? Number.NaN;
  const windows = [...perSecond.entries()].filter(([s]) => s >= 0 && s * 1000 < windowMs).map(([, w]) => w);
  const peakAll = Math.max(0, ...windows.map((w) => w.all));
  const peakAccepted = Math.max(0, ...acceptedPerSecond);
  const capacity = cap * docsPerRequest;
  const idealS = backlogDocs / capacity;
  const drainS = drainMs === undefined ? Number.POSITIVE_INFINITY : drainMs / 1000;
  const minRequests = booths * Math.ceil(perBooth / docsPerRequest);
  const lost = lostBacklog + lastHeartbeatMissing;
  const leftQueued = finished.reduce((s, f) => s + f.leftQueued, 0);

  const results: Result[] = [
    { name: 'booths', value: booths, unit: '' },
    { name: `documents recorded (backlog; + ${booths} heartbeats at come-back and every ${heartbeatIntervalMs / 1000} s after)`, value: recordedBacklog, unit: 'docs' },
    { name: `stand-in cap × docs per request (${cap} req/s × ${docsPerRequest}) = capacity`, value: capacity, unit: 'docs/s' },
    { name: 'ideal drain time (docs / capacity)', value: idealS, unit: 's' },
    { name: `  (requests needed at ${docsPerRequest} docs/request, partial last batches: ${minRequests.toLocaleString('en-US')} = ${(minRequests / cap).toFixed(0)} s at the cap)`, value: minRequests / cap / idealS, unit: '× ideal' },
    { name: 'measured drain time (come-back → every backlog doc stored)', value: drainS, unit: 's' },
    { name: 'drain time / ideal', value: drainS / idealS, unit: '×', target: { op: '<=', value: 1.3 } },
    { name: `time until every booth's heartbeat arrived (median ${(hbMedianMs / 1000).toFixed(1)} s; ${firstHeartbeat.size} of ${booths} booths)`, value: heartbeatsAllMs / 1000, unit: 's', target: { op: '<=', value: (2 * heartbeatIntervalMs) / 1000 } },
    { name: `peak _bulk requests/s at the stand-in, 1 s windows (all arrivals; cap ${cap})`, value: peakAll, unit: 'req/s' },
    { name: `peak accepted _bulk requests/s, 1 s windows by answer time (cap ${cap} in any 1 s)`, value: peakAccepted, unit: 'req/s' },
    { name: 'accepted requests/s over the drain (stand-in achieved rate)', value: accepted / (windowMs / 1000), unit: 'req/s' },
    { name: 'stored docs/s over the drain', value: backlogDocs / (windowMs / 1000), unit: 'docs/s' },
    { name: '429s answered (whole request, rate cap)', value: answered429, unit: '' },
    { name: 'stand-in process CPU during the drain (of one core; event loop busy)', value: ((standInCpu.user + standInCpu.system) / 1000 / windowMs) * 100, unit: `% (ELU ${(standInElu * 100).toFixed(0)} %)` },
    ...finished.map((f, i) => ({ name: `booth process ${i + 1} CPU, whole run incl. build (event loop busy during drain ${(f.eluDuringDrain * 100).toFixed(0)} %; peak RSS ${Math.round(f.maxRssMb)} MB)`, value: (f.cpuUserMs + f.cpuSystemMs) / 1000, unit: 's' })),
    { name: `lost: recorded − stored (backlog ${lostBacklog}, newest heartbeat per booth ${lastHeartbeatMissing}; still queued in the buffers 2 min after heartbeats stopped: ${leftQueued})`, value: lost, unit: 'docs', target: { op: '<=', value: 0 } },
    { name: `stored twice (stored ${storedTotal.toLocaleString('en-US')} docs, ${storedIds.size.toLocaleString('en-US')} distinct ids; ${unknown} not recorded by the sim)`, value: duplicates, unit: 'docs', target: { op: '<=', value: 0 } },
  ];
  console.log();
  printTable(results);
  process.exitCode = results.every(met) ? 0 : 1;
} catch (err) {
  console.error(err);
  process.exitCode = 2;
} finally {
  await standIn.close();
  cleanup();
}
