// The role a booth's OpenSearch user gets: it may create documents in {prefix}-* indices (and
// create those monthly indices) and nothing else — no read, no update, no delete, no other
// index, no cluster administration. A stolen booth's credentials can add data, not read the fleet's.
import { fleetNames, type FleetOptions } from './fleet-options.ts';

export function writerRole(opts: FleetOptions): Record<string, unknown> {
  const names = fleetNames(opts.prefix);
  return {
    description: `booth-agent on the booths: create documents in ${names.allIndices} only (managed by booth-agent fleet-setup)`,
    // _bulk is authorised first as a cluster action, then per index for each item.
    cluster_permissions: ['indices:data/write/bulk'],
    index_permissions: [
      {
        index_patterns: [names.allIndices],
        // `create` items are index actions with op_type create; the monthly index is created on first write.
        allowed_actions: ['indices:data/write/bulk*', 'indices:data/write/index', 'indices:admin/create'],
      },
    ],
  };
}
