// What fleet-setup is asked to build. Names derive from the index prefix so that two fleets
// (or a staging and a production agent) can share one cluster.
export interface FleetOptions {
  /** Index prefix, as the agents' `opensearch.index_prefix`; default "booth". */
  prefix: string;
  /** Days a document is kept at least (ISM deletes whole monthly indices after this plus a month). */
  retentionDays: number;
  /** Fleet and per-booth average upload speed below this alerts, MB/s. */
  slowUploadMbS: number;
  /** The Notifications channel the monitors notify, when a Slack webhook was given. */
  slackWebhookUrl?: string | undefined;
  /** Replicas of each index; 1 survives a node, 0 suits a single-node cluster. */
  replicas: number;
}

export const DEFAULT_FLEET_OPTIONS: FleetOptions = { prefix: 'booth', retentionDays: 90, slowUploadMbS: 5, replicas: 1 };

/** Resource names, one place. */
export function fleetNames(prefix: string) {
  return {
    pipeline: `${prefix}-ingest`,
    template: (kind: string) => `${prefix}-${kind}`,
    policy: `${prefix}-retention`,
    role: `${prefix}_writer`,
    channel: `${prefix}-alerts-slack`,
    indexPattern: (kind: string) => `${prefix}-${kind}-*`,
    allIndices: `${prefix}-*`,
  };
}
