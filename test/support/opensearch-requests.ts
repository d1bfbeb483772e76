// Small helpers for tests that talk to the OpenSearch stand-in over HTTP.
import type { TestContext } from 'node:test';
import { OpenSearchStandIn, type StandInOptions } from './opensearch.ts';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/** A stand-in closed when the test ends. */
export async function startStandIn(t: TestContext, opts?: StandInOptions): Promise<OpenSearchStandIn> {
  const s = await OpenSearchStandIn.start(opts);
  t.after(() => s.close());
  return s;
}

export const ndjson = (...lines: unknown[]): string => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

export async function readReply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
