// Probe targets as the config names them (network.targets, and the upload and OpenSearch URLs):
// parsed here so that a bad one is a config error naming its key, not a probe that never runs.

export type ProbeRole = 'gateway' | 'upload' | 'opensearch' | 'target';

export interface ProbeTarget {
  role: ProbeRole;
  /** As configured or derived: a URL or host:port; what documents show. */
  target: string;
  host: string;
  port: number;
  /** Time a TLS handshake too (https targets). */
  tls: boolean;
}

/** A URL (http/https), or host:port; undefined when it is neither. */
export function parseTarget(role: ProbeRole, text: string): ProbeTarget | undefined {
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text.replace(/\{[^}]*\}/g, 'x'));
    } catch {
      return undefined;
    }
    const secure = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return { role, target: `${url.protocol}//${url.host}`, host, port: url.port ? Number(url.port) : secure ? 443 : 80, tls: secure };
  }
  const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return undefined;
  return { role, target: text, host: m[1]!, port: Number(m[2]), tls: false };
}

