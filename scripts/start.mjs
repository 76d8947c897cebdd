// `npm start`: compile (tsc, incremental), bundle the console, and run the node, in this process.
// `npm start -- --help` answers at once, without compiling: the help text
// comes from src/config/options.ts, the one table of options, transpiled on
// its own (types stripped, no type check; a few milliseconds) when dist/ is
// missing or older than the source.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
/** The modules --help needs, source and compiled, relative to the repository. */
const HELP_MODULES = ['config/options', 'constants', 'util/ip-address'];

function mtimeMs(path) {
  try {
    return statSync(join(root, path)).mtimeMs;
  } catch {
    return -1;
  }
}

async function helpModule() {
  const fresh = HELP_MODULES.every((m) => mtimeMs(`dist/src/${m}.js`) >= mtimeMs(`src/${m}.ts`));
  if (fresh) return import(pathToFileURL(join(root, 'dist/src/config/options.js')).href);
  const ts = createRequire(import.meta.url)('typescript');
  const dir = mkdtempSync(join(tmpdir(), 'sessiond-help-'));
  try {
    for (const m of HELP_MODULES) {
      const source = readFileSync(join(root, `src/${m}.ts`), 'utf8');
      const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
      mkdirSync(join(dir, m, '..'), { recursive: true });
      writeFileSync(join(dir, `${m}.js`), outputText);
    }
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    return await import(pathToFileURL(join(dir, 'config/options.js')).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--help') || args.includes('-h')) {
  const { helpText } = await helpModule();
  process.stdout.write(`${helpText()}\n`);
  process.exit(0);
}

execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
await (await import('./build-console.mjs')).buildConsole();
await import(pathToFileURL(join(root, 'dist/src/main.js')).href);
