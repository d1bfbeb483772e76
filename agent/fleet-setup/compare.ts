// Is what the cluster holds what fleet-setup would write? The cluster adds fields of its own
// (ids, times, defaults) and renders some values its own way, so "unchanged" means: everything we
// ask for is there with our value. Where the cluster rewrites what we sent beyond recognition
// (an index template's settings, a monitor's search query), a fingerprint of our body is stored
// with the resource and compared instead.
import crypto from 'node:crypto';

/** Every key of `wanted` is in `actual` with the same value; arrays match element by element. */
export function contains(actual: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    return Array.isArray(actual) && actual.length === wanted.length && wanted.every((w, i) => contains(actual[i], w));
  }
  if (typeof wanted === 'object' && wanted !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(wanted).every(([k, w]) => contains(a[k], w));
  }
  // OpenSearch returns some numbers and booleans as strings ("1", "true").
  return actual === wanted || (actual !== undefined && actual !== null && String(actual) === String(wanted));
}

/** A short, stable hash of a JSON value (keys sorted at every level). */
export function fingerprint(value: unknown): string {
  return crypto.createHash('sha256').update(canonical(value)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
