// Watching the photo folder: <watch_dir>/<booking>/<file>, one level of booking folders, files
// reported once they have stopped growing (chokidar's awaitWriteFinish). What it reports is only a
// hint — the reconciliation scan (reconcile.ts) checks the folder itself — and it can be started
// afresh when the folder was deleted and created again (a watcher keeps watching the old inode).
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from '../../log/logger.ts';

export interface PhotoWatcherOptions {
  watchDir: string;
  /** Lower-case extensions without the dot. */
  extensions: ReadonlySet<string>;
  /** The booking's "finished" marker file name. */
  marker: string;
  settleTimeMs: number;
}

/** Whether `name` in a booking folder is of interest: an image of a configured kind, or the marker. */
export function isCandidate(name: string, opts: Pick<PhotoWatcherOptions, 'extensions' | 'marker'>): boolean {
  return name === opts.marker || opts.extensions.has(path.extname(name).slice(1).toLowerCase());
}

export class PhotoWatcher {
  private watcher: FSWatcher | undefined;
  private readonly opts: PhotoWatcherOptions;
  private readonly onPath: (abs: string) => void;
  private readonly logger: Logger;

  constructor(opts: PhotoWatcherOptions, onPath: (abs: string) => void, logger: Logger) {
    this.opts = opts;
    this.onPath = onPath;
    this.logger = logger;
  }

  start(): void {
    const { watchDir, settleTimeMs } = this.opts;
    const watcher = chokidar.watch(watchDir, {
      depth: 1,
      ignoreInitial: false,
      followSymlinks: false,
      awaitWriteFinish: { stabilityThreshold: settleTimeMs, pollInterval: Math.min(250, settleTimeMs / 2) },
      // Only <watch_dir>/<booking>/<file>: an image of a configured kind, or the booking's marker.
      ignored: (p, stats) => {
        const rel = path.relative(watchDir, p);
        if (rel === '') return false;
        const depth = rel.split(path.sep).length;
        if (depth === 1) return stats ? !stats.isDirectory() : false;
        if (depth !== 2) return true;
        return !isCandidate(path.basename(p), this.opts);
      },
    });
    watcher.on('add', (p) => this.onPath(p));
    // An empty file that gets its content later; a file whose success is recorded is not sent again.
    watcher.on('change', (p) => this.onPath(p));
    watcher.on('error', (err) => {
      // A name the watcher garbled (not UTF-8: decoded longer than a name may be) fails its lstat;
      // the reconciliation scan lists such files by their bytes and records them.
      const garbled = (err as NodeJS.ErrnoException).code === 'ENAMETOOLONG';
      this.logger[garbled ? 'warn' : 'error'](garbled ? 'the folder watcher could not look at a file (its name is not UTF-8?); the reconciliation scan will' : 'watching the photo folder failed', { watch_dir: watchDir, error: err });
    });
    this.watcher = watcher;
  }

  /** Watches the folder afresh: the one there now, with every file in it reported again. */
  async restart(): Promise<void> {
    await this.close();
    this.start();
  }

  async close(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
  }
}
