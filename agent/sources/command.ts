// The agent's children: system commands (ping, iw, nmcli) for the facts /proc and /sys do not give,
// and the host-facts child. Each runs as a child process — never on the event loop — in its own
// process group with a hard timeout (or until the agent stops), after which the whole group is
// killed: a hung `nmcli` costs one sample its Wi-Fi name, never the agent a stall.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface CommandResult {
  ok: boolean;
  stdout: string;
  /** In words: not installed, timed out, exit status and stderr. */
  error?: string;
  /** Killed at the timeout. */
  timedOut?: boolean;
  /** What the command wrote on stderr (up to 64 KB), when it failed. */
  stderr?: string;
}

const MAX_OUTPUT = 64 * 1024;

/** `signal` (the agent stopping) kills the command's process group as the timeout does. Never rejects: every failure is a result. */
export function runCommand(command: string, args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (r: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const onAbort = () => {
      killGroup(child.pid);
      finish({ ok: false, stdout, error: `${command} was stopped (killed)` });
    };
    if (signal?.aborted) return resolve({ ok: false, stdout, error: `${command} was not started: stopping` });
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, LC_ALL: 'C' } });
    } catch (err) {
      // spawn itself can throw (no memory for a process, too many open files): a failed run like any other.
      return resolve({ ok: false, stdout, error: `${command} could not be started: ${(err as Error).message}` });
    }
    const timer = setTimeout(() => {
      killGroup(child.pid);
      finish({ ok: false, stdout, error: `${command} gave no answer within ${timeoutMs / 1000} s (killed)`, timedOut: true });
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(0, MAX_OUTPUT)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(0, MAX_OUTPUT)));
    child.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, stdout, error: err.code === 'ENOENT' ? `${command} is not installed` : `${command} could not run: ${err.message}` }),
    );
    child.on('close', (code, killedBy) => {
      if (code === 0) finish({ ok: true, stdout });
      else finish({ ok: false, stdout, stderr, error: `${command} ${killedBy ? `was killed by ${killedBy}` : `exited with status ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}` });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
