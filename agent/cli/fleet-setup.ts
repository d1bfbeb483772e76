// `booth-agent fleet-setup`: applies the OpenSearch side of the fleet (SPEC §9) idempotently —
// the ingest pipeline, one index template per dataset, the retention policy, the booths' writer
// role, the Slack channel and the five monitors. A second run reports every resource unchanged
// and sends no write. `--dry-run` sends nothing and prints what a first run would send.
import fs from 'node:fs';
import { DEFAULT_FLEET_OPTIONS, type FleetOptions } from '../../shared/opensearch/fleet-options.ts';
import { applyResources, createRequests, type Result } from '../fleet-setup/apply.ts';
import { ClusterClient } from '../fleet-setup/client.ts';
import type { Resource } from '../fleet-setup/kinds.ts';
import type { AuthSettings, TlsSettings } from '../sinks/opensearch/settings.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError, EXIT } from './exit-codes.ts';

const USAGE = `booth-agent fleet-setup --url URL [--user USER --password-file F | --token-file F | --aws-region R [--aws-service es|aoss]]
       [--ca-file F] [--insecure] [--slack-webhook-file F] [--prefix booth] [--retention-days 90]
       [--slow-upload-mb-s 5] [--replicas 1] [--dry-run]`;

export const fleetSetupCommand: Command = {
  summary: 'apply the OpenSearch side (pipeline, index templates, retention, role, Slack channel, monitors) idempotently',
  usage: USAGE,
  options: {
    url: { type: 'string' },
    user: { type: 'string' },
    'password-file': { type: 'string' },
    'token-file': { type: 'string' },
    'aws-region': { type: 'string' },
    'aws-service': { type: 'string' },
    'ca-file': { type: 'string' },
    insecure: { type: 'boolean' },
    'slack-webhook-file': { type: 'string' },
    prefix: { type: 'string' },
    'retention-days': { type: 'string' },
    'slow-upload-mb-s': { type: 'string' },
    replicas: { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  async run(ctx) {
    const v = ctx.values;
    const url = parseUrl(v['url']);
    const opts = fleetOptions(v);
    // Loaded here, not at start: the definitions build every document schema, which the daemon does not need.
    const { fleetResources } = await import('../fleet-setup/resources.ts');
    const resources = fleetResources(opts);
    const shown = redactedOrigin(url);
    if (v['dry-run']) return dryRun(ctx, shown, opts, resources);

    const client = new ClusterClient(url, auth(v, ctx.env), tls(v));
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

function parseUrl(value: unknown): URL {
  if (typeof value !== 'string' || value === '') throw usage('--url is required (the cluster, e.g. https://search.example.com:9200)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usage(`--url "${value}": not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw usage(`--url: expected http:// or https://, got ${url.protocol}`);
  if (url.username || url.password) throw usage('--url: put no credentials in the URL (they would show in shell history); use --user and --password-file');
  return url;
}

function redactedOrigin(url: URL): string {
  return `${url.origin}${url.pathname === '/' ? '' : url.pathname}`;
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
    const url = readSecretFile('--slack-webhook-file', webhookFile);
    if (!/^https:\/\/\S+$/.test(url)) throw usage(`--slack-webhook-file ${webhookFile}: expected one https:// URL in the file`);
    opts.slackWebhookUrl = url;
  }
  return opts;
}

function readSecretFile(option: string, file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw usage(`${option} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (text === '') throw usage(`${option} ${file}: the file is empty`);
  return text;
}

function auth(v: CommandContext['values'], env: NodeJS.ProcessEnv): AuthSettings {
  const user = v['user'] as string | undefined;
  const passwordFile = v['password-file'] as string | undefined;
  const tokenFile = v['token-file'] as string | undefined;
  const region = v['aws-region'] as string | undefined;
  const given = [user !== undefined || passwordFile !== undefined, tokenFile !== undefined, region !== undefined].filter(Boolean).length;
  if (given > 1) throw usage('give one of --user/--password-file, --token-file or --aws-region');
  if (user !== undefined || passwordFile !== undefined) {
    if (!user || !passwordFile) throw usage('--user and --password-file go together');
    return { type: 'basic', username: user, password: readSecretFile('--password-file', passwordFile) };
  }
  if (tokenFile !== undefined) return { type: 'bearer', token: readSecretFile('--token-file', tokenFile) };
  if (region !== undefined) {
    const service = (v['aws-service'] as string | undefined) ?? 'es';
    if (service !== 'es' && service !== 'aoss') throw usage(`--aws-service "${service}": expected es or aoss`);
    const accessKeyId = env['AWS_ACCESS_KEY_ID'];
    const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
    if (!accessKeyId || !secretAccessKey) throw usage('--aws-region needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
    return { type: 'sigv4', region, service, accessKeyId, secretAccessKey };
  }
  return { type: 'none' };
}

function tls(v: CommandContext['values']): TlsSettings {
  const caFile = v['ca-file'] as string | undefined;
  const settings: TlsSettings = { verify: v['insecure'] !== true };
  if (caFile) {
    try {
      settings.ca = fs.readFileSync(caFile, 'utf8');
    } catch (err) {
      throw usage(`--ca-file ${caFile}: ${(err as Error).message}`);
    }
  }
  return settings;
}
