// The Notifications plugin's Slack channel the monitors send to (its config_id is what a
// monitor action names as destination_id). The webhook URL is a secret: read from a file by
// fleet-setup, never printed.
import { fleetNames, type FleetOptions } from './fleet-options.ts';

export function slackChannel(opts: FleetOptions, webhookUrl: string): Record<string, unknown> {
  const names = fleetNames(opts.prefix);
  return {
    config_id: names.channel,
    config: {
      name: `${opts.prefix} booth alerts (Slack)`,
      description: 'booth-agent fleet alerts (managed by booth-agent fleet-setup)',
      config_type: 'slack',
      is_enabled: true,
      slack: { url: webhookUrl },
    },
  };
}
