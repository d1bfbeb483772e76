// The booth_writer role with the real security plugin (issue 17): fleet-setup creates it on a
// cluster with security (HTTPS, users, roles — npm run test:cluster starts one: OpenSearch 2.19.4,
// the newest core whose security plugin Maven Central serves); a booth user mapped to it can create
// documents in the fleet's indices, through the real agent too, and cannot read, update, delete or
// write anywhere else.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import { collect, runCli, startCli } from '../support/cli.ts';
import { writeConfig } from '../support/config.ts';
import { sampleDoc } from '../support/documents.ts';
import { tempDir } from '../support/tmp.ts';
import { until } from './support.ts';

function secured(): { url: string; ca: string; adminPasswordFile: string } {
  const url = process.env['OPENSEARCH_SECURE_URL'];
  const ca = process.env['OPENSEARCH_SECURE_CA'];
  const adminPasswordFile = process.env['OPENSEARCH_SECURE_ADMIN_PASSWORD_FILE'];
  if (!url || !ca || !adminPasswordFile) {
    throw new Error('OPENSEARCH_SECURE_URL, OPENSEARCH_SECURE_CA and OPENSEARCH_SECURE_ADMIN_PASSWORD_FILE are not set: npm run test:cluster starts a node with the security plugin and sets them');
  }
  return { url, ca, adminPasswordFile };
}

/** One request over HTTPS with the node's CA, as `user`. */
function request(method: string, p: string, auth: string, body?: string, contentType = 'application/json'): Promise<{ status: number; body: Record<string, unknown> }> {
  const { url, ca } = secured();
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${p}`, { method, ca: fs.readFileSync(ca), auth, headers: body !== undefined ? { 'content-type': contentType } : {}, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('booth_writer with the real security plugin: fleet-setup creates it; a booth user mapped to it creates documents (the agent ships through it) and can do nothing else', { timeout: 180_000 }, async (t) => {
  const { url, ca, adminPasswordFile } = secured();
  const admin = `admin:${fs.readFileSync(adminPasswordFile, 'utf8')}`;
  const prefix = `rw${crypto.randomBytes(4).toString('hex')}`;
  const role = `${prefix}_writer`;
  const user = `${prefix}-booth`;
  const password = `Bw-${crypto.randomBytes(12).toString('base64url')}-7q`;
  t.after(async () => {
    await request('DELETE', `/${prefix}-*,other${prefix}-*?expand_wildcards=all`, admin);
    await request('DELETE', `/_plugins/_security/api/rolesmapping/${role}`, admin);
    await request('DELETE', `/_plugins/_security/api/roles/${role}`, admin);
    await request('DELETE', `/_plugins/_security/api/internalusers/${user}`, admin);
  });

  const dir = tempDir(t);
  const adminFile = path.join(dir, 'admin-password');
  fs.writeFileSync(adminFile, fs.readFileSync(adminPasswordFile, 'utf8'), { mode: 0o600 });
  const setup = await runCli(['fleet-setup', '--url', url, '--user', 'admin', '--password-file', adminFile, '--ca-file', ca, '--prefix', prefix, '--replicas', '0'], { timeoutMs: 120_000 });
  assert.match(setup.stdout, new RegExp(`created +role +${role}`), setup.stdout + setup.stderr);
  const again = await runCli(['fleet-setup', '--url', url, '--user', 'admin', '--password-file', adminFile, '--ca-file', ca, '--prefix', prefix, '--replicas', '0'], { timeoutMs: 120_000 });
  assert.match(again.stdout, new RegExp(`unchanged +role +${role}`), again.stdout);

  assert.ok([200, 201].includes((await request('PUT', `/_plugins/_security/api/internalusers/${user}`, admin, JSON.stringify({ password }))).status));
  assert.ok([200, 201].includes((await request('PUT', `/_plugins/_security/api/rolesmapping/${role}`, admin, JSON.stringify({ users: [user] }))).status));
  const booth = `${user}:${password}`;
  const index = `${prefix}-upload-2026.12`;
  const doc = sampleDoc('booth.upload', 1, () => Date.parse('2026-12-03T10:00:00Z'));
  const line = (i: string, action = 'create', d: object = doc) => `{"${action}":{"_index":"${i}","_id":"${doc.event.id}"}}\n${JSON.stringify(d)}\n`;

  // Allowed: create into the fleet's indices (the monthly index is created on the way).
  const created = await request('POST', '/_bulk', booth, line(index), 'application/x-ndjson');
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.equal((created.body['items'] as { create: { status: number } }[])[0]!.create.status, 201, JSON.stringify(created.body));

  // Denied: another index, reading, updating, deleting — each with the cluster's own answer.
  const elsewhere = await request('POST', '/_bulk', booth, line(`other${prefix}-2026.12`), 'application/x-ndjson');
  const elsewhereStatus = elsewhere.status === 200 ? (elsewhere.body['items'] as { create: { status: number } }[])[0]!.create.status : elsewhere.status;
  assert.equal(elsewhereStatus, 403, `writing elsewhere: ${JSON.stringify(elsewhere.body).slice(0, 300)}`);
  assert.equal((await request('POST', `/${index}/_search`, booth, '{}')).status, 403, 'search');
  assert.equal((await request('GET', `/${index}/_doc/${doc.event.id}`, booth)).status, 403, 'read a document');
  const update = await request('POST', '/_bulk', booth, `{"update":{"_index":"${index}","_id":"${doc.event.id}"}}\n{"doc":{"message":"x"}}\n`, 'application/x-ndjson');
  const updateStatus = update.status === 200 ? (update.body['items'] as { update: { status: number } }[])[0]!.update.status : update.status;
  assert.equal(updateStatus, 403, `update: ${JSON.stringify(update.body).slice(0, 300)}`);
  assert.equal((await request('DELETE', `/${index}/_doc/${doc.event.id}`, booth)).status, 403, 'delete a document');
  assert.equal((await request('DELETE', `/${index}`, booth)).status, 403, 'delete the index');
  assert.equal((await request('GET', '/_cluster/settings', booth)).status, 403, 'cluster administration');

  // The real agent, as the booth user over HTTPS: its documents land.
  const passwordFile = path.join(dir, 'booth-password');
  fs.writeFileSync(passwordFile, password, { mode: 0o600 });
  const cfg = writeConfig(dir, {
    opensearch: { url, index_prefix: prefix, auth: { type: 'basic', username: user, password_file: passwordFile }, tls: { ca_file: ca }, batch: { max_docs: 100, interval: '50ms' }, retry: { min_delay: '50ms', max_delay: '1s' } },
    network: { interval: '1h' },
  });
  const bookings = Array.from({ length: 50 }, (_, i) => sampleDoc('booth.booking', i, () => Date.parse('2026-12-03T10:00:00Z')));
  assert.equal((await runCli(['record', '--config', cfg.file], { input: bookings.map((d) => JSON.stringify(d)).join('\n') + '\n' })).code, 0);
  const child = startCli(['run', '--config', cfg.file]);
  const done = collect(child, undefined, 100_000);
  await until(async () => {
    await request('POST', `/${prefix}-*/_refresh`, admin);
    const c = await request('GET', `/${prefix}-booking-2026.12/_count`, admin);
    return c.body['count'] === 50 ? true : undefined;
  }, 60_000, () => 'the agent shipped as the booth user');
  child.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0);
  const status = JSON.parse((await runCli(['status', '--config', cfg.file, '--json'])).stdout) as { shipping: { dead_letters: number; auth_problem: boolean } };
  assert.equal(status.shipping.dead_letters, 0);
  assert.equal(status.shipping.auth_problem, false);
});
