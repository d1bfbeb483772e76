// The upload endpoint stand-in for tests (SPEC §5 "Uploads"), on loopback: accepts
// `PUT|POST /booths/{booth_id}/bookings/{booking_id}/images/{file}` with the raw photo as the body,
// streams the body through sha256 (never whole in memory), answers 201 and records every request.
//
// It can play a slow link: with `rateBytesPerSec` set, the body is read at that rate with real
// backpressure, so a sender that times its upload from its first body byte to the response sees
// the receiver's rate. It can misbehave on purpose (`faults`, drawn from a seeded PRNG): 500s,
// 503 + Retry-After, 429, resets half way through a body, 404 for unknown bookings, 401 without a
// required header, latency, and refusing connections altogether.
//
// How the pacing works, and what it cannot do:
// - The body is pulled with async iteration, so nothing is read from the socket while the pacer
//   sleeps: the IncomingMessage buffer fills (highWaterMark 16 KiB), Node stops reading the socket,
//   the kernel receive buffer fills and TCP flow control closes the window on the sender.
// - Bytes are taken in slices of at most 16 KiB from a token bucket on the monotonic clock
//   (performance.now()). The bucket starts empty at the first body byte, so taking B bytes lasts
//   B / rate (the last slice is released at most a timer tick late, ~1 ms); `receiverSeconds`
//   = endedAt − startedAt records exactly that. The bucket holds at most 0.25 s worth (and at
//   least 64 KiB), so a stalled event loop is caught up without losing rate, and a sender that
//   pauses cannot later burst more than that.
// - Node cannot shrink SO_RCVBUF on a server socket, so the kernel still lets data through ahead
//   of the pacer: the receiver's socket buffer (tcp_rmem, 128 KiB to start; autotuning does not grow
//   it much while the application reads slowly) plus the sender's send buffer (tcp_wmem, which on
//   loopback autotunes up to 4 MiB) and Node's own buffers (~16–64 KiB). Measured here on Linux
//   loopback (tcp_wmem max 4 MiB): a plain Node client's request 'finish' (last write handed to
//   the kernel) comes when the receiver still has 1.9–4.2 MiB to take — all of a 2 MB file, about
//   half of an 8 MB one — so a sender that stops its clock when its writes are flushed, rather
//   than at the response, sees several times the set rate for files of a few MB. Time uploads
//   from the first body byte to the response: measured that way the sender sees the set rate
//   within ~1% (the receiver's own receiverSeconds is within ~0.05%).
import { createHash, type Hash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { SeededStreams } from './random.ts';
import { Connections, resetSocket } from './connections.ts';
import { answerHostile, hostileAnswerFor, type HostileAnswer, type HostileFault } from './hostile.ts';

// ---------------------------------------------------------------------------------------------
// Public types

export interface UploadReceiverTls {
  key: string | Buffer;
  cert: string | Buffer;
}

export interface UploadReceiverOptions {
  /** Read bodies at this many bytes per second (unset or 0: as fast as they come). */
  rateBytesPerSec?: number;
  /** Seed of the PRNG behind the fault ratios; default 1. */
  seed?: number;
  /** Serve HTTPS with this key and certificate. */
  tls?: UploadReceiverTls;
  /** Initial faults (same as setting `receiver.faults`). */
  faults?: UploadFaults;
}

/** Settable at any time (`receiver.faults.x = …` or `receiver.faults = {…}`); ratios are per-request probabilities in [0, 1]. */
export interface UploadFaults {
  /** Answer 500 after reading the whole body. */
  status500Ratio?: number;
  /** Answer 503 (with Retry-After when `retryAfterSeconds` is set) after reading the whole body. */
  status503Ratio?: number;
  /** Answer 429 (with Retry-After when `retryAfterSeconds` is set) after reading the whole body. */
  status429Ratio?: number;
  /** Seconds put in the Retry-After header of 503s and 429s. */
  retryAfterSeconds?: number;
  /** Reset the connection (RST) after reading about half of the body; the request gets no answer. */
  resetMidBodyRatio?: number;
  /** Bookings the server does not know: answered 404 at once; the body is then read and discarded. */
  rejectBookings?: Set<string>;
  /** Delay before answering (after the body for normal answers). */
  latencyMs?: number;
  /** While true the port is closed (connections are refused) and open connections are reset. */
  down?: boolean;
  /** Uploads without this header (value compared exactly, name case-insensitive) get 401 at once. */
  requireHeader?: { name: string; value: string };
  /** Every upload answered so once its body is read (see hostile.ts), or as a script picks per upload; a 2xx one counts as stored. */
  hostile?: HostileFault;
}

export type UploadFault = 'reset-mid-body' | 'status500' | 'status503' | 'status429' | 'rejected-booking' | 'unauthorized' | 'down' | 'client-aborted' | `hostile-${HostileAnswer['kind']}`;

export interface UploadRecord {
  /** Arrival of the request head, Date.now(). */
  at: number;
  method: string;
  /** The request path as it came, percent-encoding and all (without a query). */
  path: string;
  /** Decoded path segments. */
  booth: string;
  booking: string;
  file: string;
  /** Status answered; 0 while in progress or when the request got no answer (reset, down, client gone). */
  status: number;
  /** Body bytes read (so far). */
  bytes: number;
  /** sha256 (hex) of the body bytes read; '' until the body has been read (or reading stopped). */
  sha256: string;
  /** The Content-Length header, null when absent (chunked). */
  contentLength: number | null;
  /** Epoch ms (monotonic-derived, sub-ms) of the first body byte arriving; null before (or without) a body. */
  startedAt: number | null;
  /** Epoch ms of the last body byte taken (after pacing); null until then. */
  endedAt: number | null;
  /** endedAt − startedAt in seconds; null until the body has been read. */
  receiverSeconds: number | null;
  /** `rateBytesPerSec` in effect when the body started (null: unpaced). */
  rateBytesPerSec: number | null;
  fault?: UploadFault;
  headers: http.IncomingHttpHeaders;
}

export interface StoredUpload {
  bytes: number;
  sha256: string;
  /** Successful (2xx) uploads of this `booking/file`. */
  count: number;
}

// ---------------------------------------------------------------------------------------------
// Constants and small helpers

const SLICE_BYTES = 16 * 1024;
const BURST_SECONDS = 0.25;
const MIN_BURST_BYTES = 64 * 1024;
/** Where a reset-mid-body fault cuts a body sent without Content-Length. */
const RESET_UNKNOWN_LENGTH_AT = 64 * 1024;
const JSON_TYPE = 'application/json; charset=utf-8';

const nowEpoch = (): number => performance.timeOrigin + performance.now();


/** Token bucket on performance.now(); empty at the start, so n bytes take n / rate seconds. */
class Pacer {
  private tokens = 0;
  private last = performance.now();
  private paced = false;

  /** Milliseconds to wait before `n` bytes may be taken at `rate`; 0 when they were taken. */
  take(n: number, rate: number | undefined): number {
    const now = performance.now();
    if (!rate || rate <= 0) {
      this.paced = false;
      this.last = now;
      return 0;
    }
    if (!this.paced) {
      // (Re)starting to pace: the bucket starts empty now.
      this.paced = true;
      this.tokens = 0;
      this.last = now;
    }
    const cap = Math.max(MIN_BURST_BYTES, n, rate * BURST_SECONDS);
    this.tokens = Math.min(cap, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    return ((n - this.tokens) / rate) * 1000;
  }
}

interface Decisions {
  reset: boolean;
  status: 201 | 500 | 503 | 429;
  fault?: UploadFault;
}

// ---------------------------------------------------------------------------------------------

export class UploadReceiver {
  readonly port: number;
  /** `http(s)://127.0.0.1:PORT` */
  readonly url: string;
  /** `${url}/booths/{booth_id}/bookings/{booking_id}/images/{file}` */
  readonly urlTemplate: string;
  /** Bytes per second at which bodies are read; settable at any time (takes effect on the next slice). */
  rateBytesPerSec: number | undefined;
  /** `GET /` and `HEAD /` requests answered. */
  probes = 0;
  /** Connection attempts refused while down (only those that got through before the port closed). */
  refused = 0;

  private readonly server: http.Server;
  private readonly seed: number;
  private readonly random: SeededStreams;
  private readonly records: UploadRecord[] = [];
  private readonly store = new Map<string, StoredUpload>();
  private readonly connections = new Connections();
  /** The upload being read or answered on each connection. */
  private readonly active = new Map<Socket, UploadRecord>();
  private readonly waiters = new Set<() => void>();
  private faultState: UploadFaults = {};
  private faultProxy: UploadFaults;
  private listening = true;
  private closed = false;

  private constructor(server: http.Server, port: number, opts: UploadReceiverOptions) {
    this.server = server;
    this.port = port;
    this.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.urlTemplate = `${this.url}/booths/{booth_id}/bookings/{booking_id}/images/{file}`;
    this.rateBytesPerSec = opts.rateBytesPerSec;
    this.seed = opts.seed ?? 1;
    this.random = new SeededStreams(this.seed);
    this.faultProxy = this.proxy(this.faultState);
    if (opts.faults) this.faults = opts.faults;
  }

  static async start(opts: UploadReceiverOptions = {}): Promise<UploadReceiver> {
    let self: UploadReceiver | undefined;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (!self) return void res.destroy();
      self.onRequest(req, res).catch(() => {
        if (!res.headersSent && !res.destroyed) {
          res.statusCode = 500;
          res.end();
        }
      });
    };
    // A small highWaterMark keeps Node's own read-ahead of a paused body small (see the top comment).
    const serverOpts = { highWaterMark: SLICE_BYTES, keepAliveTimeout: 30_000, requestTimeout: 0 };
    const server = opts.tls ? https.createServer({ ...serverOpts, key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(serverOpts, handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const receiver = new UploadReceiver(server, port, opts);
    self = receiver;
    server.on('connection', (sock: Socket) => {
      if (receiver.closed || receiver.faultState.down) {
        receiver.refused++;
        resetSocket(sock);
        return;
      }
      receiver.connections.track(sock);
      sock.on('error', () => {});
    });
    server.on('tlsClientError', () => {});
    server.on('clientError', (_err, sock: Socket) => sock.destroy());
    // Re-listening on the same port after `down` could in theory find it taken; keep the process alive.
    server.on('error', () => {});
    return receiver;
  }

  // ----- faults

  /** The live fault settings; assigning a property or a whole object takes effect at once. */
  get faults(): UploadFaults {
    return this.faultProxy;
  }

  set faults(value: UploadFaults) {
    this.faultState = { ...value };
    this.faultProxy = this.proxy(this.faultState);
    this.applyDown();
  }

  private proxy(target: UploadFaults): UploadFaults {
    return new Proxy(target, {
      set: (t, prop, value) => {
        Reflect.set(t, prop, value);
        if (prop === 'down' && t === this.faultState) this.applyDown();
        return true;
      },
      deleteProperty: (t, prop) => {
        Reflect.deleteProperty(t, prop);
        if (prop === 'down' && t === this.faultState) this.applyDown();
        return true;
      },
    });
  }

  /** Closes the listening socket while down (connections are refused: ECONNREFUSED) and opens it again after. */
  private applyDown(): void {
    if (this.closed) return;
    const down = this.faultState.down === true;
    if (down && this.listening) {
      this.listening = false;
      // server.close() closes the listening descriptor synchronously; the callback (all
      // connections gone) is not awaited.
      this.server.close();
      for (const [, rec] of this.active) if (rec.status === 0) rec.fault ??= 'down';
      for (const s of this.connections.sockets) resetSocket(s);
    } else if (!down && !this.listening) {
      this.listening = true;
      // Binding an IP literal happens synchronously inside listen(), so the port accepts again on return.
      this.server.listen(this.port, '127.0.0.1');
    }
  }

  // ----- observability

  /** Every upload request so far (live objects: in-progress ones keep changing). */
  uploads(): UploadRecord[] {
    return [...this.records];
  }

  /** `booking/file` → what the last successful upload stored, and how many times it succeeded. */
  stored(): Map<string, StoredUpload> {
    return new Map([...this.store].map(([k, v]) => [k, { ...v }]));
  }

  /** Resolves once `predicate` holds (checked when an upload is answered or cut, and every 5 ms), or rejects after `timeoutMs`. */
  waitFor(predicate: (r: UploadReceiver) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        clearInterval(poll);
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = (): void => {
        if (!predicate(this)) return;
        stop();
        resolve();
      };
      const poll = setInterval(check, 5);
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`UploadReceiver.waitFor: condition not met within ${timeoutMs} ms (${this.records.length} uploads recorded)`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Forgets the records and the stored files. */
  reset(): void {
    this.records.length = 0;
    this.store.clear();
    this.probes = 0;
    this.refused = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connections.closeAll();
    if (this.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ----- helpers

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }

  private send(res: http.ServerResponse, entry: UploadRecord | undefined, status: number, body: unknown, headers: Record<string, string> = {}, head = false): void {
    if (entry) entry.status = status;
    if (res.headersSent || res.destroyed || this.closed) return;
    const payload = Buffer.from(JSON.stringify(body));
    res.statusCode = status;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('Content-Type', JSON_TYPE);
    res.setHeader('Content-Length', payload.length);
    res.end(head ? undefined : payload);
    if (entry) this.changed();
  }

  private retryAfter(): Record<string, string> {
    const s = this.faultState.retryAfterSeconds;
    return s !== undefined ? { 'Retry-After': String(s) } : {};
  }

  // ----- request handling

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    const method = req.method ?? 'GET';
    if (this.closed || this.faultState.down) return resetSocket(req.socket);
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';

    if (pathname === '/') {
      if (method !== 'GET' && method !== 'HEAD') return this.send(res, undefined, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
      this.probes++;
      return this.send(res, undefined, 200, { ok: true, service: 'upload-receiver' }, {}, method === 'HEAD');
    }

    const parts = pathname.split('/');
    if (parts.length !== 7 || parts[0] !== '' || parts[1] !== 'booths' || parts[3] !== 'bookings' || parts[5] !== 'images') return this.send(res, undefined, 404, { error: 'not found' });
    let booth: string, booking: string, file: string;
    try {
      [booth, booking, file] = [parts[2], parts[4], parts[6]].map((p) => decodeURIComponent(p ?? '')) as [string, string, string];
    } catch {
      return this.send(res, undefined, 400, { error: 'malformed percent-encoding in path' });
    }
    if (!booth || !booking || !file) return this.send(res, undefined, 404, { error: 'not found' });
    if (method !== 'PUT' && method !== 'POST') return this.send(res, undefined, 405, { error: 'method not allowed' }, { Allow: 'PUT, POST' });

    const cl = req.headers['content-length'];
    const entry: UploadRecord = {
      at,
      method,
      path: pathname,
      booth,
      booking,
      file,
      status: 0,
      bytes: 0,
      sha256: '',
      contentLength: cl === undefined ? null : Number(cl),
      startedAt: null,
      endedAt: null,
      receiverSeconds: null,
      rateBytesPerSec: null,
      headers: { ...req.headers },
    };
    this.records.push(entry);
    const sock = req.socket;
    this.active.set(sock, entry);
    try {
      await this.handleUpload(req, res, entry);
    } finally {
      if (this.active.get(sock) === entry) this.active.delete(sock);
    }
  }

  private async handleUpload(req: http.IncomingMessage, res: http.ServerResponse, entry: UploadRecord): Promise<void> {
    const { booth, booking, file } = entry;
    const f = this.faultState;

    // Answered before the body: 401 without the required header, 404 for unknown bookings. The
    // body is then read (paced, hashed, discarded) so the connection stays usable — closing with
    // unread data would reset it before the client could read the answer.
    let early: { status: number; fault: UploadFault; body: unknown } | undefined;
    const need = f.requireHeader;
    if (need && req.headers[need.name.toLowerCase()] !== need.value) early = { status: 401, fault: 'unauthorized', body: { error: 'unauthorized', header: need.name } };
    else if (f.rejectBookings?.has(booking)) early = { status: 404, fault: 'rejected-booking', body: { error: 'unknown booking', booth, booking } };
    if (early) {
      entry.fault = early.fault;
      const answer = early;
      const latency = f.latencyMs ?? 0;
      const answered = (latency > 0 ? this.connections.sleep(latency) : Promise.resolve()).then(() => {
        if (!this.closed) this.send(res, entry, answer.status, answer.body);
      });
      await this.readBody(req, entry, -1);
      await answered;
      return;
    }

    // Decided at arrival, each from its own PRNG stream, so one knob does not shift the others.
    const d: Decisions = { reset: this.random.chance('reset', f.resetMidBodyRatio), status: 201 };
    if (this.random.chance('503', f.status503Ratio)) Object.assign(d, { status: 503, fault: 'status503' });
    else if (this.random.chance('429', f.status429Ratio)) Object.assign(d, { status: 429, fault: 'status429' });
    else if (this.random.chance('500', f.status500Ratio)) Object.assign(d, { status: 500, fault: 'status500' });

    const resetAt = d.reset ? (entry.contentLength !== null && Number.isFinite(entry.contentLength) ? Math.floor(entry.contentLength / 2) : RESET_UNKNOWN_LENGTH_AT) : -1;
    const complete = await this.readBody(req, entry, resetAt);
    if (!complete || this.closed) return;

    const latency = this.faultState.latencyMs ?? 0;
    if (latency > 0) {
      await this.connections.sleep(latency);
      if (this.closed) return;
    }
    if (this.faultState.down) {
      entry.fault = 'down';
      return resetSocket(req.socket);
    }
    const key = `${booking}/${file}`;
    const hostile = hostileAnswerFor(this.faultState.hostile, { path: (req.url ?? '/').split('?')[0] ?? '/' });
    if (hostile) {
      entry.fault = `hostile-${hostile.kind}`;
      entry.status = hostile.status;
      if (hostile.status >= 200 && hostile.status < 300) this.keep(key, entry);
      return void (await answerHostile(res, hostile));
    }
    if (d.status !== 201) {
      entry.fault = d.fault;
      const headers = d.status === 503 || d.status === 429 ? this.retryAfter() : {};
      const error = d.status === 500 ? 'internal error (injected)' : d.status === 503 ? 'service unavailable (injected)' : 'too many requests (injected)';
      return this.send(res, entry, d.status, { error }, headers);
    }
    this.keep(key, entry);
    this.send(res, entry, 201, { ok: true, booth, booking, file, bytes: entry.bytes, sha256: entry.sha256 });
  }

  /** Stores an accepted upload (counted per `booking/file`). */
  private keep(key: string, entry: UploadRecord): void {
    const prev = this.store.get(key);
    this.store.set(key, { bytes: entry.bytes, sha256: entry.sha256, count: (prev?.count ?? 0) + 1 });
  }

  /**
   * Reads the body slice by slice through the pacer and sha256. Returns true when the whole body
   * was read; false when it was cut (reset fault at `resetAt` bytes, client gone, down, closed).
   */
  private async readBody(req: http.IncomingMessage, entry: UploadRecord, resetAt: number): Promise<boolean> {
    const hash: Hash = createHash('sha256');
    const pacer = new Pacer();
    const finish = (): void => {
      if (entry.startedAt === null) entry.startedAt = nowEpoch();
      entry.endedAt = nowEpoch();
      entry.receiverSeconds = (entry.endedAt - entry.startedAt) / 1000;
      entry.sha256 = hash.digest('hex');
      this.changed();
    };
    const cut = (): false => {
      finish();
      resetSocket(req.socket);
      return false;
    };
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        if (entry.startedAt === null) {
          entry.startedAt = nowEpoch();
          entry.rateBytesPerSec = this.rateBytesPerSec && this.rateBytesPerSec > 0 ? this.rateBytesPerSec : null;
        }
        for (let off = 0; off < chunk.length; ) {
          if (this.closed) return false;
          if (req.socket.destroyed) throw new Error('connection gone');
          let n = Math.min(SLICE_BYTES, chunk.length - off);
          if (resetAt >= 0) n = Math.min(n, resetAt - entry.bytes);
          const last = entry.contentLength !== null && entry.bytes + n >= entry.contentLength;
          for (let wait = pacer.take(n, this.rateBytesPerSec); wait > 0; wait = pacer.take(n, this.rateBytesPerSec)) {
            // Timers fire up to ~1 ms late. That is harmless mid-body (the bucket keeps the
            // tokens), but it would show in endedAt, so the last slice sleeps a little short and
            // then yields with setImmediate until its time (≤ ~1.5 ms of spinning per upload).
            const ms = last ? wait - 1.5 : wait;
            await (ms >= 1 ? this.connections.sleep(ms) : new Promise<void>((resolve) => setImmediate(resolve)));
            if (this.closed) return false;
            if (req.socket.destroyed) throw new Error('connection gone');
          }
          hash.update(chunk.subarray(off, off + n));
          entry.bytes += n;
          off += n;
          if (resetAt >= 0 && entry.bytes >= resetAt) {
            entry.fault = 'reset-mid-body';
            return cut();
          }
        }
      }
    } catch {
      if (!this.closed) entry.fault ??= this.faultState.down ? 'down' : 'client-aborted';
      finish();
      return false;
    }
    if (resetAt >= 0) {
      // A body shorter than the cut point (e.g. empty): reset once it is read.
      entry.fault = 'reset-mid-body';
      return cut();
    }
    finish();
    return true;
  }
}
