// The README's config reference is generated from the schema: this fails when they disagree.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { withReference } from '../agent/config/reference.ts';
import { configSchema } from '../agent/config/schema.ts';
import { leaves } from '../agent/config/schema-walk.ts';

const README = new URL('../README.md', import.meta.url);

test('README config reference matches the schema (run npm run docs after changing it)', () => {
  const readme = fs.readFileSync(README, 'utf8');
  assert.equal(readme, withReference(readme));
});

test('the reference lists every key of the config schema', () => {
  const readme = fs.readFileSync(README, 'utf8');
  const keys = leaves(configSchema).map((l) => l.path);
  assert.ok(keys.length > 50);
  for (const key of keys) assert.ok(readme.includes(`| \`${key}\` |`), key);
});

test('README names the demo and test commands first', () => {
  const readme = fs.readFileSync(README, 'utf8');
  const firstBlock = readme.slice(readme.indexOf('```sh'), readme.indexOf('```', readme.indexOf('```sh') + 5));
  assert.match(firstBlock, /npm run demo/);
  assert.match(firstBlock, /npm test/);
});
