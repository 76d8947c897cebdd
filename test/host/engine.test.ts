// Goal: the Engine API behaves as a Keycloak-compatible facade needs it to:
// session creation and client attach, the refresh_token grant's session
// checks (Keycloak's order and exact strings), rotation and reuse detection,
// logout, listings and paging across both shards, search, bulk revocation,
// per-user session limits, expiry in virtual time and the idle grace window.
// Method: a real Engine with two worker threads and a ManualClock in 'manual'
// clock mode; time moves only through advanceTime(), never by sleeping.

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { Engine } from '../../src/host/engine.js';
import type { SessionView } from '../../src/protocol/actor-messages.js';
import { compareSessionIds, partitionOfSessionId } from '../../src/protocol/partition.js';
import { cidrMatcher } from '../../src/util/ip-address.js';
import { START_S, codeOf, startEngine, token, userOnShard } from '../helpers/engine-harness.js';

const R = 'demo';
const seed = Number(process.env.FC_SEED ?? 20_260_107);
const APP = 'c-app';
const PORTAL = 'c-portal';

async function demoRealm(t: Parameters<typeof startEngine>[0], realm: Record<string, number | boolean> = {}, options: Parameters<typeof startEngine>[1] = {}) {
  const h = await startEngine(t, options);
  await h.engine.putRealm(R, { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 3600, ...realm });
  await h.engine.putClient(R, APP, {});
  await h.engine.putClient(R, PORTAL, {});
  return h;
}

function login(userId: string, extra: Partial<{ ip: string; client: string | null; username: string; rememberMe: boolean }> = {}) {
  const client = extra.client === undefined ? APP : extra.client;
  return {
    realm: R,
    userId,
    username: extra.username ?? `name-${userId}`,
    ip: extra.ip ?? '10.0.0.1',
    rememberMe: extra.rememberMe ?? false,
    client: client === null ? null : { client, scope: 'openid profile' },
  };
}

const ids = (views: readonly SessionView[]): string[] => views.map((v) => v.id);

// ---------------------------------------------------------------------------
// Creation and attach

test('a new session carries the login details and its first client session', async (t) => {
  const { engine } = await demoRealm(t, { rememberMe: true });
  const { session, ended } = await engine.createSession({
    realm: R,
    userId: 'u-1',
    username: 'alice',
    ip: '192.168.7.9',
    authMethod: 'client_auth',
    rememberMe: true,
    client: { client: APP, scope: 'openid email', ssoAuth: true, notes: { nonce: 'n-1' } },
    notes: { AUTH_TIME: String(START_S) },
  });
  t.deepEqual(ended, []);
  t.is(session.realm, R);
  t.is(session.userId, 'u-1');
  t.is(session.username, 'alice');
  t.is(session.ip, '192.168.7.9');
  t.is(session.authMethod, 'client_auth');
  t.true(session.rememberMe);
  t.is(session.started, START_S);
  t.is(session.lastSessionRefresh, START_S);
  t.is(session.authTime, START_S);
  t.deepEqual(session.notes, { AUTH_TIME: String(START_S) });
  t.deepEqual(session.clients, [
    { client: APP, started: START_S, timestamp: START_S, scope: 'openid email', ssoAuth: true, notes: { nonce: 'n-1' } },
  ]);
  t.is(session.id.length, 24);

  const got = await engine.getSession(session.id);
  t.deepEqual(got, { session, invalid: null, clientsInvalid: { [APP]: null } });
});

test('defaults: authMethod openid-connect, rememberMe off, no client session; IPv6 addresses are kept as text', async (t) => {
  const { engine } = await demoRealm(t);
  const { session } = await engine.createSession({ realm: R, userId: 'u-2', username: 'bob', ip: '2001:db8::1' });
  t.is(session.authMethod, 'openid-connect');
  t.false(session.rememberMe);
  t.deepEqual(session.clients, []);
  t.is(session.ip, '2001:db8::1');
  t.is(session.notes, null);
});

test('attaching a client that is still valid reuses its client session (started unchanged)', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  clock.advance(100);
  const view = await engine.attachClient(session.id, R, { client: APP, scope: 'openid offline_access' });
  const cs = view.clients.find((c) => c.client === APP)!;
  t.is(cs.started, START_S, 'started unchanged');
  t.is(cs.timestamp, START_S + 100, 'idle clock moved');
  t.is(cs.scope, 'openid offline_access');
  t.is(view.lastSessionRefresh, START_S, 'user idle clock left alone without touchUser');

  clock.advance(50);
  const touched = await engine.attachClient(session.id, R, { client: PORTAL, scope: 'openid' }, { touchUser: true });
  t.is(touched.lastSessionRefresh, START_S + 150);
  t.deepEqual(touched.clients.map((c) => c.client).sort(), [APP, PORTAL]);
  t.is(touched.clients.find((c) => c.client === PORTAL)!.started, START_S + 150);
});

test('attaching a client whose client session expired restarts it (new started)', async (t) => {
  const { engine, clock } = await demoRealm(t);
  await engine.putClient(R, 'c-short', { attributes: { 'client.session.idle.timeout': '60' } });
  const { session } = await engine.createSession(login('u-1', { client: 'c-short' }));
  // Idle 60 s + 120 s grace: invalid from START+180. The wheel has not fired (no advanceTime).
  clock.advance(200);
  t.is((await engine.validate(session.id, 'c-short')).reason, 'client_idle');
  const view = await engine.attachClient(session.id, R, { client: 'c-short', scope: 'openid' }, { touchUser: true });
  const cs = view.clients.find((c) => c.client === 'c-short')!;
  t.is(cs.started, START_S + 200);
  t.is(cs.timestamp, START_S + 200);
  t.true((await engine.validate(session.id, 'c-short')).valid);
});

test('attaching to a session that does not exist is ERR_SESSION_NOT_FOUND', async (t) => {
  const { engine } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  await engine.logoutSession(session.id);
  t.is(await codeOf(t, () => engine.attachClient(session.id, R, { client: APP, scope: 'openid' })), 'ERR_SESSION_NOT_FOUND');
  t.is(await codeOf(t, () => engine.attachClient('not-a-session-id', R, { client: APP, scope: 'openid' })), 'ERR_SESSION_NOT_FOUND');
});

// ---------------------------------------------------------------------------
// Refresh

test('refresh moves both idle clocks to now and answers the session with that client session', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  await engine.attachClient(session.id, R, { client: PORTAL, scope: 'openid' });
  clock.advance(300);
  const r = await engine.refresh({ sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: token('j1', START_S) });
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.session.lastSessionRefresh, START_S + 300);
  t.deepEqual(r.session.clients.map((c) => [c.client, c.timestamp]), [[APP, START_S + 300]]);
  const got = (await engine.getSession(session.id))!;
  t.is(got.session.lastSessionRefresh, START_S + 300);
  t.is(got.session.clients.find((c) => c.client === PORTAL)!.timestamp, START_S, 'other client sessions keep their clock');
});

test('refresh keeps a session alive past the idle timeout', async (t) => {
  const { engine, advance } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  for (let i = 1; i <= 5; i++) {
    await advance(500);
    const r = await engine.refresh({ sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: token(`j${i}`, START_S + 500 * (i - 1)) });
    t.true(r.ok, `refresh ${i}`);
  }
  t.true((await engine.validate(session.id, APP)).valid);
});

test('rotation: a second use of the same refresh token with maxReuse 0 fails and detaches only that client session', async (t) => {
  const { engine, clock } = await demoRealm(t, { revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
  const { session } = await engine.createSession(login('u-1'));
  await engine.attachClient(session.id, R, { client: PORTAL, scope: 'openid' });
  clock.advance(10);
  const t1 = token('jti-1', START_S, 'reuse-a');
  const first = await engine.refresh({ sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: t1 });
  t.true(first.ok);
  clock.advance(10);
  const second = await engine.refresh({ sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: t1 });
  t.deepEqual(second, { ok: false, error: 'Maximum allowed refresh token reuse exceeded', detached: true, ended: null });

  const v = await engine.validate(session.id);
  t.true(v.valid, 'user session alive');
  t.deepEqual(v.session!.clients.map((c) => c.client), [PORTAL], 'only the offending client session is gone');
  const after = await engine.refresh({ sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: token('jti-2', START_S + 10, 'reuse-a') });
  t.deepEqual(after, { ok: false, error: "Session doesn't have required client", detached: false, ended: null });
});

test('rotation: replaying an older refresh token after the chain moved on is "Stale token"', async (t) => {
  const { engine, clock } = await demoRealm(t, { revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
  const { session } = await engine.createSession(login('u-1'));
  const base = { sessionId: session.id, realm: R, client: APP, userId: 'u-1' };
  clock.advance(10);
  t.true((await engine.refresh({ ...base, token: token('j1', START_S, 'x') })).ok);
  clock.advance(10);
  t.true((await engine.refresh({ ...base, token: token('j2', START_S + 10, 'x') })).ok);
  clock.advance(10);
  const replay = await engine.refresh({ ...base, token: token('j1', START_S, 'x') });
  t.deepEqual(replay, { ok: false, error: 'Stale token', detached: true, ended: null });
  t.true((await engine.validate(session.id)).valid);
});

test('rotation: maxReuse N allows N+1 uses; separate reuse_id chains do not collide', async (t) => {
  const { engine, clock } = await demoRealm(t, { revokeRefreshToken: true, refreshTokenMaxReuse: 1 });
  const { session } = await engine.createSession(login('u-1'));
  const base = { sessionId: session.id, realm: R, client: APP, userId: 'u-1' };
  clock.advance(5);
  t.true((await engine.refresh({ ...base, token: token('a1', START_S, 'tab-a') })).ok);
  t.true((await engine.refresh({ ...base, token: token('b1', START_S, 'tab-b') })).ok, 'another chain is independent');
  t.true((await engine.refresh({ ...base, token: token('a1', START_S, 'tab-a') })).ok, 'second use allowed with maxReuse 1');
  const third = await engine.refresh({ ...base, token: token('a1', START_S, 'tab-a') });
  t.false(third.ok);
  if (!third.ok) t.is(third.error, 'Maximum allowed refresh token reuse exceeded');
});

test('without revokeRefreshToken the same refresh token may be used again and again', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  for (let i = 0; i < 4; i++) {
    clock.advance(1);
    t.true((await engine.refresh({ sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: token('same', START_S) })).ok);
  }
});

test('refresh of a missing session is "Session not active"', async (t) => {
  const { engine } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  await engine.logoutSession(session.id);
  const expected = { ok: false, error: 'Session not active', detached: false, ended: null };
  t.deepEqual(await engine.refresh({ sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: token('j', START_S) }), expected);
  t.deepEqual(await engine.refresh({ sessionId: 'garbage', realm: R, client: APP, userId: 'u-1', token: token('j', START_S) }), expected);
});

test('refresh of an expired session is "Session not active", removes it and reports it in ended', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  clock.advance(600 + 120); // idle + grace: invalid from here; the wheel has not fired yet
  // A disabled user too: the session check comes first in Keycloak's order.
  const r = await engine.refresh({
    sessionId: session.id, realm: R, client: APP, userId: 'u-1', token: token('j', START_S), user: { enabled: false },
  });
  t.false(r.ok);
  if (r.ok) return;
  t.is(r.error, 'Session not active');
  t.false(r.detached);
  t.is(r.ended?.reason, 'invalid_on_refresh');
  t.is(r.ended?.session.id, session.id);
  t.is(await engine.getSession(session.id), null);
});

test('refresh checks run in Keycloak order with its exact error strings', async (t) => {
  const { engine, clock } = await demoRealm(t);
  await engine.putClient(R, 'c-short', { attributes: { 'client.session.idle.timeout': '60' } });
  const { session } = await engine.createSession(login('u-1'));
  const base = { sessionId: session.id, realm: R, userId: 'u-1' };
  clock.advance(10);

  // User disabled comes before the client-session checks.
  t.deepEqual(
    await engine.refresh({ ...base, client: 'c-unattached', token: token('j', START_S), user: { enabled: false } }),
    { ok: false, error: 'User disabled', detached: false, ended: null },
  );
  t.deepEqual(
    await engine.refresh({ ...base, client: APP, token: token('j', START_S), user: null }),
    { ok: false, error: 'Invalid refresh token', detached: false, ended: null },
  );
  t.deepEqual(
    await engine.refresh({ ...base, client: APP, token: token('j', START_S - 5) }),
    { ok: false, error: 'Refresh token issued before the user session started', detached: false, ended: null },
  );
  t.deepEqual(
    await engine.refresh({ ...base, client: 'c-unattached', token: token('j', START_S) }),
    { ok: false, error: "Session doesn't have required client", detached: false, ended: null },
  );

  // A client session past its own idle timeout (60 s + 120 s grace) while the user session is fine.
  await engine.attachClient(session.id, R, { client: 'c-short', scope: 'openid' });
  clock.advance(180);
  t.deepEqual(
    await engine.refresh({ ...base, client: 'c-short', token: token('j', START_S + 10) }),
    { ok: false, error: 'Client session not active', detached: true, ended: null },
  );
  const v = await engine.validate(session.id);
  t.true(v.valid, 'the user session survives');
  t.deepEqual(v.session!.clients.map((c) => c.client), [APP]);
});

test('refresh: not-before of realm, client and user make older tokens "Stale token" (client check uses the min rule)', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  const base = { sessionId: session.id, realm: R, client: APP, userId: 'u-1' };
  clock.advance(100);
  const stale = { ok: false, error: 'Stale token', detached: false, ended: null };

  await engine.setRealmNotBefore(R, START_S + 50);
  t.deepEqual(await engine.refresh({ ...base, token: token('j', START_S + 10) }), stale, 'realm not-before (no client value)');
  t.true((await engine.refresh({ ...base, token: token('j', START_S + 50) })).ok, 'iat == notBefore is not stale');

  // Min rule: a client not-before later than a non-zero realm not-before is ignored.
  await engine.setRealmNotBefore(R, START_S + 5);
  await engine.setClientNotBefore(R, APP, START_S + 80);
  t.true((await engine.refresh({ ...base, token: token('j', START_S + 10) })).ok, 'client NB ignored: min(80, 5) = 5');
  t.deepEqual(await engine.refresh({ ...base, token: token('j', START_S + 4) }), stale);

  await engine.setRealmNotBefore(R, 0);
  t.deepEqual(await engine.refresh({ ...base, token: token('j', START_S + 10) }), stale, 'client not-before alone');
  await engine.setClientNotBefore(R, APP, 0);

  engine.setUserNotBefore(R, 'u-1', START_S + 60);
  t.deepEqual(await engine.refresh({ ...base, token: token('j', START_S + 10) }), stale, 'user not-before');
  engine.setUserNotBefore(R, 'u-1', 0);
  t.true((await engine.refresh({ ...base, token: token('j', START_S + 10) })).ok);
  t.deepEqual(
    await engine.refresh({ ...base, token: token('j', START_S + 10), user: { enabled: true, notBefore: START_S + 20 } }),
    stale,
    "the caller's user not-before",
  );
  t.deepEqual(engine.notBefore(R, APP, 'u-1'), { realm: 0, client: 0, user: 0, policy: 0 });
});

test('notBefore() reports the three values and the token response policy (their max)', async (t) => {
  const { engine } = await demoRealm(t);
  await engine.setRealmNotBefore(R, 100);
  await engine.setClientNotBefore(R, APP, 300);
  engine.setUserNotBefore(R, 'u-1', 200);
  t.deepEqual(engine.notBefore(R, APP, 'u-1'), { realm: 100, client: 300, user: 200, policy: 300 });
  t.deepEqual(engine.notBefore(R), { realm: 100, client: 0, user: 0, policy: 100 });
  t.is(engine.realmSettings(R)?.notBefore, 100);
  t.is(engine.clientSettings(APP)?.notBefore, 300);
  t.is(await codeOf(t, () => engine.setClientNotBefore(R, 'nope', 1)), 'ERR_CLIENT_UNKNOWN');
});

// ---------------------------------------------------------------------------
// Touch, get, validate

test('touch moves the user idle clock and answers false for unknown sessions', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  clock.advance(42);
  t.true(await engine.touch(session.id));
  const got = (await engine.getSession(session.id))!;
  t.is(got.session.lastSessionRefresh, START_S + 42);
  t.is(got.session.clients[0]!.timestamp, START_S, 'touch does not move client clocks');
  await engine.logoutSession(session.id);
  t.false(await engine.touch(session.id));
  t.false(await engine.touch('short'));
});

test('validate names why a session or client session is not valid', async (t) => {
  const { engine, clock } = await demoRealm(t, { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 1000 });
  await engine.putClient(R, 'c-max', { attributes: { 'client.session.max.lifespan': '300' } });
  await engine.putClient(R, 'c-idle', { attributes: { 'client.session.idle.timeout': '100' } });
  const { session } = await engine.createSession(login('u-1'));
  await engine.attachClient(session.id, R, { client: 'c-max', scope: 'openid' });
  await engine.attachClient(session.id, R, { client: 'c-idle', scope: 'openid' });

  t.deepEqual(await engine.validate('AAAAAAAAAAAAAAAAAAAAAAAA'), { valid: false, reason: 'not_found', session: null });
  t.true((await engine.validate(session.id, APP)).valid);
  t.is((await engine.validate(session.id, PORTAL)).reason, 'client_not_found');

  clock.advance(250); // c-idle: 100 + 120 grace < 250
  await engine.touch(session.id);
  t.is((await engine.validate(session.id, 'c-idle')).reason, 'client_idle');
  t.true((await engine.validate(session.id, 'c-max')).valid);
  clock.advance(50); // c-max: started + 300 == now: max is strict, no grace
  await engine.touch(session.id);
  t.is((await engine.validate(session.id, 'c-max')).reason, 'client_max');
  t.true((await engine.validate(session.id)).valid, 'the user session itself is valid');
  const got = (await engine.getSession(session.id))!;
  t.deepEqual(got.clientsInvalid, { [APP]: null, 'c-max': 'max', 'c-idle': 'idle' });

  clock.advance(700); // START+1000: user max
  await engine.touch(session.id);
  t.is((await engine.validate(session.id, APP)).reason, 'max');
});

// ---------------------------------------------------------------------------
// Logout

test('logoutSession ends one session and reports it; a second logout finds nothing', async (t) => {
  const { engine } = await demoRealm(t);
  const a = (await engine.createSession(login('u-1'))).session;
  const b = (await engine.createSession(login('u-1'))).session;
  const ended = await engine.logoutSession(a.id);
  t.is(ended?.reason, 'logout');
  t.is(ended?.session.id, a.id);
  t.is(await engine.logoutSession(a.id), null);
  t.is(await engine.logoutSession('nonsense'), null);
  t.deepEqual(ids(await engine.listUserSessions(R, 'u-1')), [b.id]);
  t.is((await engine.logoutSession(b.id, 'admin_delete'))?.reason, 'admin_delete');
});

test('logoutUser ends every session of that user only', async (t) => {
  const { engine } = await demoRealm(t);
  const mine = [];
  for (let i = 0; i < 3; i++) mine.push((await engine.createSession(login('u-1'))).session.id);
  const other = (await engine.createSession(login('u-2'))).session.id;
  const ended = await engine.logoutUser(R, 'u-1');
  t.deepEqual(ended.map((e) => e.session.id).sort(), [...mine].sort());
  t.true(ended.every((e) => e.reason === 'user_logout'));
  t.deepEqual(await engine.listUserSessions(R, 'u-1'), []);
  t.deepEqual(ids(await engine.listUserSessions(R, 'u-2')), [other]);
  t.deepEqual(await engine.logoutUser(R, 'u-unknown'), []);
});

test('logoutAll ends every session of the realm on both shards and answers the count', async (t) => {
  const { engine } = await demoRealm(t);
  await engine.putRealm('other', {});
  const users = [userOnShard(R, 0, 'a-'), userOnShard(R, 1, 'b-'), userOnShard(R, 0, 'c-'), userOnShard(R, 1, 'd-')];
  for (const u of users) await engine.createSession(login(u));
  const survivor = (await engine.createSession({ realm: 'other', userId: 'x', username: 'x', ip: '1.2.3.4' })).session;
  t.is(await engine.logoutAll(R), 4);
  t.is(await engine.logoutAll(R), 0);
  for (const u of users) t.deepEqual(await engine.listUserSessions(R, u), []);
  t.not(await engine.getSession(survivor.id), null);
});

// ---------------------------------------------------------------------------
// Listing, counting, paging

test('listUserSessions answers a user\'s sessions in start order', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const created = [];
  for (let i = 0; i < 4; i++) {
    created.push((await engine.createSession(login('u-1', { ip: `10.0.0.${i + 1}` }))).session.id);
    clock.advance(3);
  }
  const listed = await engine.listUserSessions(R, 'u-1');
  t.deepEqual(ids(listed), created);
  t.true(listed.every((v) => v.userId === 'u-1' && v.realm === R));
});

test('listClientSessions pages over both shards: the pages concatenate to the full ordered list, without duplicates', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const holders: string[] = [];
  for (let i = 0; i < 37; i++) {
    const { session } = await engine.createSession(login(`p-${i}`, { client: i % 3 === 0 ? PORTAL : APP }));
    if (i % 3 !== 0) holders.push(session.id);
    if (i % 4 !== 0) clock.advance(1); // some equal start times, to exercise ties
  }
  const full = await engine.listClientSessions(R, APP, { first: 0, max: 100 });
  t.is(full.length, holders.length);
  t.deepEqual([...ids(full)].sort(), [...holders].sort());
  const shards = new Set(full.map((v) => partitionOfSessionId(v.id) % 2));
  t.deepEqual([...shards].sort(), [0, 1], 'sessions from both shards');
  const startedOf = (v: SessionView) => v.clients.find((c) => c.client === APP)!.started;
  for (let i = 1; i < full.length; i++) t.true(startedOf(full[i - 1]!) <= startedOf(full[i]!), 'ordered by client-session start');

  for (const max of [1, 5, 7]) {
    const pages: SessionView[] = [];
    for (let first = 0; first < full.length + max; first += max) pages.push(...(await engine.listClientSessions(R, APP, { first, max })));
    t.deepEqual(ids(pages), ids(full), `pages of ${max}`);
  }
  t.deepEqual(await engine.listClientSessions(R, APP, { first: 0, max: 0 }), []);
  t.is((await engine.listClientSessions(R, APP)).length, holders.length, 'default max 100');
  t.deepEqual(await engine.listClientSessions(R, 'c-nobody'), []);
});

test('client session counts and client-session-stats add up over both shards', async (t) => {
  const { engine } = await demoRealm(t);
  await engine.putClient(R, 'c-idle-client', {});
  for (let i = 0; i < 20; i++) {
    const { session } = await engine.createSession(login(`s-${i}`));
    if (i % 2 === 0) await engine.attachClient(session.id, R, { client: PORTAL, scope: 'openid' });
  }
  t.is(await engine.countClientSessions(R, APP), 20);
  t.is(await engine.countClientSessions(R, PORTAL), 10);
  t.is(await engine.countClientSessions(R, 'c-idle-client'), 0);
  const stats = await engine.clientSessionStats(R);
  t.deepEqual([...stats].sort(), [[APP, 20], [PORTAL, 10]], 'only clients with sessions');
  const shardStats = await engine.stats();
  t.is(shardStats.length, 2);
  const total = shardStats.reduce((n, s) => n + (s.realms[R]?.[0] ?? 0), 0);
  const clientTotal = shardStats.reduce((n, s) => n + (s.realms[R]?.[1] ?? 0), 0);
  t.is(total, 20);
  t.is(clientTotal, 30);
  t.true(shardStats.every((s) => (s.realms[R]?.[0] ?? 0) > 0), 'both shards hold some');
});

test('searchSessions matches username, IP and clientId, filters by client and pages consistently', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const make = async (userId: string, username: string, ip: string, client: string) => {
    const { session } = await engine.createSession(login(userId, { username, ip, client }));
    clock.advance(1);
    return session.id;
  };
  const alice1 = await make('u-a', 'alice', '10.1.1.1', APP);
  const bob = await make('u-b', 'bob', '192.168.0.5', PORTAL);
  const alice2 = await make('u-a', 'alice', '10.1.1.2', PORTAL);
  const carol = await make('u-c', 'carol', '172.16.0.1', APP);
  const malice = await make('u-m', 'malice', '10.9.9.9', APP);

  t.deepEqual(ids(await engine.searchSessions(R, { search: 'alice' })), [alice1, alice2, malice]);
  t.deepEqual(ids(await engine.searchSessions(R, { search: '  alice  ' })), [alice1, alice2, malice], 'search is trimmed');
  t.deepEqual(ids(await engine.searchSessions(R, { search: '10.1.1' })), [alice1, alice2]);
  t.deepEqual(ids(await engine.searchSessions(R, { search: 'portal', searchClients: [PORTAL] })), [bob, alice2]);
  t.deepEqual(ids(await engine.searchSessions(R, { client: APP })), [alice1, carol, malice]);
  t.deepEqual(ids(await engine.searchSessions(R, { client: APP, search: 'alice' })), [alice1, malice]);
  t.deepEqual(ids(await engine.searchSessions(R, { search: 'nobody' })), []);
  const all = [alice1, bob, alice2, carol, malice];
  t.deepEqual(ids(await engine.searchSessions(R)), all);
  t.deepEqual(ids(await engine.searchSessions(R, { first: 1, max: 2 })), all.slice(1, 3));
  t.deepEqual(ids(await engine.searchSessions(R, { first: 4, max: 10 })), all.slice(4));
  t.deepEqual(await engine.searchSessions(R, { client: 'c-unknown' }), []);
});

test('property: listSessions pages over both shards equal the naive sort of the filtered realm, in every order', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const ips = ['10.0.0.1', '10.0.7.9', '172.16.4.2', '2001:db8::3'];
  const created: string[] = [];
  for (let i = 0; i < 48; i++) {
    const { session } = await engine.createSession(login(`l-${i % 16}`, { ip: ips[i % ips.length]!, client: i % 3 === 0 ? PORTAL : APP }));
    created.push(session.id);
    if (i % 3 === 2) clock.advance(1); // three sessions a second: ties
  }
  for (const [i, id] of created.entries()) {
    clock.set(START_S + 20 + (i * 7) % 11);
    if (i % 4 !== 0) await engine.touch(id);
  }
  const views: SessionView[] = [];
  for (const id of created) views.push((await engine.getSession(id))!.session);
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  await fc.assert(
    fc.asyncProperty(
      fc.record({ by: fc.constantFrom('started' as const, 'lastAccess' as const), desc: fc.boolean() }),
      fc.record({ client: fc.constantFrom(APP, PORTAL), ipIn: fc.constantFrom<string[]>(['10.0.0.0/8'], ['2001:db8::/32']), lastAccessFrom: fc.integer({ min: START_S + 15, max: START_S + 31 }), lastAccessBefore: fc.integer({ min: START_S + 16, max: START_S + 32 }) }, { requiredKeys: [] }),
      fc.integer({ min: 1, max: 20 }),
      async (order, filter, pageSize) => {
        const key = (v: SessionView): number => (order.by === 'started' ? v.started : v.lastSessionRefresh);
        const expected = views
          .filter((v) => filter.client === undefined || v.clients.some((c) => c.client === filter.client))
          .filter((v) => filter.ipIn === undefined || cidrMatcher(filter.ipIn)(v.ip))
          .filter((v) => filter.lastAccessFrom === undefined || v.lastSessionRefresh >= filter.lastAccessFrom)
          .filter((v) => filter.lastAccessBefore === undefined || v.lastSessionRefresh < filter.lastAccessBefore)
          .sort((a, b) => (order.desc ? -1 : 1) * (key(a) - key(b) || compareSessionIds(a.id, b.id)))
          .map((v) => v.id);
        const paged: string[] = [];
        for (let first = 0; first <= expected.length; first += pageSize) paged.push(...ids(await engine.listSessions(R, { filter, order, first, max: pageSize })));
        assert.deepEqual(paged, expected);
      },
    ),
    { seed, numRuns: 60 },
  );
  t.is(await codeOf(t, () => engine.listSessions(R, { order: { by: 'ip', desc: false } as never })), 'ERR_INVALID_ARGUMENT');
  t.is(await codeOf(t, () => engine.listSessions(R, { filter: { lastAccessFrom: -1 } })), 'ERR_INVALID_ARGUMENT');
  t.deepEqual(ids(await engine.listSessions(R, { filter: { userId: 'l-3' }, order: { by: 'lastAccess', desc: true }, max: 100 })),
    views.filter((v) => v.userId === 'l-3').sort((a, b) => b.lastSessionRefresh - a.lastSessionRefresh || compareSessionIds(b.id, a.id)).map((v) => v.id), "one user's partition only");
  t.deepEqual(await engine.listOfflineSessions(R, { order: { by: 'lastAccess', desc: true } }), [], 'no data directory: no offline sessions');
});

test('searchSessions defaults to 10 results and pages over many sessions on both shards', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const created: string[] = [];
  for (let i = 0; i < 25; i++) {
    created.push((await engine.createSession(login(`many-${i}`))).session.id);
    if (i % 2) clock.advance(1);
  }
  const firstPage = await engine.searchSessions(R);
  t.is(firstPage.length, 10);
  const pages: string[] = [];
  for (let first = 0; first < 30; first += 4) pages.push(...ids(await engine.searchSessions(R, { first, max: 4 })));
  t.is(new Set(pages).size, 25);
  t.deepEqual(pages, ids(await engine.searchSessions(R, { max: 25 })));
  t.deepEqual([...pages].sort(), [...created].sort());
});

// ---------------------------------------------------------------------------
// Bulk revocation

test('revokeSessions ends the listed sessions and reports unknown ids as failures', async (t) => {
  const { engine } = await demoRealm(t);
  await engine.putRealm('other', {});
  const a = (await engine.createSession(login(userOnShard(R, 0)))).session.id;
  const b = (await engine.createSession(login(userOnShard(R, 1)))).session.id;
  const keep = (await engine.createSession(login('keeper'))).session.id;
  const foreign = (await engine.createSession({ realm: 'other', userId: 'x', username: 'x', ip: '1.1.1.1' })).session.id;
  const gone = (await engine.createSession(login('gone'))).session.id;
  await engine.logoutSession(gone);

  const report = await engine.revokeSessions(R, [a, b, gone, 'malformed', foreign]);
  t.is(report.revoked, 2);
  t.is(report.failed, 3);
  t.deepEqual(report.ended.map((e) => e.session.id).sort(), [a, b].sort());
  t.true(report.ended.every((e) => e.reason === 'revoked'));
  t.deepEqual(report.failures.map((f) => f.id).sort(), [gone, 'malformed', foreign].sort());
  t.true(report.failures.every((f) => f.reason === 'not_found'));
  t.not(await engine.getSession(keep), null);
  t.not(await engine.getSession(foreign), null, 'a session of another realm is not revoked');
  t.deepEqual(await engine.revokeSessions(R, []), { revoked: 0, failed: 0, failures: [], ended: [] });
});

test('revokeByFilter with userId and ipNotIn keeps exactly the sessions inside the network', async (t) => {
  const { engine } = await demoRealm(t);
  const inside = [];
  const outside = [];
  for (const ip of ['10.0.0.7', '10.200.3.4', '10.255.255.255']) inside.push((await engine.createSession(login('u-1', { ip }))).session.id);
  for (const ip of ['192.168.1.5', '8.8.8.8', '11.0.0.1', '2001:db8::5']) outside.push((await engine.createSession(login('u-1', { ip }))).session.id);
  const bystander = (await engine.createSession(login('u-2', { ip: '8.8.4.4' }))).session.id;

  t.is(await engine.countByFilter(R, { userId: 'u-1', ipNotIn: ['10.0.0.0/8'] }), 4);
  const report = await engine.revokeByFilter(R, { userId: 'u-1', ipNotIn: ['10.0.0.0/8'] });
  t.is(report.revoked, 4);
  t.is(report.failed, 0);
  t.deepEqual(report.ended.map((e) => e.session.id).sort(), [...outside].sort());
  t.deepEqual(ids(await engine.listUserSessions(R, 'u-1')).sort(), [...inside].sort());
  t.not(await engine.getSession(bystander), null);
});

test('countByFilter and revokeByFilter: ipIn, client and last-access bounds across the realm', async (t) => {
  const { engine, clock } = await demoRealm(t);
  for (let i = 0; i < 12; i++) {
    await engine.createSession(login(`f-${i}`, { ip: i < 4 ? `172.16.0.${i + 1}` : `10.0.0.${i}`, client: i % 2 ? PORTAL : APP }));
    clock.advance(10);
  }
  t.is(await engine.countByFilter(R, {}), 12);
  t.is(await engine.countByFilter(R, { ipIn: ['172.16.0.0/12'] }), 4);
  t.is(await engine.countByFilter(R, { ipIn: ['172.16.0.1', '10.0.0.11'] }), 2, 'single addresses');
  t.is(await engine.countByFilter(R, { client: PORTAL }), 6);
  t.is(await engine.countByFilter(R, { lastAccessBefore: START_S + 30 }), 3);
  t.is(await engine.countByFilter(R, { lastAccessFrom: START_S + 30, lastAccessBefore: START_S + 60 }), 3, 'a last-access range');
  t.is(await engine.countByFilter(R, { client: APP, ipIn: ['10.0.0.0/8'] }), 4);
  const report = await engine.revokeByFilter(R, { client: PORTAL });
  t.is(report.revoked, 6);
  t.is(await engine.countByFilter(R, {}), 6);
  t.is(await engine.countClientSessions(R, PORTAL), 0);
});

// ---------------------------------------------------------------------------
// Session limits (docs/keycloak-semantics.md#session-limits)

test('realm session limit with "deny" refuses one more session with ERR_SESSION_LIMIT', async (t) => {
  const { engine } = await demoRealm(t);
  const limits = { realmLimit: 2, clientLimit: 0, behavior: 'deny' as const };
  await engine.createSession({ ...login('u-1'), limits });
  await engine.createSession({ ...login('u-1'), limits });
  const err = await t.throwsAsync(engine.createSession({ ...login('u-1'), limits }));
  t.is((err as { code?: string }).code, 'ERR_SESSION_LIMIT');
  t.is((await engine.listUserSessions(R, 'u-1')).length, 2);
  await t.notThrowsAsync(engine.createSession({ ...login('u-2'), limits }), 'other users are not affected');
});

test('client session limit with "deny" counts only sessions holding that client', async (t) => {
  const { engine } = await demoRealm(t);
  const limits = { realmLimit: 0, clientLimit: 1, behavior: 'deny' as const };
  await engine.createSession({ ...login('u-1', { client: APP }), limits });
  t.is(await codeOf(t, () => engine.createSession({ ...login('u-1', { client: APP }), limits })), 'ERR_SESSION_LIMIT');
  await t.notThrowsAsync(engine.createSession({ ...login('u-1', { client: PORTAL }), limits }));
  await t.notThrowsAsync(engine.createSession({ ...login('u-1', { client: null }), limits }), 'no client: the client limit does not apply');
});

test('realm session limit with "terminate oldest" ends the session with the oldest lastSessionRefresh', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const limits = { realmLimit: 3, clientLimit: 0, behavior: 'terminate_oldest' as const };
  const first = (await engine.createSession({ ...login('u-1'), limits })).session.id;
  clock.advance(10);
  const second = (await engine.createSession({ ...login('u-1'), limits })).session.id;
  clock.advance(10);
  const third = (await engine.createSession({ ...login('u-1'), limits })).session.id;
  clock.advance(10);
  await engine.touch(first); // now the second is the least recently used
  const { session, ended } = await engine.createSession({ ...login('u-1'), limits });
  t.deepEqual(ended.map((e) => [e.session.id, e.reason]), [[second, 'session_limit']]);
  t.deepEqual(ids(await engine.listUserSessions(R, 'u-1')).sort(), [first, third, session.id].sort());
});

test('client session limit with "terminate oldest" ends the oldest session holding that client', async (t) => {
  const { engine, clock } = await demoRealm(t);
  const limits = { realmLimit: 0, clientLimit: 2, behavior: 'terminate_oldest' as const };
  const portal = (await engine.createSession({ ...login('u-1', { client: PORTAL }), limits })).session.id;
  clock.advance(1);
  const app1 = (await engine.createSession({ ...login('u-1', { client: APP }), limits })).session.id;
  clock.advance(1);
  const app2 = (await engine.createSession({ ...login('u-1', { client: APP }), limits })).session.id;
  clock.advance(1);
  const { ended, session } = await engine.createSession({ ...login('u-1', { client: APP }), limits });
  t.deepEqual(ended.map((e) => e.session.id), [app1]);
  t.deepEqual(ids(await engine.listUserSessions(R, 'u-1')).sort(), [portal, app2, session.id].sort());
});

// ---------------------------------------------------------------------------
// Expiry in virtual time

test("'expired' notices report idle and max expiry when advanceTime passes a deadline", async (t) => {
  const { engine, advance, expired } = await demoRealm(t, { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 1000 });
  const idle = (await engine.createSession(login(userOnShard(R, 0, 'idle-')))).session.id;
  const busy = (await engine.createSession(login(userOnShard(R, 1, 'busy-')))).session.id;
  await advance(500);
  await engine.touch(busy);
  t.deepEqual(expired, []);
  await advance(220); // idle: 600 + 120 grace = START+720
  t.deepEqual(expired.map((n) => [n.session.id, n.reason, n.at]), [[idle, 'idle', START_S + 720]]);
  await engine.touch(busy);
  await advance(279);
  t.is(expired.length, 1, 'max is START+1000: not yet');
  await advance(1);
  t.deepEqual(expired.map((n) => [n.session.id, n.reason]), [[idle, 'idle'], [busy, 'max']]);
  t.is(await engine.getSession(idle), null);
  t.is(await engine.getSession(busy), null);
  const stats = await engine.stats();
  const expirations = stats.reduce<[number, number]>((acc, s) => [acc[0] + (s.expirations[R]?.[0] ?? 0), acc[1] + (s.expirations[R]?.[1] ?? 0)], [0, 0]);
  t.deepEqual(expirations, [1, 1]);
});

test('a client session expires on its own without ending the user session', async (t) => {
  const { engine, advance, expired } = await demoRealm(t);
  await engine.putClient(R, 'c-short', { attributes: { 'client.session.idle.timeout': '60' } });
  const { session } = await engine.createSession(login('u-1', { client: 'c-short' }));
  await engine.attachClient(session.id, R, { client: APP, scope: 'openid' });
  t.is(await engine.countClientSessions(R, 'c-short'), 1);
  await advance(179);
  t.is(await engine.countClientSessions(R, 'c-short'), 1, 'valid until 60 + 120 grace');
  await advance(1);
  t.is(await engine.countClientSessions(R, 'c-short'), 0);
  const got = (await engine.getSession(session.id))!;
  t.is(got.invalid, null);
  t.deepEqual(got.session.clients.map((c) => c.client), [APP]);
  t.deepEqual(expired, [], 'no user-session expiry notice');
  await advance(600);
  t.deepEqual(expired.map((n) => [n.session.id, n.reason]), [[session.id, 'idle']], 'the user session keeps its own idle timeout');
});

test('remember-me sessions use the longer idle timeout; turning realm rememberMe off ends them', async (t) => {
  const realm = { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 36000, rememberMe: true, ssoSessionIdleTimeoutRememberMe: 3600 };
  const { engine, advance, expired } = await demoRealm(t, realm);
  const plain = (await engine.createSession(login('u-plain'))).session.id;
  const remembered = (await engine.createSession(login('u-rm', { rememberMe: true }))).session.id;
  const remembered2 = (await engine.createSession(login(userOnShard(R, 0, 'rm0-'), { rememberMe: true }))).session.id;
  const remembered3 = (await engine.createSession(login(userOnShard(R, 1, 'rm1-'), { rememberMe: true }))).session.id;
  await advance(720);
  t.deepEqual(expired.map((n) => [n.session.id, n.reason]), [[plain, 'idle']]);
  t.true((await engine.validate(remembered)).valid, 'remember-me idle is 3600');

  await engine.putRealm(R, { ...realm, rememberMe: false });
  await advance(0); // a barrier: every shard has fired what the new settings made due
  t.deepEqual(
    expired.slice(1).map((n) => [n.session.id, n.reason]).sort(),
    [remembered, remembered2, remembered3].sort().map((id) => [id, 'remember_me_disabled']),
  );
  t.is(await engine.getSession(remembered), null);
  // Counted apart from idle and max expiries (the metrics' reason="remember_me_disabled").
  const counts = (await engine.stats()).map((s) => s.expirations[R] ?? [0, 0, 0]);
  t.deepEqual([0, 1, 2].map((i) => counts.reduce((sum, c) => sum + c[i]!, 0)), [1, 0, 3]);
});

for (const [grace, option] of [[0, 0], [120, 120], [120, undefined]] as const) {
  const label = option === undefined ? `${grace} s (the default)` : `${grace} s`;
  test(`idle grace ${label}: valid until lastSessionRefresh + idle + grace - 1, expired at + idle + grace`, async (t) => {
    const { engine, clock, expired } = await demoRealm(t, { ssoSessionIdleTimeout: 600 }, option === undefined ? {} : { idleGraceSeconds: option });
    const { session } = await engine.createSession(login('u-1'));
    const deadline = START_S + 600 + grace;
    clock.set(deadline - 1);
    t.true((await engine.validate(session.id, APP)).valid);
    await engine.advanceTime(deadline - 1);
    t.deepEqual(expired, []);
    clock.set(deadline);
    t.is((await engine.validate(session.id)).reason, 'idle');
    await engine.advanceTime(deadline);
    t.deepEqual(expired.map((n) => [n.session.id, n.reason, n.at]), [[session.id, 'idle', deadline]]);
  });

  test(`idle grace ${label} never extends the max lifespan`, async (t) => {
    const { engine, clock, expired } = await demoRealm(t, { ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 1000 }, option === undefined ? {} : { idleGraceSeconds: option });
    const { session } = await engine.createSession(login('u-1'));
    clock.set(START_S + 500);
    await engine.touch(session.id);
    clock.set(START_S + 999);
    t.true((await engine.validate(session.id)).valid);
    await engine.advanceTime(START_S + 999);
    t.deepEqual(expired, []);
    clock.set(START_S + 1000);
    t.is((await engine.validate(session.id)).reason, 'max');
    await engine.advanceTime(START_S + 1000);
    t.deepEqual(expired.map((n) => n.reason), ['max']);
  });
}

test('a client idle grace window applies to client sessions too (0 s: expired exactly at timestamp + idle)', async (t) => {
  const { engine, advance } = await demoRealm(t, {}, { idleGraceSeconds: 0 });
  await engine.putClient(R, 'c-short', { attributes: { 'client.session.idle.timeout': '60' } });
  const { session } = await engine.createSession(login('u-1', { client: 'c-short' }));
  await advance(59);
  t.true((await engine.validate(session.id, 'c-short')).valid);
  await advance(1);
  t.is((await engine.validate(session.id, 'c-short')).reason, 'client_not_found', 'detached by the wheel at START+60');
});

test('changing realm timeouts re-arms existing sessions (a shorter idle takes effect)', async (t) => {
  const { engine, advance, expired } = await demoRealm(t, { ssoSessionIdleTimeout: 3000 });
  const { session } = await engine.createSession(login('u-1'));
  await advance(100);
  await engine.putRealm(R, { ssoSessionIdleTimeout: 60, ssoSessionMaxLifespan: 3600 });
  await advance(80); // 60 + 120 grace = START+180
  t.deepEqual(expired.map((n) => [n.session.id, n.reason]), [[session.id, 'idle']]);
});

// ---------------------------------------------------------------------------
// Realm and client removal

test('removeClient detaches its client sessions everywhere; removeRealm ends the realm\'s sessions', async (t) => {
  const { engine } = await demoRealm(t);
  for (let i = 0; i < 6; i++) {
    const { session } = await engine.createSession(login(`r-${i}`));
    await engine.attachClient(session.id, R, { client: PORTAL, scope: 'openid' });
  }
  t.is(await engine.removeClient(R, PORTAL), 6);
  t.is(await engine.countClientSessions(R, PORTAL), 0);
  t.is(engine.clientSettings(PORTAL), undefined);
  t.is(await engine.countByFilter(R, {}), 6, 'user sessions survive');
  t.is(await engine.removeRealm(R), 6);
  t.is(engine.realmSettings(R), undefined);
  t.is(await codeOf(t, () => engine.createSession(login('r-x'))), 'ERR_REALM_UNKNOWN');
});

// ---------------------------------------------------------------------------
// Bad input

test('bad input at the Engine API is a coded EngineError and the engine keeps serving', async (t) => {
  const { engine } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  const bad = engine as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const cases: [string, () => Promise<unknown>, string][] = [
    ['unknown realm', () => engine.createSession({ ...login('u-1'), realm: 'nope' }), 'ERR_REALM_UNKNOWN'],
    ['realm not a string', () => bad.createSession!({ ...login('u-1'), realm: 42 }), 'ERR_REALM_UNKNOWN'],
    ['empty userId', () => engine.createSession({ ...login('u-1'), userId: '' }), 'ERR_INVALID_ARGUMENT'],
    ['username missing', () => bad.createSession!({ realm: R, userId: 'u', ip: '1.1.1.1' }), 'ERR_INVALID_ARGUMENT'],
    ['ip not a string', () => bad.createSession!({ ...login('u-1'), ip: 17 }), 'ERR_INVALID_ARGUMENT'],
    ['client without id', () => bad.createSession!({ ...login('u-1'), client: { scope: 'x' } }), 'ERR_INVALID_ARGUMENT'],
    ['attach: client null', () => bad.attachClient!(session.id, R, null), 'ERR_INVALID_ARGUMENT'],
    ['attach: unknown realm', () => engine.attachClient(session.id, 'nope', { client: APP, scope: '' }), 'ERR_REALM_UNKNOWN'],
    ['refresh: unknown realm', () => engine.refresh({ sessionId: session.id, realm: 'nope', client: APP, userId: 'u-1', token: token('j', START_S) }), 'ERR_REALM_UNKNOWN'],
    ['refresh: no token', () => bad.refresh!({ sessionId: session.id, realm: R, client: APP, userId: 'u-1' }), 'ERR_INVALID_ARGUMENT'],
    ['refresh: client missing', () => bad.refresh!({ sessionId: session.id, realm: R, userId: 'u-1', token: token('j', START_S) }), 'ERR_INVALID_ARGUMENT'],
    ['listUserSessions: unknown realm', () => engine.listUserSessions('nope', 'u-1'), 'ERR_REALM_UNKNOWN'],
    ['listUserSessions: empty user', () => engine.listUserSessions(R, ''), 'ERR_INVALID_ARGUMENT'],
    ['negative first', () => engine.listClientSessions(R, APP, { first: -1 }), 'ERR_INVALID_ARGUMENT'],
    ['fractional max', () => engine.listClientSessions(R, APP, { max: 2.5 }), 'ERR_INVALID_ARGUMENT'],
    ['absurd paging', () => engine.searchSessions(R, { first: 1e9, max: 10 }), 'ERR_INVALID_ARGUMENT'],
    ['max as string', () => bad.searchSessions!(R, { max: '10' }), 'ERR_INVALID_ARGUMENT'],
    ['bad CIDR', () => engine.revokeByFilter(R, { ipNotIn: ['10.0.0.0/33'] }), 'ERR_INVALID_ARGUMENT'],
    ['CIDR list not an array', () => bad.countByFilter!(R, { ipIn: '10.0.0.0/8' }), 'ERR_INVALID_ARGUMENT'],
    ['filter null', () => bad.countByFilter!(R, null), 'ERR_INVALID_ARGUMENT'],
    ['filter userId not a string', () => bad.countByFilter!(R, { userId: 5 }), 'ERR_INVALID_ARGUMENT'],
    ['revoke ids not an array', () => bad.revokeSessions!(R, null), 'ERR_INVALID_ARGUMENT'],
    ['advanceTime negative', () => engine.advanceTime(-1), 'ERR_INVALID_ARGUMENT'],
    ['advanceTime fractional', () => engine.advanceTime(1.5), 'ERR_INVALID_ARGUMENT'],
    ['notBefore not a number', () => bad.setRealmNotBefore!(R, 'soon'), 'ERR_INVALID_ARGUMENT'],
    ['putRealm empty id', () => engine.putRealm(''), 'ERR_INVALID_ARGUMENT'],
    ['putClient unknown realm', () => engine.putClient('nope', 'c'), 'ERR_REALM_UNKNOWN'],
    ['removeRealm unknown', () => engine.removeRealm('nope'), 'ERR_REALM_UNKNOWN'],
    ['logoutAll unknown realm', () => engine.logoutAll('nope'), 'ERR_REALM_UNKNOWN'],
    ['applyMutations: malformed id', () => engine.applyMutations([{ k: 3, id: 'x', lastSessionRefresh: 1 }]), 'ERR_SESSION_NOT_FOUND'],
    ['applyMutations: unknown kind', () => bad.applyMutations!([{ k: 99, id: session.id }]), 'ERR_BAD_RECORD'],
  ];
  const mismatches: string[] = [];
  for (const [name, run, code] of cases) {
    let caught: unknown;
    try {
      await run();
    } catch (err) {
      caught = err;
    }
    const got = caught === undefined ? 'resolved' : `${(caught as Error).name} ${(caught as { code?: string }).code}`;
    if (got !== `EngineError ${code}`) mismatches.push(`${name}: expected EngineError ${code}, got ${got}`);
  }
  t.deepEqual(mismatches, []);
  t.throws(() => engine.setUserNotBefore('nope', 'u', 1), { code: 'ERR_REALM_UNKNOWN' }, 'setUserNotBefore is synchronous');
  t.throws(() => engine.setUserNotBefore(R, 'u', -5), { code: 'ERR_INVALID_ARGUMENT' });

  t.true(engine.ready);
  t.deepEqual(engine.restarts(), [0, 0], 'no worker died');
  t.true((await engine.validate(session.id, APP)).valid);
  t.is((await engine.createSession(login('u-after'))).session.userId, 'u-after');
});

test('Engine.start refuses invalid options with ERR_INVALID_OPTION', async (t) => {
  const mismatches: string[] = [];
  for (const options of [
    { shards: 0 }, { shards: 1.5 }, { shards: Number.NaN }, { shards: 2, mailboxCommandsMax: 0 }, { shards: 2, mailboxCommandsMax: 2.5 },
    { shards: 2, idleGraceSeconds: -1 }, { shards: 2, idleGraceSeconds: 0.5 }, { shards: 2, timeoutMs: 0 },
  ]) {
    try {
      const engine = await Engine.start(options);
      await engine.close();
      mismatches.push(`${JSON.stringify(options)}: started`);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_INVALID_OPTION') mismatches.push(`${JSON.stringify(options)}: ${(err as { code?: string }).code}`);
    }
  }
  t.deepEqual(mismatches, []);
});

test('a closed engine answers ERR_ENGINE_CLOSED and reports not ready', async (t) => {
  const { engine } = await demoRealm(t);
  const { session } = await engine.createSession(login('u-1'));
  t.true(engine.ready);
  await engine.close();
  t.false(engine.ready);
  t.is(await codeOf(t, () => engine.getSession(session.id)), 'ERR_ENGINE_CLOSED');
  t.is(await codeOf(t, () => engine.createSession(login('u-2'))), 'ERR_ENGINE_CLOSED');
  await engine.close(); // idempotent
});
