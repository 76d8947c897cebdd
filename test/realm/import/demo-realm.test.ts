// realms/demo-realm.json, the realm `npm start` imports on first start
// (README.md#the-first-start): it must parse with the importer and hold exactly the
// clients and users the README and the log promise.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseKeycloakRealm } from '../../../src/realm/import/keycloak-realm.js';

// dist/test/realm/import/<this>.js → repo root is four levels up.
const DEMO = fileURLToPath(new URL('../../../../realms/demo-realm.json', import.meta.url));

test('the demo realm parses, ignores nothing, and holds the promised clients and users', async (t) => {
  const json: unknown = JSON.parse(await readFile(DEMO, 'utf8'));
  const { bundle, ignored, notes } = parseKeycloakRealm(json, DEMO);
  t.deepEqual(ignored, []);
  t.log(notes);

  t.is(bundle.realm.name, 'demo');
  t.true(bundle.realm.enabled);
  t.true(bundle.realm.sessions.rememberMe);
  t.is(bundle.realm.defaultSignatureAlgorithm, 'RS256');

  const client = (id: string) => bundle.clients.find((c) => c.clientId === id)!;
  const app = client('demo-app');
  t.false(app.publicClient);
  t.is(app.secret, 'demo-secret');
  t.deepEqual(app.redirectUris, ['http://127.0.0.1:*/*', 'http://localhost:*/*']);
  t.true(app.standardFlowEnabled);
  t.true(app.directAccessGrantsEnabled);
  t.is(app.attributes['post.logout.redirect.uris'], '+');

  const spa = client('demo-spa');
  t.true(spa.publicClient);
  t.is(spa.secret, null);
  t.is(spa.attributes['pkce.code.challenge.method'], 'S256');
  t.false(spa.directAccessGrantsEnabled);

  const svc = client('demo-service');
  t.true(svc.serviceAccountsEnabled);
  t.false(svc.standardFlowEnabled);
  t.is(svc.secret, 'demo-service-secret');
  t.truthy(client('realm-management'), 'built-in clients are completed');
  t.truthy(client('admin-cli'));

  const user = (name: string) => bundle.users.find((u) => u.username === name)!;
  t.deepEqual(user('alice').realmRoles, ['offline_access']);
  t.deepEqual(user('bob').realmRoles, []);
  t.deepEqual(user('carol').clientRoles, { 'realm-management': ['view-users', 'view-realm'] });
  for (const name of ['alice', 'bob', 'carol']) t.true(user(name).enabled, name);
  t.is(user('service-account-demo-service').serviceAccountClientId, 'demo-service');

  const passwords = new Map(bundle.plainPasswords.map((p) => [bundle.users.find((u) => u.id === p.userId)!.username, p.password]));
  t.deepEqual(Object.fromEntries(passwords), { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password' });
  t.false(bundle.plainPasswords.some((p) => p.temporary));
});
