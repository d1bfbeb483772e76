// Reads the YAML config file, validates it against the schema, checks the files it names and
// reads the secrets those files hold. Every problem is collected (not just the first) and names
// its key path, the bad value and what was expected.
import fs from 'node:fs';
import nodePath from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, type Config } from './schema.ts';
import { keysAt } from './schema-walk.ts';
import { COUNTRY_CODES, NOT_COUNTRIES } from './countries.ts';
import { parseTarget } from './targets.ts';

export const DEFAULT_CONFIG_PATH = '/etc/booth-agent/config.yaml';

export interface Problem {
  /** Key path such as "opensearch.batch.max_docs", or the file name for problems with the file itself. */
  path: string;
  message: string;
}

/** Secret values read from the `*_file` keys, by key path. Never logged (see agent/log). */
export type Secrets = Map<string, string>;

export type LoadResult =
  | { ok: true; path: string; config: Config; secrets: Secrets; warnings: Problem[] }
  | { ok: false; path: string; problems: Problem[]; warnings: Problem[] };

export function resolveConfigPath(flag: string | undefined, env = process.env): string {
  return flag || env['BOOTH_AGENT_CONFIG'] || DEFAULT_CONFIG_PATH;
}

export function formatProblem(p: Problem): string {
  return `${p.path}: ${p.message}`;
}

export function loadConfig(file: string): LoadResult {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const fail = () => ({ ok: false as const, path: file, problems, warnings });

  let textContent: string;
  try {
    textContent = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ path: file, message: `cannot read the config file: ${describeFsError(err)}` });
    return fail();
  }

  const doc = parseDocument(textContent, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
      const text = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ path: where, message: `YAML syntax error: ${text}` });
    }
    return fail();
  }
  let raw: unknown;
  try {
    // yaml refuses more alias expansions than this: a "billion laughs" file would take the memory.
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    problems.push({ path: file, message: `the YAML expands too many aliases (*name references; more than 100): ${(err as Error).message}` });
    return fail();
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push({ path: file, message: 'expected a YAML map of settings at the top level' });
    return fail();
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(...describeIssue(issue, raw));
    // Check the rest too, so one run lists every problem: the bad keys are set aside (their
    // defaults or placeholders stand in) and problems about them are not repeated.
    const lenient = lenientParse(raw as Record<string, unknown>, parsed.error.issues);
    if (lenient) {
      const known = (p: Problem) => lenient.setAside.some((bad) => p.path === bad || p.path.startsWith(`${bad}.`));
      const more = [...crossChecks(lenient.config, raw), ...fileChecks(lenient.config, new Map(), [])];
      problems.push(...more.filter((p) => !known(p)));
    }
    return fail();
  }
  const config = parsed.data;
  problems.push(...crossChecks(config, raw));
  const secrets: Secrets = new Map();
  problems.push(...fileChecks(config, secrets, warnings));
  if (problems.length > 0) return fail();
  if (!config.uploads.tls.verify || !config.opensearch.tls.verify) {
    const key = !config.uploads.tls.verify ? 'uploads.tls.verify' : 'opensearch.tls.verify';
    warnings.push({ path: key, message: 'certificate verification is off: anyone on the network path can read and alter the traffic' });
  }
  // Credentials over plain HTTP: anyone on the venue's network can read them.
  if (config.opensearch.url?.startsWith('http:') && config.opensearch.auth.type !== 'none') {
    warnings.push({ path: 'opensearch.url', message: `credentials (opensearch.auth.type ${config.opensearch.auth.type}) over plain http: anyone on the network path can read them; use https` });
  }
  if (config.uploads.url.startsWith('http:') && Object.keys(config.uploads.header_files).length > 0) {
    warnings.push({ path: 'uploads.url', message: 'credentials (uploads.header_files) over plain http: anyone on the network path can read them; use https' });
  }
  return { ok: true, path: file, config, secrets, warnings };
}

// Stand-ins for required keys that are missing or bad, so the other checks can still run.
const PLACEHOLDERS: Record<string, unknown> = {
  'booth.id': 'placeholder',
  'booth.country': 'US',
  'uploads.watch_dir': '.',
  'uploads.url': 'http://placeholder/{file}',
};

function lenientParse(raw: Record<string, unknown>, issues: readonly Issue[]): { config: Config; setAside: string[] } | undefined {
  const copy = structuredClone(raw);
  const setAside: string[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String);
    const targets = issue.code === 'unrecognized_keys' && issue.keys ? issue.keys.map((k) => [...path, k]) : [path];
    for (const t of targets) {
      deleteAt(copy, t);
      setAside.push(t.join('.'));
    }
  }
  for (const [key, value] of Object.entries(PLACEHOLDERS)) {
    const path = key.split('.');
    if (valueAt(copy, path) === undefined) {
      setAt(copy, path, value);
      setAside.push(key);
    }
  }
  const again = configSchema.safeParse(copy);
  return again.success ? { config: again.data, setAside } : undefined;
}

function deleteAt(obj: Record<string, unknown>, path: string[]): void {
  if (path.length === 0) return;
  const parent = valueAt(obj, path.slice(0, -1));
  if (typeof parent === 'object' && parent !== null) delete (parent as Record<string, unknown>)[path[path.length - 1]!];
}

function setAt(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  expected?: string;
}

function describeIssue(issue: Issue, raw: unknown): Problem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    const allowed = keysAt(configSchema, issue.path);
    return issue.keys.map((key) => {
      const hint = closest(key, allowed);
      const known = hint ? `did you mean "${hint}"?` : `allowed here: ${allowed.join(', ')}`;
      return { path: [...path, key].join('.'), message: `unknown key (${known})` };
    });
  }
  const value = valueAt(raw, path);
  const got = value === undefined ? '' : `, got ${MAY_HOLD_SECRETS.test(path.join('.')) ? `${kindOf(value)} (not shown: it may hold a secret)` : describeValue(value)}`;
  const where = path.join('.') || '(top level)';
  if (issue.code === 'invalid_type' && issue.expected === 'object') {
    // A section that is missing or given as something other than a map ("booth: FB-1042").
    return [{ path: where, message: value === undefined || value === null ? 'required: expected a map of settings' : `expected a map of settings${got}` }];
  }
  const message = issue.code === 'custom' ? issue.message : `expected ${issue.message.replace(/^Invalid input: /, '')}`;
  return [{ path: where, message: `${message}${got}` }];
}

function valueAt(raw: unknown, path: string[]): unknown {
  let v = raw;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Keys whose values are not echoed in a problem: a header's value may be a secret. */
const MAY_HOLD_SECRETS = /^uploads\.(headers|header_files)(\.|$)/;

/** A value described without its content (a map by its keys). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return `a map (keys ${truncate(Object.keys(v).map((k) => JSON.stringify(k)).join(', '))})`;
  return `a ${typeof v}`;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list (${truncate(JSON.stringify(v))})`;
  if (typeof v === 'object') return `a map (${truncate(JSON.stringify(v))})`;
  // A URL's user:password is not echoed (ftp://user:pass@host).
  if (typeof v === 'string') return JSON.stringify(truncate(v.replace(/(\/\/)[^/@\s]*@/, '$1…@')));
  return String(v);
}

function truncate(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// Header names whose values are credentials: they belong in uploads.header_files.
const SECRET_HEADER = /auth|cookie|token|secret|passw|key|credential|signature|session/i;

/** A header value as HTTP allows it: no CR, LF, NUL or other control character but the tab. */
const HEADER_VALUE_RE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

function crossChecks(config: Config, raw: unknown): Problem[] {
  const problems: Problem[] = [];
  const c = config.booth.country;
  if (!COUNTRY_CODES.has(c)) {
    const why = NOT_COUNTRIES[c] ? ` (${NOT_COUNTRIES[c]})` : '';
    problems.push({ path: 'booth.country', message: `expected an ISO 3166-1 alpha-2 country code, got "${c}"${why}` });
  }
  for (const [i, target] of config.network.targets.entries()) {
    if (!parseTarget('target', target)) problems.push({ path: `network.targets.${i}`, message: `expected host:port or an http(s) URL, got "${target}"` });
  }
  const placeholders = [...config.uploads.url.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!);
  for (const p of placeholders) {
    if (!['booth_id', 'booking_id', 'file'].includes(p)) {
      problems.push({ path: 'uploads.url', message: `unknown placeholder {${p}}: expected {booth_id}, {booking_id} or {file}` });
    }
  }
  if (!placeholders.includes('file')) {
    problems.push({ path: 'uploads.url', message: 'expected the {file} placeholder, or every image would go to the same URL' });
  }
  if (config.uploads.after_upload === 'move' && !config.uploads.move_to) {
    problems.push({ path: 'uploads.move_to', message: 'required when uploads.after_upload is move: expected a folder' });
  }
  for (const [key, retry] of [['uploads.retry', config.uploads.retry], ['opensearch.retry', config.opensearch.retry]] as const) {
    if (retry.min_delay > retry.max_delay) {
      const given = (k: string) => String(valueAt(raw, [...key.split('.'), k]) ?? 'the default');
      problems.push({ path: `${key}.min_delay`, message: `expected at most ${key}.max_delay (${given('max_delay')}), got ${given('min_delay')}` });
    }
  }
  for (const [name, value] of Object.entries(config.uploads.headers)) {
    if (!HEADER_VALUE_RE.test(value)) problems.push({ path: `uploads.headers.${name}`, message: 'expected a header value without line breaks or control characters' });
    if (SECRET_HEADER.test(name)) {
      problems.push({ path: `uploads.headers.${name}`, message: 'a credential must not be written in the config file: put it in a file (mode 600) and name that file in uploads.header_files' });
    }
  }
  for (const key of ['uploads.url', 'opensearch.url'] as const) {
    const value = key === 'uploads.url' ? config.uploads.url : config.opensearch.url;
    if (value && new URL(value.replace(/\{[^}]*\}/g, 'x')).password) {
      const instead = key === 'opensearch.url' ? 'opensearch.auth with a password_file' : 'uploads.header_files';
      problems.push({ path: key, message: `a password must not be written in the config file: remove it from the URL and use ${instead}` });
    }
  }
  const auth = config.opensearch.auth;
  const need = (key: keyof typeof auth, why: string) => {
    if (!auth[key]) problems.push({ path: `opensearch.auth.${key}`, message: `required when opensearch.auth.type is ${auth.type}: ${why}` });
  };
  if (auth.type === 'basic') {
    need('username', 'expected the user name');
    need('password_file', 'expected the file holding the password');
  } else if (auth.type === 'bearer') {
    need('token_file', 'expected the file holding the token');
  } else if (auth.type === 'sigv4') {
    need('region', 'expected an AWS region such as us-east-1');
    need('access_key_id_file', 'expected the file holding the access key id');
    need('secret_access_key_file', 'expected the file holding the secret access key');
  }
  for (const section of ['uploads', 'opensearch'] as const) {
    const t = config[section].tls;
    if (Boolean(t.cert_file) !== Boolean(t.key_file)) {
      const missing = t.cert_file ? 'key_file' : 'cert_file';
      problems.push({ path: `${section}.tls.${missing}`, message: `required together with ${section}.tls.${missing === 'key_file' ? 'cert_file' : 'key_file'}` });
    }
  }
  return problems;
}

function fileChecks(config: Config, secrets: Secrets, warnings: Problem[]): Problem[] {
  const problems: Problem[] = [];
  const check = (key: string, p: string | undefined, kind: 'dir-write' | 'dir-read' | 'file-read' | 'file-parent') => {
    if (!p) return;
    const problem = checkPath(p, kind);
    if (problem) problems.push({ path: key, message: `${problem}: ${p}` });
  };
  check('state_dir', config.state_dir, 'dir-write');
  check('uploads.watch_dir', config.uploads.watch_dir, 'dir-read');
  if (config.uploads.after_upload === 'move') check('uploads.move_to', config.uploads.move_to, 'dir-write');
  check('log.file', config.log.file, 'file-parent');
  for (const section of ['uploads', 'opensearch'] as const) {
    const t = config[section].tls;
    check(`${section}.tls.ca_file`, t.ca_file, 'file-read');
    check(`${section}.tls.cert_file`, t.cert_file, 'file-read');
    if (t.key_file) readSecret(`${section}.tls.key_file`, t.key_file, secrets, problems, warnings);
  }
  const auth = config.opensearch.auth;
  const used: Record<string, boolean> = {
    password_file: auth.type === 'basic',
    token_file: auth.type === 'bearer',
    access_key_id_file: auth.type === 'sigv4',
    secret_access_key_file: auth.type === 'sigv4',
  };
  for (const key of Object.keys(used) as (keyof typeof auth)[]) {
    const file = auth[key];
    if (!file) continue;
    if (!used[key]) {
      warnings.push({ path: `opensearch.auth.${key}`, message: `ignored: opensearch.auth.type is ${auth.type}` });
      continue;
    }
    readSecret(`opensearch.auth.${key}`, String(file), secrets, problems, warnings);
  }
  for (const [header, file] of Object.entries(config.uploads.header_files)) {
    readSecret(`uploads.header_files.${header}`, file, secrets, problems, warnings);
    const value = secrets.get(`uploads.header_files.${header}`);
    if (value !== undefined && !HEADER_VALUE_RE.test(value)) {
      // Every upload would fail with it, as a "network error": said now, the value not shown.
      problems.push({ path: `uploads.header_files.${header}`, message: `${file} holds a line break or a control character inside the value: a header value is one line` });
    }
  }
  return problems;
}

function checkPath(p: string, kind: 'dir-write' | 'dir-read' | 'file-read' | 'file-parent'): string | undefined {
  const abs = nodePath.resolve(p);
  if (kind === 'file-parent') {
    if (fs.existsSync(abs)) return canAccess(abs, fs.constants.W_OK) ? undefined : 'the file is not writable';
    const dir = nodePath.dirname(abs);
    if (!isDir(dir)) return 'its folder does not exist';
    return canAccess(dir, fs.constants.W_OK | fs.constants.X_OK) ? undefined : 'its folder is not writable';
  }
  if (kind === 'dir-write') {
    // A state dir that does not exist yet is created by `run`: its nearest existing parent must be writable.
    let dir = abs;
    while (!fs.existsSync(dir)) dir = nodePath.dirname(dir);
    if (!isDir(dir)) return dir === abs ? 'expected a folder, found a file' : `${dir} is a file, not a folder`;
    return canAccess(dir, fs.constants.W_OK | fs.constants.X_OK) ? undefined : dir === abs ? 'the folder is not writable' : `cannot be created (${dir} is not writable)`;
  }
  if (!fs.existsSync(abs)) return kind === 'dir-read' ? 'the folder does not exist' : 'the file does not exist';
  if (kind === 'dir-read') {
    if (!isDir(abs)) return 'expected a folder, found a file';
    return canAccess(abs, fs.constants.R_OK | fs.constants.X_OK) ? undefined : 'the folder is not readable';
  }
  if (isDir(abs)) return 'expected a file, found a folder';
  return canAccess(abs, fs.constants.R_OK) ? undefined : 'the file is not readable';
}

function readSecret(key: string, file: string, secrets: Secrets, problems: Problem[], warnings: Problem[]): void {
  let value: string;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
    value = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    // A value that is no path may be the secret itself, written where its file belongs: not echoed.
    const shown = /^\.{0,2}\/\S*$/.test(file) ? ` ${file}` : ' (the value given is not a path and is not shown: it may be the secret itself — name a file holding it)';
    problems.push({ path: key, message: `cannot read the secret file${shown}: ${describeFsError(err)}` });
    return;
  }
  if (value.trim() === '') {
    problems.push({ path: key, message: `the secret file is empty: ${file}` });
    return;
  }
  const worldReadable = (stat.mode & 0o004) !== 0;
  const foreignGroupReadable = (stat.mode & 0o040) !== 0 && !ownGroups().includes(stat.gid);
  if (worldReadable || foreignGroupReadable) {
    const who = worldReadable ? 'every user' : 'its group';
    warnings.push({ path: key, message: `${file} is readable by ${who} (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it` });
  }
  secrets.set(key, value);
}

function ownGroups(): number[] {
  return [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])];
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function canAccess(p: string, mode: number): boolean {
  try {
    fs.accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    default:
      return e.message ?? String(err);
  }
}
