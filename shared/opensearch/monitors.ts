// The five alerting monitors of the fleet (SPEC §9). What each watches and why, and how to try
// each on a cluster: deploy/opensearch/README.md.
//
// Shared rules:
// - Time is event.ingested (the cluster's clock, stamped by the ingest pipeline), never the
//   booth's @timestamp: booth clocks drift at venues, and a backlog arrives late.
// - Windows are relative to {{period_end}} (rendered as epoch milliseconds, hence the format).
// - Trigger scripts survive an empty window: avg over no documents is null, and a bucket that has
//   no documents does not exist — so absence is measured inside buckets that a longer look-back
//   makes exist (zero booths online, silent booths).
// - Messages speak the operator's language, with the numbers, the period and who is concerned.
import { fleetNames, type FleetOptions } from './fleet-options.ts';

export type Monitor = Record<string, unknown> & { name: string };

type Json = Record<string, unknown>;

function ingestedWithin(window: string, field = 'event.ingested'): Json {
  return { range: { [field]: { gte: `{{period_end}}||-${window}`, lte: '{{period_end}}', format: 'epoch_millis' } } };
}

function ingestedSince(window: string): Json {
  return { range: { 'event.ingested': { gte: `{{period_end}}||-${window}`, format: 'epoch_millis' } } };
}

function everyMinutes(interval: number): Json {
  return { period: { interval, unit: 'MINUTES' } };
}

function script(source: string): Json {
  return { source, lang: 'painless' };
}

function mustache(source: string): Json {
  return { source, lang: 'mustache' };
}

/** Rounds a metric to two decimals inside a bucket (mustache cannot format numbers). */
function rounded(path: string): Json {
  return { bucket_script: { buckets_path: { v: path }, script: script('Math.round(params.v * 100) / 100.0'), gap_policy: 'skip' } };
}

interface ActionSpec {
  name: string;
  subject: string;
  message: string;
  /** Query-level: at most one message per this many minutes while the trigger stays true. */
  throttleMinutes?: number;
  /** Bucket-level: one message per alert, for these alert states. */
  perAlert?: Array<'NEW' | 'DEDUPED' | 'COMPLETED'>;
}

function actions(opts: FleetOptions, spec: ActionSpec): Json[] {
  if (!opts.slackWebhookUrl) return [];
  const action: Json = {
    name: spec.name,
    destination_id: fleetNames(opts.prefix).channel,
    subject_template: mustache(spec.subject),
    message_template: mustache(spec.message),
    throttle_enabled: spec.throttleMinutes !== undefined,
  };
  if (spec.throttleMinutes !== undefined) action['throttle'] = { value: spec.throttleMinutes, unit: 'MINUTES' };
  if (spec.perAlert) action['action_execution_policy'] = { action_execution_scope: { per_alert: { actionable_alerts: spec.perAlert } } };
  return [action];
}

function monitor(name: string, type: 'query_level_monitor' | 'bucket_level_monitor', scheduleMinutes: number, indices: string[], query: Json, triggers: Json[]): Monitor {
  return {
    type: 'monitor',
    monitor_type: type,
    name,
    enabled: true,
    schedule: everyMinutes(scheduleMinutes),
    inputs: [{ search: { indices, query } }],
    triggers,
  };
}

/** 1. Slow uploads: the fleet's average upload speed, and each booth's, over the last 10 minutes. */
export function slowUploadsMonitor(opts: FleetOptions): Monitor {
  const names = fleetNames(opts.prefix);
  const t = opts.slowUploadMbS;
  const query = {
    size: 0,
    query: { bool: { filter: [ingestedWithin('10m'), { term: { 'upload.outcome': 'success' } }, { exists: { field: 'upload.speed_mb_s' } }] } },
    aggregations: {
      // A one-bucket `filters` so that the fleet average can be rounded by a bucket_script.
      fleet: {
        filters: { filters: { all: { match_all: {} } } },
        aggregations: { speed: { avg: { field: 'upload.speed_mb_s' } }, speed_rounded: rounded('speed'), booths: { cardinality: { field: 'booth.id' } } },
      },
      slow_booths: {
        terms: { field: 'booth.id', size: 500, order: { speed: 'asc' } },
        aggregations: {
          speed: { avg: { field: 'upload.speed_mb_s' } },
          speed_rounded: rounded('speed'),
          only_slow: { bucket_selector: { buckets_path: { v: 'speed' }, script: script(`params.v < ${t}`), gap_policy: 'skip' } },
        },
      },
    },
  };
  const period = 'Period start: {{ctx.periodStart}}';
  const boothList = '{{#ctx.results.0.aggregations.slow_booths.buckets}}{{key}} ({{speed_rounded.value}} MB/s) {{/ctx.results.0.aggregations.slow_booths.buckets}}';
  return monitor(`${opts.prefix}: slow uploads`, 'query_level_monitor', 5, [names.indexPattern('upload')], query, [
    {
      query_level_trigger: {
        name: `fleet average below ${t} MB/s`,
        severity: '1',
        // avg over no uploads is null: no uploads is not slow uploads. And before the first upload
        // index exists the search has no aggregations at all (a new fleet, or all aged out).
        condition: { script: script(`def b = ctx.results[0].aggregations?.fleet?.buckets?.all; return b != null && b.doc_count > 0 && b.speed.value != null && b.speed.value < ${t};`) },
        actions: actions(opts, {
          name: 'slack',
          subject: 'Fulfillment Download Speed Alert',
          message:
            `Fulfillment Download Speed Alert — AVG Download Speed: {{ctx.results.0.aggregations.fleet.buckets.all.speed_rounded.value}} MB/s (threshold ${t} MB/s) — ${period} — ` +
            `{{ctx.results.0.aggregations.fleet.buckets.all.doc_count}} images from {{ctx.results.0.aggregations.fleet.buckets.all.booths.value}} booths — slow booths: ${boothList}`,
          throttleMinutes: 30,
        }),
      },
    },
    {
      query_level_trigger: {
        name: `booths below ${t} MB/s`,
        severity: '2',
        condition: { script: script('def s = ctx.results[0].aggregations?.slow_booths; return s != null && s.buckets.size() > 0;') },
        actions: actions(opts, {
          name: 'slack',
          subject: 'Slow uploads on booths',
          message: `Slow uploads on {{ctx.results.0.aggregations.slow_booths.buckets.size}} booths (average below ${t} MB/s) — ${period} — booths: ${boothList}`,
          throttleMinutes: 30,
        }),
      },
    },
  ]);
}

/**
 * 2. Zero booths online per country. A country whose booths all went silent has no heartbeat in
 * the last 5 minutes, so a 5-minute query would have no bucket for it at all. The look-back is
 * 7 days: every country with booths has a bucket, and "online" is counted inside it.
 * `terms`, not `composite`: Alerting pages a composite parent with `after` until a page comes back
 * empty, and renders the actions with the LAST page as ctx.results — the per-country counts of the
 * message would always be empty (BucketLevelMonitorRunner). A terms aggregation is one page.
 */
export function zeroOnlineMonitor(opts: FleetOptions): Monitor {
  const names = fleetNames(opts.prefix);
  const query = {
    size: 0,
    query: { bool: { filter: [ingestedWithin('7d')] } },
    aggregations: {
      by_country: {
        terms: { field: 'booth.country', size: 500 },
        aggregations: {
          booths_7d: { cardinality: { field: 'booth.id' } },
          recent: { filter: ingestedSince('5m'), aggregations: { online: { cardinality: { field: 'booth.id' } } } },
        },
      },
    },
  };
  const counts =
    '{{#ctx.results.0.aggregations.by_country.buckets}}{{key}}: {{recent.online.value}} of {{booths_7d.value}} online; {{/ctx.results.0.aggregations.by_country.buckets}}';
  return monitor(`${opts.prefix}: zero booths online per country`, 'bucket_level_monitor', 5, [names.indexPattern('heartbeat')], query, [
    {
      bucket_level_trigger: {
        name: 'no booth online in a country',
        severity: '1',
        condition: {
          // cardinality over no documents is 0, not null: the comparison is safe.
          buckets_path: { online: 'recent>online' },
          parent_bucket_path: 'by_country',
          script: script('params.online == 0'),
          gap_policy: 'insert_zeros',
        },
        actions: actions(opts, {
          name: 'slack',
          subject: 'Zero photo booths online',
          message:
            '{{#ctx.newAlerts}}Zero photo booths are currently online in {{bucket_keys}}. Please check! — no heartbeat in the 5 minutes to {{ctx.periodEnd}}{{/ctx.newAlerts}}' +
            '{{#ctx.completedAlerts}}Photo booths are online again in {{bucket_keys}}.{{/ctx.completedAlerts}}' +
            ` — by country: ${counts}`,
          perAlert: ['NEW', 'COMPLETED'],
        }),
      },
    },
  ]);
}

/**
 * 3. A booth went silent: seen in the last 24 hours, no heartbeat in the last 15 minutes.
 * One composite source: Alerting reads a composite key back as a HashMap, so with two sources the
 * alert's bucket_keys come in hash order ("FR,FB-4001" for booth + country), not source order.
 */
export function silentBoothMonitor(opts: FleetOptions): Monitor {
  const names = fleetNames(opts.prefix);
  const query = {
    size: 0,
    query: { bool: { filter: [ingestedWithin('24h')] } },
    aggregations: {
      by_booth: {
        composite: { size: 5000, sources: [{ booth: { terms: { field: 'booth.id' } } }] },
        aggregations: { recent: { filter: ingestedSince('15m') } },
      },
    },
  };
  return monitor(`${opts.prefix}: booth went silent`, 'bucket_level_monitor', 5, [names.indexPattern('heartbeat')], query, [
    {
      bucket_level_trigger: {
        name: 'no heartbeat for 15 minutes',
        severity: '2',
        condition: {
          buckets_path: { recent: 'recent>_count' },
          parent_bucket_path: 'by_booth',
          script: script('params.recent == 0'),
          gap_policy: 'insert_zeros',
        },
        actions: actions(opts, {
          name: 'slack',
          subject: 'Photo booth went silent',
          message:
            '{{#ctx.newAlerts}}Photo booth {{bucket_keys}} went silent: no heartbeat in the 15 minutes to {{ctx.periodEnd}} (it was seen in the last 24 hours). Please check!{{/ctx.newAlerts}}' +
            '{{#ctx.completedAlerts}}Photo booth {{bucket_keys}} is sending heartbeats again.{{/ctx.completedAlerts}}',
          perAlert: ['NEW', 'COMPLETED'],
        }),
      },
    },
  ]);
}

/** 4. Upload rejections: the upload server refused images (404 booking unknown, 403, 413, …). */
export function uploadRejectionsMonitor(opts: FleetOptions): Monitor {
  const names = fleetNames(opts.prefix);
  const query = {
    size: 0,
    // The window is the schedule: every rejection is reported once.
    query: { bool: { filter: [ingestedWithin('10m'), { term: { 'upload.outcome': 'rejected' } }] } },
    aggregations: {
      by_status: { terms: { field: 'http.response.status_code', size: 20 } },
      by_booth: { terms: { field: 'booth.id', size: 50 }, aggregations: { bookings: { terms: { field: 'booking.id', size: 5 } } } },
    },
  };
  return monitor(`${opts.prefix}: upload rejections`, 'query_level_monitor', 10, [names.indexPattern('upload')], query, [
    {
      query_level_trigger: {
        name: 'images rejected by the upload server',
        severity: '2',
        condition: { script: script('return ctx.results[0].hits.total.value > 0;') },
        actions: actions(opts, {
          name: 'slack',
          subject: 'Upload rejections',
          message:
            'Upload rejections — {{ctx.results.0.hits.total.value}} images refused by the upload server between {{ctx.periodStart}} and {{ctx.periodEnd}} — ' +
            'HTTP status: {{#ctx.results.0.aggregations.by_status.buckets}}{{key}} × {{doc_count}} {{/ctx.results.0.aggregations.by_status.buckets}}— ' +
            'booths: {{#ctx.results.0.aggregations.by_booth.buckets}}{{key}} ({{doc_count}}; bookings {{#bookings.buckets}}{{key}} {{/bookings.buckets}}) {{/ctx.results.0.aggregations.by_booth.buckets}}',
        }),
      },
    },
  ]);
}

/** 5. Data loss on a booth: its buffer dropped documents, or its database was reset. */
export function dataLossMonitor(opts: FleetOptions): Monitor {
  const names = fleetNames(opts.prefix);
  const query = {
    size: 0,
    query: { bool: { filter: [ingestedWithin('5m'), { terms: { 'event.action': ['buffer_dropped', 'state_reset'] } }] } },
    aggregations: {
      by_booth: {
        terms: { field: 'booth.id', size: 100 },
        aggregations: { by_action: { terms: { field: 'event.action', size: 2 } }, dropped: { sum: { field: 'buffer.dropped' } } },
      },
    },
  };
  return monitor(`${opts.prefix}: data loss on a booth`, 'query_level_monitor', 5, [names.indexPattern('agent')], query, [
    {
      query_level_trigger: {
        name: 'buffer_dropped or state_reset',
        severity: '2',
        condition: { script: script('return ctx.results[0].hits.total.value > 0;') },
        actions: actions(opts, {
          name: 'slack',
          subject: 'Data loss on a booth',
          message:
            'Data loss on booths between {{ctx.periodStart}} and {{ctx.periodEnd}} — ' +
            '{{#ctx.results.0.aggregations.by_booth.buckets}}{{key}}: {{#by_action.buckets}}{{key}} × {{doc_count}} {{/by_action.buckets}}(documents dropped: {{dropped.value}}); {{/ctx.results.0.aggregations.by_booth.buckets}}' +
            '— buffer_dropped: the booth was offline longer than its buffer holds; state_reset: its database was unreadable and set aside. Check the booth (booth-agent status).',
        }),
      },
    },
  ]);
}

export function fleetMonitors(opts: FleetOptions): Monitor[] {
  return [slowUploadsMonitor(opts), zeroOnlineMonitor(opts), silentBoothMonitor(opts), uploadRejectionsMonitor(opts), dataLossMonitor(opts)];
}
