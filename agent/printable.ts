// Text from the world — file names, server messages, Wi-Fi names — printed on a technician's
// terminal. A name such as `x\e]0;PWNED\a\e[2K\e[1A.jpg` must not retitle the window, erase lines
// or recolour the screen, so control characters (C0 but the newline, DEL, C1) and the bidirectional
// overrides that reorder what is shown are printed as escapes instead.
const UNPRINTABLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Every string in `value` (objects and arrays walked) made printable. */
export function printableDeep<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map((v) => printableDeep(v)) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printableDeep(v)])) as T;
  return value;
}
