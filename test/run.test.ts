// `booth-agent run`: starts, records started/stopped, stays silent on stdout, stops cleanly on
// SIGTERM and SIGINT well within 10 s.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { DocumentBuffer } from '../agent/buffer/buffer.ts';
import { validateDocument } from '../shared/documents/validate.ts';
import { collect, runAgentUntilStarted, runCli, startCli, waitForOutput } from './support/cli.ts';
import { writeConfig } from './support/config.ts';
import { BOOTH } from './support/documents.ts';
import { tempDir } from './support/tmp.ts';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`run stops cleanly on ${signal}: exit 0 within 10 s, started and stopped recorded, nothing on stdout`, async (t) => {
    const dir = tempDir(t);
    const cfg = writeConfig(dir, { booth: { region: 'us-east', labels: { model: 'mirror-2' } } });
    const result = await runAgentUntilStarted(cfg.file, { signal });
    const stopMs = result.stopMs;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(stopMs < 10_000, `stopped in ${Math.round(stopMs)} ms`);
    assert.equal(result.stdout, '');
    for (const line of result.stderr.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `log lines are JSON: ${line}`);

    assert.equal((fs.statSync(cfg.stateDir).mode & 0o777).toString(8), '700', 'the state dir is private');
    const buf = DocumentBuffer.open({ stateDir: cfg.stateDir, maxSizeBytes: 1e9, maxAgeMs: 1e12, booth: BOOTH });
    t.after(() => buf.close());
    const all = [...buf.documents()].map((e) => JSON.parse(e.body));
    const docs = all.filter((d) => d.event.dataset === 'booth.agent');
    assert.deepEqual(docs.map((d) => d.event.action), ['started', 'connectivity_lost', 'stopped'], 'the upload host of the test config (port 9) is unreachable: offline from the first sample');
    const heartbeats = all.filter((d) => d.event.dataset === 'booth.heartbeat');
    assert.equal(heartbeats.length, 1, 'a heartbeat at start (only the newest is kept)');
    assert.equal(heartbeats[0].agent.boot_id, docs[0].agent.boot_id);
    assert.ok(heartbeats[0].host.memory.total_bytes > 0 && heartbeats[0].host.disk.free_bytes > 0);
    for (const d of all) {
      const v = validateDocument(d);
      assert.ok(v.ok, v.ok ? '' : v.reason);
      assert.equal(d.booth.id, 'FB-1042');
      assert.equal(d.booth.region, 'us-east');
      assert.deepEqual(d.booth.labels, { model: 'mirror-2' });
    }
    assert.equal(docs[2].event.reason, signal);
    assert.ok(docs[2].event.duration_ms > 0);
  });
}

test('run writes its log to log.file when configured, and nothing to stderr', async (t) => {
  const dir = tempDir(t);
  const logFile = `${dir}/agent.log`;
  const cfg = writeConfig(dir, { log: { file: logFile, level: 'debug' } });
  const result = await runAgentUntilStarted(cfg.file, {
    started: async () => {
      const deadline = Date.now() + 15_000;
      while (!(fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('"started"'))) {
        assert.ok(Date.now() < deadline, 'the log file gets the started line');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  });
  assert.equal(result.code, 0);
  assert.equal(result.stderr, '');
  assert.match(fs.readFileSync(logFile, 'utf8'), /"message":"stopped"/);
});

test('version prints the agent, Node 24 and SQLite versions', async () => {
  const result = await runCli(['version']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^booth-agent \d+\.\d+\.\d+\nnode v24\.\d+\.\d+ \(linux-(x64|arm64)\)\nsqlite 3\.\d+\.\d+\n$/);
});

test('an unknown command or option is a usage error (64) with help', async () => {
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.match(unknown.stderr, /check-config/);
  const badOption = await runCli(['run', '--colour']);
  assert.equal(badOption.code, 64);
  assert.match(badOption.stderr, /--colour/);
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: booth-agent <command>/);
});

test('demo runs the pipeline end to end: uploads, the slowdown, status, what reached OpenSearch — and leaves no process, port or temporary folder behind', { timeout: 120_000 }, async () => {
  const os = await import('node:os');
  const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('booth-agent-demo-')));
  const result = await runCli(['demo', '--quick'], { timeoutMs: 110_000 });
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  for (const id of ['4708', '4709', '4710']) assert.match(out, new RegExp(`Saved 3 images \\(3\\.0 MB\\) of booking ${id} in .* \\(\\d+\\.\\d MB/s\\)`));
  assert.match(out, /Saved 3 images \(1\.5 MB\) of booking 4711 in .* \(0\.\d MB\/s\)/);
  assert.match(out, /speed_degraded +Upload speed fell to 0\.\d+ MB\/s in booking 4711, below half of this booth's usual \d+\.\d MB\/s/);
  assert.match(out, /booth FB-1042 \(US\) · .* UTC +WARNING/, 'the status screen');
  assert.match(out, /Agent +running, pid \d+/);
  assert.match(out, /booth-upload-\d{4}\.\d{2} +12 documents/);
  assert.match(out, /booth-booking-\d{4}\.\d{2} +4 documents/);
  assert.match(out, /exit code 0/);
  await assertNothingLeft(out);
  const after = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('booth-agent-demo-') && !before.has(f));
  assert.deepEqual(after, []);
});

test('demo interrupted with Ctrl-C (SIGINT) midway cleans up too', { timeout: 60_000 }, async () => {
  const child = startCli(['demo', '--quick']);
  const done = collect(child, undefined, 50_000);
  await waitForOutput(child, /Saved 3 images .* of booking 4708/, 30_000);
  child.kill('SIGINT');
  const result = await done;
  assert.equal(result.code, 130);
  await assertNothingLeft(result.stdout);
});

/** The demo's temporary folder, its agent process and the stand-ins' ports are all gone. */
async function assertNothingLeft(out: string): Promise<void> {
  const net = await import('node:net');
  const dir = /everything under (\S+),/.exec(out)![1]!;
  assert.equal(fs.existsSync(dir), false, `${dir} removed`);
  const leftovers = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
  assert.deepEqual(leftovers, [], 'no process of the demo runs on');
  for (const port of [...out.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    assert.ok(refused, `port ${port} is closed`);
  }
}

