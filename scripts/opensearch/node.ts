// One local OpenSearch node for tests: assembled from the fetched artifacts (once per version),
// started on free loopback ports as an unprivileged user (OpenSearch refuses root), waited for
// until green, stopped with its data removed. Its state (pid, port) is a small JSON file beside it.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { distributionFile, MODULES, OPENSEARCH_VERSION, pluginFile, PLUGINS, SECURITY } from './artifacts.ts';
import type { Jdk } from './java.ts';

/** Where the node lives: readable by the service user (root's home is not), rebuilt from the cache at will. */
export const NODE_ROOT = path.join(os.tmpdir(), 'booth-agent-opensearch', `${OPENSEARCH_VERSION}${SECURITY ? '-security' : ''}`);
const HOME = path.join(NODE_ROOT, `opensearch-${OPENSEARCH_VERSION}`);
const STATE = path.join(NODE_ROOT, 'node.json');
const DATA = path.join(NODE_ROOT, 'data');
const LOGS = path.join(NODE_ROOT, 'logs');
/** With security: the settings the plugin's demo installer wrote (TLS, admin DN), the admin password, the demo CA. */
const SECURITY_YML = path.join(NODE_ROOT, 'security.yml');
const ADMIN_PASSWORD_FILE = path.join(NODE_ROOT, 'admin-password');
const CA_FILE = path.join(HOME, 'config', 'root-ca.pem');
/** OpenSearch will not run as root: as root, the node runs as this system user. */
const SERVICE_USER = 'booth-opensearch';
const MIN_FREE_BYTES = 1.5e9;

export interface NodeState {
  pid: number;
  port: number;
  url: string;
  plugins: string[];
  /** With security: user admin's password file and the CA of the node's certificate. */
  adminPasswordFile?: string;
  ca?: string;
}

export class NodeError extends Error {}

/** The assembled node: the distribution, the modules placed by hand, the plugins that were fetched. Returns the plugins installed. */
export function assemble(jdk: Jdk, artifacts: string, log: (line: string) => void): string[] {
  const available = PLUGINS.filter((p) => fs.existsSync(pluginFile(artifacts, p)));
  const stamp = path.join(HOME, '.booth-agent-assembled');
  const wanted = available.map((p) => p.installsAs).join(',');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return available.map((p) => p.installsAs);
  log(`assembling the node in ${HOME}`);
  fs.rmSync(HOME, { recursive: true, force: true });
  fs.mkdirSync(NODE_ROOT, { recursive: true });
  try {
    execFileSync('unzip', ['-q', distributionFile(artifacts), '-d', NODE_ROOT], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NodeError('unzip is not installed (apt-get install unzip): it unpacks the OpenSearch distribution');
    throw err;
  }
  const jars = fs.readdirSync(artifacts).filter((f) => f.endsWith('.jar'));
  for (const m of MODULES) {
    const dir = path.join(HOME, 'modules', m.name);
    fs.mkdirSync(dir, { recursive: true });
    const mine = jars.filter((j) => m.jars.some((prefix) => j.startsWith(prefix)));
    if (mine.length < m.jars.length) throw new NodeError(`module ${m.name}: jars missing from ${artifacts} (have ${mine.join(', ')})`);
    for (const j of mine) fs.copyFileSync(path.join(artifacts, j), path.join(dir, j));
    fs.writeFileSync(
      path.join(dir, 'plugin-descriptor.properties'),
      [
        `description=${m.description}`,
        `version=${OPENSEARCH_VERSION}`,
        `name=${m.name}`,
        `classname=${m.classname}`,
        'java.version=11',
        `opensearch.version=${OPENSEARCH_VERSION}`,
        `extended.plugins=${(m.extendedPlugins ?? []).join(',')}`,
        '',
      ].join('\n'),
    );
    if (m.policy) fs.writeFileSync(path.join(dir, 'plugin-security.policy'), m.policy);
  }
  for (const p of available) {
    log(`installing ${p.installsAs}`);
    execFileSync(path.join(HOME, 'bin', 'opensearch-plugin'), ['install', '--batch', `file://${pluginFile(artifacts, p)}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, JAVA_HOME: jdk.home } });
  }
  if (SECURITY) configureSecurity(jdk, log);
  fs.writeFileSync(stamp, wanted);
  return available.map((p) => p.installsAs);
}

/**
 * The security plugin's demo configuration (its own installer: demo certificates, TLS on HTTP and
 * transport, the admin user) with a generated admin password. Only for tests: demo certificates
 * are public. What the installer appends to opensearch.yml is kept, to be written after ours.
 */
function configureSecurity(jdk: Jdk, log: (line: string) => void): void {
  log('configuring the security plugin (demo certificates; a generated admin password)');
  const yml = path.join(HOME, 'config', 'opensearch.yml');
  const before = fs.readFileSync(yml, 'utf8');
  // The plugin rejects weak passwords: upper, lower, digit and special characters.
  const password = `Ba-${crypto.randomBytes(12).toString('base64url')}-9z`;
  fs.writeFileSync(ADMIN_PASSWORD_FILE, password, { mode: 0o600 });
  execFileSync('bash', [path.join(HOME, 'plugins', 'opensearch-security', 'tools', 'install_demo_configuration.sh'), '-y', '-i', '-s'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, JAVA_HOME: jdk.home, OPENSEARCH_INITIAL_ADMIN_PASSWORD: password },
  });
  const after = fs.readFileSync(yml, 'utf8');
  if (!after.startsWith(before)) throw new NodeError(`the security demo installer rewrote ${yml} instead of adding to it`);
  fs.writeFileSync(SECURITY_YML, after.slice(before.length));
}

export async function start(jdk: Jdk, plugins: string[], log: (line: string) => void): Promise<NodeState> {
  const running = await status();
  if (running) return running;
  const free = fs.statfsSync(NODE_ROOT);
  if (free.bavail * free.bsize < MIN_FREE_BYTES) throw new NodeError(`not enough disk: ${(free.bavail * free.bsize / 1e9).toFixed(1)} GB free in ${NODE_ROOT}, the node needs ${MIN_FREE_BYTES / 1e9} GB`);
  const [port, transport] = [await freePort(), await freePort()];
  fs.rmSync(DATA, { recursive: true, force: true });
  fs.mkdirSync(DATA, { recursive: true });
  fs.mkdirSync(LOGS, { recursive: true });
  fs.writeFileSync(
    path.join(HOME, 'config', 'opensearch.yml'),
    [
      'cluster.name: booth-agent-test',
      'node.name: booth-agent-test-node',
      `path.data: ${DATA}`,
      `path.logs: ${LOGS}`,
      'network.host: 127.0.0.1',
      `http.port: ${port}`,
      `transport.port: ${transport}`,
      'discovery.type: single-node',
      // These machines sometimes have little free disk; the test node must not go read-only.
      'cluster.routing.allocation.disk.threshold_enabled: false',
      'bootstrap.system_call_filter: false',
      '',
    ].join('\n') + (SECURITY ? fs.readFileSync(SECURITY_YML, 'utf8') : ''),
  );
  const user = serviceUser();
  if (user) execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, NODE_ROOT]);
  const pidFile = path.join(NODE_ROOT, 'opensearch.pid');
  fs.rmSync(pidFile, { force: true });
  const command = path.join(HOME, 'bin', 'opensearch');
  const args = ['-d', '-p', pidFile];
  const env = { ...process.env, JAVA_HOME: jdk.home, OPENSEARCH_JAVA_OPTS: process.env['OPENSEARCH_JAVA_OPTS'] ?? '-Xms512m -Xmx512m', OPENSEARCH_PATH_CONF: path.join(HOME, 'config') };
  const child = user
    ? spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new NodeError(`OpenSearch did not start (exit ${code}):\n${output.slice(-3000)}${logTail()}`);
  const url = `${SECURITY ? 'https' : 'http'}://127.0.0.1:${port}`;
  const pid = await waitFor(() => (fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : undefined), 30_000, 'its pid file');
  await waitFor(async () => (alive(pid) ? await green(url) : Promise.reject(new NodeError(`OpenSearch stopped while starting:${logTail()}`))), 180_000, `the cluster at ${url} to be green`);
  const listed = await get<{ component: string }[]>(`${url}/_cat/plugins?format=json`);
  const have = new Set(listed.map((p) => p.component));
  const lacking = plugins.filter((p) => !have.has(p));
  if (lacking.length > 0) throw new NodeError(`_cat/plugins does not list ${lacking.join(', ')}`);
  const state: NodeState = { pid, port, url, plugins: [...have].sort(), ...(SECURITY ? { adminPasswordFile: ADMIN_PASSWORD_FILE, ca: CA_FILE } : {}) };
  fs.writeFileSync(STATE, JSON.stringify(state));
  log(`OpenSearch ${OPENSEARCH_VERSION} is green at ${url} (pid ${pid}, ${jdk.home}); plugins: ${state.plugins.join(', ') || 'none'}`);
  return state;
}

/** The running node, or undefined. */
export async function status(): Promise<NodeState | undefined> {
  let state: NodeState;
  try {
    state = JSON.parse(fs.readFileSync(STATE, 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
  if (!alive(state.pid)) return undefined;
  try {
    await get(`${state.url}/`);
    return state;
  } catch {
    return undefined;
  }
}

/** Stops the node (if it runs) and removes its data. */
export async function stop(): Promise<boolean> {
  let pid: number | undefined;
  try {
    pid = (JSON.parse(fs.readFileSync(STATE, 'utf8')) as NodeState).pid;
  } catch {
    pid = undefined;
  }
  const was = pid !== undefined && alive(pid);
  if (pid !== undefined && was) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await sleep(200);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(STATE, { force: true });
  fs.rmSync(DATA, { recursive: true, force: true });
  return was;
}

function serviceUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, SERVICE_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function green(url: string): Promise<true | undefined> {
  try {
    const health = await get<{ status: string }>(`${url}/_cluster/health?wait_for_status=green&timeout=2s`);
    return health.status === 'green' ? true : undefined;
  } catch {
    return undefined;
  }
}

/** GET as the node wants it: over HTTPS with the demo CA and as admin when it has security. */
function get<T>(url: string): Promise<T> {
  const secure = url.startsWith('https:');
  const options: https.RequestOptions = { timeout: 10_000 };
  if (secure) {
    options.ca = fs.readFileSync(CA_FILE);
    options.auth = `admin:${fs.readFileSync(ADMIN_PASSWORD_FILE, 'utf8')}`;
  }
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).get(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) return reject(new NodeError(`${url}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new NodeError(`${url}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new NodeError(`timed out after ${timeoutMs / 1000} s waiting for ${what}${logTail()}`);
    await sleep(500);
  }
}

function logTail(): string {
  try {
    const text = fs.readFileSync(path.join(LOGS, 'booth-agent-test.log'), 'utf8');
    return `\nlast lines of ${path.join(LOGS, 'booth-agent-test.log')}:\n${text.split('\n').slice(-25).join('\n')}`;
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
