// The datasets and agent event actions, apart from their schemas: what the daemon needs at run time
// without building every zod schema (`record` and fleet-setup build those).
export const DATASETS = ['booth.upload', 'booth.booking', 'booth.network', 'booth.heartbeat', 'booth.agent'] as const;
export type Dataset = (typeof DATASETS)[number];

export const AGENT_ACTIONS = [
  'started',
  'stopped',
  'connectivity_lost',
  'connectivity_restored',
  'interface_changed',
  'speed_degraded',
  'speed_recovered',
  'upload_rejected',
  'buffer_dropped',
  'state_reset',
  'clock_skew',
  'disk_full',
  'watch_folder_lost',
  'watch_folder_restored',
] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];
