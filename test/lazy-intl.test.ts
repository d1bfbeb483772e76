// The lazy Intl.ListFormat main.ts installs first (agent/cli/lazy-intl.ts): it formats exactly as the
// real one, so the libraries that word messages with it say the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';

const Real = Intl.ListFormat;
await import('../agent/cli/lazy-intl.ts');

test('the lazy Intl.ListFormat formats like the real one, and is only built when used', () => {
  assert.notEqual(Intl.ListFormat, Real, 'installed');
  for (const options of [{ style: 'long', type: 'conjunction' }, { style: 'long', type: 'disjunction' }, { style: 'short', type: 'unit' }] as const) {
    const lazy = new Intl.ListFormat('en', options);
    const real = new Real('en', options);
    assert.equal(lazy.format(['a', 'b', 'c']), real.format(['a', 'b', 'c']));
    assert.deepEqual(lazy.formatToParts(['x', 'y']), real.formatToParts(['x', 'y']));
    assert.deepEqual(lazy.resolvedOptions(), real.resolvedOptions());
  }
  assert.deepEqual(Intl.ListFormat.supportedLocalesOf(['en', 'de']), Real.supportedLocalesOf(['en', 'de']));
  // Bad options surface on first use rather than at construction; they still throw.
  const bad = new Intl.ListFormat('en', { type: 'nonsense' as 'unit' });
  assert.throws(() => bad.format(['a']), RangeError);
});
