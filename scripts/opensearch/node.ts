// One local OpenSearch node for tests: assembled from the fetched artifacts (once per version),
// started on free loopback ports as an unprivileged user (OpenSearch refuses root), waited for
// until green, stopped with its data removed. Its state (pid, port) is a small JSON file beside it.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { distributionFile, MODULES, OPENSEARCH_VERSION, pluginFile, PLUGINS } from './artifacts.ts';
import type { Jdk } from './java.ts';

/** Where the node lives: readable by the service user (root's home is not), rebuilt from the cache at will. */
export const NODE_ROOT = path.join(os.tmpdir(), 'booth-agent-opensearch', OPENSEARCH_VERSION);
const HOME = path.join(NODE_ROOT, `opensearch-${OPENSEARCH_VERSION}`);
const STATE = path.join(NODE_ROOT, 'node.json');
const DATA = path.join(NODE_ROOT, 'data');
const LOGS = path.join(NODE_ROOT, 'logs');
/** OpenSearch will not run as root: as root, the node runs as this system user. */
const SERVICE_USER = 'booth-opensearch';
const MIN_FREE_BYTES = 1.5e9;

export interface NodeState {
  pid: number;
  port: number;
  url: string;
  plugins: string[];
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
  fs.writeFileSync(stamp, wanted);
  return available.map((p) => p.installsAs);
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
    ].join('\n'),
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
  const url = `http://127.0.0.1:${port}`;
  const pid = await waitFor(() => (fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : undefined), 30_000, 'its pid file');
  await waitFor(async () => (alive(pid) ? await green(url) : Promise.reject(new NodeError(`OpenSearch stopped while starting:${logTail()}`))), 180_000, `the cluster at ${url} to be green`);
  const listed = await get<{ component: string }[]>(`${url}/_cat/plugins?format=json`);
  const have = new Set(listed.map((p) => p.component));
  const lacking = plugins.filter((p) => !have.has(p));
  if (lacking.length > 0) throw new NodeError(`_cat/plugins does not list ${lacking.join(', ')}`);
  const state: NodeState = { pid, port, url, plugins: [...have].sort() };
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

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new NodeError(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
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
