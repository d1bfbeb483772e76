// The reconciliation scan: the agent's own check that the watcher is doing its job. A file watcher
// misses things — a folder deleted and created again (the watcher keeps the old inode and goes
// quiet), names it garbles, a file that grows with long pauses — and a missed photo is a photo
// never uploaded, silently. So every `uploads.reconcile_interval` the folder itself is listed
// (asynchronously: no blocking call on the event loop, however many files) and compared with what
// the upload source has in hand. A file present, of a configured kind, settled for longer than the
// watcher needs, and unknown to the source is taken in and counted (`uploads.missed_by_watcher`,
// in the heartbeat and `status`); a watch folder that vanished, or was created anew, is said so
// (log and `booth.agent` event) and watched again.
import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { DocumentBuffer } from '../../buffer/buffer.ts';
import { STATE_KEYS } from '../../buffer/state-keys.ts';
import type { Logger } from '../../log/logger.ts';
import type { Recorder } from '../recorder.ts';
import { mtimeMsOf } from './uploader.ts';
import { isCandidate, type PhotoWatcher, type PhotoWatcherOptions } from './watcher.ts';

export interface ReconcileTarget {
  /**
   * Whether the source has this file, as `stat` says it is now, in hand (queued, in flight,
   * waiting to retry, uploaded or refused) — for a booking's marker: whether it knows it finished.
   */
  hasInHand(rel: string, stat: fs.BigIntStats): boolean;
  /** Takes in a file, as a watcher event does. */
  takeIn(abs: string): void;
  /** Records a file whose name is not UTF-8 (`rel`: a printable stand-in) as not uploaded. */
  refuseName(rel: string, stat: fs.BigIntStats): void;
}

export interface ReconcileOptions extends PhotoWatcherOptions {
  intervalMs: number;
}

/** Beyond settle_time, how long a settled file may go unreported before it counts as missed. */
const WATCHER_GRACE_MS = 10_000;

type Identity = { dev: bigint; ino: bigint } | 'gone';

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<string[]> | undefined;
  private identity: Identity | undefined;
  private readonly opts: ReconcileOptions;
  private readonly target: ReconcileTarget;
  private readonly watcher: PhotoWatcher;
  private readonly recorder: Recorder;
  private readonly buffer: DocumentBuffer;
  private readonly logger: Logger;

  constructor(opts: ReconcileOptions, target: ReconcileTarget, watcher: PhotoWatcher, recorder: Recorder, buffer: DocumentBuffer, logger: Logger) {
    this.opts = opts;
    this.target = target;
    this.watcher = watcher;
    this.recorder = recorder;
    this.buffer = buffer;
    this.logger = logger;
  }

  start(): void {
    void this.folderIdentity().then((id) => (this.identity ??= id));
    this.timer = setInterval(() => void this.scan(), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.scanning;
  }

  /** One scan (one at a time); resolves with the files it took in that the watcher had missed. */
  scan(now = Date.now()): Promise<string[]> {
    this.scanning ??= this.scanOnce(now)
      .catch((err: unknown) => {
        this.logger.error('the reconciliation scan of the photo folder failed', { watch_dir: this.opts.watchDir, error: err });
        return [];
      })
      .finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scanOnce(now: number): Promise<string[]> {
    if (!(await this.checkFolder())) return [];
    const missed: string[] = [];
    // Listed as bytes: a name that is not UTF-8 reaches the watcher garbled (U+FFFD) and names no
    // file — it would be lost without a trace; here it is seen, and recorded as not uploaded.
    const root = Buffer.from(this.opts.watchDir);
    for (const booking of await readDir(root)) {
      if (!booking.isDirectory()) continue;
      const dirBytes = Buffer.concat([root, SEP, booking.name]);
      for (const entry of await readDir(dirBytes)) {
        const bookingName = textOf(booking.name);
        const name = textOf(entry.name);
        if (!entry.isFile() || !isCandidate(name.text, this.opts)) continue;
        const rel = path.join(bookingName.label, name.label);
        const stat = await fsp.lstat(Buffer.concat([dirBytes, SEP, entry.name]), { bigint: true }).catch(() => undefined);
        if (!stat?.isFile()) continue;
        // Still settling, or just settled: the watcher's to report.
        if (now - mtimeMsOf(stat) < this.opts.settleTimeMs + WATCHER_GRACE_MS) continue;
        if (!bookingName.faithful || !name.faithful) {
          if (name.text !== this.opts.marker && !this.target.hasInHand(rel, stat)) this.target.refuseName(rel, stat);
          continue;
        }
        if (this.target.hasInHand(rel, stat)) continue;
        const abs = path.join(this.opts.watchDir, rel);
        // A missed marker finishes its booking; only photos count as missed.
        if (name.text !== this.opts.marker) missed.push(rel);
        this.target.takeIn(abs);
      }
    }
    if (missed.length > 0) this.countMissed(missed);
    return missed;
  }

  /**
   * Whether the folder is there to scan. A folder that is gone is said once; one that is back, or
   * was replaced by a new one (another inode), is said and watched afresh.
   */
  private async checkFolder(): Promise<boolean> {
    const now = await this.folderIdentity();
    const before = this.identity;
    this.identity = now;
    if (now === 'gone') {
      if (before !== 'gone') this.event('watch_folder_lost', `The photo folder ${this.opts.watchDir} is gone: nothing new can be uploaded until it is back`);
      return false;
    }
    if (before !== undefined && (before === 'gone' || before.dev !== now.dev || before.ino !== now.ino)) {
      this.event('watch_folder_restored', `The photo folder ${this.opts.watchDir} was created anew; watching it again`);
      await this.watcher.restart();
    }
    return true;
  }

  private async folderIdentity(): Promise<Identity> {
    try {
      const st = await fsp.stat(this.opts.watchDir, { bigint: true });
      return st.isDirectory() ? { dev: st.dev, ino: st.ino } : 'gone';
    } catch {
      return 'gone';
    }
  }

  private countMissed(missed: string[]): void {
    try {
      const total = (this.buffer.getState<number>(STATE_KEYS.uploadsMissedByWatcher) ?? 0) + missed.length;
      this.buffer.setState(STATE_KEYS.uploadsMissedByWatcher, total);
    } catch {
      // A full disk: counted with the next one.
    }
    this.logger.warn('the folder watcher missed files; the reconciliation scan took them in', { files: missed.slice(0, 20), count: missed.length });
  }

  private event(action: 'watch_folder_lost' | 'watch_folder_restored', message: string): void {
    this.logger.warn(message, { watch_dir: this.opts.watchDir });
    this.recorder.record([this.recorder.event(action, message)]);
  }
}

const SEP = Buffer.from(path.sep);

async function readDir(dir: Buffer) {
  try {
    return await fsp.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch {
    return [];
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A name as text (lossy where it is not UTF-8), and its label: the text, or for such a name a unique stand-in with its bytes in hex. */
function textOf(raw: Buffer): { text: string; label: string; faithful: boolean } {
  try {
    const text = STRICT_UTF8.decode(raw);
    return { text, label: text, faithful: true };
  } catch {
    return { text: raw.toString('utf8'), label: `[bytes ${raw.toString('hex')}] ${raw.toString('utf8')}`, faithful: false };
  }
}
