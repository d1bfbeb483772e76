// Runs the real `booth-agent` command in a child process, on the Node that runs the tests.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../agent/cli/booth-agent.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...opts, env: { ...process.env, NO_COLOR: '1', ...opts.env } });
}

/** Runs booth-agent to the end; `input` is written to its stdin. */
export function runCli(args: string[], opts: SpawnOptions & { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = startCli(args, opts);
  return collect(child, opts.input, opts.timeoutMs ?? 30_000);
}

export function collect(child: ChildProcess, input?: string | Buffer, timeoutMs = 30_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (child.stdin) {
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`booth-agent did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Resolves when `child` writes a line to stderr or stdout that matches `re`. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no output matching ${re} within ${timeoutMs} ms; got: ${seen}`)), timeoutMs);
    const onData = (d: Buffer | string) => {
      seen += d.toString();
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

/**
 * Starts `booth-agent run`, waits until it has started (its "started" log line on stderr, or
 * `started` when the log goes elsewhere), sends `signal` and returns how it ended.
 */
export async function runAgentUntilStarted(
  configFile: string,
  opts: { signal?: NodeJS.Signals; started?: (child: ChildProcess) => Promise<unknown> } = {},
): Promise<CliResult & { stopMs: number; pid: number | undefined }> {
  const child = startCli(['run', '--config', configFile]);
  const done = collect(child);
  await (opts.started ? opts.started(child) : waitForOutput(child, /"message":"started"/));
  const stopAt = performance.now();
  child.kill(opts.signal ?? 'SIGTERM');
  const result = await done;
  return { ...result, stopMs: performance.now() - stopAt, pid: child.pid };
}
