// Seeded pseudo-random numbers for the stand-ins' fault injection: reproducible runs, and one
// stream per purpose (seeded from its name) so that turning one knob does not shift the others.

/** FNV-1a hash of a string: turns a stream's name into a seed. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: a small, fast generator of numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Named random streams from one seed: `chance(name, ratio)` decides one fault of one kind. */
export class SeededStreams {
  private readonly streams = new Map<string, () => number>();
  private readonly seed: number;

  constructor(seed: number) {
    this.seed = seed;
  }

  stream(name: string): () => number {
    let r = this.streams.get(name);
    if (!r) {
      r = mulberry32((this.seed ^ fnv1a(name)) >>> 0);
      this.streams.set(name, r);
    }
    return r;
  }

  chance(name: string, ratio: number | undefined): boolean {
    if (!ratio || ratio <= 0) return false;
    return this.stream(name)() < ratio;
  }
}
