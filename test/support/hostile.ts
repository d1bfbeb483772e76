// Answers a broken or hostile server gives, for the stand-ins (the OpenSearch stand-in's
// `faults.hostile`, the upload receiver's): what no real server does on demand, but the world does —
// a proxy's error page of hundreds of MB, an answer that trickles one byte a second, a body that
// is not what the status promises, a redirect.
import type http from 'node:http';

export type HostileAnswer =
  /** `bytes` of filler after the status, sent as fast as the client takes them. */
  | { kind: 'huge'; status: number; bytes: number }
  /** Declares `declaredBytes` (Content-Length), then sends one byte every `intervalMs`, forever. */
  | { kind: 'trickle'; status: number; declaredBytes: number; intervalMs: number }
  /** Exactly this body (malformed JSON, wrong shapes, an echo of the credentials…). */
  | { kind: 'body'; status: number; body: string; contentType?: string }
  /** A redirect to `location`. */
  | { kind: 'redirect'; status: 301 | 302 | 307 | 308; location: string };

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
          if (res.destroyed || sent >= answer.declaredBytes) return void clearInterval(timer);
          res.write(' ');
          sent++;
        }, answer.intervalMs);
        res.once('close', () => clearInterval(timer));
        return;
      }
      case 'body':
        res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/json', 'content-length': String(Buffer.byteLength(answer.body)) });
        res.end(answer.body);
        return;
      case 'redirect':
        res.writeHead(answer.status, { location: answer.location, 'content-length': '0' });
        res.end();
        return;
    }
  });
}
