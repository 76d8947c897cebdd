// User events of the OIDC endpoints (docs/keycloak-semantics.md#events): each flow emits
// Keycloak's event type with the client, user and session it concerns, and a
// realm with events enabled stores the saveByDefault ones.

import { randomUUID } from 'node:crypto';
import test from 'ava';
import type { UserEvent } from '../../../src/events/event-sink.js';
import { startNode, type TestNode } from '../../helpers/node-harness.js';

let h: TestNode;

test.before(async () => {
  h = await startNode({ demo: false });
});
test.after.always(async () => {
  await h?.stop();
});

test('every flow emits its event with client, user and session', async (t) => {
  const r = await h.createRealm({
    overrides: { events: { eventsEnabled: true } },
    clients: [
      { clientId: 'app', secret: 's', directAccessGrantsEnabled: true },
      { clientId: 'svc', secret: 's', serviceAccountsEnabled: true, standardFlowEnabled: false },
    ],
    users: [{ username: 'u', password: 'pw' }],
  });
  const seen: UserEvent[] = [];
  const off = h.node.events.onEvent((e) => {
    if (e.realmId === r.realm.id) seen.push(e);
  });
  t.teardown(off);
  const user = r.users.get('u')!;
  const last = (type: string): UserEvent | undefined => seen.filter((e) => e.type === type).at(-1);

  const login = await h.login(r.name, ['app', 's'], 'u', 'pw');
  const sid = login.session_state!;
  let e = last('LOGIN')!;
  t.like(e, { clientId: 'app', userId: user.id, sessionId: sid, error: null });
  t.like(e.details, { grant_type: 'password', username: 'u', auth_method: 'openid-connect' });

  await h.token(r.name, { grant_type: 'password', client_id: 'app', client_secret: 's', username: 'u', password: 'bad' });
  t.like(last('LOGIN_ERROR'), { clientId: 'app', error: 'invalid_user_credentials' });

  const refreshed = await h.refresh(r.name, ['app', 's'], login.refresh_token!);
  t.like(last('REFRESH_TOKEN'), { clientId: 'app', userId: user.id, sessionId: sid, error: null });
  await h.refresh(r.name, ['app', 's'], 'garbage');
  t.like(last('REFRESH_TOKEN_ERROR'), { clientId: 'app', userId: null, error: 'invalid_token' });

  const value = randomUUID();
  await h.node.engine.putCode(sid, value, { client: r.clients.get('app')!.id, redirectUri: 'http://127.0.0.1/cb', scope: 'openid', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp: h.now() + 60, ssoAuth: false });
  await h.token(r.name, { grant_type: 'authorization_code', client_id: 'app', client_secret: 's', code: `${value}.${sid}`, redirect_uri: 'http://127.0.0.1/cb' });
  t.like(last('CODE_TO_TOKEN'), { clientId: 'app', userId: user.id, sessionId: sid, error: null });

  await h.token(r.name, { grant_type: 'client_credentials', client_id: 'svc', client_secret: 's' });
  t.like(last('CLIENT_LOGIN'), { clientId: 'svc', userId: r.users.get('service-account-svc')!.id, sessionId: null, error: null });

  await h.introspect(r.name, ['svc', 's'], refreshed.body.access_token);
  t.like(last('INTROSPECT_TOKEN'), { clientId: 'svc', userId: user.id, error: null });

  await h.post(h.oidcUrl(r.name, 'revoke'), { token: refreshed.body.access_token, client_id: 'app', client_secret: 's' });
  e = last('REVOKE_GRANT')!;
  t.like(e, { clientId: 'app', userId: user.id, error: null });
  t.is(e.details?.['token_id'], String((JSON.parse(Buffer.from(refreshed.body.access_token.split('.')[1], 'base64url').toString()) as { jti: string }).jti));

  await h.post(h.oidcUrl(r.name, 'logout'), { refresh_token: refreshed.body.refresh_token, client_id: 'app', client_secret: 's' });
  t.like(last('LOGOUT'), { clientId: 'app', userId: user.id, sessionId: sid, error: null });

  // A replayed code (last: in a live session it would detach the client session, as Keycloak does).
  await h.token(r.name, { grant_type: 'authorization_code', client_id: 'app', client_secret: 's', code: `${value}.${sid}`, redirect_uri: 'http://127.0.0.1/cb' });
  t.like(last('CODE_TO_TOKEN_ERROR'), { clientId: 'app', error: 'invalid_code' });

  // Stored: the saveByDefault types only (LOGIN, LOGIN_ERROR, CODE_TO_TOKEN, CLIENT_LOGIN, REVOKE_GRANT, LOGOUT, ...).
  await h.node.env.root.committed; // events are written without waiting
  const stored = h.node.events.queryEvents(r.realm.id, { first: 0, max: 100 }).map((x) => x.type);
  for (const type of ['LOGIN', 'LOGIN_ERROR', 'CODE_TO_TOKEN', 'CODE_TO_TOKEN_ERROR', 'CLIENT_LOGIN', 'REVOKE_GRANT', 'LOGOUT']) t.true(stored.includes(type), type);
  for (const type of ['REFRESH_TOKEN', 'INTROSPECT_TOKEN']) t.false(stored.includes(type), type);
});
