// docs/keycloak-semantics.md#grants refresh errors, in Keycloak 26.x's order (§2.4 session
// validity, §2.8 reuse, §3 not-before feed into it). Each row breaks one or
// more facts of an otherwise valid refresh and names the first check that
// must fail, with its exact error_description.
import test from 'ava';
import {
  REFRESH_CHECK,
  REFRESH_GRANT_CHECKS,
  REFRESH_GRANT_ERROR,
  issuedBeforeSessionStart,
  sessionNotActiveDescription,
  tokenExpired,
  verifyRefreshGrant,
  type RefreshGrantFacts,
} from '../../src/session/index.js';
import { T0 } from './fixtures.js';

const ISS = 'https://sso.example/realms/demo';
const NOW = T0 + 1000;

function valid(): RefreshGrantFacts {
  return {
    now: NOW,
    tokenPresent: true,
    token: { typ: 'Refresh', iss: ISS, iat: T0 + 900, exp: T0 + 2700, azp: 'web', jti: 'rt1' },
    expectedIssuer: ISS,
    authorizedClientId: 'web',
    realmNotBefore: 0,
    clientNotBefore: 0,
    userSession: { started: T0, invalidReason: null },
    user: { enabled: true, notBefore: 0 },
    clientSession: { started: T0 + 10, invalidReason: null, clientId: 'web' },
    offlineAccessGranted: true,
    consentGranted: true,
    reuse: null,
  };
}

function offline(f: RefreshGrantFacts): RefreshGrantFacts {
  return { ...f, token: { ...f.token!, typ: 'Offline', exp: 0 } };
}

interface Row {
  title: string;
  facts: (f: RefreshGrantFacts) => RefreshGrantFacts;
  check: string;
  error: string;
  description: string;
  effect?: string;
}

const rows: Row[] = [
  {
    title: '§6.2 no refresh_token parameter ⇒ invalid_request "No refresh token"',
    facts: (f) => ({ ...f, tokenPresent: false }),
    check: 'token_present',
    error: 'invalid_request',
    description: 'No refresh token',
  },
  {
    title: '§6.2 undecodable / badly signed token ⇒ "Invalid refresh token"',
    facts: (f) => ({ ...f, token: null }),
    check: 'token_decodes',
    error: 'invalid_grant',
    description: 'Invalid refresh token',
  },
  {
    title: '§6.2 an access token (typ Bearer) ⇒ "Invalid refresh token"',
    facts: (f) => ({ ...f, token: { ...f.token!, typ: 'Bearer' } }),
    check: 'token_type',
    error: 'invalid_grant',
    description: 'Invalid refresh token',
  },
  {
    title: '§6.2 wrong issuer ⇒ TokenVerifier.RealmUrlCheck message',
    facts: (f) => ({ ...f, token: { ...f.token!, iss: 'https://other/realms/x' } }),
    check: 'issuer',
    error: 'invalid_grant',
    description: `Invalid token issuer. Expected '${ISS}', but was 'https://other/realms/x'`,
  },
  {
    title: '§3 iat < realm notBefore ⇒ "Stale token" (checked with the token, before the session)',
    facts: (f) => ({ ...f, realmNotBefore: T0 + 901, userSession: null }),
    check: 'realm_not_before',
    error: 'invalid_grant',
    description: 'Stale token',
  },
  {
    title: '§6.2 expired refresh token (now > exp) ⇒ "Token is not active"',
    facts: (f) => ({ ...f, token: { ...f.token!, exp: NOW - 1 } }),
    check: 'token_active',
    error: 'invalid_grant',
    description: 'Token is not active',
  },
  {
    title: '§6.2 token issued to another client ⇒ "Invalid refresh token. Token client and authorized client don\'t match"',
    facts: (f) => ({ ...f, token: { ...f.token!, azp: 'mobile' } }),
    check: 'token_client',
    error: 'invalid_grant',
    description: "Invalid refresh token. Token client and authorized client don't match",
  },
  {
    title: '§6.2 offline token, no offline session ⇒ "Offline user session not found"',
    facts: (f) => offline({ ...f, userSession: null }),
    check: 'offline_session_found',
    error: 'invalid_grant',
    description: 'Offline user session not found',
    effect: 'none',
  },
  {
    title: '§6.2 offline token, offline session expired ⇒ "Offline session not active" (session revoked)',
    facts: (f) => offline({ ...f, userSession: { started: T0, invalidReason: 'idle' } }),
    check: 'offline_session_active',
    error: 'invalid_grant',
    description: 'Offline session not active',
    effect: 'revoke_offline_session',
  },
  {
    title: '§6.2 online token, no session ⇒ "Session not active"',
    facts: (f) => ({ ...f, userSession: null }),
    check: 'session_active',
    error: 'invalid_grant',
    description: 'Session not active',
    effect: 'logout_user_session',
  },
  {
    title: '§2.4 online token, session idle-expired ⇒ "Session not active" (back-channel logout)',
    facts: (f) => ({ ...f, userSession: { started: T0, invalidReason: 'idle' } }),
    check: 'session_active',
    error: 'invalid_grant',
    description: 'Session not active',
    effect: 'logout_user_session',
  },
  {
    title: '§2.4 remember-me disabled also reads "Session not active"',
    facts: (f) => ({ ...f, userSession: { started: T0, invalidReason: 'remember_me_disabled' } }),
    check: 'session_active',
    error: 'invalid_grant',
    description: 'Session not active',
  },
  {
    title: '§6.2 session without a user ⇒ "Invalid refresh token"',
    facts: (f) => ({ ...f, user: null }),
    check: 'user_exists',
    error: 'invalid_grant',
    description: 'Invalid refresh token',
  },
  {
    title: '§6.2 disabled user ⇒ "User disabled"',
    facts: (f) => ({ ...f, user: { enabled: false, notBefore: 0 } }),
    check: 'user_enabled',
    error: 'invalid_grant',
    description: 'User disabled',
  },
  {
    title: '§6.2 token older than the user session (iat + 1 < started) ⇒ "Refresh token issued before the user session started"',
    facts: (f) => ({ ...f, userSession: { started: T0 + 902, invalidReason: null } }),
    check: 'issued_after_user_session',
    error: 'invalid_grant',
    description: 'Refresh token issued before the user session started',
  },
  {
    title: '§6.2 session without this client ⇒ "Session doesn\'t have required client"',
    facts: (f) => ({ ...f, clientSession: null }),
    check: 'client_session_found',
    error: 'invalid_grant',
    description: "Session doesn't have required client",
  },
  {
    title: '§2.4 client session expired ⇒ "Client session not active" (client session removed)',
    facts: (f) => ({ ...f, clientSession: { started: T0 + 10, invalidReason: 'max', clientId: 'web' } }),
    check: 'client_session_active',
    error: 'invalid_grant',
    description: 'Client session not active',
    effect: 'remove_client_session',
  },
  {
    title: '§6.2 token older than the client session ⇒ "refresh token issued before the client session started" (lower-case r)',
    facts: (f) => ({ ...f, clientSession: { started: T0 + 902, invalidReason: null, clientId: 'web' } }),
    check: 'issued_after_client_session',
    error: 'invalid_grant',
    description: 'refresh token issued before the client session started',
  },
  {
    title: '§3 iat < client not-before (realm 0) ⇒ "Stale token"',
    facts: (f) => ({ ...f, clientNotBefore: T0 + 901 }),
    check: 'client_user_not_before',
    error: 'invalid_grant',
    description: 'Stale token',
  },
  {
    title: '§3 iat < user not-before ⇒ "Stale token"',
    facts: (f) => ({ ...f, user: { enabled: true, notBefore: T0 + 901 } }),
    check: 'client_user_not_before',
    error: 'invalid_grant',
    description: 'Stale token',
  },
  {
    title: '§1.5 offline session whose offline access was revoked ⇒ "Offline session invalid because offline access not granted anymore"',
    facts: (f) => offline({ ...f, offlineAccessGranted: false }),
    check: 'offline_access_granted',
    error: 'invalid_grant',
    description: 'Offline session invalid because offline access not granted anymore',
  },
  {
    title: '§6.2 consent withdrawn ⇒ invalid_scope "Client no longer has requested consent from user"',
    facts: (f) => ({ ...f, consentGranted: false }),
    check: 'consent_granted',
    error: 'invalid_scope',
    description: 'Client no longer has requested consent from user',
  },
  {
    title: '§6.2 client session of another client ⇒ "Invalid refresh token. Token client and authorized client don\'t match"',
    facts: (f) => ({ ...f, clientSession: { started: T0 + 10, invalidReason: null, clientId: 'mobile' } }),
    check: 'client_session_client',
    error: 'invalid_grant',
    description: "Invalid refresh token. Token client and authorized client don't match",
  },
  {
    title: '§2.8 reuse of a spent token (maxReuse 0) ⇒ "Maximum allowed refresh token reuse exceeded" (client session detached)',
    facts: (f) => ({ ...f, reuse: { chain: { tokenId: 'rt1', useCount: 1, lastRefresh: T0 + 950 }, maxReuse: 0, serverStartedAt: 0, newIssuedAt: NOW } }),
    check: 'reuse',
    error: 'invalid_grant',
    description: 'Maximum allowed refresh token reuse exceeded',
    effect: 'detach_client_session',
  },
  {
    title: '§2.8 replay of an older token ⇒ "Stale token" (client session detached)',
    facts: (f) => ({ ...f, reuse: { chain: { tokenId: 'rt2', useCount: 1, lastRefresh: T0 + 950 }, maxReuse: 0, serverStartedAt: 0, newIssuedAt: NOW } }),
    check: 'reuse',
    error: 'invalid_grant',
    description: 'Stale token',
    effect: 'detach_client_session',
  },
  // Order: when several checks would fail, the earlier one answers.
  {
    title: '§6.2 order: expired AND replayed ⇒ "Token is not active" wins over reuse',
    facts: (f) => ({
      ...f,
      token: { ...f.token!, exp: NOW - 1 },
      reuse: { chain: { tokenId: 'rt1', useCount: 1, lastRefresh: T0 + 950 }, maxReuse: 0, serverStartedAt: 0, newIssuedAt: NOW },
    }),
    check: 'token_active',
    error: 'invalid_grant',
    description: 'Token is not active',
  },
  {
    title: '§6.2 order: realm-stale AND expired ⇒ "Stale token" (realm not-before runs before exp)',
    facts: (f) => ({ ...f, realmNotBefore: T0 + 901, token: { ...f.token!, exp: NOW - 1 } }),
    check: 'realm_not_before',
    error: 'invalid_grant',
    description: 'Stale token',
  },
  {
    title: '§6.2 order: session gone AND client not-before stale ⇒ "Session not active"',
    facts: (f) => ({ ...f, userSession: null, clientNotBefore: T0 + 901 }),
    check: 'session_active',
    error: 'invalid_grant',
    description: 'Session not active',
  },
  {
    title: '§6.2 order: user disabled AND client session missing ⇒ "User disabled"',
    facts: (f) => ({ ...f, user: { enabled: false, notBefore: 0 }, clientSession: null }),
    check: 'user_enabled',
    error: 'invalid_grant',
    description: 'User disabled',
  },
  {
    title: '§6.2 order: client session missing AND replay ⇒ "Session doesn\'t have required client"',
    facts: (f) => ({
      ...f,
      clientSession: null,
      reuse: { chain: { tokenId: 'rt1', useCount: 1, lastRefresh: T0 + 950 }, maxReuse: 0, serverStartedAt: 0, newIssuedAt: NOW },
    }),
    check: 'client_session_found',
    error: 'invalid_grant',
    description: "Session doesn't have required client",
  },
  {
    title: '§6.2 order: client session expired AND user not-before stale ⇒ "Client session not active"',
    facts: (f) => ({ ...f, clientSession: { started: T0 + 10, invalidReason: 'idle', clientId: 'web' }, user: { enabled: true, notBefore: T0 + 901 } }),
    check: 'client_session_active',
    error: 'invalid_grant',
    description: 'Client session not active',
  },
  {
    title: '§6.2 order: offline token, session missing AND expired ⇒ "Token is not active" first',
    facts: (f) => {
      const o = offline({ ...f, userSession: null });
      return { ...o, token: { ...o.token!, exp: NOW - 1 } };
    },
    check: 'token_active',
    error: 'invalid_grant',
    description: 'Token is not active',
  },
];

for (const row of rows) {
  test(row.title, (t) => {
    const verdict = verifyRefreshGrant(row.facts(valid()));
    if (verdict.ok) {
      t.fail('expected a failure');
      return;
    }
    t.is<string, string>(verdict.check, row.check);
    t.is<string, string>(verdict.error, row.error);
    t.is(verdict.description, row.description);
    if (row.effect !== undefined) t.is<string, string>(verdict.effect, row.effect);
  });
}

const okRows: { title: string; facts: (f: RefreshGrantFacts) => RefreshGrantFacts; chain: unknown }[] = [
  { title: '§6.2 a valid refresh passes (rotation off: no chain)', facts: (f) => f, chain: null },
  {
    title: '§6.2 a token is still active AT its exp second (now > exp is the failure)',
    facts: (f) => ({ ...f, token: { ...f.token!, exp: NOW } }),
    chain: null,
  },
  {
    title: '§6.2 an offline token without exp (0) never fails the exp check',
    facts: (f) => offline({ ...f, now: T0 + 10 * 365 * 86400 }),
    chain: null,
  },
  {
    title: '§6.2 a token issued 1 s before the session started is tolerated (iat + 1 < started)',
    facts: (f) => ({ ...f, userSession: { started: T0 + 901, invalidReason: null }, clientSession: { started: T0 + 901, invalidReason: null, clientId: 'web' } }),
    chain: null,
  },
  {
    title: '§3 min rule: a client not-before later than a non-zero realm not-before is ignored',
    facts: (f) => ({ ...f, realmNotBefore: T0 + 800, clientNotBefore: T0 + 950 }),
    chain: null,
  },
  {
    title: '§2.8 rotation on: first refresh of a chain stores it',
    facts: (f) => ({ ...f, reuse: { chain: undefined, maxReuse: 0, serverStartedAt: 0, newIssuedAt: NOW } }),
    chain: { tokenId: 'rt1', useCount: 1, lastRefresh: NOW },
  },
  {
    title: '§1.5 offline access revocation is not checked for online tokens',
    facts: (f) => ({ ...f, offlineAccessGranted: false }),
    chain: null,
  },
];
for (const row of okRows) {
  test(row.title, (t) => {
    t.deepEqual(verifyRefreshGrant(row.facts(valid())), { ok: true, chain: row.chain });
  });
}

test('§6.2 REFRESH_GRANT_ERROR holds Keycloak 26.x\'s exact strings', (t) => {
  t.deepEqual({ ...REFRESH_GRANT_ERROR }, {
    noRefreshToken: 'No refresh token',
    invalidRefreshToken: 'Invalid refresh token',
    tokenNotActive: 'Token is not active',
    staleToken: 'Stale token',
    clientMismatch: "Invalid refresh token. Token client and authorized client don't match",
    offlineSessionNotFound: 'Offline user session not found',
    offlineSessionNotActive: 'Offline session not active',
    sessionNotActive: 'Session not active',
    userDisabled: 'User disabled',
    issuedBeforeUserSession: 'Refresh token issued before the user session started',
    sessionMissingClient: "Session doesn't have required client",
    clientSessionNotActive: 'Client session not active',
    issuedBeforeClientSession: 'refresh token issued before the client session started',
    unmatchingClients: 'Unmatching clients',
    offlineAccessNotGranted: 'Offline session invalid because offline access not granted anymore',
    consentWithdrawn: 'Client no longer has requested consent from user',
    maxReuseExceeded: 'Maximum allowed refresh token reuse exceeded',
  });
  t.true(Object.isFrozen(REFRESH_GRANT_ERROR));
});

test('§6.2 REFRESH_GRANT_CHECKS lists every check once, in REFRESH_CHECK order', (t) => {
  t.deepEqual(
    REFRESH_GRANT_CHECKS.map((s) => s.check),
    Object.values(REFRESH_CHECK),
  );
  t.true(Object.isFrozen(REFRESH_GRANT_CHECKS));
});

test('§6.2 only "No refresh token" is invalid_request and only consent is invalid_scope', (t) => {
  const notGrant = REFRESH_GRANT_CHECKS.filter((s) => s.error !== 'invalid_grant').map((s) => [s.check, s.error]);
  t.deepEqual(notGrant, [
    ['token_present', 'invalid_request'],
    ['consent_granted', 'invalid_scope'],
  ]);
});

const helperRows: { title: string; actual: () => unknown; expected: unknown }[] = [
  { title: '§6.2 issuedBeforeSessionStart: iat + 1 < started (started = iat + 2)', actual: () => issuedBeforeSessionStart(100, 102), expected: true },
  { title: '§6.2 issuedBeforeSessionStart: started = iat + 1 is tolerated', actual: () => issuedBeforeSessionStart(100, 101), expected: false },
  { title: '§6.2 tokenExpired: exp 0 never expires', actual: () => tokenExpired(0, T0), expected: false },
  { title: '§6.2 tokenExpired: at exp the token is active', actual: () => tokenExpired(T0, T0), expected: false },
  { title: '§6.2 tokenExpired: one second after exp it is not', actual: () => tokenExpired(T0, T0 + 1), expected: true },
  { title: '§2.4 INVALID_REASON of a user session maps to "Session not active"', actual: () => sessionNotActiveDescription('user'), expected: 'Session not active' },
  { title: '§2.4 INVALID_REASON of an offline session maps to "Offline session not active"', actual: () => sessionNotActiveDescription('offline'), expected: 'Offline session not active' },
  { title: '§2.4 INVALID_REASON of a client session maps to "Client session not active"', actual: () => sessionNotActiveDescription('client'), expected: 'Client session not active' },
];
for (const row of helperRows) {
  test(row.title, (t) => {
    t.is(row.actual(), row.expected);
  });
}
