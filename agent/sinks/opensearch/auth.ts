// Request authentication: basic, bearer, or AWS SigV4 (es, aoss, osis) signed over the exact bytes sent.
import crypto from 'node:crypto';
import aws4 from 'aws4';
import type { AuthSettings } from './settings.ts';

export type Headers = Record<string, string>;

/**
 * The secret values of these settings, in every form a server might echo them (a 401 quoting the
 * decoded Basic credential, say): scrubbed from what the sink stores and logs.
 */
export function authSecrets(auth: AuthSettings): string[] {
  switch (auth.type) {
    case 'none':
      return [];
    case 'basic': {
      const pair = `${auth.username}:${auth.password}`;
      return [auth.password, pair, Buffer.from(pair).toString('base64')];
    }
    case 'bearer':
      return [auth.token];
    case 'sigv4':
      return [auth.secretAccessKey];
  }
}

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
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, '');
  const toSign: Headers = { ...headers, host: url.host, 'x-amz-date': amzDate };
  if (payloadHashHeader) toSign['x-amz-content-sha256'] = crypto.createHash('sha256').update(body).digest('hex');
  // doNotModifyHeaders: sign exactly the headers we send (aws4 would otherwise add a form
  // content type and a content-length of its own); the date then has to be given to it directly.
  const signer = new aws4.RequestSigner(
    { method, host: url.host, path: `${url.pathname}${url.search}`, service: auth.service, region: auth.region, headers: toSign, body, doNotModifyHeaders: true },
    { accessKeyId: auth.accessKeyId, secretAccessKey: auth.secretAccessKey },
  );
  signer.datetime = amzDate;
  return { ...toSign, authorization: signer.authHeader() };
}
