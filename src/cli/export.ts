// `npm run export -- --dir DIR [--realm R] [--data-dir D] [--users same_file|different_files]
// [--users-per-file N]`: writes the realms of a stopped node's data directory as
// Keycloak realm files (docs/migration.md). Exit 2 on a usage error, 1 on a failure.

import { EXPORT_USAGE, UsageError, parseExportArgs, runExport } from '../realm/export/export-command.js';

async function main(): Promise<void> {
  let args;
  try {
    args = parseExportArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`export: ${(err as Error).message}\n${EXPORT_USAGE}\n`);
    process.exit(2);
  }
  if (args === 'help') {
    process.stdout.write(`${EXPORT_USAGE}\n`);
    return;
  }
  try {
    for (const r of await runExport(args)) process.stdout.write(`exported realm ${r.realm} (${r.users} users): ${r.files.join(', ')}\n`);
  } catch (err) {
    process.stderr.write(`export: ${(err as Error).message}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  }
}

await main();
