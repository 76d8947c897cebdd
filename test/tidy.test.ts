// Rules that keep the project honest rather than behaviours: what a user
// reads in docs/ matches what the code does.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { OPTION_SPECS, activeOptionSpecs, envName } from '../src/config/options.js';
import { ERROR_CODES } from '../src/errors.js';

const repo = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, repo), 'utf8');

test('docs/configuration.md lists every option with its environment variable, and no option that is refused', (t) => {
  const doc = read('docs/configuration.md');
  const rows = new Set([...doc.matchAll(/^\| `(--[a-z-]+)` \|/gm)].map((m) => m[1]));
  for (const spec of activeOptionSpecs()) {
    t.true(rows.has(spec.flag), `${spec.flag} is documented`);
    t.true(doc.includes(`\`${envName(spec.flag)}\``), `${envName(spec.flag)} is documented`);
  }
  for (const spec of OPTION_SPECS.filter((s) => s.inactive !== undefined)) t.false(rows.has(spec.flag), `${spec.flag} is not offered`);
});

test('docs/errors.md and src/errors.ts list the same error codes', (t) => {
  const doc = read('docs/errors.md');
  const documented = new Set([...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  t.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
});

test('the README opens with the two commands', (t) => {
  const readme = read('README.md');
  t.true(readme.includes('npm ci && npm start'));
  t.true(readme.includes('npm ci && npm test'));
});
