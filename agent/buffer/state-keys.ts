// Keys of the buffer's small key-value state that several modules read or write. Kept here, with
// the buffer, so that sources and sinks share them without knowing each other.
export const STATE_KEYS = {
  /** {value, at}: the booth clock minus the servers' clocks, in ms (written by the sinks). */
  clockSkew: 'clock.skew_ms',
  /** The skew last reported with a clock_skew event, or null. */
  clockSkewReported: 'clock.skew_reported_ms',
  /** {at, message, status?, retry_in_ms}: the last shipping failure. */
  shipLastError: 'ship.last_error',
  /** Like shipLastError while OpenSearch answers 401/403; null once shipping works again. */
  shipAuthProblem: 'ship.auth_problem',
  /** {at}: the last heartbeat recorded. */
  heartbeatLast: 'heartbeat.last',
  /** {online, since}: connectivity and when it last changed (the start of an outage). */
  networkConnectivity: 'network.connectivity',
  /** The interface of the last sample, to tell a change. */
  networkInterface: 'network.interface',
  /** The last network sample (interface, Wi-Fi, probes), for `status`. */
  networkLatest: 'network.latest',
  /** Files the reconciliation scan found that the folder watcher had not reported, since the state began. */
  uploadsMissedByWatcher: 'uploads.missed_by_watcher',
  /** ResetFacts: the last time a damaged database was replaced, and what was recovered from it. */
  bufferLastReset: 'buffer.last_reset',
} as const;
