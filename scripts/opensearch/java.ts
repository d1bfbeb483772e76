// A JDK that OpenSearch 2.x runs on: 11 to 23 (2.x needs the security manager, gone from JDK 24).
// JAVA_HOME if it fits, else the newest fitting JDK in /usr/lib/jvm or on PATH — 17 preferred.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Jdk {
  home: string;
  major: number;
}

const MIN = 11;
const MAX = 23;

export class JavaError extends Error {}

export function findJdk(): Jdk {
  const seen: string[] = [];
  const homes = new Set<string>();
  if (process.env['JAVA_HOME']) homes.add(process.env['JAVA_HOME']);
  try {
    for (const d of fs.readdirSync('/usr/lib/jvm')) homes.add(path.join('/usr/lib/jvm', d));
  } catch {
    // No system JDKs: PATH below.
  }
  try {
    const java = fs.realpathSync(execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim());
    homes.add(path.dirname(path.dirname(java)));
  } catch {
    // No java on PATH.
  }
  const fitting: Jdk[] = [];
  for (const home of homes) {
    const major = majorOf(home);
    if (major === undefined) continue;
    seen.push(`${home} (${major})`);
    if (major >= MIN && major <= MAX) fitting.push({ home: fs.realpathSync(home), major });
  }
  const jdk = fitting.find((j) => j.major === 17) ?? fitting.sort((a, b) => b.major - a.major)[0];
  if (!jdk) {
    throw new JavaError(
      seen.length === 0
        ? 'no Java found: OpenSearch 2.x needs a JDK 11–23, 17 preferred (apt-get install openjdk-17-jdk-headless), or set OPENSEARCH_URL to a cluster of your own'
        : `no JDK OpenSearch 2.x can run on (11–23; 2.x needs the security manager, which JDK 24 removed): found ${seen.join(', ')}. Install openjdk-17-jdk-headless or set JAVA_HOME`,
    );
  }
  return jdk;
}

function majorOf(home: string): number | undefined {
  const java = path.join(home, 'bin', 'java');
  if (!fs.existsSync(java)) return undefined;
  // `java -version` prints to stderr.
  const r = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 20_000 });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (!m) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}
