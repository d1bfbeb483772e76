// A `_bulk` endpoint that is never the bottleneck (issue 19): it answers every item `201 created`
// from a template, reading only the action lines (their op, _index and _id, which a shipper may check
// against what it sent) and never parsing a document's source. A shipper's drain against it measures
// the shipper, not the sink — the faithful stand-in (test/support/opensearch.ts) parses and stores
// every document as OpenSearch would, and is near its own limit at ~60k docs/s on this machine.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

const ACTION = /^\s*\{\s*"(create|index)"/;
const FIELD = (name: string) => new RegExp(`"${name}"\\s*:\\s*"([^"]*)"`);
const INDEX = FIELD('_index');
const ID = FIELD('_id');

export class NullBulk {
  readonly url: string;
  private readonly server: http.Server;
  /** Items answered per index. */
  private readonly created = new Map<string, number>();

  private constructor(server: http.Server) {
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(): Promise<NullBulk> {
    const server = http.createServer();
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sink = new NullBulk(server);
    server.on('request', (req, res) => sink.answer(req, res));
    return sink;
  }

  /** Items created in indices whose name starts with `prefix` (a pattern's part before `*`). */
  count(pattern = '*'): number {
    const prefix = pattern.replace(/\*.*$/, '');
    let n = 0;
    for (const [index, c] of this.created) if (index.startsWith(prefix)) n += c;
    return n;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.includes('_bulk')) return this.send(res, 200, '{"version":{"number":"2.19.6","distribution":"opensearch"},"tagline":"null sink"}');
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const items: string[] = [];
      let start = 0;
      let action = true;
      while (start < body.length) {
        let end = body.indexOf(10, start);
        if (end === -1) end = body.length;
        if (action && end > start) items.push(this.item(body.toString('latin1', start, end)));
        if (end > start) action = !action;
        start = end + 1;
      }
      this.send(res, 200, `{"took":0,"errors":false,"items":[${items.join(',')}]}`);
    });
  }

  private item(line: string): string {
    const m = ACTION.exec(line);
    const op = m?.[1] ?? 'index';
    const index = INDEX.exec(line)?.[1] ?? 'unknown';
    const id = ID.exec(line)?.[1];
    this.created.set(index, (this.created.get(index) ?? 0) + 1);
    return `{"${op}":{"_index":"${index}"${id === undefined ? '' : `,"_id":"${id}"`},"_version":1,"result":"created","status":201}}`;
  }

  private send(res: http.ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
