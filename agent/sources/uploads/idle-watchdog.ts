// Ends an upload attempt once nothing has moved for the idle timeout — counting as movement not
// only what Node sees (body bytes taken by the socket, the answer arriving) but also the kernel's
// send queue draining (send-queue.ts): a server reading 1.5 MB at 200 kB/s from behind megabytes
// of socket buffers makes slow, honest progress that a socket idle timer alone takes for a stall.
import type { Socket } from 'node:net';
import { sendQueueBytes } from './send-queue.ts';

export class IdleWatchdog {
  private last = performance.now();
  private queue: number | undefined;
  private socket: Socket | undefined;
  private checking = false;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;
  private readonly idleMs: number;
  private readonly tickMs: number;

  /** `onIdle` runs once, with an ETIMEDOUT error, when nothing moved for `idleMs`. */
  constructor(idleMs: number, onIdle: (err: Error) => void) {
    this.idleMs = idleMs;
    this.tickMs = Math.max(50, Math.min(1000, idleMs / 4));
    this.timer = setInterval(() => void this.tick(onIdle), this.tickMs);
    this.timer.unref();
  }

  /** The connection to watch the send queue of. */
  watch(socket: Socket): void {
    this.socket = socket;
  }

  progress(): void {
    this.last = performance.now();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async tick(onIdle: (err: Error) => void): Promise<void> {
    const quiet = performance.now() - this.last;
    // Only when Node saw nothing for a while is the kernel asked (a read of /proc/net/tcp).
    if (quiet < this.tickMs || this.checking) return;
    if (this.socket) {
      this.checking = true;
      const queue = await sendQueueBytes(this.socket).finally(() => (this.checking = false));
      if (queue !== undefined && this.queue !== undefined && queue < this.queue) this.progress();
      this.queue = queue;
    }
    if (this.stopped) return;
    if (performance.now() - this.last >= this.idleMs) {
      this.stop();
      onIdle(Object.assign(new Error(`nothing sent or received for ${Math.round(this.idleMs)} ms`), { code: 'ETIMEDOUT' }));
    }
  }
}
