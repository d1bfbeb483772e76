// System commands of the network source run as child processes with a hard timeout
// (agent/sources/command.ts): fake `ping`s first on PATH stand in for the real one — one that
// answers like iputils, one like BusyBox, one that hangs for a minute, and none at all.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { pingGateway } from '../agent/sources/network/gateway.ts';
import { wifiSsid } from '../agent/sources/network/wifi.ts';
import { tempDir } from './support/tmp.ts';

/** A folder first on PATH holding `ping` with this shell body; PATH is restored after the test. */
function fakePing(t: TestContext, body: string | undefined): void {
  const dir = tempDir(t);
  if (body !== undefined) {
    fs.writeFileSync(path.join(dir, 'ping'), `#!/bin/sh\n${body}\n`);
    fs.chmodSync(path.join(dir, 'ping'), 0o755);
  }
  const saved = process.env['PATH'];
  process.env['PATH'] = body === undefined ? dir : `${dir}:${saved}`;
  t.after(() => {
    process.env['PATH'] = saved;
  });
}

const IPUTILS = `cat <<'OUT'
PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.
64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=2.10 ms
64 bytes from 10.0.0.1: icmp_seq=3 ttl=64 time=2.50 ms

--- 10.0.0.1 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 404ms
rtt min/avg/max/mdev = 2.100/2.300/2.500/0.200 ms
OUT`;

const BUSYBOX = `cat <<'OUT'
PING 10.0.0.1 (10.0.0.1): 56 data bytes
64 bytes from 10.0.0.1: seq=0 ttl=64 time=31.337 ms

--- 10.0.0.1 ping statistics ---
3 packets transmitted, 3 packets received, 0% packet loss
round-trip min/avg/max = 30.001/31.337/33.100 ms
OUT`;

test('gateway ping: round trip and loss from iputils and BusyBox output', async (t) => {
  fakePing(t, IPUTILS);
  assert.deepEqual(await pingGateway('10.0.0.1', 2000), { role: 'gateway', target: '10.0.0.1', ok: true, loss_pct: 33.3, rtt_ms: 2.3 });
  fakePing(t, BUSYBOX);
  assert.deepEqual(await pingGateway('10.0.0.1', 2000), { role: 'gateway', target: '10.0.0.1', ok: true, loss_pct: 0, rtt_ms: 31.337 });
});

test('gateway ping: no answers is not ok, in words', async (t) => {
  fakePing(t, `echo '3 packets transmitted, 0 received, 100% packet loss, time 2040ms'; exit 1`);
  assert.deepEqual(await pingGateway('10.0.0.1', 2000), { role: 'gateway', target: '10.0.0.1', ok: false, loss_pct: 100, error: 'the gateway 10.0.0.1 did not answer 3 pings' });
});

test('a command that hangs for a minute is killed at its timeout, with its children, and the event loop never stalls', async (t) => {
  // The fake starts a grandchild that would outlive a plain kill of the shell.
  fakePing(t, `(sleep 61.25) & sleep 60.25`);
  let worstLag = 0;
  let last = performance.now();
  const lag = setInterval(() => {
    const now = performance.now();
    worstLag = Math.max(worstLag, now - last - 10);
    last = now;
  }, 10);
  const started = performance.now();
  const result = await pingGateway('10.0.0.1', 500);
  const elapsed = performance.now() - started;
  clearInterval(lag);
  assert.equal(result.ok, false);
  assert.equal(result.error, 'ping gave no answer within 0.5 s (killed)');
  assert.ok(elapsed >= 450 && elapsed < 1500, `took ${elapsed.toFixed(0)} ms`);
  assert.ok(worstLag < 100, `event loop lag ${worstLag.toFixed(0)} ms`);
  // The whole process group is gone: nothing is left sleeping.
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(sleepers(), [], 'no sleep left behind');
});

/**
 * Processes running this test's `sleep 60.25` or `sleep 61.25` (read from /proc: no ps needed); the
 * odd durations keep other test files' hanging fakes (`sleep 60`), which may run meanwhile, out of it.
 */
function sleepers(): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('sleep') && (args[1] === '60.25' || args[1] === '61.25')) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('a missing command is said so', async (t) => {
  fakePing(t, undefined);
  const result = await pingGateway('10.0.0.1', 1000);
  assert.deepEqual(result, { role: 'gateway', target: '10.0.0.1', ok: false, error: 'ping is not installed' });
});

/** Fake commands first on PATH (name → shell body); a name mapped to undefined is absent from PATH. */
function fakeCommands(t: TestContext, commands: Record<string, string>): void {
  const dir = tempDir(t);
  for (const [name, body] of Object.entries(commands)) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    fs.chmodSync(path.join(dir, name), 0o755);
  }
  const saved = process.env['PATH'];
  // Only the fakes and the shell's own tools: no real iw or nmcli can answer.
  process.env['PATH'] = `${dir}:/usr/bin:/bin`;
  t.after(() => {
    process.env['PATH'] = saved;
  });
}

test('Wi-Fi name from iw, from nmcli where iw is missing (with its escaped colons), none when neither knows', async (t) => {
  fakeCommands(t, { iw: `cat <<'OUT'\nConnected to aa:bb:cc:dd:ee:ff (on wlan0)\n\tSSID: Booth WiFi 5G\n\tfreq: 5180\n\tsignal: -61 dBm\nOUT` });
  assert.equal(await wifiSsid('wlan0', 1000), 'Booth WiFi 5G');
});

test('Wi-Fi name from nmcli when iw is not installed', async (t) => {
  // PATH holds only the fakes, /usr/bin and /bin; iw usually lives in /usr/sbin.
  const hasRealIw = ['/usr/bin/iw', '/bin/iw'].some((p) => fs.existsSync(p));
  fakeCommands(t, { nmcli: `printf 'no:Neighbours\\nyes:Venue\\\\:Guest\\n'` });
  if (hasRealIw) return; // this machine's own iw would answer first
  assert.equal(await wifiSsid('wlan0', 1000), 'Venue:Guest');
});

test('Wi-Fi name: a hanging iw gives no name, within the timeout', async (t) => {
  fakeCommands(t, { iw: 'sleep 60' });
  const started = performance.now();
  assert.equal(await wifiSsid('wlan0', 300), undefined);
  assert.ok(performance.now() - started < 1000);
});
