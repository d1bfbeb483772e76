// Applies the fleet's resources idempotently: read each one, leave it alone when it is as
// wanted, create or update it otherwise. A failure is reported with its resource and reason and
// the others still go ahead; the caller turns any failure into exit 1.
import type { ClusterClient, ClusterRequest } from './client.ts';
import { errorReason, HttpError } from './client.ts';
import { KINDS, PluginMissing, type Resource } from './kinds.ts';

export type Outcome = 'created' | 'updated' | 'unchanged' | 'skipped' | 'failed';

export interface Result {
  resource: Resource;
  outcome: Outcome;
  detail?: string;
  /** The HTTP status of a failure, when it was one. */
  status?: number;
}

/** Kinds a cluster may lack without harm: without the security plugin there is no access control to configure. */
const OPTIONAL_PLUGINS = new Set(['role']);

export async function applyResources(client: ClusterClient, resources: Resource[], onResult: (r: Result) => void = () => {}): Promise<Result[]> {
  const results: Result[] = [];
  for (const resource of resources) {
    const result = await applyOne(client, resource);
    results.push(result);
    onResult(result);
    // The credentials are refused: every other request would be refused the same way.
    if (result.status === 401) break;
  }
  return results;
}

async function applyOne(client: ClusterClient, resource: Resource): Promise<Result> {
  const ops = KINDS[resource.kind];
  try {
    const current = await ops.read(client, resource);
    if (current && ops.same(current, resource)) return { resource, outcome: 'unchanged' };
    const request = current ? ops.update(resource, current) : ops.create(resource);
    const res = await client.send(request);
    if (res.status < 200 || res.status > 299) {
      return { resource, outcome: 'failed', status: res.status, detail: `${request.method} ${request.path}: HTTP ${res.status} ${errorReason(res.body)}` };
    }
    return { resource, outcome: current ? 'updated' : 'created' };
  } catch (err) {
    if (err instanceof PluginMissing && OPTIONAL_PLUGINS.has(resource.kind)) return { resource, outcome: 'skipped', detail: err.message };
    return { resource, outcome: 'failed', detail: (err as Error).message, ...(err instanceof HttpError ? { status: err.status } : {}) };
  }
}

/** What a first run against an empty cluster sends, for --dry-run. */
export function createRequests(resources: Resource[]): ClusterRequest[] {
  return resources.map((r) => KINDS[r.kind].create(r));
}
