// Bundles the admin console (console/, Preact + htm) into dist/console/app.js
// with esbuild: one minified ES module, no CDN, served by the node. Run by
// `npm run build` after tsc, and by `npm start` (scripts/start.mjs).

import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildConsole() {
  await build({
    absWorkingDir: root,
    entryPoints: ['console/main.js'],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outfile: 'dist/console/app.js',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildConsole();
