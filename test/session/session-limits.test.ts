// docs/keycloak-semantics.md#session-limits: the user-session count limiter
// (UserSessionLimitsAuthenticator, Keycloak 26.x). Deny vs terminate-oldest,
// realm checked before client, client-limit victims removed before realm
// victims, "oldest" = lowest lastSessionRefresh, and re-authentication inside
// an existing session not counted against itself.
import test from 'ava';
import {
  FRESH_LOGIN,
  SESSION_LIMIT_CONFIG,
  decideSessionLimit,
  sessionLimitPolicyFromConfig,
  type ExistingSession,
  type SessionLimitContext,
  type SessionLimitDecision,
  type SessionLimitPolicy,
} from '../../src/session/index.js';
import { T0 } from './fixtures.js';

// Ids sort opposite to age so that a test passing by id order would fail.
function s(id: string, lastSessionRefresh: number, hasClient: boolean): ExistingSession {
  return { id, lastSessionRefresh, hasClient };
}

const deny = (realmLimit: number, clientLimit: number): SessionLimitPolicy => ({ realmLimit, clientLimit, behavior: 'deny' });
const terminate = (realmLimit: number, clientLimit: number): SessionLimitPolicy => ({
  realmLimit,
  clientLimit,
  behavior: 'terminate_oldest',
});

interface Row {
  title: string;
  policy: SessionLimitPolicy;
  existing: ExistingSession[];
  context?: SessionLimitContext;
  expected: SessionLimitDecision;
}

const three = [s('z', T0 + 10, false), s('y', T0 + 30, false), s('x', T0 + 20, false)];
const fourMixed = [s('d', T0 + 10, true), s('c', T0 + 40, true), s('b', T0 + 20, false), s('a', T0 + 30, false)];

const rows: Row[] = [
  { title: '§8.5 limits ≤ 0 are disabled', policy: deny(0, -1), existing: three, expected: { allow: true, victims: [] } },
  { title: '§8.5 realm limit not reached (2 sessions, limit 3) ⇒ allow', policy: deny(3, 0), existing: three.slice(0, 2), expected: { allow: true, victims: [] } },
  { title: '§8.5 realm limit reached (3 sessions, limit 3), deny ⇒ refuse "realm"', policy: deny(3, 0), existing: three, expected: { allow: false, limit: 'realm' } },
  {
    title: '§8.5 realm limit reached, terminate oldest ⇒ end the session with the lowest lastSessionRefresh',
    policy: terminate(3, 0),
    existing: three,
    expected: { allow: true, victims: ['z'] },
  },
  {
    title: '§8.5 realm limit far exceeded (3 sessions, limit 1), terminate ⇒ end count − (limit − 1) = 3 oldest',
    policy: terminate(1, 0),
    existing: three,
    expected: { allow: true, victims: ['z', 'x', 'y'] },
  },
  {
    title: '§8.5 client limit reached (2 client sessions, limit 2), deny ⇒ refuse "client"',
    policy: deny(0, 2),
    existing: fourMixed,
    expected: { allow: false, limit: 'client' },
  },
  {
    title: '§8.5 client limit reached, terminate ⇒ end the oldest session holding the client only',
    policy: terminate(0, 2),
    existing: fourMixed,
    expected: { allow: true, victims: ['d'] },
  },
  {
    title: '§8.5 client limit: sessions without the client do not count',
    policy: deny(0, 3),
    existing: fourMixed,
    expected: { allow: true, victims: [] },
  },
  {
    title: '§8.5 both limits reached, deny ⇒ the realm limit is reported (checked first)',
    policy: deny(4, 2),
    existing: fourMixed,
    expected: { allow: false, limit: 'realm' },
  },
  {
    title: '§8.5 both reached, terminate ⇒ client victims first; realm satisfied by them, no realm victim',
    policy: terminate(4, 2),
    existing: fourMixed,
    expected: { allow: true, victims: ['d'] },
  },
  {
    title: '§8.5 both reached, terminate ⇒ client victims first, then oldest of the remaining for the realm',
    policy: terminate(2, 2),
    existing: fourMixed,
    expected: { allow: true, victims: ['d', 'b', 'a'] },
  },
  {
    title: '§8.5 realm reached, client limit set but not reached ⇒ only realm victims (no negative count)',
    policy: terminate(4, 5),
    existing: fourMixed,
    expected: { allow: true, victims: ['d'] },
  },
  {
    title: '§8.5 realm not reached, client reached ⇒ client branch',
    policy: terminate(10, 1),
    existing: fourMixed,
    expected: { allow: true, victims: ['d', 'c'] },
  },
  {
    title: '§8.5 re-authentication in an existing session (no new user session) skips the realm limit',
    policy: deny(2, 0),
    existing: fourMixed,
    context: { newUserSession: false, newClientSession: false },
    expected: { allow: true, victims: [] },
  },
  {
    title: '§8.5 existing SSO session gaining this client: realm skipped, client limit still applies',
    policy: deny(2, 2),
    existing: fourMixed,
    context: { newUserSession: false, newClientSession: true },
    expected: { allow: false, limit: 'client' },
  },
  {
    title: '§8.5 existing SSO session already holding this client: nothing is counted',
    policy: terminate(1, 1),
    existing: fourMixed,
    context: { newUserSession: false, newClientSession: false },
    expected: { allow: true, victims: [] },
  },
  {
    title: '§8.5 equal lastSessionRefresh: ties broken by id for a stable choice',
    policy: terminate(2, 0),
    existing: [s('n', T0, false), s('m', T0, false)],
    expected: { allow: true, victims: ['m'] },
  },
];

for (const row of rows) {
  test(row.title, (t) => {
    t.deepEqual(decideSessionLimit(row.policy, row.existing, row.context ?? FRESH_LOGIN), row.expected);
  });
}

test('§8.5 the input list is not reordered', (t) => {
  const existing = [...fourMixed];
  decideSessionLimit(terminate(1, 1), existing);
  t.deepEqual(existing, fourMixed);
});

const configRows: { title: string; config: Record<string, string>; expected: SessionLimitPolicy | null }[] = [
  {
    title: '§8.5 config: "Deny new session" with both limits',
    config: { userRealmLimit: '3', userClientLimit: '1', behavior: 'Deny new session' },
    expected: { realmLimit: 3, clientLimit: 1, behavior: 'deny' },
  },
  {
    title: '§8.5 config: "Terminate oldest session", blank limits are -1 (disabled)',
    config: { userRealmLimit: '', behavior: 'Terminate oldest session' },
    expected: { realmLimit: -1, clientLimit: -1, behavior: 'terminate_oldest' },
  },
  {
    title: '§8.5 config: unknown behavior is refused (null)',
    config: { userRealmLimit: '3', behavior: 'deny' },
    expected: null,
  },
];
for (const row of configRows) {
  test(row.title, (t) => {
    t.deepEqual(sessionLimitPolicyFromConfig(row.config), row.expected);
  });
}

test('§8.5 config keys and values are Keycloak\'s', (t) => {
  t.deepEqual({ ...SESSION_LIMIT_CONFIG }, {
    providerId: 'user-session-limits',
    userRealmLimit: 'userRealmLimit',
    userClientLimit: 'userClientLimit',
    behavior: 'behavior',
    errorMessage: 'errorMessage',
    denyNewSession: 'Deny new session',
    terminateOldestSession: 'Terminate oldest session',
    defaultErrorMessage: 'sessionLimitExceeded',
  });
});
