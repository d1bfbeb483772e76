// The seam every source plugs into: it produces documents through the Recorder and nothing else.
// (Uploads, network and heartbeat arrive in later issues; see agent/daemon.ts for where they start.)

export interface Source {
  readonly name: string;
  start(): void | Promise<void>;
  /** Stop taking new work; finish or abandon safely what is in flight before `deadline` (ms epoch). */
  stop(deadline: number): Promise<void>;
}
