// The offline export's command line and run (src/cli/export.ts is its
// entry point): the realms of a stopped node's data directory as Keycloak
// realm files, like `kc.sh export`. The data directory is opened read-only;
// stop the node first, so that what is written is what the node last saved.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { envName } from '../../config/options.js';
import { exportRealms, USERS_PER_FILE_DEFAULT } from './export-directory.js';
import { RealmStore } from '../realm-store.js';
import { ENV_FILE, openEnv } from '../../store/lmdb-env.js';

export const EXPORT_USAGE = `Usage: npm run export -- --dir DIR [--realm NAME] [--data-dir DATA_DIR] [--users same_file|different_files] [--users-per-file N]

Writes Keycloak realm-representation files (DIR/<realm>-realm.json, and DIR/<realm>-users-<n>.json
with --users different_files) from the data directory of a stopped node (default: ${'$'}${envName('--data-dir')} or ./data).`;

export interface ExportArgs {
  dir: string;
  dataDir: string;
  realm?: string;
  usersPerFile?: number;
}

export class UsageError extends Error {}

/** Reads the command line; throws UsageError naming what is wrong. */
export function parseExportArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ExportArgs | 'help' {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if (!['--dir', '--realm', '--data-dir', '--users', '--users-per-file'].includes(flag)) throw new UsageError(`unknown option ${JSON.stringify(flag)}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`option ${flag} needs a value`);
    values.set(flag, value);
  }
  const dir = values.get('--dir');
  if (dir === undefined) throw new UsageError('--dir is required');
  const users = values.get('--users') ?? 'same_file';
  if (users !== 'same_file' && users !== 'different_files') throw new UsageError('--users must be same_file or different_files');
  const perFileText = values.get('--users-per-file');
  if (perFileText !== undefined && !/^[1-9]\d{0,6}$/.test(perFileText)) throw new UsageError('--users-per-file must be a positive integer');
  const args: ExportArgs = { dir, dataDir: values.get('--data-dir') ?? env[envName('--data-dir')] ?? './data' };
  const realm = values.get('--realm');
  if (realm !== undefined) args.realm = realm;
  if (users === 'different_files') args.usersPerFile = perFileText === undefined ? USERS_PER_FILE_DEFAULT : Number(perFileText);
  return args;
}

/** Runs an export; returns what was written. */
export async function runExport(args: ExportArgs): Promise<ReturnType<typeof exportRealms>> {
  if (!existsSync(join(args.dataDir, ENV_FILE))) throw new UsageError(`${args.dataDir} is not a sessiond data directory`);
  const env = openEnv(args.dataDir, { readOnly: true });
  try {
    const store = RealmStore.open(env);
    const options = { dir: args.dir, ...(args.realm !== undefined ? { realm: args.realm } : {}), ...(args.usersPerFile !== undefined ? { usersPerFile: args.usersPerFile } : {}) };
    return exportRealms(store, options);
  } finally {
    await env.close();
  }
}
