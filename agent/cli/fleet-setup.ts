// `booth-agent fleet-setup`: applies the OpenSearch side of the fleet (SPEC §9) idempotently —
// the ingest pipeline, one index template per dataset, the retention policy, the booths' writer
// role, the Slack channel and the five monitors. A second run reports every resource unchanged
// and sends no write. `--dry-run` sends nothing and prints what a first run would send.
import { DEFAULT_FLEET_OPTIONS, type FleetOptions } from '../../shared/opensearch/fleet-options.ts';
import { applyResources, createRequests, type Result } from '../fleet-setup/apply.ts';
import type { Resource } from '../fleet-setup/kinds.ts';
import { CLUSTER_OPTIONS, clusterConnection, parseUrl, readSecretFile, redactedOrigin } from './cluster-connection.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError, EXIT } from './exit-codes.ts';

const USAGE = `booth-agent fleet-setup --url URL [--user USER --password-file F | --token-file F | --aws-region R [--aws-service es|aoss]]
       [--ca-file F] [--insecure] [--slack-webhook-file F] [--prefix booth] [--retention-days 90]
       [--slow-upload-mb-s 5] [--replicas 1] [--dry-run]`;

export const fleetSetupCommand: Command = {
  summary: 'apply the OpenSearch side (pipeline, index templates, retention, role, Slack channel, monitors) idempotently',
  usage: USAGE,
  options: {
    ...CLUSTER_OPTIONS,
    'slack-webhook-file': { type: 'string' },
    prefix: { type: 'string' },
    'retention-days': { type: 'string' },
    'slow-upload-mb-s': { type: 'string' },
    replicas: { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  async run(ctx) {
    const v = ctx.values;
    const url = parseUrl(v['url'], usage);
    const opts = fleetOptions(v);
    // Loaded here, not at start: the definitions build every document schema, which the daemon does not need.
    const { fleetResources } = await import('../fleet-setup/resources.ts');
    const resources = fleetResources(opts);
    const shown = redactedOrigin(url);
    if (v['dry-run']) return dryRun(ctx, shown, opts, resources);

    const { client } = clusterConnection(ctx.values, ctx.env, usage);
    ctx.stdout.write(`fleet-setup: ${shown}, prefix "${opts.prefix}"\n`);
    const results = await applyResources(client, resources, (r) => ctx.stdout.write(line(r)));
    const count = (o: Result['outcome']) => results.filter((r) => r.outcome === o).length;
    ctx.stdout.write(
      `fleet-setup: ${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged` +
        `${count('skipped') ? `, ${count('skipped')} skipped` : ''}${count('failed') ? `, ${count('failed')} FAILED` : ''}\n`,
    );
    const untried = resources.length - results.length;
    if (untried > 0) ctx.stdout.write(`fleet-setup: the cluster refuses these credentials (HTTP 401): stopped; ${untried} resources not tried\n`);
    if (!opts.slackWebhookUrl) ctx.stdout.write('fleet-setup: no --slack-webhook-file: the monitors raise alerts in OpenSearch Dashboards but notify no one\n');
    return count('failed') > 0 ? EXIT.fatal : EXIT.ok;
  },
};

function line(r: Result): string {
  const outcome = r.outcome === 'failed' ? 'FAILED' : r.outcome;
  return `  ${outcome.padEnd(9)}  ${r.resource.kind.padEnd(15)}  ${r.resource.id}${r.detail ? ` — ${r.detail}` : ''}\n`;
}

function dryRun(ctx: CommandContext, shown: string, opts: FleetOptions, resources: Resource[]): number {
  ctx.stdout.write(`fleet-setup --dry-run: nothing is sent. Against an empty cluster at ${shown}, a first run sends:\n\n`);
  let text = createRequests(resources)
    .map((req) => `${req.method} ${req.path}\n${JSON.stringify(req.body, null, 2)}\n`)
    .join('\n');
  if (opts.slackWebhookUrl) text = text.split(opts.slackWebhookUrl).join('<the URL in --slack-webhook-file>');
  ctx.stdout.write(`${text}\nA later run reads each resource first and writes only what differs.\n`);
  return EXIT.ok;
}

function usage(message: string): CliError {
  return new CliError(`${message}\nUsage: ${USAGE}`, EXIT.usage);
}

function positive(values: CommandContext['values'], key: string, fallback: number, { integer = true, min = 1 } = {}): number {
  const raw = values[key];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw usage(`--${key} "${String(raw)}": expected ${integer ? 'a whole number' : 'a number'} of at least ${min}`);
  }
  return n;
}

function fleetOptions(v: CommandContext['values']): FleetOptions {
  const prefix = (v['prefix'] as string | undefined) ?? DEFAULT_FLEET_OPTIONS.prefix;
  // Index names: lower case, no separators OpenSearch forbids; "-" joins the prefix to the kind.
  if (!/^[a-z0-9][a-z0-9_.]{0,99}$/.test(prefix)) throw usage(`--prefix "${prefix}": expected lower-case letters, digits, "_" or "." (as the agents' opensearch.index_prefix)`);
  const opts: FleetOptions = {
    prefix,
    retentionDays: positive(v, 'retention-days', DEFAULT_FLEET_OPTIONS.retentionDays),
    slowUploadMbS: positive(v, 'slow-upload-mb-s', DEFAULT_FLEET_OPTIONS.slowUploadMbS, { integer: false, min: 0.01 }),
    replicas: positive(v, 'replicas', DEFAULT_FLEET_OPTIONS.replicas, { min: 0 }),
  };
  const webhookFile = v['slack-webhook-file'];
  if (typeof webhookFile === 'string') {
    const url = readSecretFile('--slack-webhook-file', webhookFile, usage);
    if (!/^https:\/\/\S+$/.test(url)) throw usage(`--slack-webhook-file ${webhookFile}: expected one https:// URL in the file`);
    opts.slackWebhookUrl = url;
  }
  return opts;
}

