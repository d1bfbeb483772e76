// Answers a broken or hostile server gives, for the stand-ins (the OpenSearch stand-in's
// `faults.hostile`, the upload receiver's): what no real server does on demand, but the world does —
// a proxy's error page of hundreds of MB, an answer that trickles one byte a second, a body that
// is not what the status promises, a redirect, bytes that are not HTTP at all. One answer for every
// request, or a script that picks one per request (a sequence of bad answers, then good ones).
import type http from 'node:http';
import { resetSocket } from './connections.ts';

export type HostileAnswer =
  /** `bytes` of filler after the status, sent as fast as the client takes them. */
  | { kind: 'huge'; status: number; bytes: number }
  /** Declares `declaredBytes` (Content-Length), then sends one byte every `intervalMs`, forever. */
  | { kind: 'trickle'; status: number; declaredBytes: number; intervalMs: number }
  /** Exactly this body (malformed JSON, wrong shapes, an echo of the credentials…), with `headers` besides (Retry-After: soon, a Content-Encoding that lies…). */
  | { kind: 'body'; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** A redirect to `location`. */
  | { kind: 'redirect'; status: 301 | 302 | 307 | 308; location: string }
  /**
   * These bytes (latin1) on the socket instead of an HTTP answer — a head without its body, a body
   * cut short, broken chunked encoding, two Content-Lengths, no HTTP at all — then the connection
   * is ended, reset, or left open (`hang`). `status`: what the bytes claim (0: none), for the records.
   */
  | { kind: 'raw'; status: number; bytes: string; then: 'end' | 'reset' | 'hang' };

/** What a script is told about the request it answers: its path, and its body where the stand-in keeps it (OpenSearch: decompressed). */
export interface HostileRequest {
  path: string;
  body?: Buffer;
}

/** The stand-ins' `hostile` fault: one answer for every request, or a script (undefined: answer this one normally). */
export type HostileFault = HostileAnswer | ((request: HostileRequest) => HostileAnswer | undefined);

/** The answer `fault` gives `request`; a script is called once per request. */
export function hostileAnswerFor(fault: HostileFault | undefined, request: HostileRequest): HostileAnswer | undefined {
  return typeof fault === 'function' ? fault(request) : fault;
}

const FILLER = Buffer.alloc(64 * 1024, 'x');

/** Sends `answer` on `res`; resolves when it is sent, or when the client went away. */
export function answerHostile(res: http.ServerResponse, answer: HostileAnswer): Promise<void> {
  return new Promise((resolve) => {
    res.once('close', () => resolve());
    switch (answer.kind) {
      case 'huge': {
        res.writeHead(answer.status, { 'content-type': 'text/html', 'content-length': String(answer.bytes) });
        let left = answer.bytes;
        const pump = (): void => {
          while (left > 0 && !res.destroyed) {
            const chunk = left >= FILLER.length ? FILLER : FILLER.subarray(0, left);
            left -= chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end();
        };
        pump();
        return;
      }
      case 'trickle': {
        res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': String(answer.declaredBytes) });
        let sent = 0;
        const timer = setInterval(() => {
          if (res.destroyed) return void clearInterval(timer);
          res.write(' ');
          // All it declared is sent: the answer ends (a server that then ignores the connection's next request is another fault).
          if (++sent >= answer.declaredBytes) {
            clearInterval(timer);
            res.end();
          }
        }, answer.intervalMs);
        res.once('close', () => clearInterval(timer));
        return;
      }
      case 'body':
        res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/json', 'content-length': String(Buffer.byteLength(answer.body)), ...answer.headers });
        res.end(answer.body);
        return;
      case 'redirect':
        res.writeHead(answer.status, { location: answer.location, 'content-length': '0' });
        res.end();
        return;
      case 'raw': {
        // Past Node's HTTP writer: the response object is never written, the socket gets the bytes.
        const sock = res.socket;
        if (!sock || sock.destroyed) return resolve();
        sock.write(Buffer.from(answer.bytes, 'latin1'), () => {
          if (answer.then === 'end') sock.end();
          else if (answer.then === 'reset') resetSocket(sock);
        });
        return;
      }
    }
  });
}
