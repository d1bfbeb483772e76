// The lines of an NDJSON stream, each at most `maxChars` long — measured while it is read, so a
// 400 MB line with no newline is skipped as it streams past instead of being gathered in memory.
import { StringDecoder } from 'node:string_decoder';

/** Yields each line (without its \n or \r\n), or undefined for a line longer than `maxChars`. */
export async function* boundedLines(input: AsyncIterable<Buffer | string>, maxChars: number): AsyncGenerator<string | undefined> {
  const decoder = new StringDecoder('utf8');
  let parts: string[] = [];
  let length = 0;
  let tooLong = false;
  const take = (text: string): void => {
    if (tooLong || text === '') return;
    length += text.length;
    // One more than the limit: the \r of a \r\n ending.
    if (length > maxChars + 1) {
      tooLong = true;
      parts = [];
      return;
    }
    parts.push(text);
  };
  const line = (): string | undefined => {
    const joined = parts.join('');
    const out = tooLong ? undefined : joined.endsWith('\r') ? joined.slice(0, -1) : joined;
    parts = [];
    length = 0;
    tooLong = false;
    return out !== undefined && out.length > maxChars ? undefined : out;
  };
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let from = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      take(text.slice(from, nl));
      yield line();
      from = nl + 1;
    }
    take(text.slice(from));
  }
  take(decoder.end());
  if (length > 0 || tooLong) yield line();
}
