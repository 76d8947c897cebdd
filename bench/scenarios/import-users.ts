// import-users: importing a Keycloak realm export of 100,000 users with
// hashed pbkdf2-sha512 credentials (docs/performance.md#targets: < 30 s; quick: 20,000 users,
// the metric keeps its name and reports the size it ran in the log and the
// results file).
//
//   import_100k_users_seconds   wall time of `node.importDirectory(dir)` on a
//       fresh in-process node: read the file, JSON.parse, parseKeycloakRealm,
//       then RealmStore.createRealm (realm keys, users written in chunked
//       LMDB transactions until committed). In-process rather than a CLI
//       start with --import-realm minus an empty start: the figure is the
//       import alone, without two process start-ups' noise around it (a
//       start is ~1-3 s on this machine, see startup-offline), and the
//       node's own 'realm imported' log line splits it into parse and write.
//
// The export is what `kc.sh export --users same_file` writes for such users:
// ids, timestamps, attributes, realm and client role mappings, and a
// password credential with secretData / credentialData as JSON strings. One
// hash (210,000 iterations, one salt) serves every user: hashing 100,000
// times would take hours and changes nothing about the import, which stores
// hashes as they are. After the import one user's password is verified
// against the stored credential, and the user count is checked.

import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { parseOptions } from '../../src/config/options.js';
import { SessiondNode } from '../../src/node.js';
import { tempDir } from '../http/processes.js';
import { row, type Scenario } from '../lib/scenario.js';

const NAME = 'import-users';
const USERS_FULL = 100_000;
const USERS_QUICK = 20_000;
const REALM = 'import-bench';
const PASSWORD = 'Bench-Password-2024!';
/** Keycloak 26's default for pbkdf2-sha512. */
const ITERATIONS = 210_000;
const KEY_BYTES = 64;
const CREATED = 1_718_000_000_000;

function uuidOf(kind: number, i: number): string {
  return `00000000-0000-4${kind.toString(16).padStart(3, '0')}-8000-${i.toString(16).padStart(12, '0')}`;
}

/** The realm export as text: built user by user, so 100 k users never exist as one object graph here. */
function realmExport(users: number): string {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(Buffer.from(PASSWORD, 'utf8'), salt, ITERATIONS, KEY_BYTES, 'sha512');
  const secretData = JSON.stringify({ value: hash.toString('base64'), salt: salt.toString('base64'), additionalParameters: {} });
  const credentialData = JSON.stringify({ hashIterations: ITERATIONS, algorithm: 'pbkdf2-sha512', additionalParameters: {} });
  const head = {
    id: uuidOf(0, 0),
    realm: REALM,
    enabled: true,
    passwordPolicy: `hashAlgorithm(pbkdf2-sha512) and hashIterations(${ITERATIONS})`,
    clients: [
      {
        id: uuidOf(1, 0),
        clientId: 'bench-app',
        enabled: true,
        publicClient: false,
        secret: 'bench-secret',
        directAccessGrantsEnabled: true,
        redirectUris: ['https://app.bench.example/*'],
      },
    ],
  };
  const parts: string[] = [];
  for (let i = 0; i < users; i++) {
    parts.push(
      JSON.stringify({
        id: uuidOf(2, i),
        username: `bench.user.${i}`,
        firstName: 'Bench',
        lastName: `User ${i}`,
        email: `bench.user.${i}@bench.example`,
        emailVerified: true,
        attributes: { department: [`d${i % 10}`] },
        createdTimestamp: CREATED + i,
        enabled: true,
        totp: false,
        credentials: [{ id: uuidOf(3, i), type: 'password', createdDate: CREATED + i, secretData, credentialData }],
        disableableCredentialTypes: [],
        requiredActions: [],
        realmRoles: [`default-roles-${REALM}`, 'offline_access'],
        clientRoles: { account: ['view-profile', 'manage-account'] },
        notBefore: 0,
        groups: [],
      }),
    );
  }
  const text = JSON.stringify(head);
  return `${text.slice(0, -1)},"users":[${parts.join(',')}]}`;
}

export const importUsers: Scenario = {
  name: NAME,
  description: 'import of a Keycloak realm export with 100 k users (hashed pbkdf2-sha512 credentials) into a fresh node',
  async run({ quick, log }) {
    const users = quick ? USERS_QUICK : USERS_FULL;
    const dir = await tempDir('import');
    let node: SessiondNode | null = null;
    try {
      const realmDir = join(dir.path, 'realms');
      let t = performance.now();
      const text = realmExport(users);
      await mkdir(realmDir);
      await writeFile(join(realmDir, `${REALM}-realm.json`), text);
      log(`realm export with ${users.toLocaleString('en-US')} users: ${(text.length / 1024 ** 2).toFixed(0)} MB, generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);

      const parsed = parseOptions(['--data-dir', join(dir.path, 'data'), '--http-port', '0', '--management-port', '0'], {});
      if (parsed.help) throw new Error('unexpected --help');
      // The node's info lines are kept: 'realm imported' carries the write phase's own ms.
      const seen: { writeMs: number | null } = { writeMs: null };
      const sink = {
        write(line: string): void {
          const entry = JSON.parse(line) as { msg?: string; ms?: number };
          if (entry.msg === 'realm imported' && typeof entry.ms === 'number') seen.writeMs = entry.ms;
        },
      };
      node = await SessiondNode.start({ options: parsed.options, log: pino({ level: 'info' }, sink) });

      t = performance.now();
      const result = await node.importDirectory(realmDir);
      const seconds = (performance.now() - t) / 1000;
      if (result.imported.length !== 1 || result.imported[0] !== REALM) throw new Error(`import: ${JSON.stringify(result)}`);

      const realm = node.store.realmByName(REALM)!;
      const counted = node.store.countUsers(realm.id);
      if (counted < users) throw new Error(`${counted} users in the store after importing ${users}`);
      const last = node.store.userByUsername(realm.id, `bench.user.${users - 1}`);
      const credential = last?.credentials[0];
      if (credential === undefined || !(await node.hasher.verify(PASSWORD, credential))) throw new Error('the imported credential does not verify');
      const writeMs = seen.writeMs;
      const split = writeMs === null ? '' : `: read + parse ${(seconds - writeMs / 1000).toFixed(1)} s, write ${(writeMs / 1000).toFixed(1)} s`;
      log(`imported ${users.toLocaleString('en-US')} users in ${seconds.toFixed(1)} s${split} (${Math.round(users / seconds).toLocaleString('en-US')} users/s); a password verifies`);
      if (users !== USERS_FULL) log(`quick run: ${users.toLocaleString('en-US')} users (the metric keeps its 100k name; not scaled)`);
      return [row(NAME, 'import_100k_users_seconds', seconds, 's')];
    } finally {
      await node?.stop();
      await dir.remove();
    }
  },
};
