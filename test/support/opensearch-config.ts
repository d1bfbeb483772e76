// The configuration APIs of the OpenSearch stand-in (opensearch.ts), which `booth-agent
// fleet-setup` drives: GET a resource, compare, PUT/POST only what differs. Each API answers like
// OpenSearch 2.x and its plugins (status codes, bodies, error types and reasons):
//
//   /_ingest/pipeline[/{id}]                  GET PUT DELETE        opensearch-ingest.ts
//   /_index_template[/{name}]                 GET HEAD PUT POST DELETE  opensearch-templates.ts
//   /_plugins/_ism/policies[/{id}]            GET HEAD PUT DELETE   opensearch-plugins.ts
//   /_plugins/_security/api/roles[/{name}]    GET PUT DELETE        opensearch-plugins.ts
//   /_plugins/_notifications/configs[/{id}]   GET POST PUT DELETE   opensearch-plugins.ts
//   /_plugins/_alerting/monitors[/{id}]       GET POST PUT DELETE   opensearch-alerting.ts
//   /_plugins/_alerting/monitors/_search      GET POST              opensearch-alerting.ts
//
// opensearch.ts routes requests here (after its auth and fault checks) and uses the pipelines and
// templates when `_bulk` creates indices and ingests documents.
import { AlertingMonitors } from './opensearch-alerting.ts';
import { ReplyError, type ConfigEnv, type ConfigReply } from './opensearch-config-common.ts';
import { BOOTH_PIPELINE_BODY, PipelineRegistry } from './opensearch-ingest.ts';
import { IsmPolicies, NotificationConfigs, SecurityRoles } from './opensearch-plugins.ts';
import { IndexTemplates } from './opensearch-templates.ts';

export type { ConfigEnv, ConfigReply } from './opensearch-config-common.ts';
export { BOOTH_PIPELINE_BODY, PipelineRegistry, type Pipeline, type Processor, type SetProcessor } from './opensearch-ingest.ts';
export { IndexTemplates, type TemplateForIndex } from './opensearch-templates.ts';

export type ConfigApi = 'pipeline' | 'template' | 'ism' | 'role' | 'notification' | 'monitor' | 'monitor-search';

export interface ConfigRoute {
  api: ConfigApi;
  /** The resource named in the path (undefined for the collection). */
  id: string | undefined;
  /** Methods the path takes (others get the node's 405). */
  allowed: string[];
}

/** The configuration API a decoded path names, or undefined. */
export function matchConfigRoute(parts: readonly string[]): ConfigRoute | undefined {
  const [a, b, c, d, e] = parts;
  const n = parts.length;
  if (a === '_ingest' && b === 'pipeline' && n <= 3) return { api: 'pipeline', id: c, allowed: c === undefined ? ['GET'] : ['GET', 'PUT', 'DELETE'] };
  if (a === '_index_template' && n <= 2) return { api: 'template', id: b, allowed: b === undefined ? ['GET'] : ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] };
  if (a !== '_plugins') return undefined;
  if (b === '_ism' && c === 'policies' && n <= 4) return { api: 'ism', id: d, allowed: d === undefined ? ['GET'] : ['GET', 'HEAD', 'PUT', 'DELETE'] };
  if (b === '_security' && c === 'api' && d === 'roles' && n <= 5) return { api: 'role', id: e, allowed: e === undefined ? ['GET'] : ['GET', 'PUT', 'DELETE'] };
  if (b === '_notifications' && c === 'configs' && n <= 4) return { api: 'notification', id: d, allowed: d === undefined ? ['GET', 'POST'] : ['GET', 'PUT', 'DELETE'] };
  if (b === '_alerting' && c === 'monitors' && n <= 4) {
    if (d === '_search') return { api: 'monitor-search', id: undefined, allowed: ['GET', 'POST'] };
    return { api: 'monitor', id: d, allowed: d === undefined ? ['POST'] : ['GET', 'PUT', 'DELETE'] };
  }
  return undefined;
}

/** The node's configuration state and the handlers of its configuration APIs. */
export class ConfigApis {
  readonly pipelines = new PipelineRegistry();
  readonly templates = new IndexTemplates();
  readonly ism: IsmPolicies;
  readonly roles = new SecurityRoles();
  readonly notifications: NotificationConfigs;
  readonly alerting: AlertingMonitors;
  private readonly env: ConfigEnv;

  constructor(env: ConfigEnv, opts: { boothPipeline: boolean }) {
    this.env = env;
    this.ism = new IsmPolicies(env);
    this.notifications = new NotificationConfigs(env);
    this.alerting = new AlertingMonitors(env);
    if (opts.boothPipeline) this.pipelines.add('booth-ingest', structuredClone(BOOTH_PIPELINE_BODY));
  }

  handle(method: string, route: ConfigRoute, params: URLSearchParams, text: string): ConfigReply {
    const req = { method, params, text, now: this.env.now() };
    try {
      switch (route.api) {
        case 'pipeline':
          return this.pipelines.handle(req, route.id);
        case 'template':
          return this.templates.handle(req, route.id);
        case 'ism':
          return this.ism.handle(req, route.id);
        case 'role':
          return this.roles.handle(req, route.id);
        case 'notification':
          return this.notifications.handle(req, route.id);
        case 'monitor':
          return this.alerting.handle(req, route.id, false);
        case 'monitor-search':
          return this.alerting.handle(req, undefined, true);
      }
    } catch (e) {
      if (e instanceof ReplyError) return e.reply;
      throw e;
    }
  }
}
