// Readings from /proc and /sys (agent/sources/network/readings.ts), through an injected fake tree
// shaped like the kernel's: a wired link with its negotiated speed, Wi-Fi with its signal, a
// cellular modem, and the default route with the lowest metric.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { KernelReadings } from '../agent/sources/network/readings.ts';
import { tempDir } from './support/tmp.ts';

function write(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

function iface(sys: string, name: string, o: { speed?: string; mtu?: string; operstate?: string; wireless?: boolean; uevent?: string; device?: boolean; stats?: Record<string, number> }): void {
  const dir = `class/net/${name}`;
  write(sys, `${dir}/speed`, `${o.speed ?? '-1'}\n`);
  write(sys, `${dir}/mtu`, `${o.mtu ?? '1500'}\n`);
  write(sys, `${dir}/operstate`, `${o.operstate ?? 'up'}\n`);
  write(sys, `${dir}/uevent`, o.uevent ?? `INTERFACE=${name}\n`);
  if (o.wireless) fs.mkdirSync(path.join(sys, dir, 'wireless'), { recursive: true });
  if (o.device ?? true) fs.mkdirSync(path.join(sys, dir, 'device'), { recursive: true });
  for (const [k, v] of Object.entries(o.stats ?? {})) write(sys, `${dir}/statistics/${k}`, `${v}\n`);
}

const ROUTE_HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';

test('kernel readings: default route by metric, interface kinds, link speed, counters, Wi-Fi signal', (t) => {
  const root = tempDir(t);
  const proc = path.join(root, 'proc');
  const sys = path.join(root, 'sys');
  write(
    proc,
    'net/route',
    ROUTE_HEADER +
      'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n' +
      'eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' +
      'eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n' +
      'wwan0\t00000000\t00000000\t0002\t0\t0\t50\t00000000\t0\t0\t0\n', // not up: ignored
  );
  write(proc, 'net/wireless', 'Inter-| sta-|   Quality        |   Discarded packets\n face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n wlan0: 0000   49.  -61.  -256        0      0      0      0    140        0\n');
  iface(sys, 'eth0', { speed: '1000', stats: { rx_bytes: 1000, tx_bytes: 500, rx_errors: 2, tx_errors: 1, rx_dropped: 4, tx_dropped: 0 } });
  iface(sys, 'wlan0', { wireless: true, mtu: '1500' });
  iface(sys, 'wwan0', { uevent: 'DEVTYPE=wwan\nINTERFACE=wwan0\n', operstate: 'down' });
  iface(sys, 'docker0', { device: false });
  const r = new KernelReadings({ proc, sys });

  assert.deepEqual(r.defaultRoute(), { iface: 'eth0', gateway: '10.0.0.1' });
  assert.deepEqual(r.interfaceFacts('eth0'), { name: 'eth0', type: 'wired', speed_mbps: 1000, mtu: 1500, operstate: 'up' });
  assert.deepEqual(r.interfaceFacts('wlan0'), { name: 'wlan0', type: 'wireless', mtu: 1500, operstate: 'up' }, 'no link speed for Wi-Fi (-1)');
  assert.equal(r.interfaceFacts('wwan0').type, 'cellular');
  assert.equal(r.interfaceFacts('docker0').type, 'virtual');
  assert.deepEqual(r.counters('eth0'), { rx_bytes: 1000, tx_bytes: 500, errors: 3, dropped: 4 });
  assert.equal(r.counters('wlan0'), undefined, 'no statistics: no counters, not zeros');
  assert.deepEqual(r.signal('wlan0'), { signal_dbm: -61, quality: 70 });
  assert.equal(r.signal('eth0'), undefined);

  // The Wi-Fi route becomes the default once the cable is pulled.
  write(proc, 'net/route', ROUTE_HEADER + 'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n');
  assert.deepEqual(r.defaultRoute(), { iface: 'wlan0', gateway: '192.168.1.1' });
  // No default route at all: offline, not an error.
  write(proc, 'net/route', ROUTE_HEADER);
  assert.equal(r.defaultRoute(), undefined);
  assert.equal(new KernelReadings({ proc: path.join(root, 'nothing'), sys }).defaultRoute(), undefined);
});

test('kernel readings: the link duplex from /sys (absent when the kernel refuses it), the resolvers of resolv.conf and behind the systemd-resolved stub', (t) => {
  const root = tempDir(t);
  const sys = path.join(root, 'sys');
  const etc = path.join(root, 'etc');
  const run = path.join(root, 'run');
  iface(sys, 'eth0', { speed: '100' });
  write(sys, 'class/net/eth0/duplex', 'half\n');
  iface(sys, 'eth1', {});
  write(sys, 'class/net/eth1/duplex', 'unknown\n');
  iface(sys, 'wlan0', { wireless: true }); // no duplex file: read fails, as for a link that is down
  const r = new KernelReadings({ proc: path.join(root, 'proc'), sys, etc, run });
  assert.deepEqual(r.interfaceFacts('eth0'), { name: 'eth0', type: 'wired', speed_mbps: 100, mtu: 1500, operstate: 'up', duplex: 'half' });
  assert.equal(r.interfaceFacts('eth1').duplex, 'unknown');
  assert.equal(r.interfaceFacts('wlan0').duplex, undefined);

  assert.equal(r.dnsServers(), undefined, 'no resolv.conf: no servers, not an empty list');
  write(etc, 'resolv.conf', '# generated\nsearch venue.lan\nnameserver 192.168.1.1\nnameserver  fe80::1%eth0 # router\nnameserver 192.168.1.1\n;nameserver 9.9.9.9\noptions edns0\n');
  assert.deepEqual(r.dnsServers(), ['192.168.1.1', 'fe80::1%eth0']);
  // systemd-resolved: /etc/resolv.conf names its stub; the upstream servers are in its own file.
  write(etc, 'resolv.conf', 'nameserver 127.0.0.53\noptions edns0 trust-ad\n');
  assert.deepEqual(r.dnsServers(), ['127.0.0.53'], 'the stub, while resolved\'s own file is missing');
  write(run, 'systemd/resolve/resolv.conf', 'nameserver 10.0.0.1\nnameserver 1.1.1.1\n');
  assert.deepEqual(r.dnsServers(), ['10.0.0.1', '1.1.1.1']);
});
