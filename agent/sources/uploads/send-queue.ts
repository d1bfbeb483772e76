// How many bytes of a TCP connection still sit in the kernel's send queue (sent, not yet
// acknowledged by the peer, or not yet sent). Once Node has handed the last bytes of a body to the
// kernel, nothing more happens in Node while a slow server reads on — megabytes on a fast link's
// socket buffers — and only this queue, draining, shows that the upload still moves. Linux reports it
// per connection in /proc/net/tcp{,6} (tx_queue); elsewhere it is unknown and only Node's own
// progress counts.
import fsp from 'node:fs/promises';
import type { Socket } from 'node:net';

/** The connection's send queue in bytes, or undefined when it cannot be told. */
export async function sendQueueBytes(socket: Socket): Promise<number | undefined> {
  const { localPort, remotePort, remoteFamily } = socket;
  if (localPort === undefined || remotePort === undefined) return undefined;
  let table: string;
  try {
    table = await fsp.readFile(remoteFamily === 'IPv6' ? '/proc/net/tcp6' : '/proc/net/tcp', 'latin1');
  } catch {
    return undefined;
  }
  return txQueueOf(table, localPort, remotePort);
}

/**
 * The tx_queue of the line whose local and remote ports are these. Lines look like
 * `  3: 0100007F:A2C4 0100007F:1F90 01 0016E360:00000000 …` — addresses and ports in hex.
 */
export function txQueueOf(table: string, localPort: number, remotePort: number): number | undefined {
  const local = `:${localPort.toString(16).toUpperCase().padStart(4, '0')} `;
  const remote = `:${remotePort.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !`${fields[1]} `.endsWith(local) || !`${fields[2]} `.endsWith(remote)) continue;
    const tx = Number.parseInt(fields[4]!.split(':')[0]!, 16);
    return Number.isFinite(tx) ? tx : undefined;
  }
  return undefined;
}
