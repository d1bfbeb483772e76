// One upload attempt of one file: streamed from disk (never whole in memory) with Content-Length,
// timed truthfully. The duration runs from the moment the first body byte leaves for the socket
// until the response arrives — not until the last byte was handed to the kernel, which would
// overstate the speed by the size of the socket buffers. got's own retry is off: the scheduler
// decides (SPEC §5).
import fs from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import got, { type Got } from 'got';
import type { TlsMaterial } from '../../config/tls.ts';

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
}

/** Passes the body through and counts it; the first-byte time is set from got's upload progress. */
class BodyClock extends Transform {
  firstByteAt: number | undefined;
  firstByteWall: number | undefined;
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

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
      // For big uploads the idle (socket) timeout is what matters; a total timeout would cut a
      // slow but healthy 4 GB video.
      timeout: { lookup: settings.connectTimeoutMs, connect: settings.connectTimeoutMs, secureConnect: settings.connectTimeoutMs, socket: settings.idleTimeoutMs },
      https: {
        rejectUnauthorized: tls.verify,
        ...(tls.ca ? { certificateAuthority: tls.ca } : {}),
        ...(tls.cert ? { certificate: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
      },
    });
  }

  async attempt(url: string, file: string, size: number, signal?: AbortSignal): Promise<AttemptResult> {
    const clock = new BodyClock();
    // 256 KiB reads: a quarter of the per-chunk work of the 64 KiB default on a fast link, still small in memory.
    const source = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    source.on('error', (err) => clock.destroy(err));
    source.pipe(clock);
    let respondedAt: number | undefined;
    const started = performance.now();
    const startedWall = Date.now();
    const request = this.client(url, {
      method: this.settings.method,
      body: clock,
      headers: { ...this.settings.headers, 'content-type': 'application/octet-stream', 'content-length': String(size) },
      ...(signal ? { signal } : {}),
    });
    // The response is timed on Node's own request object, as soon as its headers are parsed: got's
    // 'response' event comes after got's own processing, which the first time (code not yet
    // compiled) adds milliseconds — 5% on a 2 MB file at 20 MB/s.
    request.on('request', (req: import('node:http').ClientRequest) => req.once('response', () => (respondedAt ??= performance.now())));
    request.on('response', () => (respondedAt ??= performance.now()));
    // The clock starts when got writes the first body byte to the socket — not when the file
    // was first read, which happens before the connection is even open.
    request.on('uploadProgress', (p: { transferred: number }) => {
      if (p.transferred > 0 && clock.firstByteAt === undefined) {
        clock.firstByteAt = performance.now();
        clock.firstByteWall = Date.now();
      }
    });
    const result = (base: Partial<AttemptResult>): AttemptResult => {
      const end = respondedAt ?? performance.now();
      const from = clock.firstByteAt ?? started;
      const durationMs = Math.max(0.001, end - from);
      return {
        ok: false,
        bytes: clock.bytes,
        durationMs,
        speedMbS: clock.bytes / 1e6 / (durationMs / 1000),
        timings: {},
        startedAt: clock.firstByteWall ?? startedWall,
        endedAt: (clock.firstByteWall ?? startedWall) + durationMs,
        ...base,
      };
    };
    try {
      const response = await request;
      const p = response.timings?.phases ?? {};

      const retryAfter = response.headers['retry-after'];
      return result({
        ok: response.statusCode >= 200 && response.statusCode < 300,
        status: response.statusCode,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        timings: { dns_ms: p.dns, tcp_ms: p.tcp, tls_ms: p.tls, first_byte_ms: p.firstByte, total_ms: p.total },
      });
    } catch (err) {
      source.destroy();
      const e = err as { code?: string; name?: string; message?: string; timings?: { phases?: Record<string, number | undefined> } };
      const p = e.timings?.phases ?? {};
      return result({
        error: { type: e.code ?? e.name ?? 'Error', message: describeUploadError(e, file) },
        timings: { dns_ms: p['dns'], tcp_ms: p['tcp'], tls_ms: p['tls'] },
      });
    }
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
