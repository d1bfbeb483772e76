// The Wi-Fi network's name: not in /proc or /sys, so it is asked of `iw` (or `nmcli` where iw is
// missing), each a child process with a hard timeout — a hung one costs this sample its SSID only.
import { runCommand } from '../command.ts';

export async function wifiSsid(iface: string, timeoutMs: number): Promise<string | undefined> {
  const iw = await runCommand('iw', ['dev', iface, 'link'], timeoutMs);
  const fromIw = /^\s*SSID:\s*(.+)$/m.exec(iw.stdout)?.[1]?.trim();
  if (fromIw) return fromIw;
  if (iw.ok || !iw.error?.endsWith('is not installed')) return undefined;
  const nm = await runCommand('nmcli', ['-t', '-f', 'active,ssid', 'dev', 'wifi'], timeoutMs);
  // Terse mode escapes ':' in values as '\:'.
  const line = nm.stdout.split('\n').find((l) => l.startsWith('yes:'));
  return line ? line.slice(4).replace(/\\:/g, ':') || undefined : undefined;
}
