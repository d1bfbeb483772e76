// One upload attempt of one file: streamed from disk (never whole in memory) with Content-Length,
// timed truthfully. The duration runs from the moment the first body byte leaves for the socket
// until the response arrives — not until the last byte was handed to the kernel, which would
// overstate the speed by the size of the socket buffers. got's own retry is off: the scheduler
// decides (SPEC §5).
import type { FileHandle } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import got, { type Got, type Request } from 'got';
import { gotHttpsOptions, type TlsMaterial } from '../../config/tls.ts';
import { IdleWatchdog } from './idle-watchdog.ts';
import { RefusedFile } from './open-file.ts';

export interface UploadClientSettings {
  method: 'PUT' | 'POST';
  /** Extra headers, those read from header_files included. */
  headers: Record<string, string>;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  tls: TlsMaterial;
}

export interface AttemptResult {
  /** 2xx: the server has the file. */
  ok: boolean;
  status?: number;
  retryAfter?: string | undefined;
  bytes: number;
  /** First body byte sent → response received, monotonic ms. */
  durationMs: number;
  speedMbS: number;
  timings: { dns_ms?: number; tcp_ms?: number; tls_ms?: number; first_byte_ms?: number; total_ms?: number };
  /** Wall clock (ms) of the first body byte and of the response, for booking durations across restarts. */
  startedAt: number;
  endedAt: number;
  error?: { type: string; message: string };
  /** Set when the file was refused at opening (a link or another file swapped in): looked at afresh, not sent. */
  refused?: RefusedFile;
  /** The IP address the connection went to, once it was connected (also on a failure after that). */
  serverAddress?: string;
}

/** What one attempt sends: `size` bytes of the file that `open` opens (afresh for every attempt). */
export interface UploadBody {
  /** The file's name in messages: `<booking>/<file>`. */
  name: string;
  size: number;
  open(): Promise<FileHandle>;
}

type Head = { statusCode: number; headers: Record<string, string | string[] | undefined> };

/** Reads of 256 KiB: a quarter of the per-chunk work of 64 KiB on a fast link; four in flight keep disk and socket busy. */
const CHUNK = 256 * 1024;
const BUFFERS = 4;
/**
 * Of an answer's body the agent reads at most this much, for at most this long after its status
 * line: the status is the verdict, and a server that floods or trickles its body (1 byte a second
 * behind a Content-Length of 100 kB) must not hold an upload slot or the agent's memory.
 */
const MAX_ANSWER_BYTES = 64 * 1024;
const ANSWER_BODY_GRACE_MS = 5000;

export class UploadClient {
  private readonly client: Got;
  private readonly settings: UploadClientSettings;

  constructor(settings: UploadClientSettings) {
    this.settings = settings;
    const { tls } = settings;
    this.client = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      // For big uploads the idle timeout is what matters (IdleWatchdog: no body byte taken or
      // acknowledged, no answer); a total timeout would cut a slow but healthy 4 GB video. Once
      // the body is delivered the answer's head must come within idle_timeout — a head trickled a
      // byte at a time is no progress.
      timeout: { lookup: settings.connectTimeoutMs, connect: settings.connectTimeoutMs, secureConnect: settings.connectTimeoutMs },
      https: gotHttpsOptions(tls),
    });
  }

  async attempt(url: string, body: UploadBody, signal?: AbortSignal): Promise<AttemptResult> {
    const { name: file, size } = body;
    const started = performance.now();
    const startedWall = Date.now();
    let firstByteAt: number | undefined;
    let firstByteWall: number | undefined;
    let respondedAt: number | undefined;
    // Bytes handed to the request, and those the socket has reported gone. With an answer the
    // first count is the body sent (over TLS the report of the last bytes can come after the
    // server's answer to them); without one, only what left counts.
    let written = 0;
    let left = 0;
    let request: Request | undefined;
    let serverAddress: string | undefined;
    const watchdog = new IdleWatchdog(this.settings.idleTimeoutMs, (err) => request?.destroy(err));
    const progress = {
      written: (bytes: number) => (written += bytes),
      left: (bytes: number) => {
        // The clock starts when the socket has taken the first body bytes — not when the file
        // was first read, which happens before the connection is even open.
        if (firstByteAt === undefined) {
          firstByteAt = performance.now();
          firstByteWall = Date.now();
        }
        left += bytes;
        watchdog.progress();
      },
    };
    const result = (base: Partial<AttemptResult>): AttemptResult => {
      const end = respondedAt ?? performance.now();
      const durationMs = Math.max(0.001, end - (firstByteAt ?? started));
      const startedAt = firstByteWall ?? startedWall;
      const sent = respondedAt !== undefined ? written : left;
      return {
        ok: false,
        bytes: sent,
        durationMs,
        speedMbS: sent / 1e6 / (durationMs / 1000),
        timings: {},
        startedAt,
        endedAt: startedAt + durationMs,
        ...(serverAddress ? { serverAddress } : {}),
        ...base,
      };
    };

    let handle: FileHandle;
    try {
      handle = await body.open();
    } catch (err) {
      watchdog.stop();
      if (err instanceof RefusedFile) return result({ error: { type: err.type, message: err.message }, refused: err });
      const e = err as NodeJS.ErrnoException;
      return result({ error: { type: e.code ?? 'Error', message: describeUploadError(e, file) } });
    }
    request = this.client.stream(url, {
      method: this.settings.method,
      headers: { ...this.settings.headers, 'content-type': 'application/octet-stream', 'content-length': String(size) },
      ...(signal ? { signal } : {}),
    });
    // The response is timed on Node's own request object, as soon as its headers are parsed: got's
    // 'response' event comes after got's own processing, which the first time (code not yet
    // compiled) adds milliseconds — 5% on a 2 MB file at 20 MB/s.
    let head: Head | undefined;
    request.on('request', (req: ClientRequest) => {
      req.once('response', (res: Head) => {
        respondedAt ??= performance.now();
        head = { statusCode: res.statusCode, headers: res.headers };
      });
      req.once('socket', (socket: Socket) => {
        watchdog.watch(socket);
        // A reused keep-alive socket is connected already; a new one says so ('connect' also on TLS sockets, before the handshake).
        const note = () => (serverAddress ??= socket.remoteAddress);
        if (socket.remoteAddress) note();
        else socket.once('connect', note);
      });
    });
    const response = new Promise<Head>((resolve, reject) => {
      request!.once('response', (res: Head) => {
        respondedAt ??= performance.now();
        watchdog.stop(); // the answer's body has its own bounds (below)
        resolve(res);
      });
      // got may fail on the body (a lying Content-Encoding) before its own 'response': the head Node parsed stands.
      request!.once('error', (err) => (head ? resolve(head) : reject(err)));
    });
    // The answer's body is not worth reading, but it is read for the connection to be reused — up
    // to MAX_ANSWER_BYTES and ANSWER_BODY_GRACE_MS; past either the request is dropped, and the
    // status it gave stands.
    let answerBytes = 0;
    request.on('data', (chunk: Buffer) => {
      answerBytes += chunk.length;
      if (answerBytes > MAX_ANSWER_BYTES) request.destroy();
    });
    let grace: NodeJS.Timeout | undefined;
    response.then(
      () => (grace = setTimeout(() => request.destroy(), Math.min(ANSWER_BODY_GRACE_MS, this.settings.idleTimeoutMs))),
      () => {},
    );
    request.once('close', () => {
      clearTimeout(grace);
      watchdog.stop();
    });
    // Once the status has come, a body that breaks (cut short, bad chunking, a lying
    // Content-Encoding) only ends the answer: the status stands — a 200 is the server having the
    // file, and sending it again would duplicate it.
    const finished = new Promise<void>((resolve, reject) => {
      request!.once('end', resolve);
      request!.once('error', (err) => (respondedAt !== undefined ? resolve() : reject(err)));
      request!.once('close', resolve);
    });
    finished.catch(() => {});
    try {
      const sending = sendFile(handle, file, size, request, progress);
      sending.catch(() => {});
      // A server may answer (a 4xx, say) before it has read the whole body: the answer ends the attempt.
      await Promise.race([sending.then(() => finished), response.then(() => finished)]);
      const res = await response;
      if (!request.writableFinished) request.destroy();
      const p = request.timings?.phases ?? {};
      const retryAfter = res.headers['retry-after'];
      return result({
        ok: res.statusCode >= 200 && res.statusCode < 300,
        status: res.statusCode,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        timings: { dns_ms: p.dns, tcp_ms: p.tcp, tls_ms: p.tls, first_byte_ms: p.firstByte, total_ms: p.total },
      });
    } catch (err) {
      request.destroy();
      const e = err as { code?: string; name?: string; message?: string; timings?: { phases?: Record<string, number | undefined> } };
      const p = e.timings?.phases ?? request.timings?.phases ?? {};
      return result({
        error: { type: e.code ?? e.name ?? 'Error', message: describeUploadError(e, file) },
        timings: { dns_ms: p['dns'], tcp_ms: p['tcp'], tls_ms: p['tls'] },
      });
    } finally {
      await handle.close().catch(() => {});
    }
  }
}

/**
 * Streams exactly `size` bytes of the file into the request through a few fixed buffers, each
 * reused only once the socket has taken it (the write callback). Fresh buffers per chunk would be
 * freed only when V8 next collects — at 200 MB/s that let the agent's RSS grow by ~60 MB.
 */
async function sendFile(handle: FileHandle, file: string, size: number, request: Request, progress: { written: (bytes: number) => void; left: (bytes: number) => void }): Promise<void> {
  const free = Array.from({ length: BUFFERS }, () => Buffer.allocUnsafeSlow(CHUNK));
  let wake: (() => void) | undefined;
  let failed: Error | undefined;
  const stop = (err: Error) => {
    failed ??= err;
    wake?.();
  };
  request.once('error', stop);
  request.once('close', () => stop(new Error('the upload request was closed')));
  try {
    let offset = 0;
    while (offset < size) {
      while (free.length === 0 && !failed) await new Promise<void>((r) => (wake = r));
      if (failed) return; // the request's own error is what the caller reports
      const buffer = free.pop()!;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK, size - offset), offset);
      if (bytesRead === 0) throw Object.assign(new Error(`${file} became shorter while it was uploaded (${offset} of ${size} bytes)`), { code: 'ESHRUNK' });
      offset += bytesRead;
      progress.written(bytesRead);
      request.write(bytesRead === CHUNK ? buffer : buffer.subarray(0, bytesRead), (err) => {
        if (!err) progress.left(bytesRead);
        free.push(buffer);
        wake?.();
      });
    }
    request.end();
  } catch (err) {
    request.destroy(err as Error);
    throw err;
  }
}

function describeUploadError(e: { code?: string; name?: string; message?: string }, file: string): string {
  switch (e.code) {
    case 'ENOENT':
      return `${file} disappeared before it was uploaded`;
    case 'EACCES':
      return `${file} cannot be read (permission denied)`;
    case 'ECONNREFUSED':
      return 'the upload server refused the connection';
    case 'ECONNRESET':
      return 'the upload server closed the connection mid-upload';
    case 'ETIMEDOUT':
      return `no progress for too long (${e.message ?? 'timeout'})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the upload server name cannot be resolved';
    default:
      return e.message ?? String(e);
  }
}
