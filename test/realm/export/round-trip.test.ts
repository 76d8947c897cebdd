// The offline export (`npm run export`) of a stopped node's data directory
// writes Keycloak realm files that pass the importer's validation with
// nothing ignored, and a fresh node importing them holds the same realms,
// clients, roles and users (ids, hashed credentials) as the first: every
// login keeps working, PBKDF2 and argon2 alike.

import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseExportArgs, runExport, UsageError } from '../../../src/realm/export/export-command.js';
import { loadRealmDirectory } from '../../../src/realm/import/keycloak-realm.js';
import type { ClientRecord, RealmRecord, RoleRecord, UserRecord } from '../../../src/realm/model.js';
import { DEMO_APP, startNode, type TestNode } from '../../helpers/node-harness.js';

const ARGON2_FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/keycloak/argon2', import.meta.url));
const ACME_WEB: [string, string] = ['acme-web', 'acme-web-secret-5f0c1d'];
const LOGINS: [string, [string, string], string, string][] = [
  ['demo', DEMO_APP, 'alice', 'alice-password'],
  ['demo', DEMO_APP, 'bob', 'bob-password'],
  ['acme', ACME_WEB, 'jane.doe', 'Jane-Acme-2024!'],
  ['acme', ACME_WEB, 'john.smith', 'John-Acme-2024!'],
];

interface Snapshot {
  realm: RealmRecord;
  clients: ClientRecord[];
  roles: RoleRecord[];
  users: UserRecord[];
}

function snapshot(h: TestNode, name: string): Snapshot {
  const store = h.node.store;
  const realm = store.realmByName(name)!;
  return {
    realm,
    clients: store.clients(realm.id).sort((a, b) => a.clientId.localeCompare(b.clientId)),
    roles: store.realmRoles(realm.id).sort((a, b) => a.name.localeCompare(b.name)),
    users: store.listUsers(realm.id, { max: 1000 }),
  };
}

test('parseExportArgs: defaults, kc.sh-like options, and clear refusals', (t) => {
  t.deepEqual(parseExportArgs(['--dir', 'out'], {}), { dir: 'out', dataDir: './data' });
  t.deepEqual(parseExportArgs(['--dir=out', '--realm', 'demo', '--users', 'different_files'], { SESSIOND_DATA_DIR: '/var/lib/s' }), {
    dir: 'out',
    dataDir: '/var/lib/s',
    realm: 'demo',
    usersPerFile: 50,
  });
  t.is(parseExportArgs(['--dir', 'o', '--users', 'different_files', '--users-per-file', '3'], {}) !== 'help' && (parseExportArgs(['--dir', 'o', '--users', 'different_files', '--users-per-file', '3'], {}) as { usersPerFile: number }).usersPerFile, 3);
  t.is(parseExportArgs(['--help'], {}), 'help');
  t.throws(() => parseExportArgs([], {}), { instanceOf: UsageError, message: '--dir is required' });
  t.throws(() => parseExportArgs(['--dir', 'o', '--users', 'skip'], {}), { instanceOf: UsageError, message: /same_file or different_files/ });
  t.throws(() => parseExportArgs(['--dir', 'o', '--users-per-file', '0'], {}), { instanceOf: UsageError, message: /positive integer/ });
  t.throws(() => parseExportArgs(['--dir', 'o', '--bogus', 'x'], {}), { instanceOf: UsageError, message: /unknown option "--bogus"/ });
});

test('export, import into a fresh node: same records, every login kept', async (t) => {
  const a = await startNode();
  t.teardown(() => a.stop());
  await a.node.importDirectory(ARGON2_FIXTURE);
  for (const [realm, client, username, password] of LOGINS) await a.login(realm, client, username, password);
  const before = { demo: snapshot(a, 'demo'), acme: snapshot(a, 'acme') };
  await a.stop({ keepData: true });
  const out = mkdtempSync(join(tmpdir(), 'sessiond-export-'));
  t.teardown(() => {
    rmSync(a.dataDir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  const written = await runExport({ dir: out, dataDir: a.dataDir, usersPerFile: 2 });
  t.deepEqual(written.map((r) => r.realm).sort(), ['acme', 'demo', 'master']);
  t.true(readdirSync(out).includes('acme-users-0.json'));
  const acmeFile = JSON.parse(readFileSync(join(out, 'acme-realm.json'), 'utf8')) as { clients: { clientId: string; secret?: string }[] };
  t.is(acmeFile.clients.find((c) => c.clientId === 'acme-web')?.secret, ACME_WEB[1], 'the offline export keeps secrets');

  // The importer's validation, as for a Keycloak export: nothing refused, nothing ignored.
  const parsed = await loadRealmDirectory(out);
  for (const p of parsed) t.deepEqual(p.ignored, [], `${p.bundle.realm.name}: nothing ignored`);

  const b = await startNode({ demo: false });
  t.teardown(() => b.stop());
  const { imported, skipped } = await b.node.importDirectory(out);
  t.deepEqual(imported.sort(), ['acme', 'demo']);
  t.deepEqual(skipped, ['master'], 'the fresh node has its own master realm');
  for (const name of ['demo', 'acme'] as const) {
    const after = snapshot(b, name);
    t.deepEqual(after.users, before[name].users, `${name} users`);
    // An import gives clients without post-logout redirect URIs Keycloak's default "+" (as Keycloak's import does).
    const expectedClients = before[name].clients.map((c) => ({ ...c, attributes: { 'post.logout.redirect.uris': '+', ...c.attributes } }));
    t.deepEqual(after.clients, expectedClients, `${name} clients`);
    t.deepEqual(after.roles, before[name].roles, `${name} realm roles`);
    t.deepEqual({ ...after.realm, createdTimestamp: 0 }, { ...before[name].realm, createdTimestamp: 0 }, `${name} realm`);
  }
  for (const [realm, client, username, password] of LOGINS) {
    const res = await b.token(realm, { grant_type: 'password', client_id: client[0], client_secret: client[1], username, password });
    t.is(res.status, 200, `${realm}/${username}: ${res.text}`);
  }
});

test('--realm exports one realm; an unknown realm or a missing data directory is a clear error', async (t) => {
  const a = await startNode();
  await a.stop({ keepData: true });
  const out = mkdtempSync(join(tmpdir(), 'sessiond-export-'));
  t.teardown(() => {
    rmSync(a.dataDir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });
  const written = await runExport({ dir: out, dataDir: a.dataDir, realm: 'demo' });
  t.deepEqual(readdirSync(out), ['demo-realm.json']);
  t.is(written[0]!.users, 4, 'alice, bob, carol and the service account');
  await t.throwsAsync(runExport({ dir: out, dataDir: a.dataDir, realm: 'nope' }), { message: 'realm "nope" not found' });
  await t.throwsAsync(runExport({ dir: out, dataDir: join(out, 'nothing') }), { instanceOf: UsageError, message: /is not a sessiond data directory/ });
});
