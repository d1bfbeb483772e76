// One probe of one target (SPEC §5 "Network health"): how long the name took to resolve, the TCP
// connection to open and, for https targets, the TLS handshake — each phase bounded by the same
// deadline, so a server that accepts and then says nothing costs one timeout, never a stall. The
// error is in words a technician can act on.
import dns from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { ProbeRole, ProbeTarget } from '../../config/targets.ts';

export type { ProbeRole, ProbeTarget } from '../../config/targets.ts';
export { parseTarget } from '../../config/targets.ts';

export interface ProbeResult {
  role: ProbeRole;
  target: string;
  ok: boolean;
  dns_ms?: number;
  connect_ms?: number;
  tls_ms?: number;
  /** Gateway probes (ping): average round trip and loss. */
  rtt_ms?: number;
  loss_pct?: number;
  error?: string;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Probes one target; never throws, never takes (much) longer than `timeoutMs`. */
export async function probe(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const result: ProbeResult = { role: target.role, target: target.target, ok: false };
  const deadline = performance.now() + timeoutMs;
  const left = () => Math.max(1, deadline - performance.now());
  let phase: 'dns' | 'connect' | 'tls' = 'dns';
  let socket: net.Socket | undefined;
  try {
    let address = target.host;
    if (net.isIP(target.host) === 0) {
      const t0 = performance.now();
      // getaddrinfo cannot be cancelled; the race only stops us waiting for it.
      address = (await withDeadline(dns.lookup(target.host), left(), 'dns')).address;
      result.dns_ms = round(performance.now() - t0);
    }
    phase = 'connect';
    const t1 = performance.now();
    socket = await withDeadline(connect(address, target.port), left(), 'connect', (s) => s.destroy());
    result.connect_ms = round(performance.now() - t1);
    if (target.tls) {
      phase = 'tls';
      const t2 = performance.now();
      // The handshake is timed, not judged: a certificate problem is the upload's or the sink's to report.
      const secure = await withDeadline(handshake(socket, net.isIP(target.host) === 0 ? target.host : undefined), left(), 'tls', (s) => s.destroy());
      result.tls_ms = round(performance.now() - t2);
      secure.destroy();
    }
    result.ok = true;
  } catch (err) {
    result.error = describe(err as NodeJS.ErrnoException, phase, target, timeoutMs);
  } finally {
    socket?.destroy();
  }
  return result;
}

function connect(host: string, port: number): Promise<net.Socket> {
  return ready(net.connect({ host, port }), 'connect');
}

function handshake(socket: net.Socket, servername: string | undefined): Promise<tls.TLSSocket> {
  return ready(tls.connect({ socket, ...(servername ? { servername } : {}), rejectUnauthorized: false }), 'secureConnect');
}

/** Resolves with `socket` once `event` comes, rejects (and destroys it) on an error before. */
function ready<S extends net.Socket>(socket: S, event: 'connect' | 'secureConnect'): Promise<S> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => {
      // From here errors are the next phase's: a reset during the handshake must not go unheard.
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}

class PhaseTimeout extends Error {
  override name = 'PhaseTimeout';
}

/** Resolves as `work`, or rejects once `ms` have passed (and disposes of what arrives late). */
function withDeadline<T>(work: Promise<T>, ms: number, phase: string, dispose?: (late: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new PhaseTimeout(phase));
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        if (done) dispose?.(value);
        else resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        if (!done) reject(err);
      },
    );
  });
}

function describe(err: NodeJS.ErrnoException, phase: 'dns' | 'connect' | 'tls', target: ProbeTarget, timeoutMs: number): string {
  const where = `${target.host}:${target.port}`;
  if (err instanceof PhaseTimeout) {
    const what = { dns: `resolving ${target.host}`, connect: `connecting to ${where}`, tls: `the TLS handshake with ${where}` }[phase];
    return `no answer within ${timeoutMs / 1000} s while ${what}`;
  }
  switch (err.code) {
    case 'ENOTFOUND':
      return `the name ${target.host} does not resolve`;
    case 'EAI_AGAIN':
      return `no DNS server answered for ${target.host}`;
    case 'ECONNREFUSED':
      return `${where} refused the connection (nothing listening on port ${target.port})`;
    case 'EHOSTUNREACH':
      return `no route to ${where}`;
    case 'ENETUNREACH':
      return `the network of ${where} is unreachable (no route: offline?)`;
    case 'ECONNRESET':
      return phase === 'tls' ? `${where} closed the connection during the TLS handshake` : `${where} reset the connection`;
    default:
      return `${phase === 'tls' ? 'TLS handshake' : phase === 'dns' ? 'DNS' : 'connection'} failed for ${where}: ${err.message}`;
  }
}
