// The ingest pipeline every booth index runs (its index template names it as the default
// pipeline): it stamps event.ingested with the cluster's clock. Alerts count time by it, not by
// the booth's @timestamp — a booth clock hours off, or a week of backlog arriving at once, must
// not hide a booth that is silent now nor make one that is back look silent.
export function ingestPipeline(): Record<string, unknown> {
  return {
    description: 'booth-agent: stamps event.ingested with the time the cluster received the document (managed by booth-agent fleet-setup)',
    processors: [
      {
        set: {
          field: 'event.ingested',
          // Triple braces: the timestamp unescaped.
          value: '{{{_ingest.timestamp}}}',
          override: true,
          ignore_failure: false,
        },
      },
    ],
  };
}
