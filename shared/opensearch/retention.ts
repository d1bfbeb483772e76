// The ISM policy that deletes old booth indices. Indices are monthly ({prefix}-upload-2026.11)
// and written to by name, so there is no rollover: an index is deleted when it is
// `retentionDays` plus a month old, so that its newest document is kept at least `retentionDays`.
import { fleetNames, type FleetOptions } from './fleet-options.ts';

export function retentionPolicy(opts: FleetOptions): Record<string, unknown> {
  const names = fleetNames(opts.prefix);
  const ageDays = opts.retentionDays + 31;
  return {
    policy: {
      description: `booth-agent: delete ${names.allIndices} indices ${ageDays} days after creation (documents are kept at least ${opts.retentionDays} days) (managed by booth-agent fleet-setup)`,
      default_state: 'hot',
      states: [
        { name: 'hot', actions: [], transitions: [{ state_name: 'delete', conditions: { min_index_age: `${ageDays}d` } }] },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: [names.allIndices], priority: 100 }],
    },
  };
}
