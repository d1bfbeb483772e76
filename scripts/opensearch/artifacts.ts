// What a local single OpenSearch node is made of, and fetching it from Maven Central (issue 17).
// The distribution without a JDK holds only the transport modules; the modules the agent's cluster
// needs (painless for Alerting's conditions, mustache for its messages, ingest-common for the
// booth-ingest pipeline) are placed by hand from their jars, and plugins installed from their zips.
// Jars are taken without their transitive dependencies where those would bring the server jar in
// a second time (jar hell): Maven resolves versions, exclusions keep the server out.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * BOOTH_OPENSEARCH_SECURITY=1: a node with the security plugin (HTTPS, users, roles), for the
 * writer role's test. Maven Central serves that plugin at 2.19.4.0 (not 2.19.5 or 2.19.6), and a
 * plugin must match its core exactly: such a node is 2.19.4.
 */
export const SECURITY = process.env['BOOTH_OPENSEARCH_SECURITY'] === '1';
export const OPENSEARCH_VERSION = process.env['BOOTH_OPENSEARCH_VERSION'] ?? (SECURITY ? '2.19.4' : '2.19.6');
const PLUGIN_VERSION = `${OPENSEARCH_VERSION}.0`;

export interface Module {
  /** The folder under modules/ and the plugin name. */
  name: string;
  description: string;
  classname: string;
  /** File name prefixes (artifactId-) of the jars that make it. */
  jars: string[];
  extendedPlugins?: string[];
  policy?: string;
}

export const MODULES: Module[] = [
  {
    name: 'lang-painless',
    description: 'An easy, safe and fast scripting language for OpenSearch',
    classname: 'org.opensearch.painless.PainlessPlugin',
    jars: ['lang-painless-', 'opensearch-scripting-painless-spi-', 'antlr4-runtime-', 'asm-'],
    policy: 'grant {\n  permission java.lang.RuntimePermission "createClassLoader";\n  permission java.lang.RuntimePermission "getClassLoader";\n};\n',
  },
  {
    name: 'lang-mustache',
    description: 'Mustache scripting integration for OpenSearch',
    classname: 'org.opensearch.script.mustache.MustachePlugin',
    jars: ['lang-mustache-client-', 'compiler-'],
    policy: 'grant {\n  permission java.lang.reflect.ReflectPermission "suppressAccessChecks";\n  permission java.lang.RuntimePermission "accessDeclaredMembers";\n};\n',
  },
  {
    name: 'ingest-common',
    description: 'Module for ingest processors that do not require additional security permissions or have large dependencies and resources',
    classname: 'org.opensearch.ingest.common.IngestCommonPlugin',
    jars: ['ingest-common-', 'opensearch-grok-', 'opensearch-dissect-', 'joni-', 'jcodings-'],
    extendedPlugins: ['lang-painless'],
  },
];

/** Plugin zips, in the order they must be installed, with the name each installs as. */
export interface Plugin {
  artifactId: string;
  installsAs: string;
}

/** The plugins the fleet's cluster uses (Alerting, Notifications, ISM and the job scheduler they run on). */
export const PLUGINS: Plugin[] = [
  { artifactId: 'opensearch-job-scheduler', installsAs: 'opensearch-job-scheduler' },
  { artifactId: 'opensearch-notifications-core', installsAs: 'opensearch-notifications-core' },
  { artifactId: 'notifications', installsAs: 'opensearch-notifications' },
  { artifactId: 'alerting', installsAs: 'opensearch-alerting' },
  { artifactId: 'opensearch-index-management', installsAs: 'opensearch-index-management' },
  ...(SECURITY ? [{ artifactId: 'opensearch-security', installsAs: 'opensearch-security' }] : []),
];

export function distributionFile(dir: string): string {
  return path.join(dir, `opensearch-${OPENSEARCH_VERSION}.zip`);
}

export function pluginFile(dir: string, p: Plugin): string {
  return path.join(dir, `${p.artifactId}-${PLUGIN_VERSION}.zip`);
}

export function cacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'booth-agent', 'opensearch', OPENSEARCH_VERSION);
}

export class FetchError extends Error {}

const exec = promisify(execFile);

/**
 * Fetches what is not in the cache yet: the distribution, the modules' jars and every plugin zip
 * Maven Central serves. Resolves with the plugins it could not get (with Maven's words), so the
 * caller decides whether the node is of use without them.
 */
export async function fetchArtifacts(dir: string, log: (line: string) => void): Promise<{ missing: { plugin: Plugin; coordinates: string; error: string }[] }> {
  fs.mkdirSync(dir, { recursive: true });
  await requireMaven();
  const core = [
    dep('org.opensearch.distribution.integ-test-zip', 'opensearch', OPENSEARCH_VERSION, 'zip', '*'),
    dep('org.opensearch.plugin', 'lang-painless', OPENSEARCH_VERSION, 'jar', 'org.opensearch'),
    dep('org.opensearch.plugin', 'lang-mustache-client', OPENSEARCH_VERSION, 'jar', 'org.opensearch'),
    // ingest-common needs grok and dissect (group org.opensearch) but not the server.
    dep('org.opensearch.plugin', 'ingest-common', OPENSEARCH_VERSION, 'jar', 'org.opensearch:opensearch'),
  ];
  if (!fs.existsSync(distributionFile(dir))) {
    log(`fetching OpenSearch ${OPENSEARCH_VERSION} and its modules from Maven Central (once; cached in ${dir})`);
    await maven(dir, core);
  }
  const missing: { plugin: Plugin; coordinates: string; error: string }[] = [];
  // What Maven Central did not serve is asked again a day later, not at every start (a Maven run each).
  const memo = path.join(dir, 'not-served.json');
  const known = readMemo(memo);
  for (const p of PLUGINS) {
    if (fs.existsSync(pluginFile(dir, p))) continue;
    const coordinates = `org.opensearch.plugin:${p.artifactId}:${PLUGIN_VERSION}:zip`;
    const asked = known[coordinates];
    if (asked && Date.now() - asked.at < 86_400_000) {
      missing.push({ plugin: p, coordinates, error: `${asked.error} (asked ${new Date(asked.at).toISOString()}; rm ${memo} to ask again)` });
      continue;
    }
    try {
      await maven(dir, [dep('org.opensearch.plugin', p.artifactId, PLUGIN_VERSION, 'zip', '*')]);
      log(`fetched ${coordinates}`);
    } catch (err) {
      if (!(err instanceof FetchError)) throw err;
      known[coordinates] = { at: Date.now(), error: err.message };
      missing.push({ plugin: p, coordinates, error: err.message });
    }
  }
  fs.writeFileSync(memo, JSON.stringify(known, null, 1));
  return { missing };
}

function readMemo(file: string): Record<string, { at: number; error: string }> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { at: number; error: string }>;
  } catch {
    return {};
  }
}

async function requireMaven(): Promise<void> {
  try {
    await exec('mvn', ['--version']);
  } catch {
    throw new FetchError('Maven (mvn) is not installed: it fetches OpenSearch from Maven Central (apt-get install maven), or set OPENSEARCH_URL to a cluster of your own');
  }
}

function dep(groupId: string, artifactId: string, version: string, type: string, exclude: '*' | string): string {
  const [exGroup, exArtifact] = exclude === '*' ? ['*', '*'] : exclude.includes(':') ? exclude.split(':') : [exclude, '*'];
  return `<dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version><type>${type}</type><exclusions><exclusion><groupId>${exGroup}</groupId><artifactId>${exArtifact}</artifactId></exclusion></exclusions></dependency>`;
}

/** Resolves `deps` (and what they bring in) into `dir`, in one Maven run. */
async function maven(dir: string, deps: string[]): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'booth-agent-maven-'));
  try {
    fs.writeFileSync(
      path.join(work, 'pom.xml'),
      `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>local</groupId><artifactId>fetch</artifactId><version>1</version><packaging>pom</packaging><dependencies>${deps.join('')}</dependencies></project>\n`,
    );
    await exec('mvn', ['-q', '-B', '-f', path.join(work, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${dir}`], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '');
    const notFound = /Could not find artifact (\S+)/.exec(out) ?? /(\S+:\S+) was not found in/.exec(out);
    throw new FetchError(notFound ? `Maven Central does not serve ${notFound[1]}` : `Maven failed: ${out.split('\n').find((l) => l.includes('[ERROR]')) ?? (err as Error).message}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
