// Extra requests in flight beside the sink's loop, while a backlog drains against a cluster that
// keeps up. Each lane sends full batches one after another until there is none left or the
// sink says stop (a failure, a push-back, shutdown); a failed request's documents are handed back
// at once — the loop sends them again, with the backoff and the pace that only the loop keeps.
import type { LeasedDoc } from '../../buffer/buffer.ts';

export interface LaneHooks {
  /** How many lanes may run beside the loop (opensearch.concurrency - 1). */
  extra: number;
  /** A full batch to send, or undefined: nothing worth a request of its own. */
  lease: () => LeasedDoc[] | undefined;
  /** Sends a batch and settles it; every seq settled leaves `outstanding`. Throws when the request failed. */
  send: (batch: LeasedDoc[], outstanding: Set<number>) => Promise<void>;
  /** Hands back documents leased and not settled. */
  release: (seqs: number[]) => void;
  /** Whether lanes may send another request (the cluster keeps up, no stop). */
  keepGoing: () => boolean;
  /** A lane's request (or its settling) failed; its documents are handed back already. */
  failed: (err: unknown) => void;
}

export class Lanes {
  private readonly hooks: LaneHooks;
  private readonly running = new Set<Promise<void>>();

  constructor(hooks: LaneHooks) {
    this.hooks = hooks;
  }

  /** Starts lanes until `extra` run (each ends by itself once it has nothing to do). */
  fill(): void {
    while (this.running.size < this.hooks.extra) {
      const lane: Promise<void> = this.run()
        .catch((err: unknown) => this.hooks.failed(err))
        .finally(() => this.running.delete(lane));
      this.running.add(lane);
    }
  }

  /** Resolves once every lane has ended. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async run(): Promise<void> {
    // The loop's own request goes first: a lane starts from the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.hooks.keepGoing()) {
      const batch = this.hooks.lease();
      if (!batch) return;
      const outstanding = new Set(batch.map((d) => d.seq));
      try {
        await this.hooks.send(batch, outstanding);
      } finally {
        if (outstanding.size > 0) this.hooks.release([...outstanding]);
      }
    }
  }
}
