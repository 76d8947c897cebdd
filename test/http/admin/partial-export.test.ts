// POST /admin/realms/{realm}/partial-export as Keycloak answers it: the
// realm without users, clients and roles only when asked, client secrets
// masked; view-realm to call it, view-clients to include clients; and what it
// returns is a realm representation the import accepts.

import test from 'ava';
import { DEMO_APP, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';
import { SECRET_MASK } from '../../../src/realm/export/keycloak-export.js';

let a: AdminNode;
let carol: string;

test.before(async () => {
  a = await startAdminNode();
  carol = (await a.login('demo', DEMO_APP, 'carol', 'carol-password')).access_token;
});
test.after.always(async () => {
  await a?.stop();
});

async function partialExport(query: string, token = a.token): Promise<{ status: number; body: any }> {
  const res = await fetch(`${a.baseUrl}/admin/realms/demo/partial-export${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

test('without options: realm settings only, never users', async (t) => {
  const { status, body } = await partialExport('');
  t.is(status, 200);
  t.is(body.realm, 'demo');
  t.is(body.id, a.node.store.realmByName('demo')!.id);
  t.is(body.rememberMe, true);
  t.is(body.users, undefined);
  t.is(body.clients, undefined);
  t.is(body.roles, undefined);
});

test('exportClients and exportGroupsAndRoles: clients with masked secrets, realm and client roles', async (t) => {
  const { status, body } = await partialExport('?exportClients=true&exportGroupsAndRoles=TRUE');
  t.is(status, 200);
  t.is(body.users, undefined);
  const app = body.clients.find((c: { clientId: string }) => c.clientId === 'demo-app');
  t.is(app.secret, SECRET_MASK);
  t.false(JSON.stringify(body).includes(DEMO_APP[1]), 'no secret in the export');
  t.true(body.roles.realm.some((r: { name: string }) => r.name === 'offline_access'));
  t.true(body.roles.client['realm-management'].some((r: { name: string }) => r.name === 'view-users'));

  // The export is a realm the admin API imports (renamed, new id), with nothing refused.
  const copy = { ...body, realm: 'demo-copy', id: undefined };
  const created = await fetch(`${a.baseUrl}/admin/realms`, { method: 'POST', headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' }, body: JSON.stringify(copy) });
  t.is(created.status, 201, await created.text());
  const imported = a.node.store.realmByName('demo-copy')!;
  t.is(a.node.store.clientByClientId(imported.id, 'demo-app')?.redirectUris.length, app.redirectUris.length);
});

test('view-realm may export settings; clients need view-clients (403 otherwise)', async (t) => {
  t.is((await partialExport('', carol)).status, 200);
  const denied = await partialExport('?exportClients=true', carol);
  t.is(denied.status, 403);
  t.is((await fetch(`${a.baseUrl}/admin/realms/demo/partial-export`, { method: 'POST' })).status, 401);
  t.is((await partialExport('', 'not-a-token')).status, 401);
  const missing = await fetch(`${a.baseUrl}/admin/realms/nope/partial-export`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` } });
  t.is(missing.status, 404);
});
