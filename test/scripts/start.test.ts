// Goal: `npm start -- --help` answers without compiling the project, from
// the one table of options (a fresh clone has no dist/). Method: a copy of
// scripts/start.mjs with only the source files --help needs and the
// repository's node_modules, no dist/; run it with --help.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { OPTION_SPECS, helpText } from '../../src/config/options.js';
import { tempDir } from '../helpers/temp-dir.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

test('--help prints the options from the source when there is no dist/, and compiles nothing', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'scripts'));
  cpSync(join(repo, 'scripts', 'start.mjs'), join(dir, 'scripts', 'start.mjs'));
  for (const file of ['config/options.ts', 'constants.ts', 'util/ip-address.ts']) {
    mkdirSync(join(dir, 'src', file, '..'), { recursive: true });
    cpSync(join(repo, 'src', file), join(dir, 'src', file));
  }
  cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));

  const run = spawnSync(process.execPath, [join(dir, 'scripts', 'start.mjs'), '--import-realm', 'realms', '--help'], { encoding: 'utf8', timeout: 30_000 });
  t.is(run.status, 0, run.stderr);
  t.is(run.stdout, `${helpText()}\n`, 'the same text the built node prints');
  for (const spec of OPTION_SPECS) t.true(run.stdout.includes(spec.flag), spec.flag);
  t.false(existsSync(join(dir, 'dist')), 'nothing was compiled');
});
