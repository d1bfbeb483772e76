// <state_dir>/agent.pid: which process runs the agent on this state directory, and since when.
// Two daemons on one buffer would upload every photo twice, so a second one refuses to start; a
// file left by a process that died (power cut, SIGKILL) is recognised as stale — by its process id
// and that process's start time, so a recycled pid does not pass for the agent — and taken over.
// `status` reads it to say "running (pid 812, since 09:14)" or "not running".
import fs from 'node:fs';
import path from 'node:path';

export interface PidRecord {
  pid: number;
  /** Wall clock (ms) when the agent started. */
  startedAt: number;
  version: string;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), to tell a recycled pid. */
  procStart?: number;
}

export const PID_FILE = 'agent.pid';

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
  readonly other: PidRecord;
  constructor(file: string, other: PidRecord) {
    super(`another booth-agent (pid ${other.pid}, started ${new Date(other.startedAt).toISOString()}) runs on this state directory (${file}); stop it first`);
    this.other = other;
  }
}

/**
 * Claims the state directory for this process; `release` gives it back (on a clean stop). The file
 * appears whole (written aside, then hard-linked into place, which fails if one is there), so a
 * second agent starting at the same moment reads the first one's pid, never a half-written file.
 * A stale claim is taken over by renaming it to our draft — only if it is still the one judged
 * stale — so its disk space becomes ours: on a full disk (the agent must start there too) the
 * draft needs no new space.
 */
export function claimPidFile(stateDir: string, version: string, now = Date.now()): { release: () => void } {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, PID_FILE);
  const mine: PidRecord = { pid: process.pid, startedAt: now, version, ...optional(procStartTime(process.pid)) };
  const draft = `${file}.${process.pid}.new`;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const other = readPidFile(stateDir);
      if (other && isRunning(other)) throw new AlreadyRunningError(file, other);
      if (fs.existsSync(file) && !takeOverStale(file, draft, other)) continue;
      fs.writeFileSync(draft, `${JSON.stringify(mine)}\n`, { mode: 0o644 });
      try {
        fs.linkSync(draft, file);
        return {
          release: () => {
            // Only our own file: a stale-file takeover by another process must not be undone.
            if (readPidFile(stateDir)?.pid === process.pid) fs.rmSync(file, { force: true });
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  } finally {
    fs.rmSync(draft, { force: true });
  }
  const winner = readPidFile(stateDir);
  if (winner) throw new AlreadyRunningError(file, winner);
  throw new Error(`could not create ${file}: it keeps reappearing`);
}

/**
 * Renames a stale claim to `draft` (ours to overwrite). What was renamed is read again: if it is a
 * live agent's claim made meanwhile, not the one judged stale, it is put back and false returned.
 */
function takeOverStale(file: string, draft: string, judged: PidRecord | undefined): boolean {
  try {
    fs.renameSync(file, draft);
  } catch {
    return false; // gone already: someone else took it; look again
  }
  let moved: PidRecord | undefined;
  try {
    moved = JSON.parse(fs.readFileSync(draft, 'utf8')) as PidRecord;
  } catch {
    moved = undefined;
  }
  const same = moved?.pid === judged?.pid && moved?.startedAt === judged?.startedAt;
  if (same || !moved || !isRunning(moved)) return true;
  try {
    fs.linkSync(draft, file); // a live agent's claim: back where it was
  } catch {
    // Someone claimed the place meanwhile; they will find each other.
  }
  fs.rmSync(draft, { force: true });
  return false;
}

export function readPidFile(stateDir: string): PidRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(stateDir, PID_FILE), 'utf8')) as PidRecord;
    return typeof r.pid === 'number' && typeof r.startedAt === 'number' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process the record names is alive — and is the same process, not a recycled pid. */
export function isRunning(r: PidRecord): boolean {
  try {
    process.kill(r.pid, 0);
  } catch (err) {
    // EPERM: alive, but another user's.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = procStartTime(r.pid);
  return r.procStart === undefined || start === undefined || start === r.procStart;
}

function procStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

function optional(procStart: number | undefined): { procStart?: number } {
  return procStart === undefined ? {} : { procStart };
}
