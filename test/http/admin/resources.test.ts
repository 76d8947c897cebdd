// Realms, clients, users, realm roles and partial import through the
// Keycloak admin client (docs/admin-api.md, docs/keycloak-semantics.md#admin-lookups), with
// the effects that matter checked over OIDC: new timeouts show in tokens, a
// new secret or password is the one that logs in.

import test from 'ava';
import { CHEAP_HASHING, claims, kcError, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

let a: AdminNode;
let seq = 0;

test.before(async () => {
  a = await startAdminNode();
});
test.after.always(async () => {
  await a?.stop();
});

const uniqueName = (prefix: string): string => `${prefix}-${process.pid}-${++seq}`;

/** A realm created through the API, cheap hashing, with a confidential direct-grant client `app`. */
async function apiRealm(extra: Record<string, unknown> = {}): Promise<{ realm: string; app: string }> {
  const realm = uniqueName('res');
  await a.kc.realms.create({ realm, enabled: true, passwordPolicy: CHEAP_HASHING, ...extra });
  const { id } = await a.kc.clients.create({ realm, clientId: 'app', secret: 'app-secret', publicClient: false, directAccessGrantsEnabled: true });
  return { realm, app: id };
}

test('realms: create 201 + Location, 409 on a duplicate, findOne, find, update, del', async (t) => {
  const name = uniqueName('realm');
  const raw = await a.api('POST', '', { body: { realm: name, enabled: true, passwordPolicy: CHEAP_HASHING } });
  t.is(raw.status, 201, raw.text);
  t.is(raw.headers.get('location'), `${a.baseUrl}/admin/realms/${name}`);
  t.is(raw.text, '');
  const dup = await kcError(t, a.kc.realms.create({ realm: name }));
  t.is(dup.status, 409);
  t.deepEqual(dup.data, { errorMessage: 'Conflict detected. See logs for details' });

  const created = await a.kc.realms.create({ realm: uniqueName('realm'), enabled: true });
  t.regex(created.realmName, /^realm-/);
  const rep = (await a.kc.realms.findOne({ realm: name }))!;
  t.like(rep, { realm: name, enabled: true, notBefore: 0, ssoSessionIdleTimeout: 1800, ssoSessionMaxLifespan: 36000, accessTokenLifespan: 300, revokeRefreshToken: false, refreshTokenMaxReuse: 0, offlineSessionIdleTimeout: 2592000 });
  t.is(typeof rep.id, 'string');
  t.true((await a.kc.realms.find()).some((r) => r.realm === name));
  t.true((await a.kc.realms.find()).some((r) => r.realm === 'master'));

  await a.kc.realms.update({ realm: name }, { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 7200, accessTokenLifespan: 120, revokeRefreshToken: true, refreshTokenMaxReuse: 1, offlineSessionIdleTimeout: 86400, displayName: 'Renamed' });
  t.like(await a.kc.realms.findOne({ realm: name }), { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 7200, accessTokenLifespan: 120, revokeRefreshToken: true, refreshTokenMaxReuse: 1, offlineSessionIdleTimeout: 86400, displayName: 'Renamed' });

  await a.kc.realms.del({ realm: name });
  t.is((await a.kc.realms.findOne({ realm: name })) as unknown, null);
  t.is((await kcError(t, a.kc.realms.del({ realm: name }))).status, 404);
  // master cannot go.
  t.is((await kcError(t, a.kc.realms.del({ realm: 'master' }))).status, 400);
});

test('realm timeouts set through update reach the tokens; revokeRefreshToken/refreshTokenMaxReuse rotate', async (t) => {
  const { realm } = await apiRealm();
  await a.kc.users.create({ realm, username: 'u', enabled: true, credentials: [{ type: 'password', value: 'pw', temporary: false }] });
  await a.kc.realms.update({ realm }, { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 7200, accessTokenLifespan: 120, revokeRefreshToken: true, refreshTokenMaxReuse: 1 });
  await a.settle();
  const tokens = await a.login(realm, ['app', 'app-secret'], 'u', 'pw');
  t.is(tokens.expires_in, 120);
  t.is(tokens.refresh_expires_in, 600);
  t.is(claims(tokens.access_token)['exp'] - claims(tokens.access_token)['iat'], 120);
  t.is(typeof claims(tokens.refresh_token!)['reuse_id'], 'string', 'rotation: the refresh token carries a reuse id');
  // maxReuse 1: the same refresh token is accepted twice, then refused.
  t.is((await a.refresh(realm, ['app', 'app-secret'], tokens.refresh_token!)).status, 200);
  t.is((await a.refresh(realm, ['app', 'app-secret'], tokens.refresh_token!)).status, 200);
  const third = await a.refresh(realm, ['app', 'app-secret'], tokens.refresh_token!);
  t.deepEqual([third.status, third.body], [400, { error: 'invalid_grant', error_description: 'Maximum allowed refresh token reuse exceeded' }]);
});

test('clients: create (id from Location), find({clientId}) with the trailing slash, findOne, update, secrets, del', async (t) => {
  const { realm } = await apiRealm();
  await a.kc.users.create({ realm, username: 'u', enabled: true, credentials: [{ type: 'password', value: 'pw', temporary: false }] });
  const { id } = await a.kc.clients.create({ realm, clientId: 'web', publicClient: false, directAccessGrantsEnabled: true, redirectUris: ['http://127.0.0.1:3000/*'] });
  t.regex(id, /^[0-9a-f-]{36}$/);
  const raw = await a.api('POST', `/${realm}/clients`, { body: { clientId: 'web2' } });
  t.is(raw.status, 201);
  t.regex(raw.headers.get('location')!, new RegExp(`/admin/realms/${realm}/clients/[0-9a-f-]{36}$`));
  t.is((await kcError(t, a.kc.clients.create({ realm, clientId: 'web' }))).status, 409);

  // The admin client asks for `/clients/?clientId=web`.
  const found = await a.kc.clients.find({ realm, clientId: 'web' });
  t.is(found.length, 1);
  t.like(found[0], { id, clientId: 'web', publicClient: false, directAccessGrantsEnabled: true, redirectUris: ['http://127.0.0.1:3000/*'] });
  const slash = await a.api('GET', `/${realm}/clients/?clientId=web`);
  t.deepEqual([slash.status, (slash.body as { id: string }[]).map((c) => c.id)], [200, [id]], 'the trailing slash some admin client versions send');
  t.deepEqual(await a.kc.clients.find({ realm, clientId: 'we' }), [], 'clientId is exact without search=true');
  t.deepEqual((await a.kc.clients.find({ realm, clientId: 'we', search: true })).map((c) => c.clientId).sort(), ['web', 'web2']);
  t.like(await a.kc.clients.findOne({ realm, id }), { id, clientId: 'web' });
  t.is((await a.kc.clients.findOne({ realm, id: '00000000-0000-4000-8000-000000000000' })) as unknown, null);

  const rep = (await a.kc.clients.findOne({ realm, id }))!;
  await a.kc.clients.update({ realm, id }, { ...rep, redirectUris: ['http://127.0.0.1:4000/*'], attributes: { 'client.session.idle.timeout': '300' } });
  t.like(await a.kc.clients.findOne({ realm, id }), { redirectUris: ['http://127.0.0.1:4000/*'], attributes: { 'client.session.idle.timeout': '300' } });

  const secret = await a.kc.clients.getClientSecret({ realm, id });
  t.is(secret.type, 'secret');
  t.is(typeof secret.value, 'string');
  t.is((await a.passwordGrant(realm, ['web', secret.value!], 'u', 'pw')).status, 200);
  const renewed = await a.kc.clients.generateNewClientSecret({ realm, id });
  t.is(renewed.type, 'secret');
  t.not(renewed.value, secret.value);
  t.deepEqual(await a.kc.clients.getClientSecret({ realm, id }), renewed);
  t.is((await a.passwordGrant(realm, ['web', secret.value!], 'u', 'pw')).status, 401, 'the old secret no longer authenticates');
  const tokens = await a.passwordGrant(realm, ['web', renewed.value!], 'u', 'pw');
  t.is(tokens.status, 200);
  // Its session idle attribute shows in the refresh token's lifetime.
  t.is(tokens.body.refresh_expires_in, 300);

  await a.kc.clients.del({ realm, id });
  t.is((await a.kc.clients.findOne({ realm, id })) as unknown, null);
  t.deepEqual(await a.kc.clients.find({ realm, clientId: 'web' }), []);
  t.is((await kcError(t, a.kc.clients.del({ realm, id }))).status, 404);
});

test('users: create, find (exact username, search), count, findOne, update, resetPassword then log in, del', async (t) => {
  const { realm } = await apiRealm();
  const { id } = await a.kc.users.create({ realm, username: 'Dora', email: 'dora@example.test', firstName: 'Dora', enabled: true, credentials: [{ type: 'password', value: 'first-pw', temporary: false }] });
  await a.kc.users.create({ realm, username: 'dorian', enabled: true });
  await a.kc.users.create({ realm, username: 'eve', email: 'eve@example.test', enabled: true });
  t.is((await kcError(t, a.kc.users.create({ realm, username: 'dora' }))).status, 409);

  const exact = await a.kc.users.find({ realm, username: 'dora', exact: true });
  t.deepEqual(exact.map((u) => u.id), [id]);
  t.like(exact[0], { username: 'dora', email: 'dora@example.test', firstName: 'Dora', enabled: true, notBefore: 0 });
  t.deepEqual((await a.kc.users.find({ realm, search: 'dor' })).map((u) => u.username).sort(), ['dora', 'dorian']);
  t.deepEqual((await a.kc.users.find({ realm, search: 'example.test' })).map((u) => u.username).sort(), ['dora', 'eve']);
  t.is(await a.kc.users.count({ realm }), 3);
  t.is(await a.kc.users.count({ realm, search: 'dor' }), 2);
  t.like(await a.kc.users.findOne({ realm, id }), { id, username: 'dora' });
  t.is((await a.kc.users.findOne({ realm, id: 'no-such-user' })) as unknown, null);

  await a.kc.users.update({ realm, id }, { firstName: 'Theodora', lastName: 'Explorer' });
  t.like(await a.kc.users.findOne({ realm, id }), { firstName: 'Theodora', lastName: 'Explorer', email: 'dora@example.test' });
  // The whole representation back, as scripts do (read, change, write).
  const full = (await a.kc.users.findOne({ realm, id }))!;
  await a.kc.users.update({ realm, id }, { ...full, emailVerified: true });
  t.like(await a.kc.users.findOne({ realm, id }), { ...full, emailVerified: true });
  const slash = await a.api('GET', `/${realm}/users/?username=dora&exact=true`);
  t.deepEqual([slash.status, (slash.body as { id: string }[]).map((u) => u.id)], [200, [id]]);

  t.is((await a.passwordGrant(realm, ['app', 'app-secret'], 'dora', 'first-pw')).status, 200);
  await a.kc.users.resetPassword({ realm, id, credential: { type: 'password', value: 'second-pw', temporary: false } });
  t.is((await a.passwordGrant(realm, ['app', 'app-secret'], 'dora', 'first-pw')).status, 401);
  t.is((await a.passwordGrant(realm, ['app', 'app-secret'], 'dora', 'second-pw')).status, 200);
  // A temporary password means a required action: no direct grant.
  await a.kc.users.resetPassword({ realm, id, credential: { type: 'password', value: 'third-pw', temporary: true } });
  t.deepEqual((await a.kc.users.findOne({ realm, id }))!.requiredActions, ['UPDATE_PASSWORD']);
  const pending = await a.passwordGrant(realm, ['app', 'app-secret'], 'dora', 'third-pw');
  t.deepEqual([pending.status, pending.body], [400, { error: 'invalid_grant', error_description: 'Account is not fully set up' }]);
  // Without `temporary`, the password is not temporary (Keycloak's default): the required action goes.
  t.is((await a.api('PUT', `/${realm}/users/${id}/reset-password`, { body: { type: 'password', value: 'fourth-pw' } })).status, 204);
  t.deepEqual((await a.kc.users.findOne({ realm, id }))!.requiredActions, []);
  t.is((await a.passwordGrant(realm, ['app', 'app-secret'], 'dora', 'fourth-pw')).status, 200);

  // Deleting a user ends their sessions.
  const eve = (await a.kc.users.find({ realm, username: 'eve', exact: true }))[0]!;
  await a.kc.users.resetPassword({ realm, id: eve.id!, credential: { type: 'password', value: 'eve-pw', temporary: false } });
  const eveTokens = await a.login(realm, ['app', 'app-secret'], 'eve', 'eve-pw');
  await a.kc.users.del({ realm, id: eve.id! });
  t.is((await a.kc.users.findOne({ realm, id: eve.id! })) as unknown, null);
  t.is(await a.kc.users.count({ realm }), 2);
  t.is(await a.node.engine.getSession(eveTokens.session_state!), null);
  t.is((await kcError(t, a.kc.users.del({ realm, id: eve.id! }))).status, 404);
});

test('roles and role mappings: realm roles, realm-management client roles that grant admin access', async (t) => {
  const { realm } = await apiRealm();
  const { roleName } = await a.kc.roles.create({ realm, name: 'auditor', description: 'reads things' });
  t.is(roleName, 'auditor');
  t.is((await kcError(t, a.kc.roles.create({ realm, name: 'auditor' }))).status, 409);
  const roles = await a.kc.roles.find({ realm });
  t.true(roles.some((r) => r.name === 'auditor'));
  t.true(roles.some((r) => r.name === 'offline_access'));
  const auditor = (await a.kc.roles.findOneByName({ realm, name: 'auditor' }))!;
  t.like(auditor, { name: 'auditor', description: 'reads things', composite: false, clientRole: false });

  const { id } = await a.kc.users.create({ realm, username: 'helper', enabled: true, credentials: [{ type: 'password', value: 'pw', temporary: false }] });
  await a.kc.users.addRealmRoleMappings({ realm, id, roles: [{ id: auditor.id!, name: 'auditor' }] });
  const mapped = await a.kc.users.listRealmRoleMappings({ realm, id });
  t.true(mapped.some((r) => r.name === 'auditor'));
  t.true(mapped.some((r) => r.name === `default-roles-${realm}`), 'a new user has the default role');
  t.true(claims((await a.login(realm, ['app', 'app-secret'], 'helper', 'pw')).access_token)['realm_access'].roles.includes('auditor'));
  t.is((await kcError(t, a.kc.users.addRealmRoleMappings({ realm, id, roles: [{ id: 'x', name: 'no-such-role' }] }))).status, 404);

  // Before: no admin access. After view-users from realm-management: the user's own realm's sessions.
  const before = await a.login(realm, ['app', 'app-secret'], 'helper', 'pw');
  t.is((await a.api('GET', `/${realm}/users/${id}/sessions`, { token: before.access_token })).status, 403);
  const rm = (await a.kc.clients.find({ realm, clientId: 'realm-management' }))[0]!;
  const viewUsers = (await a.kc.clients.findRole({ realm, id: rm.id!, roleName: 'view-users' }))!;
  await a.kc.users.addClientRoleMappings({ realm, id, clientUniqueId: rm.id!, roles: [{ id: viewUsers.id!, name: 'view-users' }] });
  t.deepEqual((await a.kc.users.listClientRoleMappings({ realm, id, clientUniqueId: rm.id! })).map((r) => r.name), ['view-users']);
  const after = await a.login(realm, ['app', 'app-secret'], 'helper', 'pw');
  const sessions = await a.api('GET', `/${realm}/users/${id}/sessions`, { token: after.access_token });
  t.is(sessions.status, 200);
  t.true((sessions.body as { id: string }[]).some((s) => s.id === after.session_state));
  t.is((await a.api('POST', `/${realm}/users/${id}/logout`, { token: after.access_token, body: {} })).status, 403, 'view-users is not manage-users');
});

test('partialImport: users and clients with FAIL, SKIP and OVERWRITE', async (t) => {
  const { realm } = await apiRealm();
  const rep = (password: string) => ({
    users: [
      { username: 'imp1', enabled: true, email: 'imp1@example.test', credentials: [{ type: 'password', value: password, temporary: false }] },
      { username: 'imp2', enabled: true },
    ],
    clients: [{ clientId: 'imported', secret: 'imported-secret', publicClient: false, directAccessGrantsEnabled: true }],
  });
  const first = await a.kc.realms.partialImport({ realm, rep: { ifResourceExists: 'FAIL', ...rep('pw-1') } as never });
  t.like(first, { added: 3, skipped: 0, overwritten: 0 });
  t.deepEqual(
    (first.results as { action: string; resourceType: string; resourceName: string }[]).map((r) => `${r.action} ${r.resourceType} ${r.resourceName}`).sort(),
    ['ADDED CLIENT imported', 'ADDED USER imp1', 'ADDED USER imp2'],
  );
  t.is((await a.passwordGrant(realm, ['imported', 'imported-secret'], 'imp1', 'pw-1')).status, 200);
  const importedId = (await a.kc.clients.find({ realm, clientId: 'imported' }))[0]!.id!;
  const imp1Id = (await a.kc.users.find({ realm, username: 'imp1', exact: true }))[0]!.id!;

  // FAIL: nothing written when anything exists.
  const failed = await kcError(t, a.kc.realms.partialImport({ realm, rep: { ifResourceExists: 'FAIL', users: [{ username: 'imp3', enabled: true }, ...rep('pw-2').users] } as never }));
  t.is(failed.status, 409);
  t.deepEqual(await a.kc.users.find({ realm, username: 'imp3', exact: true }), []);

  // SKIP: existing ones stay as they were, new ones are added.
  const skip = await a.kc.realms.partialImport({ realm, rep: { ifResourceExists: 'SKIP', users: [{ username: 'imp3', enabled: true }, ...rep('pw-2').users], clients: rep('pw-2').clients } as never });
  t.like(skip, { added: 1, skipped: 3, overwritten: 0 });
  t.is((await a.passwordGrant(realm, ['imported', 'imported-secret'], 'imp1', 'pw-1')).status, 200, 'SKIP kept the old password');
  t.is((await a.kc.users.find({ realm, username: 'imp3', exact: true })).length, 1);

  // OVERWRITE: same ids, new contents.
  const over = await a.kc.realms.partialImport({
    realm,
    rep: { ifResourceExists: 'OVERWRITE', users: rep('pw-3').users, clients: [{ clientId: 'imported', secret: 'new-secret', publicClient: false, directAccessGrantsEnabled: true }] } as never,
  });
  t.like(over, { added: 0, skipped: 0, overwritten: 3 });
  t.is((await a.kc.clients.find({ realm, clientId: 'imported' }))[0]!.id, importedId);
  t.is((await a.kc.users.find({ realm, username: 'imp1', exact: true }))[0]!.id, imp1Id);
  t.is((await a.passwordGrant(realm, ['imported', 'imported-secret'], 'imp1', 'pw-3')).status, 401, 'the old secret is gone');
  t.is((await a.passwordGrant(realm, ['imported', 'new-secret'], 'imp1', 'pw-1')).status, 401, 'the old password is gone');
  t.is((await a.passwordGrant(realm, ['imported', 'new-secret'], 'imp1', 'pw-3')).status, 200);
  t.is(await a.kc.users.count({ realm }), 3);
  // A bad policy is a 400.
  t.is((await a.api('POST', `/${realm}/partialImport`, { body: { ifResourceExists: 'MERGE', users: [] } })).status, 400);
});

test('deleting a client detaches its client sessions and offline grants; deleting a realm ends its sessions', async (t) => {
  const { realm, app } = await apiRealm();
  const otherId = (await a.kc.clients.create({ realm, clientId: 'second', secret: 'second-secret', publicClient: false, directAccessGrantsEnabled: true })).id;
  await a.kc.users.create({ realm, username: 'u', enabled: true, credentials: [{ type: 'password', value: 'pw', temporary: false }] });
  const uid = (await a.kc.users.find({ realm, username: 'u', exact: true }))[0]!.id!;
  const online = await a.login(realm, ['app', 'app-secret'], 'u', 'pw');
  const offline = await a.login(realm, ['app', 'app-secret'], 'u', 'pw', { scope: 'openid offline_access' });
  const other = await a.login(realm, ['second', 'second-secret'], 'u', 'pw');
  t.deepEqual(await a.kc.clients.getOfflineSessionCount({ realm, id: app }), { count: 1 });

  await a.kc.clients.del({ realm, id: app });
  // As Keycloak's onClientRemoved: the client sessions go, the user sessions stay (SSO), the offline one
  // (whose only client it was) goes.
  const left = await a.kc.users.listSessions({ realm, id: uid });
  t.deepEqual(left.map((s) => [s.id, s.clients]).sort(), [[online.session_state, {}], [other.session_state, { [otherId]: 'second' }]].sort());
  // The engine removes the client's offline sessions after the DELETE has answered (the store's
  // client-deleted event is not awaited): round trips through the shards until it has.
  for (let i = 0; i < 20 && (await a.node.engine.getOfflineSession(offline.session_state!)) !== null; i++) await a.settle();
  t.is(await a.node.engine.getOfflineSession(offline.session_state!), null);
  t.deepEqual((await a.refresh(realm, ['second', 'second-secret'], other.refresh_token!)).status, 200);
  t.deepEqual(await a.kc.users.listConsents({ realm, id: uid }), []);
  t.deepEqual((await a.kc.realms.getClientSessionStats({ realm })).map((s) => s['clientId']), ['second']);

  await a.kc.realms.del({ realm });
  t.is(await a.node.engine.getSession(other.session_state!), null);
  t.is((await a.introspect(realm, ['second', 'second-secret'], other.access_token)).status, 404);
});
