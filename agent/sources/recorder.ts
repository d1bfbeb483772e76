// How sources record documents: stamps the common fields and writes them to the buffer.
// When the disk is full, plain documents are held in memory (bounded) and written when space
// returns, so a full disk never stops uploads and never crashes the agent; documents beyond the
// bound are counted as dropped, never silently lost.
import type { DocumentBuffer, StateWriter } from '../buffer/buffer.ts';
import { DiskFullError } from '../buffer/errors.ts';
import type { AgentAction, BoothDocument, Dataset } from '../../shared/documents/schema.ts';
import { makeDocument, type BoothIdentity } from '../../shared/documents/stamp.ts';
import type { Logger } from '../log/logger.ts';

export interface RecorderHealth {
  diskFull: boolean;
  /** Documents waiting in memory for disk space. */
  held: number;
  /** Documents lost because the disk stayed full past the in-memory bound. */
  heldDropped: number;
}

const HOLD_MAX_DOCS = 5000;

export class Recorder {
  private held: BoothDocument[] = [];
  private heldDropped = 0;
  private heldLostByDataset: Partial<Record<Dataset, number>> = {};
  private diskFull = false;
  private readonly buffer: DocumentBuffer;
  private readonly booth: BoothIdentity;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(buffer: DocumentBuffer, booth: BoothIdentity, logger: Logger, now: () => number = Date.now) {
    this.buffer = buffer;
    this.booth = booth;
    this.logger = logger;
    this.now = now;
  }

  /** A new document of `dataset`, stamped with the common fields. */
  make(dataset: Dataset, fields: Record<string, unknown>): BoothDocument {
    return makeDocument(dataset, fields, this.booth, this.now);
  }

  /** An agent event (SPEC §6 booth.agent). */
  event(action: AgentAction, message: string, fields: Record<string, unknown> = {}): BoothDocument {
    const event = { ...(fields['event'] as object | undefined), action };
    return this.make('booth.agent', { ...fields, message, event });
  }

  /**
   * Records documents durably. With `change` (a state change that must commit with them) a full
   * disk throws DiskFullError to the caller, who keeps its own state and tries again later.
   * Without it, documents are held in memory until the disk has room again.
   */
  record(docs: BoothDocument[], change?: (tx: StateWriter) => void): void {
    this.flushHeld();
    try {
      if (this.held.length > 0) throw new DiskFullError(this.buffer.file, 'still full');
      this.buffer.record(docs, change);
    } catch (err) {
      if (!(err instanceof DiskFullError)) throw err;
      this.enterDiskFull();
      if (change) throw err;
      this.hold(docs);
    }
  }

  /** Writes held documents once the disk has room; called on a timer by the daemon. */
  flushHeld(): void {
    if (this.held.length === 0 && this.heldDropped === 0) return;
    try {
      const lost = this.heldDropped;
      const docs = lost > 0 ? [...this.held, this.lostEvent(lost)] : this.held;
      this.buffer.record(docs, (tx) => {
        if (lost > 0) tx.countDropped(this.heldLostByDataset);
      });
      this.held = [];
      this.heldDropped = 0;
      this.heldLostByDataset = {};
      if (this.diskFull) this.logger.info('disk has room again; held documents recorded', { documents: docs.length, lost });
      this.diskFull = false;
    } catch (err) {
      if (!(err instanceof DiskFullError)) throw err;
    }
  }

  health(): RecorderHealth {
    return { diskFull: this.diskFull, held: this.held.length, heldDropped: this.heldDropped };
  }

  private hold(docs: BoothDocument[]): void {
    this.held.push(...docs);
    const excess = this.held.length - HOLD_MAX_DOCS;
    if (excess > 0) {
      for (const lost of this.held.splice(0, excess)) {
        const d = lost.event.dataset;
        this.heldLostByDataset[d] = (this.heldLostByDataset[d] ?? 0) + 1;
      }
      this.heldDropped += excess;
    }
  }

  private enterDiskFull(): void {
    if (this.diskFull) return;
    this.diskFull = true;
    this.logger.error('disk full: holding new documents in memory until there is room', { file: this.buffer.file, hold_max: HOLD_MAX_DOCS });
  }

  private lostEvent(lost: number): BoothDocument {
    return this.event('buffer_dropped', `Dropped ${lost} documents while the disk was full`, {
      event: { reason: 'disk_full' },
      buffer: { dropped: lost },
    });
  }
}
