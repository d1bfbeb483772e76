// What both loopback stand-ins (OpenSearch, upload receiver) need to shut down cleanly: the open
// sockets and the pending delays (latency faults, pacing), so close() never leaves a test waiting.
import type { Socket } from 'node:net';

export class Connections {
  readonly sockets = new Set<Socket>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  track(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
  }

  /** A delay that close() ends early. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  /** Ends every delay and destroys every socket. */
  closeAll(): void {
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
  }
}

/** Drops a connection the way a crashing server or a middlebox does: a TCP reset where possible. */
export function resetSocket(sock: Socket): void {
  try {
    sock.resetAndDestroy();
  } catch {
    sock.destroy();
  }
}
