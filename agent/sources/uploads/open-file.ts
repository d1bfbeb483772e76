// Which files may be uploaded, and opening one for an attempt without trusting its path. Whoever can
// write the watch folder can swap a photo for a link between two reads — during a Retry-After
// wait, say — and the agent can read files they cannot (its state, its secrets). So a file is
// checked when it is taken in (lstat), and every attempt opens the path once, without following a
// final symbolic link (O_NOFOLLOW; O_NONBLOCK so that a FIFO swapped in cannot hang the open),
// checks the opened descriptor (fstat) and streams only from that descriptor. A file is uploaded
// only when it is
//   - a regular file (not a link, FIFO, socket or device),
//   - on the watch folder's own file system,
//   - with a single name: a second hard link may be a file from anywhere on that file system,
//     and the booth's software writes each photo once,
//   - and, at an attempt, the very file (device and inode) checked when it was taken in.
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';

/** Why a file is not uploaded; also the `error.type` of its document (`file_<refusal>`). */
export type Refusal = 'symlink' | 'not_regular' | 'outside' | 'hard_link' | 'other_file_system' | 'replaced' | 'bad_name';

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** Each refusal: `brief`, as upload state and `status` keep it; `why`, for the log and the document. */
const REFUSALS: Record<Refusal, { brief: string; why: string }> = {
  symlink: { brief: 'a symbolic link', why: 'is a symbolic link' },
  not_regular: { brief: 'not a regular file', why: 'is not a regular file' },
  outside: { brief: 'outside the watch folder', why: 'is outside the watch folder' },
  hard_link: { brief: 'a hard link', why: 'has more than one name (a hard link): it may be a file from elsewhere' },
  other_file_system: { brief: 'on another file system', why: 'is on another file system than the watch folder' },
  replaced: { brief: 'replaced by another file', why: 'was replaced by another file since it was checked' },
  // Node names files by text: a name whose bytes are not UTF-8 cannot be opened, nor put in a URL, as it is.
  bad_name: { brief: 'a name that is not UTF-8', why: 'has a name (or booking folder name) that is not valid UTF-8' },
};

export class RefusedFile extends Error {
  override name = 'RefusedFile';
  readonly refusal: Refusal;
  constructor(file: string, refusal: Refusal) {
    super(`${file} ${REFUSALS[refusal].why}: not uploaded`);
    this.refusal = refusal;
  }

  /** Why, in a few words ("a symbolic link"). */
  get brief(): string {
    return REFUSALS[this.refusal].brief;
  }

  /** The document's `error.type`. */
  get type(): string {
    return `file_${this.refusal}`;
  }
}

/** What is wrong with a file's stats for an upload, or undefined when nothing is. */
export function refusalOf(st: fs.BigIntStats, watchDev: bigint, takenIn?: FileIdentity): Refusal | undefined {
  if (st.isSymbolicLink()) return 'symlink';
  if (!st.isFile()) return 'not_regular';
  if (st.dev !== watchDev) return 'other_file_system';
  if (st.nlink > 1n) return 'hard_link';
  if (takenIn && (st.dev !== takenIn.dev || st.ino !== takenIn.ino)) return 'replaced';
  return undefined;
}

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

/**
 * Opens `abs` for one attempt: the descriptor of the file taken in, or a RefusedFile (file system
 * errors such as ENOENT pass through).
 */
export async function openTakenIn(abs: string, name: string, takenIn: FileIdentity, watchDev: bigint): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await fsp.open(abs, OPEN_FLAGS);
  } catch (err) {
    // O_NOFOLLOW on a final symbolic link.
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new RefusedFile(name, 'symlink');
    throw err;
  }
  try {
    const refusal = refusalOf(await handle.stat({ bigint: true }), watchDev, takenIn);
    if (refusal) throw new RefusedFile(name, refusal);
    return handle;
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}
