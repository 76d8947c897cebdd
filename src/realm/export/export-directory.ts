// Writes realms as `kc.sh export --dir DIR` does: `<realm>-realm.json` per
// realm, the users inside it (`--users same_file`, the default) or in
// `<realm>-users-<n>.json` files of `usersPerFile` users each
// (`--users different_files`), which `--import-realm DIR` merges back.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RealmRecord } from '../model.js';
import type { RealmStore } from '../realm-store.js';
import { realmExportRep, userExportRep } from './keycloak-export.js';

/** Users per file when users go to separate files (kc.sh's --users-per-file default). */
export const USERS_PER_FILE_DEFAULT = 50;

export interface DirectoryExportOptions {
  dir: string;
  /** One realm by name; all realms when absent. */
  realm?: string;
  /** Users in separate files of this many users each; inside the realm file when absent. */
  usersPerFile?: number;
}

export interface ExportedRealm {
  realm: string;
  users: number;
  files: string[];
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}

function exportOne(store: RealmStore, realm: RealmRecord, options: DirectoryExportOptions): ExportedRealm {
  const rep = realmExportRep(store, realm, { clients: true, groupsAndRoles: true, maskSecrets: false });
  const users = store.listUsers(realm.id, { first: 0, max: Number.MAX_SAFE_INTEGER }).map(userExportRep);
  const files: string[] = [];
  const realmFile = join(options.dir, `${realm.name}-realm.json`);
  if (options.usersPerFile === undefined) {
    writeJson(realmFile, { ...rep, users });
    files.push(realmFile);
  } else {
    writeJson(realmFile, rep);
    files.push(realmFile);
    for (let n = 0; n * options.usersPerFile < users.length; n++) {
      const file = join(options.dir, `${realm.name}-users-${n}.json`);
      writeJson(file, { realm: realm.name, users: users.slice(n * options.usersPerFile, (n + 1) * options.usersPerFile) });
      files.push(file);
    }
  }
  return { realm: realm.name, users: users.length, files };
}

/** Exports the realms; throws when `realm` names none. */
export function exportRealms(store: RealmStore, options: DirectoryExportOptions): ExportedRealm[] {
  const realms = options.realm === undefined ? store.realms() : [store.realmByName(options.realm)].filter((r) => r !== undefined);
  if (realms.length === 0) throw new Error(options.realm === undefined ? 'the data directory holds no realm' : `realm ${JSON.stringify(options.realm)} not found`);
  mkdirSync(options.dir, { recursive: true });
  return realms.map((realm) => exportOne(store, realm, options));
}
