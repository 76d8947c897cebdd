// Ending sessions through the admin API (docs/keycloak-semantics.md#not-before-revocation, #logout, #admin-session-endpoints) and the
// effect on real tokens: after each call the refresh grant's exact
// error_description and token introspection (active:false) are checked.
// The node runs on a ManualClock: not-before compares whole seconds
// (`iat < notBefore`), so "a token issued before" needs the clock to move,
// which it does only when a test says so. Each test uses its own realm.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { claims, kcError, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

let a: AdminNode;
let receiver: Server;
let receiverUrl: string;
const received: { path: string; contentType: string; body: string }[] = [];

test.before(async () => {
  a = await startAdminNode({ manualClock: true });
  // A stand-in for legacy adapters' admin URLs: /ok/* answers 204, /fail/* 500.
  receiver = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = (req.url ?? '').startsWith('/ok/') ? 204 : 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
test.after.always(async () => {
  await a?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});
// Master admin tokens live 60 s of the manual clock.
test.beforeEach(async () => {
  await a.reauth();
});

const APP: [string, string] = ['app', 'app-secret'];
const OTHER: [string, string] = ['other', 'other-secret'];

async function realm() {
  const r = await a.createRealm({
    clients: [
      { clientId: 'app', secret: 'app-secret', directAccessGrantsEnabled: true },
      { clientId: 'other', secret: 'other-secret', directAccessGrantsEnabled: true },
    ],
    users: [
      { username: 'alice', password: 'pw' },
      { username: 'bob', password: 'pw' },
    ],
  });
  return { ...r, app: r.clients.get('app')!.id, other: r.clients.get('other')!.id, alice: r.users.get('alice')!.id, bob: r.users.get('bob')!.id };
}

const invalidGrant = (description: string) => ({ error: 'invalid_grant', error_description: description });

async function assertRefreshFails(t: import('ava').ExecutionContext, realmName: string, client: [string, string], refreshToken: string, description: string): Promise<void> {
  const res = await a.refresh(realmName, client, refreshToken);
  t.is(res.status, 400, res.text);
  t.deepEqual(res.body, invalidGrant(description));
}

async function assertInactive(t: import('ava').ExecutionContext, realmName: string, client: [string, string], ...tokens: string[]): Promise<void> {
  for (const token of tokens) t.deepEqual((await a.introspect(realmName, client, token)).body, { active: false });
}

async function assertWorks(t: import('ava').ExecutionContext, realmName: string, client: [string, string], refreshToken: string): Promise<void> {
  const res = await a.refresh(realmName, client, refreshToken);
  t.is(res.status, 200, res.text);
  t.true((await a.introspect(realmName, client, res.body.access_token)).body.active);
}

test.serial('realms.deleteSession: one online session ends; its tokens stop working; unknown id 404 with Keycloak\'s body', async (t) => {
  const r = await realm();
  const one = await a.login(r.name, APP, 'alice', 'pw');
  const two = await a.login(r.name, APP, 'alice', 'pw');
  await a.advance(1);
  await a.kc.realms.deleteSession({ realm: r.name, session: one.session_state!, isOffline: false });
  await assertRefreshFails(t, r.name, APP, one.refresh_token!, 'Session not active');
  await assertInactive(t, r.name, APP, one.access_token, one.refresh_token!);
  await assertWorks(t, r.name, APP, two.refresh_token!);
  t.deepEqual((await a.kc.users.listSessions({ realm: r.name, id: r.alice })).map((s) => s.id), [two.session_state]);

  const unknown = await kcError(t, a.kc.realms.deleteSession({ realm: r.name, session: 'f00dfeed-0000-4000-8000-000000000000', isOffline: false }));
  t.is(unknown.status, 404);
  t.deepEqual(unknown.data, { error: 'Sesssion not found' });
  // Deleting it again: gone.
  t.is((await kcError(t, a.kc.realms.deleteSession({ realm: r.name, session: one.session_state!, isOffline: false }))).status, 404);
  // A session of another realm is not found through this one.
  const other = await realm();
  const foreign = await a.login(other.name, APP, 'alice', 'pw');
  t.is((await kcError(t, a.kc.realms.deleteSession({ realm: r.name, session: foreign.session_state!, isOffline: false }))).status, 404);
  await assertWorks(t, other.name, APP, foreign.refresh_token!);
});

test.serial('realms.deleteSession isOffline: the offline session ends; isOffline=false does not find it', async (t) => {
  const r = await realm();
  const offline = await a.login(r.name, APP, 'alice', 'pw', { scope: 'openid offline_access' });
  const sid = offline.session_state!;
  t.deepEqual(claims(offline.refresh_token!)['typ'], 'Offline');
  // The password grant kept no online session: only the offline one exists.
  t.is((await kcError(t, a.kc.realms.deleteSession({ realm: r.name, session: sid, isOffline: false }))).status, 404);
  await assertWorks(t, r.name, APP, offline.refresh_token!);
  await a.advance(1);
  await a.kc.realms.deleteSession({ realm: r.name, session: sid, isOffline: true });
  await assertRefreshFails(t, r.name, APP, offline.refresh_token!, 'Offline user session not found');
  await assertInactive(t, r.name, APP, offline.refresh_token!);
  t.deepEqual(await a.kc.clients.getOfflineSessionCount({ realm: r.name, id: r.app }), { count: 0 });
  const again = await kcError(t, a.kc.realms.deleteSession({ realm: r.name, session: sid, isOffline: true }));
  t.deepEqual(again, { status: 404, data: { error: 'Sesssion not found' } });
});

test.serial('users.logout: online sessions gone, user not-before set, even the offline token is stale', async (t) => {
  const r = await realm();
  const online = await a.login(r.name, APP, 'alice', 'pw');
  const online2 = await a.login(r.name, OTHER, 'alice', 'pw');
  const offline = await a.login(r.name, APP, 'alice', 'pw', { scope: 'openid offline_access' });
  const bob = await a.login(r.name, APP, 'bob', 'pw');
  await a.advance(1);
  const now = a.now();
  await a.kc.users.logout({ realm: r.name, id: r.alice });

  t.is((await a.kc.users.findOne({ realm: r.name, id: r.alice }))!.notBefore, now);
  t.deepEqual(await a.kc.users.listSessions({ realm: r.name, id: r.alice }), []);
  await assertRefreshFails(t, r.name, APP, online.refresh_token!, 'Session not active');
  await assertRefreshFails(t, r.name, OTHER, online2.refresh_token!, 'Session not active');
  await assertInactive(t, r.name, APP, online.access_token, online.refresh_token!);
  // Offline sessions stay stored (Keycloak §4.2) but the user's not-before makes the token stale.
  t.is((await a.kc.users.listOfflineSessions({ realm: r.name, id: r.alice, clientId: r.app })).length, 1);
  await assertRefreshFails(t, r.name, APP, offline.refresh_token!, 'Stale token');
  await assertInactive(t, r.name, APP, offline.access_token, offline.refresh_token!);
  // Other users are untouched; a new login of alice works.
  await assertWorks(t, r.name, APP, bob.refresh_token!);
  const fresh = await a.login(r.name, APP, 'alice', 'pw');
  await assertWorks(t, r.name, APP, fresh.refresh_token!);
  t.is(claims(fresh.access_token)['iat'], now);
  t.is((await a.refresh(r.name, APP, fresh.refresh_token!)).body['not-before-policy'], now);
});

test.serial('realms.logoutAll: online sessions gone, offline stay stored but are stale; GlobalRequestResult from the admin URLs', async (t) => {
  const r = await realm();
  const alice = await a.login(r.name, APP, 'alice', 'pw');
  const bob = await a.login(r.name, OTHER, 'bob', 'pw');
  const offline = await a.login(r.name, APP, 'alice', 'pw', { scope: 'openid offline_access' });

  // Without admin URLs the result is empty.
  await a.advance(1);
  t.deepEqual(await a.kc.realms.logoutAll({ realm: r.name }), {});
  const nb = a.now();
  t.is((await a.kc.realms.findOne({ realm: r.name }))!.notBefore, nb);
  t.deepEqual(await a.kc.users.listSessions({ realm: r.name, id: r.alice }), []);
  t.deepEqual(await a.kc.users.listSessions({ realm: r.name, id: r.bob }), []);
  t.deepEqual(await a.kc.realms.getClientSessionStats({ realm: r.name }), [{ id: r.app, clientId: 'app', active: '0', offline: '1' }]);
  t.deepEqual(await a.kc.clients.getOfflineSessionCount({ realm: r.name, id: r.app }), { count: 1 });
  // The realm not-before is checked first (TokenManager.verifyRefreshToken): every old token is "Stale token".
  await assertRefreshFails(t, r.name, APP, alice.refresh_token!, 'Stale token');
  await assertRefreshFails(t, r.name, OTHER, bob.refresh_token!, 'Stale token');
  await assertRefreshFails(t, r.name, APP, offline.refresh_token!, 'Stale token');
  await assertInactive(t, r.name, APP, alice.access_token, offline.access_token, offline.refresh_token!);

  // With admin URLs: k_logout to each enabled client with one; failures reported.
  await a.kc.clients.update({ realm: r.name, id: r.app }, { adminUrl: `${receiverUrl}/ok/app` });
  await a.kc.clients.update({ realm: r.name, id: r.other }, { adminUrl: `${receiverUrl}/fail/other` });
  received.length = 0;
  await a.advance(1);
  const result = await a.kc.realms.logoutAll({ realm: r.name });
  t.deepEqual(result, { successRequests: [`${receiverUrl}/ok/app/k_logout`], failedRequests: [`${receiverUrl}/fail/other/k_logout`] });
  const logoutCall = received.find((x) => x.path === '/ok/app/k_logout')!;
  t.truthy(logoutCall);
  const jwks = createRemoteJWKSet(new URL(a.oidcUrl(r.name, 'certs')));
  const { payload } = await jwtVerify(logoutCall.body, jwks);
  t.like(payload, { action: 'LOGOUT', resource: 'app', notBefore: a.now(), expiration: a.now() + 30 });
});

test.serial('realm notBefore via realms.update: older tokens are stale, newer ones work', async (t) => {
  const r = await realm();
  const old = await a.login(r.name, APP, 'alice', 'pw');
  const offline = await a.login(r.name, OTHER, 'bob', 'pw', { scope: 'openid offline_access' });
  await a.advance(1);
  const nb = a.now();
  const rep = (await a.kc.realms.findOne({ realm: r.name }))!;
  await a.kc.realms.update({ realm: r.name }, { ...rep, notBefore: nb });
  t.is((await a.kc.realms.findOne({ realm: r.name }))!.notBefore, nb);
  await assertRefreshFails(t, r.name, APP, old.refresh_token!, 'Stale token');
  await assertRefreshFails(t, r.name, OTHER, offline.refresh_token!, 'Stale token');
  await assertInactive(t, r.name, APP, old.access_token);
  // The session itself is still there (not-before does not end sessions) ...
  t.is((await a.kc.users.listSessions({ realm: r.name, id: r.alice })).length, 1);
  // ... and a token issued at or after not-before works.
  const fresh = await a.login(r.name, APP, 'alice', 'pw');
  await assertWorks(t, r.name, APP, fresh.refresh_token!);
  t.is(fresh['not-before-policy'], nb);
  // Back to 0: the old token works again (it was never revoked, only older than the policy).
  await a.kc.realms.update({ realm: r.name }, { notBefore: 0 });
  await assertWorks(t, r.name, APP, old.refresh_token!);
});

test.serial('client notBefore via clients.update: that client\'s older tokens are stale, other clients unaffected', async (t) => {
  const r = await realm();
  const app = await a.login(r.name, APP, 'alice', 'pw');
  const other = await a.login(r.name, OTHER, 'alice', 'pw');
  await a.advance(1);
  const nb = a.now();
  const rep = (await a.kc.clients.findOne({ realm: r.name, id: r.app }))!;
  await a.kc.clients.update({ realm: r.name, id: r.app }, { ...rep, notBefore: nb });
  t.is((await a.kc.clients.findOne({ realm: r.name, id: r.app }))!.notBefore, nb);
  await assertRefreshFails(t, r.name, APP, app.refresh_token!, 'Stale token');
  await assertInactive(t, r.name, APP, app.access_token);
  await assertWorks(t, r.name, OTHER, other.refresh_token!);
  const fresh = await a.login(r.name, APP, 'alice', 'pw');
  await assertWorks(t, r.name, APP, fresh.refresh_token!);
});

test.serial('pushRevocation (realm and client): a signed PUSH_NOT_BEFORE to <adminUrl>/k_push_not_before; success and failure reported', async (t) => {
  const r = await realm();
  // No admin URLs: nothing to push.
  t.deepEqual(await a.kc.realms.pushRevocation({ realm: r.name }), {});
  await a.kc.clients.update({ realm: r.name, id: r.app }, { adminUrl: `${receiverUrl}/ok/app/` });
  await a.kc.clients.update({ realm: r.name, id: r.other }, { adminUrl: `${receiverUrl}/fail/other` });
  await a.advance(1);
  const realmNb = a.now();
  await a.kc.realms.update({ realm: r.name }, { notBefore: realmNb });
  received.length = 0;
  const result = await a.kc.realms.pushRevocation({ realm: r.name });
  t.deepEqual(result, { successRequests: [`${receiverUrl}/ok/app/k_push_not_before`], failedRequests: [`${receiverUrl}/fail/other/k_push_not_before`] });
  t.is(received.length, 2);
  const jwks = createRemoteJWKSet(new URL(a.oidcUrl(r.name, 'certs')));
  const push = received.find((x) => x.path === '/ok/app/k_push_not_before')!;
  t.regex(push.contentType, /^text\/plain/);
  const { payload, protectedHeader } = await jwtVerify(push.body, jwks);
  t.is(protectedHeader.alg, 'RS256');
  t.like(payload, { action: 'PUSH_NOT_BEFORE', resource: 'app', notBefore: realmNb, expiration: a.now() + 30 });
  t.is(typeof payload['id'], 'string');
  const failed = received.find((x) => x.path === '/fail/other/k_push_not_before')!;
  t.like((await jwtVerify(failed.body, jwks)).payload, { action: 'PUSH_NOT_BEFORE', resource: 'other', notBefore: realmNb });

  // The client's push carries the client's not-before.
  await a.advance(1);
  const clientNb = a.now();
  await a.kc.clients.update({ realm: r.name, id: r.app }, { notBefore: clientNb });
  received.length = 0;
  t.deepEqual(await a.kc.clients.pushRevocation({ realm: r.name, id: r.app }), { successRequests: [`${receiverUrl}/ok/app/k_push_not_before`] });
  t.is(received.length, 1);
  t.like((await jwtVerify(received[0]!.body, jwks)).payload, { action: 'PUSH_NOT_BEFORE', resource: 'app', notBefore: clientNb });
  received.length = 0;
  t.deepEqual(await a.kc.clients.pushRevocation({ realm: r.name, id: r.other }), { failedRequests: [`${receiverUrl}/fail/other/k_push_not_before`] });
  // As Keycloak (ResourceAdminManager.pushRevocationPolicy), a disabled client is pushed to as well ...
  await a.kc.clients.update({ realm: r.name, id: r.app }, { enabled: false });
  received.length = 0;
  t.deepEqual(await a.kc.realms.pushRevocation({ realm: r.name }), {
    successRequests: [`${receiverUrl}/ok/app/k_push_not_before`],
    failedRequests: [`${receiverUrl}/fail/other/k_push_not_before`],
  });
  // ... but gets no k_logout from logout-all (logoutClient skips disabled clients).
  received.length = 0;
  t.deepEqual(await a.kc.realms.logoutAll({ realm: r.name }), { failedRequests: [`${receiverUrl}/fail/other/k_logout`] });
  t.deepEqual(received.map((x) => x.path), ['/fail/other/k_logout']);
});

test.serial('consents: listConsents shows the offline grant; revokeConsent (clientId string) removes that client\'s offline sessions; unknown 404', async (t) => {
  const r = await realm();
  t.deepEqual(await a.kc.users.listConsents({ realm: r.name, id: r.alice }), []);
  const app1 = await a.login(r.name, APP, 'alice', 'pw', { scope: 'openid offline_access' });
  await a.advance(1);
  const app2 = await a.login(r.name, APP, 'alice', 'pw', { scope: 'openid offline_access' });
  const other = await a.login(r.name, OTHER, 'alice', 'pw', { scope: 'openid offline_access' });
  const online = await a.login(r.name, APP, 'alice', 'pw');

  const consents = await a.kc.users.listConsents({ realm: r.name, id: r.alice });
  const byClient = [...consents].sort((x, y) => x.clientId!.localeCompare(y.clientId!));
  t.is(byClient.length, 2);
  t.like(byClient[0], { clientId: 'app', grantedClientScopes: [], additionalGrants: [{ client: r.app, key: 'Offline Token' }] });
  t.like(byClient[1], { clientId: 'other', grantedClientScopes: [], additionalGrants: [{ client: r.other, key: 'Offline Token' }] });
  // Offline grants without a stored consent have no dates in Keycloak (UserResource.getConsents).
  t.is(byClient[0]!.createdDate ?? null, null);
  t.is(byClient[0]!.lastUpdatedDate ?? null, null);
  t.true('createdDate' in byClient[0]! && 'lastUpdatedDate' in byClient[0]!);

  await a.kc.users.revokeConsent({ realm: r.name, id: r.alice, clientId: 'app' });
  t.deepEqual(await a.kc.users.listOfflineSessions({ realm: r.name, id: r.alice, clientId: r.app }), []);
  t.deepEqual(await a.kc.clients.getOfflineSessionCount({ realm: r.name, id: r.app }), { count: 0 });
  await assertRefreshFails(t, r.name, APP, app1.refresh_token!, 'Offline user session not found');
  await assertRefreshFails(t, r.name, APP, app2.refresh_token!, 'Offline user session not found');
  await assertInactive(t, r.name, APP, app1.refresh_token!, app2.refresh_token!);
  // The other client's offline grant stays, and so does the online session.
  await assertWorks(t, r.name, OTHER, other.refresh_token!);
  await assertWorks(t, r.name, APP, online.refresh_token!);
  t.deepEqual((await a.kc.users.listConsents({ realm: r.name, id: r.alice })).map((c) => c.clientId), ['other']);

  const again = await kcError(t, a.kc.users.revokeConsent({ realm: r.name, id: r.alice, clientId: 'app' }));
  t.deepEqual(again, { status: 404, data: { error: 'Consent nor offline token not found' } });
  const noClient = await kcError(t, a.kc.users.revokeConsent({ realm: r.name, id: r.alice, clientId: 'no-such-client' }));
  t.is(noClient.status, 404);
  // The UUID is not a clientId.
  t.is((await kcError(t, a.kc.users.revokeConsent({ realm: r.name, id: r.alice, clientId: r.other }))).status, 404);
  t.is((await kcError(t, a.kc.users.revokeConsent({ realm: r.name, id: 'no-such-user', clientId: 'other' }))).status, 404);
});

test.serial('an expired admin token is 401; the admin client works again after auth()', async (t) => {
  t.is((await a.api('GET', '/master')).status, 200);
  await a.advance(61);
  const expired = await a.api('GET', '/master');
  t.deepEqual([expired.status, expired.body], [401, { error: 'HTTP 401 Unauthorized' }]);
  t.is((await kcError(t, a.kc.realms.findOne({ realm: 'master' }))).status, 401);
  await a.reauth();
  t.is((await a.kc.realms.findOne({ realm: 'master' }))!.realm, 'master');
});
