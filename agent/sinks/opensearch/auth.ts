// Request authentication: basic, bearer, or AWS SigV4 (es, aoss, osis) signed over the exact bytes sent.
import crypto from 'node:crypto';
import aws4 from 'aws4';
import type { AuthSettings } from './settings.ts';

export type Headers = Record<string, string>;

/** Adds the authentication headers for a request to `url` with `body` (already compressed if it is). */
export function authenticate(auth: AuthSettings, method: string, url: URL, headers: Headers, body: Buffer, now: Date = new Date()): Headers {
  switch (auth.type) {
    case 'none':
      return headers;
    case 'basic':
      return { ...headers, authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
    case 'bearer':
      return { ...headers, authorization: `Bearer ${auth.token}` };
    case 'sigv4':
      return signV4(auth, method, url, headers, body, now);
  }
}

/**
 * SigV4 (aws4 does the signing). `payloadHashHeader`: Serverless (aoss) requires the payload hash
 * as a signed header and the others accept it, so it is sent by default; AWS's published test
 * vectors are without it.
 */
export function signV4(
  auth: Extract<AuthSettings, { type: 'sigv4' }>,
  method: string,
  url: URL,
  headers: Headers,
  body: Buffer,
  now: Date,
  payloadHashHeader = true,
): Headers {
  const toSign: Headers = { ...headers, 'x-amz-date': now.toISOString().replace(/[:-]|\.\d{3}/g, '') };
  if (payloadHashHeader) toSign['x-amz-content-sha256'] = crypto.createHash('sha256').update(body).digest('hex');
  const signed = aws4.sign(
    { method, host: url.host, path: `${url.pathname}${url.search}`, service: auth.service, region: auth.region, headers: toSign, body },
    { accessKeyId: auth.accessKeyId, secretAccessKey: auth.secretAccessKey },
  );
  const out: Headers = {};
  for (const [k, v] of Object.entries(signed.headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}
