// How fast the OpenSearch stand-in (test/support/opensearch.ts) takes _bulk create requests of
// typical booth documents: the drain benchmark can only show the agent's speed if the stand-in is
// clearly faster. Run: node bench/stand-in-speed.ts
import http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { BOOTH, sampleDoc } from '../test/support/documents.ts';
import { OpenSearchStandIn } from '../test/support/opensearch.ts';

const gzip = promisify(zlib.gzip);
const standIn = await OpenSearchStandIn.start({ seed: 1 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const perRequest = 1000;
const requests = 100;
const bodies: Buffer[] = [];
for (let r = 0; r < requests; r++) {
  let text = '';
  for (let i = 0; i < perRequest; i++) {
    const d = sampleDoc('booth.upload', r * perRequest + i);
    text += `${JSON.stringify({ create: { _index: `booth-upload-${d['@timestamp'].slice(0, 4)}.${d['@timestamp'].slice(5, 7)}`, _id: d.event.id } })}\n${JSON.stringify(d)}\n`;
  }
  bodies.push(await gzip(text, { level: 3 }));
}
const url = new URL('/_bulk?filter_path=took,errors,items.*.status,items.*.error.type,items.*.error.reason', standIn.url);
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (const body of bodies) {
  await new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(`${Math.round((requests * perRequest) / seconds)} docs/s, ${(((cpu.user + cpu.system) / 1e3) / (requests * perRequest) * 1000).toFixed(1)} µs CPU per doc; stored ${standIn.count()} (${BOOTH.id})`);
agent.destroy();
await standIn.close();
