// How long a sink waits before each request while the cluster pushes back with 429s (whole
// requests or items) — the cluster is up and answering, but can take only so much.
//
// Exponential backoff per booth is the wrong tool for that: when a fleet comes back online at
// once against a cluster that takes a fixed number of requests a second, booths that lose a few
// times sleep for minutes while the cluster idles, and the ones that win keep winning. So every
// booth keeps a pace instead: each push-back lengthens it by half (at least retry.min_delay), and
// it fades by half every few seconds without one. The fleet as a whole then offers the cluster a
// little more than it takes — no capacity goes unused — and no booth falls far behind the rest.
//
// The pace keeps fading while a booth waits, so a booth sends once the time it waited reaches the
// pace as it has faded by then — no booth sleeps on a long wait chosen while the cluster was
// crowded after the crowd has gone (that is what makes the end of a fleet's drain slow).
//
// Rules make the booths take turns ("heard": OpenSearch stored the booth's heartbeat within the
// last two heartbeat intervals — the same staleness a lone heartbeat may reach while it is busy):
//  - a heard booth waits YIELD times the pace: booths the fleet's dashboards do not see yet go first;
//  - a booth not heard waits at most UNHEARD_MAX times retry.min_delay, however crowded the
//    cluster, and half as long for every UNHEARD_HALVING_MS it has been refused (down to
//    UNHEARD_FLOOR of it): who gets a request in is a lottery among everyone trying, and the
//    booths that have lost longest must hold more tickets, or a thousand-booth fleet always has
//    a few left unseen after a minute. Its pace grows no further than GROW times that cap (it
//    never waits longer anyway), so once heard it does not sit out a pace it never waited;
//  - a booth refused for more than a minute without one request getting through backs off
//    exponentially as in an outage, up to retry.max_delay: a cluster in real trouble is not kept
//    busy refusing a fleet every second or two.

/** Each push-back lengthens the pace by this factor. */
const GROW = 1.5;
/** Each request the cluster took whole shortens it by this factor (besides the fade). */
const SHRINK = 0.9;
/** Without push-back, the pace halves every this many ms. */
const FADE_HALF_LIFE_MS = 3000;
/** A booth the cluster heard from recently waits this many times the pace. */
const YIELD = 8;
/** A booth the cluster has not heard from waits at most this many times min_delay (before jitter)... */
const UNHEARD_MAX = 1.5;
/** ...halved for every this many ms of refusals in a row... */
const UNHEARD_HALVING_MS = 10_000;
/** ...down to this share of it. */
const UNHEARD_FLOOR = 0.25;
/** Refused this long without a success: back off exponentially, one doubling per STORM_STEP_MS. */
const STORM_STEP_MS = 60_000;
/** How long after the last push-back the booth still counts as throttled (lone heartbeats wait). */
const THROTTLED_FOR_MS = 120_000;

export interface PaceOptions {
  minDelayMs: number;
  maxDelayMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
  random: () => number;
}

export class Pace {
  private readonly opts: PaceOptions;
  private ms = 0;
  private at = 0;
  private lastPushback = Number.NEGATIVE_INFINITY;
  /** When the current run of refusals began (undefined: the last request got through). */
  private refusedSince: number | undefined;

  constructor(opts: PaceOptions) {
    this.opts = opts;
  }

  /** The pace now, faded since it was last set; 0 once it has faded below a tenth of min_delay. */
  current(): number {
    const ms = this.ms * 0.5 ** ((this.opts.now() - this.at) / FADE_HALF_LIFE_MS);
    return ms < this.opts.minDelayMs / 10 ? 0 : ms;
  }

  /** The cluster answered 429 (the whole request, or some items of it); `heard` as for waitMs. */
  pushback(wholeRequestRefused: boolean, heard: boolean): void {
    const { minDelayMs, maxDelayMs, now } = this.opts;
    const ceiling = heard ? maxDelayMs : Math.min(maxDelayMs, GROW * UNHEARD_MAX * minDelayMs);
    this.set(Math.min(ceiling, Math.max(minDelayMs, this.current() * GROW)));
    this.lastPushback = now();
    if (!wholeRequestRefused) this.refusedSince = undefined;
    else this.refusedSince ??= now();
  }

  /** The cluster took a request without any 429. */
  accepted(): void {
    this.set(this.current() * SHRINK);
    this.refusedSince = undefined;
  }

  /** Whether the cluster pushed back recently enough that a lone heartbeat should not add to its load. */
  throttled(): boolean {
    return this.opts.now() - this.lastPushback < THROTTLED_FOR_MS;
  }

  /**
   * How long to wait before the next request: the pace (times YIELD when OpenSearch has stored
   * this booth's heartbeat lately, capped as above when it has not), jittered by ±50 % so booths
   * do not march in step, as it will have faded by the time the wait is over; after a minute of
   * nothing but refusals, at least an outage's exponential backoff.
   */
  waitMs(heard: boolean): number {
    const { minDelayMs, maxDelayMs, now, random } = this.opts;
    const refusedFor = this.refusedSince === undefined ? 0 : now() - this.refusedSince;
    const unheardCap = UNHEARD_MAX * minDelayMs * Math.max(UNHEARD_FLOOR, 0.5 ** Math.floor(refusedFor / UNHEARD_HALVING_MS));
    const base = heard ? this.current() * YIELD : Math.min(this.current(), unheardCap);
    const pace = fadedWait(base * (0.5 + random()));
    const stormSteps = Math.floor(refusedFor / STORM_STEP_MS);
    // "Equal jitter" (the upper half of the ceiling), unlike an outage's full jitter: a wait never
    // shrinks while the storm lasts.
    const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(stormSteps, 30));
    const storm = stormSteps === 0 ? 0 : ceiling / 2 + random() * (ceiling / 2);
    return Math.round(Math.min(maxDelayMs, Math.max(pace, storm)));
  }

  private set(ms: number): void {
    this.ms = ms;
    this.at = this.opts.now();
  }
}

/**
 * The wait w that equals `ms` faded over w itself (w = ms · 2^(−w/half-life)): the booth sends once
 * the time it has waited catches up with the fading pace. Solved with Lambert's W (w·e^w = x) by
 * Newton's method, which converges in a few steps from log(1 + x).
 */
export function fadedWait(ms: number): number {
  if (ms <= 0) return 0;
  const x = (ms * Math.LN2) / FADE_HALF_LIFE_MS;
  let w = Math.log1p(x);
  for (let i = 0; i < 8; i++) {
    const e = Math.exp(w);
    w -= (w * e - x) / (e * (w + 1));
  }
  return (w * FADE_HALF_LIFE_MS) / Math.LN2;
}
