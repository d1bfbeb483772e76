// Everything fleet-setup applies, in the order it applies it: the pipeline before the templates
// that name it, the channel before the monitors that notify it. Built from the definitions in
// shared/opensearch, which are generated from the same document schema the agent writes.
import { fleetNames, type FleetOptions } from '../../shared/opensearch/fleet-options.ts';
import { indexTemplates } from '../../shared/opensearch/index-templates.ts';
import { fleetMonitors } from '../../shared/opensearch/monitors.ts';
import { ingestPipeline } from '../../shared/opensearch/pipeline.ts';
import { retentionPolicy } from '../../shared/opensearch/retention.ts';
import { slackChannel } from '../../shared/opensearch/slack-channel.ts';
import { writerRole } from '../../shared/opensearch/writer-role.ts';
import type { Resource } from './kinds.ts';

export function fleetResources(opts: FleetOptions): Resource[] {
  const names = fleetNames(opts.prefix);
  const resources: Resource[] = [
    { kind: 'ingest pipeline', id: names.pipeline, body: ingestPipeline() },
    ...indexTemplates(opts).map((t): Resource => ({ kind: 'index template', id: t.name, body: t.body })),
    { kind: 'ISM policy', id: names.policy, body: retentionPolicy(opts) },
    { kind: 'role', id: names.role, body: writerRole(opts) },
  ];
  if (opts.slackWebhookUrl) resources.push({ kind: 'Slack channel', id: names.channel, body: slackChannel(opts, opts.slackWebhookUrl) });
  for (const m of fleetMonitors(opts)) resources.push({ kind: 'monitor', id: m.name, body: m });
  return resources;
}
