// The seam every sink plugs into: it leases batches from the buffer, delivers them and settles
// them. Sinks know the buffer, never the sources.

export interface Sink {
  readonly name: string;
  start(): void;
  /** Stop leasing; let the request in flight end or hand its documents back before `deadline` (ms epoch). */
  stop(deadline: number): Promise<void>;
}
