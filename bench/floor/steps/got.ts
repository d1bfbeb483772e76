// The ladder's got step: the POST sent by got, as the agent's sink does.
import got from 'got';

export async function gotSend(url: string, body: Buffer): Promise<void> {
  try {
    await got.post(url, { body, headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, retry: { limit: 0 }, timeout: { request: 10_000 } });
  } catch {
    // the floor measures memory, not the answer
  }
}
