// The TLS material of one config section (uploads.tls, opensearch.tls), read once at start:
// the CA and certificate from their files, the private key from the secrets already loaded.
import fs from 'node:fs';
import type { Secrets } from './load.ts';
import type { Config } from './schema.ts';

export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  verify: boolean;
}

export function tlsMaterial(section: 'uploads' | 'opensearch', config: Config, secrets: Secrets): TlsMaterial {
  const t = config[section].tls;
  const tls: TlsMaterial = { verify: t.verify };
  if (t.ca_file) tls.ca = fs.readFileSync(t.ca_file, 'utf8');
  if (t.cert_file) tls.cert = fs.readFileSync(t.cert_file, 'utf8');
  const key = secrets.get(`${section}.tls.key_file`);
  if (key) tls.key = key;
  return tls;
}

/** got's `https` options for this material: every HTTP client of the agent trusts the same way. */
export function gotHttpsOptions(tls: TlsMaterial) {
  return {
    rejectUnauthorized: tls.verify,
    ...(tls.ca ? { certificateAuthority: tls.ca } : {}),
    ...(tls.cert ? { certificate: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
  };
}
