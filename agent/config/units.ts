// Durations and sizes as operators write them in the YAML file ("30s", "5MB").
// MB means 10^6 bytes everywhere in booth-agent (SPEC §1); KiB/MiB/GiB are accepted for those who think in pages.

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNITS_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib)\s*$/i;

/** Milliseconds for "500ms", "30s", "10m", "2h", "7d"; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS_MS[m[2]!]!);
}

/** Bytes for "512KB", "5MB", "1GB"; undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNITS_BYTES[m[2]!.toLowerCase()]!);
}

/** "1m 56s", "2h 5m", "850ms" — the way the booking log line and status speak. */
export function formatDuration(ms: number): string {
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = d ? [`${d}d`, `${h}h`] : h ? [`${h}h`, `${m}m`] : m ? [`${m}m`, `${s}s`] : [`${s}s`];
  return parts.filter((p, i) => i === 0 || !p.startsWith('0')).join(' ');
}

/** "1.3 GB", "512 KB", "17 B" in decimal units. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  // Round first, so 999,999 bytes reads "1.0 MB" rather than "1000 KB".
  const digitsFor = (v: number, u: number) => (u === 0 || v >= 100 ? 0 : 1);
  while (unit < units.length - 1 && Number(value.toFixed(digitsFor(value, unit))) >= 1000) {
    value /= 1000;
    unit++;
  }
  const digits = digitsFor(value, unit);
  return `${value.toFixed(digits)} ${units[unit]}`;
}
