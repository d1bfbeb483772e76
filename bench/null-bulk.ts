// A `_bulk` endpoint that is never the bottleneck (issue 19): it answers every item `201 created`
// from a template, reading only the action lines (their op, _index and _id, which a shipper may check
// against what it sent) and never parsing a document's source. A shipper's drain against it measures
// the shipper, not the sink — the faithful stand-in (test/support/opensearch.ts) parses and stores
// every document as OpenSearch would, and is near its own limit at ~60k docs/s on this machine.
// Like OpenSearch, it answers only the fields a request's `filter_path` asks for: a shipper that
// asks for less reads less (booth-agent asks for the items' status and errors; rsyslog asks nothing
// and gets every field).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

const ACTION = /^\s*\{\s*"(create|index)"/;
const FIELD = (name: string) => new RegExp(`"${name}"\\s*:\\s*"([^"]*)"`);
const INDEX = FIELD('_index');
const ID = FIELD('_id');
/** The fields of an item's answer, as OpenSearch gives them for a document created. */
const ITEM_FIELDS = ['_index', '_id', '_version', 'result', 'status'];

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
      const filter = filterOf(req.url);
      // Which item fields the filter keeps depends only on the op: worked out once per request.
      const shown = new Map<string, Set<string>>();
      const fieldsFor = (op: string) => shown.get(op) ?? shown.set(op, new Set(ITEM_FIELDS.filter((f) => kept(filter, ['items', op, f])))).get(op)!;
      const items: string[] = [];
      let start = 0;
      let action = true;
      while (start < body.length) {
        let end = body.indexOf(10, start);
        if (end === -1) end = body.length;
        if (action && end > start) items.push(this.item(body.toString('latin1', start, end), fieldsFor));
        if (end > start) action = !action;
        start = end + 1;
      }
      const head = [kept(filter, ['took']) ? '"took":0' : '', kept(filter, ['errors']) ? '"errors":false' : ''].filter(Boolean);
      this.send(res, 200, `{${[...head, `"items":[${items.join(',')}]`].join(',')}}`);
    });
  }

  private item(line: string, fieldsFor: (op: string) => Set<string>): string {
    const m = ACTION.exec(line);
    const op = m?.[1] ?? 'index';
    const index = INDEX.exec(line)?.[1] ?? 'unknown';
    const id = ID.exec(line)?.[1];
    this.created.set(index, (this.created.get(index) ?? 0) + 1);
    const fields = fieldsFor(op);
    const shown = [
      fields.has('_index') ? `"_index":"${index}"` : '',
      fields.has('_id') && id !== undefined ? `"_id":"${id}"` : '',
      fields.has('_version') ? '"_version":1' : '',
      fields.has('result') ? '"result":"created"' : '',
      fields.has('status') ? '"status":201' : '',
    ];
    return `{"${op}":{${shown.filter(Boolean).join(',')}}}`;
  }

  private send(res: http.ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** A request's `filter_path` as dotted paths split into segments, or undefined: every field. */
function filterOf(url: string | undefined): string[][] | undefined {
  const value = new URL(url ?? '/', 'http://null').searchParams.get('filter_path');
  return value ? value.split(',').map((f) => f.trim().split('.')) : undefined;
}

/** Whether `filter` keeps the field at `path` (arrays add no segment; `*` is one segment, `**` any number). */
function kept(filter: string[][] | undefined, path: string[]): boolean {
  return filter === undefined || filter.some((f) => matches(f, path));
}

function matches(filter: string[], path: string[]): boolean {
  // A filter that ends at an ancestor keeps the whole subtree.
  if (filter.length === 0) return true;
  if (path.length === 0) return false;
  const [head, ...rest] = filter;
  if (head === '**') return matches(rest, path) || matches(filter, path.slice(1));
  return (head === '*' || head === path[0]) && matches(rest, path.slice(1));
}
