// One composable index template per dataset ({prefix}-upload-*, {prefix}-heartbeat-*, …) with
// explicit mappings for every field the agent writes, generated from the document schema.
import { DATASETS, type Dataset } from '../documents/datasets.ts';
import { fleetNames, type FleetOptions } from './fleet-options.ts';
import { datasetMapping } from './mappings.ts';

export function datasetKind(dataset: Dataset): string {
  return dataset.replace(/^booth\./, '');
}

export interface NamedTemplate {
  name: string;
  body: Record<string, unknown>;
}

export function indexTemplates(opts: FleetOptions): NamedTemplate[] {
  const names = fleetNames(opts.prefix);
  return DATASETS.map((dataset) => {
    const kind = datasetKind(dataset);
    return {
      name: names.template(kind),
      body: {
        index_patterns: [names.indexPattern(kind)],
        // Above the defaults of plugins and of catch-all templates (priority 0–100).
        priority: 200,
        _meta: { managed_by: 'booth-agent fleet-setup', dataset },
        template: {
          settings: {
            'index.number_of_shards': 1,
            'index.number_of_replicas': opts.replicas,
            'index.refresh_interval': '5s',
            'index.default_pipeline': names.pipeline,
          },
          mappings: {
            // A field a newer agent adds is kept in _source, unindexed, instead of failing the
            // document (strict) or guessing its type (true): never lose a measurement.
            dynamic: false,
            date_detection: false,
            properties: datasetMapping(dataset),
          },
        },
      },
    };
  });
}
