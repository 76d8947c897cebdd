// Goal: brute-force detection answers as Keycloak 26 does, over real HTTP.
// A user whose failures reach failureFactor is locked for waitIncrementSeconds;
// failures within quickLoginCheckMilliSeconds lock at once; while locked the
// right password gets the wrong password's answer (401 invalid_grant
// "Invalid user credentials" on the password grant, the form again with
// "Invalid username or password." on the login page), a LOGIN_ERROR with
// user_temporarily_disabled / user_disabled, and no password hash. Permanent
// lockout disables the user until an admin enables them. The admin
// attack-detection endpoints read and clear the records with Keycloak's JSON.
// Method: a real node on a ManualClock (failures spaced by advancing it), the
// admin API with the master admin's token, raw password grants each from its
// own loopback address (the per-address login limit stays out of the way).

import test from 'ava';
import type { UserEvent } from '../../../src/events/event-sink.js';
import { parseKeycloakRealm } from '../../../src/realm/import/keycloak-realm.js';
import type { BruteForceSettings } from '../../../src/session/brute-force.js';
import { postForm, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';
import { authorizationUrl, parseForm, TestBrowser } from '../../helpers/browser-client.js';

const APP: [string, string] = ['app', 's'];
const CALLBACK = 'http://127.0.0.1:5000/callback';
const LONG_MAX_VALUE = '9223372036854775807';

let a: AdminNode;
const events: UserEvent[] = [];
let hashes = 0;
test.before(async () => {
  a = await startAdminNode({ manualClock: true });
  a.node.events.onEvent((e) => events.push(e));
  // Counts the password checks that reach the hash pool (the real pool still runs them).
  const verify = a.node.hasher.verify.bind(a.node.hasher);
  a.node.hasher.verify = (password, credential) => {
    hashes++;
    return verify(password, credential);
  };
});
test.after.always(async () => {
  await a?.stop();
});

let nextAddress = 10;
/** A loopback source address of its own for each test (the login rate limit counts per address). */
function address(): string {
  return `127.0.0.${nextAddress++}`;
}

async function realmWith(bruteForce: Partial<BruteForceSettings>): Promise<{ name: string; realmId: string; userId: string }> {
  const r = await a.createRealm({
    overrides: { bruteForce: { bruteForceProtected: true, failureFactor: 3, ...bruteForce }, events: { eventsEnabled: true } },
    clients: [{ clientId: 'app', secret: 's', directAccessGrantsEnabled: true, redirectUris: [CALLBACK] }],
    users: [{ username: 'u', password: 'pw' }],
  });
  return { name: r.name, realmId: r.realm.id, userId: r.users.get('u')!.id };
}

function grant(realm: string, password: string, from: string): ReturnType<typeof postForm> {
  return postForm(a.oidcUrl(realm, 'token'), { grant_type: 'password', client_id: APP[0], client_secret: APP[1], username: 'u', password, scope: 'openid' }, from);
}

async function status(realm: string, userId: string): Promise<{ json: Record<string, unknown>; text: string }> {
  await a.reauth();
  const res = await a.api('GET', `/${realm}/attack-detection/brute-force/users/${userId}`);
  if (res.status !== 200) throw new Error(`attack-detection GET: ${res.status} ${res.text}`);
  return { json: res.body as Record<string, unknown>, text: res.text };
}

function lastEvent(realmId: string, type: string): UserEvent | undefined {
  return events.filter((e) => e.realmId === realmId && e.type === type).at(-1);
}

test.serial('failureFactor failures lock the user; the right password then fails like a wrong one, with no hash', async (t) => {
  const r = await realmWith({ waitIncrementSeconds: 60 });
  const from = address();
  for (let i = 0; i < 3; i++) {
    const res = await grant(r.name, 'wrong', from);
    t.is(res.status, 401);
    await a.advance(2); // not a quick failure
  }
  const lockedAt = a.now() - 2;
  const temporary = lastEvent(r.realmId, 'USER_DISABLED_BY_TEMPORARY_LOCKOUT');
  t.like(temporary, { userId: r.userId, ipAddress: from, error: null });
  t.like(temporary?.details, { reason: 'brute_force_attack detected', num_failures: '3' });
  t.is(typeof temporary?.details?.['not_before'], 'string');

  const before = hashes;
  const refused = await grant(r.name, 'pw', from);
  t.is(refused.status, 401);
  t.deepEqual(refused.body, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
  t.is(hashes, before, 'a locked user costs no password hash');
  t.like(lastEvent(r.realmId, 'LOGIN_ERROR'), { userId: r.userId, error: 'user_temporarily_disabled' });

  const locked = await status(r.name, r.userId);
  t.deepEqual(locked.json, { disabled: true, numFailures: 3, numTemporaryLockouts: 1, lastFailure: lockedAt * 1000, lastIPFailure: from, failedLoginNotBefore: lockedAt + 60 });

  // A refused attempt is not a failure; the lockout ends on its own.
  await a.advance(60);
  t.is((await grant(r.name, 'pw', from)).status, 200);
  t.like((await status(r.name, r.userId)).json, { disabled: false, numFailures: 0, lastIPFailure: 'n/a', failedLoginNotBefore: 0 });
});

test.serial('two failures within quickLoginCheckMilliSeconds lock for minimumQuickLoginWaitSeconds', async (t) => {
  const r = await realmWith({ failureFactor: 30, minimumQuickLoginWaitSeconds: 45 });
  const from = address();
  await grant(r.name, 'wrong', from);
  await grant(r.name, 'wrong', from); // same virtual second
  const s = await status(r.name, r.userId);
  t.like(s.json, { disabled: true, numFailures: 2, numTemporaryLockouts: 0, failedLoginNotBefore: a.now() + 45 });
  t.is((await grant(r.name, 'pw', from)).status, 401);
  await a.advance(45);
  t.is((await grant(r.name, 'pw', from)).status, 200);
});

test.serial('concurrent wrong passwords are all counted (the record is updated in the user\'s partition)', async (t) => {
  const r = await realmWith({ failureFactor: 100, quickLoginCheckMilliSeconds: 0 });
  // From 12 addresses, as a distributed guess would come (one address may have only two hashes in flight).
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => grant(r.name, 'wrong', `127.0.2.${i + 1}`)));
  t.true(answers.every((res) => res.status === 401));
  t.like((await status(r.name, r.userId)).json, { numFailures: 12, disabled: false });
});

test.serial('the admin endpoints clear one user and a whole realm (204, admin events)', async (t) => {
  const r = await realmWith({});
  const from = address();
  await grant(r.name, 'wrong', from);
  await grant(r.name, 'wrong', from);
  t.is((await grant(r.name, 'pw', from)).status, 401, 'quick-login lockout');
  await a.reauth();
  const cleared = await a.api('DELETE', `/${r.name}/attack-detection/brute-force/users/${r.userId}`);
  t.is(cleared.status, 204);
  t.is((await grant(r.name, 'pw', from)).status, 200);

  await grant(r.name, 'wrong', from);
  await grant(r.name, 'wrong', from);
  await a.reauth();
  t.is((await a.api('DELETE', `/${r.name}/attack-detection/brute-force/users`)).status, 204);
  t.like((await status(r.name, r.userId)).json, { disabled: false, numFailures: 0 });
  // An unknown user id answers the zero map, as Keycloak.
  t.deepEqual((await status(r.name, 'no-such-user')).json, { disabled: false, numFailures: 0, numTemporaryLockouts: 0, lastFailure: 0, lastIPFailure: 'n/a', failedLoginNotBefore: 0 });
  // view-users / manage-users: no token, no access.
  t.is((await a.api('GET', `/${r.name}/attack-detection/brute-force/users/${r.userId}`, { token: null })).status, 401);
});

test.serial('permanent lockout disables the user (disabledReason); enabling them through the admin API releases it', async (t) => {
  const r = await realmWith({ permanentLockout: true, maxTemporaryLockouts: 0, failureFactor: 2 });
  const from = address();
  await grant(r.name, 'wrong', from);
  await a.advance(2);
  await grant(r.name, 'wrong', from);
  const user = a.node.store.userById(r.userId)!;
  t.false(user.enabled);
  t.deepEqual(user.attributes['disabledReason'], ['permanentLockout']);
  t.like(lastEvent(r.realmId, 'USER_DISABLED_BY_PERMANENT_LOCKOUT'), { userId: r.userId, ipAddress: from });

  const refused = await grant(r.name, 'pw', from);
  t.deepEqual(refused.body, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
  t.is(refused.status, 401);
  t.like(lastEvent(r.realmId, 'LOGIN_ERROR'), { error: 'user_disabled' });
  const s = await status(r.name, r.userId);
  t.like(s.json, { disabled: true, numFailures: 2 });
  t.true(s.text.endsWith(`"failedLoginNotBefore":${LONG_MAX_VALUE}}`), s.text);

  // Waiting does not help; the admin does.
  await a.advance(100_000);
  t.is((await grant(r.name, 'pw', from)).status, 401);
  await a.reauth();
  t.is((await a.api('PUT', `/${r.name}/users/${r.userId}`, { body: { enabled: true } })).status, 204);
  t.false('disabledReason' in a.node.store.userById(r.userId)!.attributes);
  t.is((await grant(r.name, 'pw', from)).status, 200);
});

test.serial('maxTemporaryLockouts temporary lockouts, then the next one is permanent', async (t) => {
  const r = await realmWith({ permanentLockout: true, maxTemporaryLockouts: 1, failureFactor: 2, waitIncrementSeconds: 10 });
  const from = address();
  const fail = async (): Promise<void> => {
    await grant(r.name, 'wrong', from);
    await a.advance(2);
  };
  await fail();
  await fail(); // 2 failures: first temporary lockout (10 s)
  t.like((await status(r.name, r.userId)).json, { disabled: true, numTemporaryLockouts: 1 });
  t.true(a.node.store.userById(r.userId)!.enabled);
  await a.advance(10);
  await fail(); // 3 failures: a second lockout, more than the one allowed
  t.false(a.node.store.userById(r.userId)!.enabled);
  t.is((await grant(r.name, 'pw', from)).status, 401);
});

test.serial('the login page: a locked user sees "Invalid username or password." and a LOGIN_ERROR', async (t) => {
  const r = await realmWith({});
  const from = address();
  await grant(r.name, 'wrong', from);
  await grant(r.name, 'wrong', from); // quick-login lockout
  const browser = new TestBrowser();
  const page = await browser.get(authorizationUrl(`${a.baseUrl}/realms/${r.name}`, { client_id: 'app', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', state: 'st' }));
  t.is(page.status, 200);
  const form = parseForm(page.text);
  const before = hashes;
  const res = await browser.post(form.action, { ...form.fields, username: 'u', password: 'pw' });
  t.is(res.status, 200);
  t.regex(res.text, /Invalid username or password\./);
  t.is(hashes, before);
  t.like(lastEvent(r.realmId, 'LOGIN_ERROR'), { userId: r.userId, error: 'user_temporarily_disabled' });
});

test.serial('detection off: failures are not counted and nothing locks', async (t) => {
  const r = await realmWith({ bruteForceProtected: false });
  const from = address();
  for (let i = 0; i < 5; i++) await grant(r.name, 'wrong', from);
  t.is((await grant(r.name, 'pw', from)).status, 200);
  t.like((await status(r.name, r.userId)).json, { disabled: false, numFailures: 0 });
});

test.serial('the settings are part of the realm representation: read, updated (validated) and exported', async (t) => {
  const r = await realmWith({ failureFactor: 7 });
  await a.reauth();
  const rep = (await a.api('GET', `/${r.name}`)).body as Record<string, unknown>;
  t.like(rep, {
    bruteForceProtected: true,
    permanentLockout: false,
    maxTemporaryLockouts: 0,
    bruteForceStrategy: 'MULTIPLE',
    failureFactor: 7,
    waitIncrementSeconds: 60,
    maxFailureWaitSeconds: 900,
    minimumQuickLoginWaitSeconds: 60,
    quickLoginCheckMilliSeconds: 1000,
    maxDeltaTimeSeconds: 43200,
  });
  t.is((await a.api('PUT', `/${r.name}`, { body: { failureFactor: 4, bruteForceStrategy: 'LINEAR', permanentLockout: true } })).status, 204);
  t.like(a.node.store.realmByName(r.name)!.bruteForce, { failureFactor: 4, bruteForceStrategy: 'LINEAR', permanentLockout: true, bruteForceProtected: true });
  const bad = await a.api('PUT', `/${r.name}`, { body: { waitIncrementSeconds: -1 } });
  t.is(bad.status, 400);
  t.is((await a.api('PUT', `/${r.name}`, { body: { bruteForceStrategy: 'EXPONENTIAL' } })).status, 400);
  const exported = (await a.api('POST', `/${r.name}/partial-export`)).body as Record<string, unknown>;
  t.like(exported, { bruteForceProtected: true, failureFactor: 4, bruteForceStrategy: 'LINEAR', permanentLockout: true });
  // ... and imported back (a Keycloak export carries the same attributes).
  const reimported = parseKeycloakRealm({ ...exported, realm: 'copy', id: 'copy-id' }, 'export.json').bundle.realm;
  t.like(reimported.bruteForce, { bruteForceProtected: true, failureFactor: 4, bruteForceStrategy: 'LINEAR', permanentLockout: true, maxDeltaTimeSeconds: 43200 });
  t.throws(() => parseKeycloakRealm({ realm: 'x', enabled: true, failureFactor: 'many' }, 'bad.json'), { message: /failureFactor/ });
});
