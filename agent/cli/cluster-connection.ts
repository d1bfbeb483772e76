// How a command reaches the fleet's cluster (fleet-setup, report): --url, the credentials (basic,
// bearer, SigV4), the CA — read and checked the same way for every command, so both speak to the
// cluster through one client (ClusterClient) configured one way.
import fs from 'node:fs';
import { ClusterClient } from '../fleet-setup/client.ts';
import type { AuthSettings, TlsSettings } from '../sinks/opensearch/settings.ts';
import type { CommandContext } from './command.ts';
import type { CliError } from './exit-codes.ts';

export const CLUSTER_USAGE = '--url URL [--user USER --password-file F | --token-file F | --aws-region R [--aws-service es|aoss]] [--ca-file F] [--insecure]';

export const CLUSTER_OPTIONS = {
  url: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  'token-file': { type: 'string' },
  'aws-region': { type: 'string' },
  'aws-service': { type: 'string' },
  'ca-file': { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

export interface ClusterConnection {
  url: URL;
  /** The URL as it may be shown: no credentials, no query. */
  shown: string;
  client: ClusterClient;
}

/** The cluster the options name; a usage error (exit 64) names the option that is wrong. */
export function clusterConnection(values: CommandContext['values'], env: NodeJS.ProcessEnv, usage: (message: string) => CliError): ClusterConnection {
  const url = parseUrl(values['url'], usage);
  return { url, shown: redactedOrigin(url), client: new ClusterClient(url, auth(values, env, usage), tls(values, usage)) };
}

export function parseUrl(value: unknown, usage: (message: string) => CliError): URL {
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

export function redactedOrigin(url: URL): string {
  return `${url.origin}${url.pathname === '/' ? '' : url.pathname}`;
}

export function readSecretFile(option: string, file: string, usage: (message: string) => CliError): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw usage(`${option} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (text === '') throw usage(`${option} ${file}: the file is empty`);
  return text;
}

function auth(v: CommandContext['values'], env: NodeJS.ProcessEnv, usage: (message: string) => CliError): AuthSettings {
  const user = v['user'] as string | undefined;
  const passwordFile = v['password-file'] as string | undefined;
  const tokenFile = v['token-file'] as string | undefined;
  const region = v['aws-region'] as string | undefined;
  const given = [user !== undefined || passwordFile !== undefined, tokenFile !== undefined, region !== undefined].filter(Boolean).length;
  if (given > 1) throw usage('give one of --user/--password-file, --token-file or --aws-region');
  if (user !== undefined || passwordFile !== undefined) {
    if (!user || !passwordFile) throw usage('--user and --password-file go together');
    return { type: 'basic', username: user, password: readSecretFile('--password-file', passwordFile, usage) };
  }
  if (tokenFile !== undefined) return { type: 'bearer', token: readSecretFile('--token-file', tokenFile, usage) };
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

function tls(v: CommandContext['values'], usage: (message: string) => CliError): TlsSettings {
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
