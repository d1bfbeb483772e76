// Plugin configuration APIs of the OpenSearch stand-in, each answering like its plugin in 2.x:
//  - ISM policies           /_plugins/_ism/policies/{id}                (index-management)
//  - security roles         /_plugins/_security/api/roles/{name}        (security)
//  - notification channels  /_plugins/_notifications/configs[/{id}]     (notifications, common-utils)
// Alerting monitors live in opensearch-alerting.ts.
import {
  errorReply,
  illegalArgument,
  isObject,
  longParam,
  objectBody,
  statusException,
  SystemIndex,
  VersionConflict,
  type ConfigEnv,
  type ConfigReply,
  type ConfigRequest,
} from './opensearch-config-common.ts';

const SHARDS = { total: 1, successful: 1, failed: 0 };
const tokenOf = (v: unknown): string =>
  v === null ? 'VALUE_NULL' : Array.isArray(v) ? 'START_ARRAY' : isObject(v) ? 'START_OBJECT' : typeof v === 'string' ? 'VALUE_STRING' : typeof v === 'number' ? 'VALUE_NUMBER' : 'VALUE_BOOLEAN';
const parsingException = (expected: string, v: unknown) =>
  errorReply(400, { type: 'parsing_exception', reason: `Failed to parse object: expecting token of type [${expected}] but found [${tokenOf(v)}]` });

// ---------------------------------------------------------------------------------------------
// ISM policies (RestIndexPolicyAction, TransportIndexPolicyAction, Policy/State/Action.toXContent)

export const ISM_INDEX = '.opendistro-ism-config';
/** `_meta.schema_version` of the ISM config mapping, stamped on stored policies; it grows with releases (18 in the index-management sources read). */
const ISM_SCHEMA_VERSION = 18;
const POLICY_FIELDS = new Set(['schema_version', 'last_updated_time', 'policy_id', 'description', 'error_notification', 'default_state', 'states', 'ism_template', 'user']);
const STATE_FIELDS = new Set(['name', 'actions', 'transitions']);
/** ActionRetry's default: every action gets it when the policy does not say. */
const DEFAULT_RETRY = { count: 3, backoff: 'exponential', delay: '1m' };

export class IsmPolicies {
  readonly index: SystemIndex<Record<string, unknown>>;

  constructor(env: ConfigEnv) {
    this.index = new SystemIndex(ISM_INDEX, env.randomId());
  }

  handle(req: ConfigRequest, id: string | undefined): ConfigReply {
    if (id === undefined) return { status: 200, body: this.list() };
    if (req.method === 'PUT') return this.put(req, id);
    // The config index is created by the first policy write; before that a GET/DELETE hits a missing index.
    if (!this.index.exists) throw errorReply(404, this.index.notFound());
    if (req.method === 'DELETE') {
      const d = this.index.delete(id);
      const body = { _index: ISM_INDEX, _id: id, _version: d.version, result: d.found ? 'deleted' : 'not_found', forced_refresh: true, _shards: SHARDS, _seq_no: d.seqNo, _primary_term: 1 };
      return { status: d.found ? 200 : 404, body };
    }
    const doc = this.index.get(id);
    if (!doc) throw statusException(404, 'Policy not found');
    if (req.method === 'HEAD') return { status: 200, body: undefined };
    return { status: 200, body: { _id: id, _version: doc.version, _seq_no: doc.seqNo, _primary_term: 1, policy: doc.source } };
  }

  /** GetPoliciesResponse (an empty list, not an error, before the config index exists). */
  private list(): Record<string, unknown> {
    const policies = this.index.all().map((d) => ({ _id: d.id, _seq_no: d.seqNo, _primary_term: 1, policy: d.source }));
    return { policies, total_policies: policies.length };
  }

  private put(req: ConfigRequest, id: string): ConfigReply {
    const body = objectBody(req.text);
    // parseWithType: one wrapper field (its name is not checked), whose value is the policy.
    const [wrapper] = Object.keys(body);
    if (wrapper === undefined) throw parsingException('FIELD_NAME', null);
    const raw = body[wrapper];
    if (!isObject(raw)) throw parsingException('START_OBJECT', raw);
    const policy = parsePolicy(id, raw, req.now.getTime());
    const ifSeqNo = longParam(req.params, 'if_seq_no');
    const ifPrimaryTerm = longParam(req.params, 'if_primary_term');
    const unconditional = ifSeqNo === undefined || ifPrimaryTerm === undefined;
    let written;
    try {
      written = this.index.write(id, { ...policy, schema_version: ISM_SCHEMA_VERSION }, unconditional ? { create: true } : { ifSeqNo, ifPrimaryTerm });
    } catch (e) {
      // The plugin passes the engine's exception through unwrapped.
      if (e instanceof VersionConflict) throw errorReply(409, e.error);
      throw e;
    }
    // The response echoes the request's policy (its own schema_version, 1 by default), not the stored one.
    const response = { _id: id, _version: written.version, _primary_term: 1, _seq_no: written.seqNo, policy: { policy } };
    return written.created ? { status: 201, body: response, headers: { Location: `/_plugins/_ism/policies/${id}` } } : { status: 200, body: response };
  }
}

/** Policy.parse and its init checks (IllegalArgumentException → 400). */
function parsePolicy(id: string, raw: Record<string, unknown>, now: number): Record<string, unknown> {
  for (const key of Object.keys(raw)) if (!POLICY_FIELDS.has(key)) throw illegalArgument(`Invalid field: [${key}] found in Policy.`);
  if (raw['states'] !== undefined && !Array.isArray(raw['states'])) throw parsingException('START_ARRAY', raw['states']);
  const states = ((raw['states'] ?? []) as unknown[]).map(parseState);
  if (raw['description'] === undefined || raw['description'] === null) throw illegalArgument('description is null');
  if (raw['default_state'] === undefined || raw['default_state'] === null) throw illegalArgument('default_state is null');
  const names = states.map((s) => s['name']);
  for (const s of states) {
    for (const t of s['transitions'] as Array<Record<string, unknown>>) {
      if (!names.includes(t['state_name'])) throw illegalArgument(`Policy contains a transition in state=${String(s['name'])} pointing to a nonexistent state=${String(t['state_name'])}`);
    }
  }
  if (new Set(names).size !== names.length) throw illegalArgument('Policy cannot have duplicate state names');
  if (states.length === 0) throw illegalArgument('Policy must contain at least one State');
  if (!names.includes(raw['default_state'])) throw illegalArgument('Policy must have a valid default state');
  return {
    policy_id: id,
    description: String(raw['description']),
    last_updated_time: now,
    schema_version: typeof raw['schema_version'] === 'number' ? raw['schema_version'] : 1,
    error_notification: raw['error_notification'] ?? null,
    default_state: String(raw['default_state']),
    states,
    ism_template: parseIsmTemplates(raw['ism_template'], now),
  };
}

function parseState(raw: unknown): Record<string, unknown> {
  if (!isObject(raw)) throw parsingException('START_OBJECT', raw);
  for (const key of Object.keys(raw)) if (!STATE_FIELDS.has(key)) throw illegalArgument(`Invalid field: [${key}] found in State.`);
  if (raw['name'] === undefined || raw['name'] === null) throw illegalArgument('State name is null');
  const actions = Array.isArray(raw['actions']) ? raw['actions'] : [];
  const transitions = Array.isArray(raw['transitions']) ? raw['transitions'] : [];
  return { name: String(raw['name']), actions: actions.map(parseAction), transitions: transitions.map((t) => (isObject(t) ? t : {})) };
}

/** Action.toXContent: timeout, retry (always), then the action's own object. */
function parseAction(raw: unknown): Record<string, unknown> {
  if (!isObject(raw)) throw parsingException('START_OBJECT', raw);
  const { timeout, retry, ...rest } = raw;
  const out: Record<string, unknown> = {};
  if (timeout !== undefined) out['timeout'] = timeout;
  const r = isObject(retry) ? retry : {};
  if (retry !== undefined && (r['count'] === undefined || r['count'] === null)) throw illegalArgument('ActionRetry count is null');
  out['retry'] = retry === undefined ? { ...DEFAULT_RETRY } : { count: r['count'], backoff: String(r['backoff'] ?? 'exponential').toLowerCase(), delay: r['delay'] ?? '1m' };
  return { ...out, ...rest };
}

function parseIsmTemplates(raw: unknown, now: number): unknown {
  if (raw === undefined || raw === null) return null;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((t) => {
    const o = isObject(t) ? t : {};
    const patterns = o['index_patterns'];
    return { index_patterns: Array.isArray(patterns) ? patterns : patterns === undefined ? [] : [patterns], priority: typeof o['priority'] === 'number' ? o['priority'] : 0, last_updated_time: typeof o['last_updated_time'] === 'number' ? o['last_updated_time'] : now };
  });
}

// ---------------------------------------------------------------------------------------------
// Security roles (RolesApiAction, RequestContentValidator, RequestHandler, EndpointValidator)

type RoleKeyType = 'STRING' | 'ARRAY';
/** The keys a non-admin may PUT (`hidden` and `reserved` need REST-admin rights; `static` never). */
const ROLE_KEYS: Record<string, RoleKeyType> = { cluster_permissions: 'ARRAY', tenant_permissions: 'ARRAY', index_permissions: 'ARRAY', description: 'STRING' };

const securityReply = (status: number, body: Record<string, unknown>): ConfigReply => ({ status, body });
const securityError = (reason: string, extra: Record<string, unknown> = {}) => {
  throw new SecurityFailure(securityReply(400, { status: 'error', reason, ...extra }));
};

/** A security-plugin reply (its own `{status, message|reason}` shape, not an OpenSearch error envelope). */
export class SecurityFailure extends Error {
  readonly reply: ConfigReply;
  constructor(reply: ConfigReply) {
    super(JSON.stringify(reply.body));
    this.reply = reply;
  }
}

export class SecurityRoles {
  private readonly roles = new Map<string, Record<string, unknown>>();

  get(name: string): Record<string, unknown> | undefined {
    return this.roles.get(name);
  }

  names(): string[] {
    return [...this.roles.keys()];
  }

  handle(req: ConfigRequest, name: string | undefined): ConfigReply {
    try {
      return this.dispatch(req, name);
    } catch (e) {
      if (e instanceof SecurityFailure) return e.reply;
      throw e;
    }
  }

  private dispatch(req: ConfigRequest, name: string | undefined): ConfigReply {
    if (req.method === 'GET' && name === undefined) return securityReply(200, Object.fromEntries(this.roles));
    if (name === undefined) return securityReply(400, { status: 'BAD_REQUEST', message: 'No role specified.' });
    const notFound = () => securityReply(404, { status: 'NOT_FOUND', message: `role '${name}' not found.` });
    if (req.method === 'GET') {
      const role = this.roles.get(name);
      return role ? securityReply(200, { [name]: role }) : notFound();
    }
    if (req.method === 'DELETE') {
      if (!this.roles.delete(name)) return notFound();
      return securityReply(200, { status: 'OK', message: `'${name}' deleted.` });
    }
    const existed = this.roles.has(name);
    this.roles.set(name, normaliseRole(validateRoleBody(req.text)));
    return existed ? securityReply(200, { status: 'OK', message: `'${name}' updated.` }) : securityReply(201, { status: 'CREATED', message: `'${name}' created.` });
  }
}

/** RequestContentValidator.validate for the roles endpoint. */
function validateRoleBody(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    securityError('Could not parse content of request.');
  }
  if (!isObject(body)) return securityError('Could not parse content of request.');
  if (Object.keys(body).length === 0) securityError('Request body required for this action.');
  const invalid = Object.keys(body).filter((k) => !(k in ROLE_KEYS)).sort();
  if (invalid.length > 0) securityError('Invalid configuration', { invalid_keys: { keys: invalid.join(',') } });
  const wrong: Record<string, string> = {};
  for (const [key, type] of Object.entries(ROLE_KEYS)) {
    const v = body[key];
    if (v === undefined) continue;
    if (type === 'STRING' && typeof v !== 'string') wrong[key] = 'String expected';
    if (type === 'ARRAY' && !Array.isArray(v)) wrong[key] = 'Array expected';
  }
  if (Object.keys(wrong).length > 0) securityError('Wrong datatype', wrong);
  if (Object.keys(ROLE_KEYS).some((k) => hasNullInArray(body[k]))) securityError('`null` is not allowed as json array element');
  return body;
}

function hasNullInArray(v: unknown): boolean {
  if (Array.isArray(v)) return v.some((x) => x === null || hasNullInArray(x));
  if (isObject(v)) return Object.values(v).some(hasNullInArray);
  return false;
}

const strings = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** RoleV7 as the security index stores it and GET shows it: every field present, defaults filled. */
function normaliseRole(body: Record<string, unknown>): Record<string, unknown> {
  const role: Record<string, unknown> = { reserved: false, hidden: false };
  if (typeof body['description'] === 'string') role['description'] = body['description'];
  role['cluster_permissions'] = strings(body['cluster_permissions']);
  role['index_permissions'] = strings(body['index_permissions']).map((p) => {
    const o = isObject(p) ? p : {};
    const out: Record<string, unknown> = { index_patterns: strings(o['index_patterns']) };
    if (typeof o['dls'] === 'string') out['dls'] = o['dls'];
    return { ...out, fls: strings(o['fls']), masked_fields: strings(o['masked_fields']), allowed_actions: strings(o['allowed_actions']) };
  });
  role['tenant_permissions'] = strings(body['tenant_permissions']).map((p) => {
    const o = isObject(p) ? p : {};
    return { tenant_patterns: strings(o['tenant_patterns']), allowed_actions: strings(o['allowed_actions']) };
  });
  role['static'] = false;
  return role;
}

// ---------------------------------------------------------------------------------------------
// Notification channels (RestNotificationConfigAction, ConfigIndexingActions, NotificationConfig)

export const NOTIFICATIONS_INDEX = '.opensearch-notifications-config';
const CONFIG_TYPES = new Set(['slack', 'chime', 'microsoft_teams', 'webhook', 'email', 'sns', 'ses_account', 'smtp_account', 'email_group']);

interface NotificationDoc {
  created_time_ms: number;
  last_updated_time_ms: number;
  config: Record<string, unknown>;
}

export class NotificationConfigs {
  readonly index: SystemIndex<NotificationDoc>;
  private readonly env: ConfigEnv;

  constructor(env: ConfigEnv) {
    this.env = env;
    this.index = new SystemIndex(NOTIFICATIONS_INDEX, env.randomId());
  }

  handle(req: ConfigRequest, id: string | undefined): ConfigReply {
    if (req.method === 'POST') return this.create(req);
    if (req.method === 'GET' && id === undefined) return { status: 200, body: this.list(this.index.all()) };
    if (id === undefined) throw illegalArgument('config_id is missing');
    if (req.method === 'PUT') return this.update(req, id);
    const doc = this.index.get(id);
    if (!doc) throw statusException(404, `NotificationConfig ${id} not found`);
    if (req.method === 'DELETE') {
      this.index.delete(id);
      return { status: 200, body: { delete_response_list: { [id]: 'OK' } } };
    }
    return { status: 200, body: this.list([doc]) };
  }

  private create(req: ConfigRequest): ConfigReply {
    const body = objectBody(req.text);
    const config = parseNotificationConfig(body['config']);
    validateChannel(config);
    const id = typeof body['config_id'] === 'string' && body['config_id'] !== '' ? body['config_id'] : this.env.randomId();
    const now = req.now.getTime();
    try {
      this.index.write(id, { created_time_ms: now, last_updated_time_ms: now, config }, { create: true });
    } catch (e) {
      // PluginBaseAction: VersionConflictEngineException → OpenSearchStatusException(message, CONFLICT).
      if (e instanceof VersionConflict) throw statusException(409, e.error.reason ?? 'version conflict');
      throw e;
    }
    return { status: 200, body: { config_id: id } };
  }

  private update(req: ConfigRequest, id: string): ConfigReply {
    const body = objectBody(req.text);
    const config = parseNotificationConfig(body['config']);
    validateChannel(config);
    const current = this.index.get(id);
    if (!current) throw statusException(404, `NotificationConfig ${id} not found`);
    if (current.source.config['config_type'] !== config['config_type']) throw statusException(409, 'Config type cannot be changed after creation');
    this.index.write(id, { ...current.source, last_updated_time_ms: req.now.getTime(), config });
    return { status: 200, body: { config_id: id } };
  }

  private list(docs: Array<{ id: string; source: NotificationDoc }>): Record<string, unknown> {
    const configs = docs.map((d) => ({ config_id: d.id, last_updated_time_ms: d.source.last_updated_time_ms, created_time_ms: d.source.created_time_ms, config: d.source.config }));
    return { start_index: 0, total_hits: configs.length, total_hit_relation: 'eq', config_list: configs };
  }
}

/** NotificationConfig.parse + its init checks, thrown at REST parse time (400 illegal_argument_exception). */
function parseNotificationConfig(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) throw illegalArgument('config field absent');
  if (!isObject(raw)) throw parsingException('START_OBJECT', raw);
  if (raw['name'] === undefined || raw['name'] === null) throw illegalArgument('name field absent');
  if (raw['config_type'] === undefined || raw['config_type'] === null) throw illegalArgument('config_type field absent');
  const name = String(raw['name']);
  if (name === '') throw illegalArgument('name is null or empty');
  const configType = CONFIG_TYPES.has(String(raw['config_type'])) ? String(raw['config_type']) : 'none';
  const dataKey = Object.keys(raw).find((k) => CONFIG_TYPES.has(k));
  if (configType !== 'none' && dataKey !== configType) throw illegalArgument(`ConfigType: ${configType} and data doesn't match`);
  const config: Record<string, unknown> = {
    name,
    description: raw['description'] === undefined || raw['description'] === null ? '' : String(raw['description']),
    config_type: configType,
    is_enabled: raw['is_enabled'] === undefined ? true : raw['is_enabled'] === true || raw['is_enabled'] === 'true',
  };
  if (configType !== 'none') config[configType] = channelData(configType, raw[configType]);
  return config;
}

/** The channel's own model: URLs checked (Slack/Chime/Teams/Webhook init), webhook defaults filled. */
function channelData(type: string, raw: unknown): unknown {
  if (!isObject(raw)) throw parsingException('START_OBJECT', raw);
  if (type === 'slack' || type === 'chime' || type === 'microsoft_teams' || type === 'webhook') {
    const url = raw['url'];
    if (typeof url !== 'string' || url === '') throw illegalArgument('URL is null or empty');
    if (!/^https?:\/\/[^\s/]+/i.test(url) || !URL.canParse(url)) throw illegalArgument('Invalid URL or unsupported');
    if (type !== 'webhook') return { url };
    return { url, header_params: isObject(raw['header_params']) ? raw['header_params'] : {}, method: typeof raw['method'] === 'string' ? raw['method'] : 'POST' };
  }
  return raw;
}

/** ConfigIndexingActions.validateConfig: errors reach the client as status_exception. */
function validateChannel(config: Record<string, unknown>): void {
  const type = config['config_type'];
  if (type === 'none') throw statusException(406, 'NotificationConfig with type NONE is not acceptable');
  const data = config[String(type)];
  const url = isObject(data) ? String(data['url']) : '';
  if (type === 'slack' && !/https:\/\/hooks\.(gov-)?slack\.com\/services\//.test(url)) {
    throw statusException(400, 'Wrong Slack url. Should contain "hooks.slack.com/services/" or "hooks.gov-slack.com/services/"');
  }
  if (type === 'chime' && !/https:\/\/hooks\.chime\.aws\/incomingwebhooks\/.*\?token=/.test(url)) {
    throw statusException(400, 'Wrong Chime url. Should contain "hooks.chime.aws/incomingwebhooks/" and "?token="');
  }
  if (type === 'microsoft_teams' && !/https:\/\/.*\.webhook\.office\.com/.test(url)) throw statusException(400, 'Wrong Microsoft Teams url. Should contain "webhook.office.com"');
}

