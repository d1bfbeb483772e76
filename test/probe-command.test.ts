// `booth-agent probe` (SPEC §3): one sample now, printed for a technician; exit 0 online, 1 degraded,
// 2 offline. A fake `ping` first on PATH answers for the gateway, so the result does not depend on
// the machine's own gateway.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { runCli } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { tempDir } from './support/tmp.ts';

function pathWithFakePing(t: TestContext): string {
  const dir = tempDir(t);
  fs.writeFileSync(
    path.join(dir, 'ping'),
    "#!/bin/sh\necho '3 packets transmitted, 3 received, 0% packet loss, time 400ms'\necho 'rtt min/avg/max/mdev = 1.000/1.500/2.000/0.400 ms'\n",
  );
  fs.chmodSync(path.join(dir, 'ping'), 0o755);
  return `${dir}:${process.env['PATH']}`;
}

async function server(t: TestContext): Promise<number> {
  const s = net.createServer((c) => c.on('error', () => {}));
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return (s.address() as net.AddressInfo).port;
}

test('probe: online (0), degraded when another target fails (1), offline when the upload host is unreachable (2)', { timeout: 30_000 }, async (t) => {
  const env = { PATH: pathWithFakePing(t) };
  const upload = await server(t);
  const dir = tempDir(t);

  const online = writeConfig(path.join(dir, 'a'), { uploads: { url: `http://127.0.0.1:${upload}/{booking_id}/{file}` } });
  const r0 = await runCli(['probe', '--config', online.file], { env });
  assert.equal(r0.code, 0, r0.stdout + r0.stderr);
  assert.match(r0.stdout, /^Network of booth FB-1042: ONLINE/);
  assert.match(r0.stdout, new RegExp(`upload +http://127\\.0\\.0\\.1:${upload} +ok +connect [\\d.]+ ms`));
  if (r0.stdout.includes('gateway')) assert.match(r0.stdout, /gateway .* ok +round trip 1\.5 ms, loss 0 %/);

  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const degraded = writeConfig(path.join(dir, 'b'), { uploads: { url: `http://127.0.0.1:${upload}/{booking_id}/{file}` }, network: { targets: [`127.0.0.1:${closed}`] } });
  const r1 = await runCli(['probe', '--config', degraded.file, '--json'], { env });
  assert.equal(r1.code, 1, r1.stdout + r1.stderr);
  const json = JSON.parse(r1.stdout) as { verdict: string; online: boolean; probes: { role: string; ok: boolean; error?: string }[] };
  assert.equal(json.verdict, 'degraded');
  assert.equal(json.online, true);
  assert.equal(json.probes.find((p) => p.role === 'target')?.error, `127.0.0.1:${closed} refused the connection (nothing listening on port ${closed})`);

  const offline = writeConfig(path.join(dir, 'c'), { uploads: { url: `http://127.0.0.1:${closed}/{booking_id}/{file}` } });
  const r2 = await runCli(['probe', '--config', offline.file], { env });
  assert.equal(r2.code, 2, r2.stdout + r2.stderr);
  assert.match(r2.stdout, /OFFLINE/);
  assert.match(r2.stdout, /upload .* FAILED +127\.0\.0\.1:\d+ refused the connection/);
});

test('probe with a bad config exits 78 naming the key', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir, { network: { targets: ['1.1.1.1:53', 'example.com'] } });
  const r = await runCli(['probe', '--config', cfg.file]);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /network\.targets\.1: expected host:port or an http\(s\) URL, got "example\.com"/);
});
