// docs/keycloak-semantics.md#validity-checks: validity checks with strict comparisons at the exact
// boundaries (expiry − 1, expiry, expiry + 1), with grace 0 (Keycloak 26
// persistent sessions) and 120 (volatile mode, sessiond's default). The grace
// widens idle checks only, for user AND client sessions; never max checks.
import test from 'ava';
import {
  INVALID_REASON,
  clientSessionDeadline,
  clientSessionInvalidReason,
  idleOk,
  maxOk,
  userSessionDeadline,
  userSessionInvalidReason,
  type InvalidReason,
} from '../../src/session/index.js';
import { T0, client, realm } from './fixtures.js';

const R = realm(); // idle 1800, max 36000
const session = { started: T0, lastSessionRefresh: T0 + 100, rememberMe: false };
const IDLE = T0 + 100 + 1800; // user idle expiry
const MAX = T0 + 36000; // user max expiry

interface Row {
  title: string;
  actual: () => InvalidReason | null;
  expected: InvalidReason | null;
}

const userIdleRows: Row[] = [
  { title: '§2.4 user idle, grace 0: t = expiry − 1 is valid', actual: () => userSessionInvalidReason(R, session, false, IDLE - 1, 0), expected: null },
  { title: '§2.4 user idle, grace 0: t = expiry is invalid (strict >)', actual: () => userSessionInvalidReason(R, session, false, IDLE, 0), expected: 'idle' },
  { title: '§2.4 user idle, grace 0: t = expiry + 1 is invalid', actual: () => userSessionInvalidReason(R, session, false, IDLE + 1, 0), expected: 'idle' },
  { title: '§2.4 user idle, grace 120: t = expiry − 1 is valid', actual: () => userSessionInvalidReason(R, session, false, IDLE - 1, 120), expected: null },
  { title: '§2.4 user idle, grace 120: t = expiry is valid', actual: () => userSessionInvalidReason(R, session, false, IDLE, 120), expected: null },
  { title: '§2.4 user idle, grace 120: t = expiry + 1 is valid', actual: () => userSessionInvalidReason(R, session, false, IDLE + 1, 120), expected: null },
  { title: '§2.4 user idle, grace 120: t = expiry + 119 is valid', actual: () => userSessionInvalidReason(R, session, false, IDLE + 119, 120), expected: null },
  { title: '§2.4 user idle, grace 120: t = expiry + 120 is invalid', actual: () => userSessionInvalidReason(R, session, false, IDLE + 120, 120), expected: 'idle' },
  { title: '§2.4 user idle, grace 120: t = expiry + 121 is invalid', actual: () => userSessionInvalidReason(R, session, false, IDLE + 121, 120), expected: 'idle' },
];

// Keep the idle clock fresh so only the max rule can fail.
const fresh = (now: number) => ({ started: T0, lastSessionRefresh: now - 10, rememberMe: false });
const userMaxRows: Row[] = [
  { title: '§2.4 user max, grace 0: t = max − 1 is valid', actual: () => userSessionInvalidReason(R, fresh(MAX - 1), false, MAX - 1, 0), expected: null },
  { title: '§2.4 user max, grace 0: t = max is invalid (strict >)', actual: () => userSessionInvalidReason(R, fresh(MAX), false, MAX, 0), expected: 'max' },
  { title: '§2.4 user max, grace 0: t = max + 1 is invalid', actual: () => userSessionInvalidReason(R, fresh(MAX + 1), false, MAX + 1, 0), expected: 'max' },
  { title: '§2.4 user max, grace 120: t = max − 1 is valid', actual: () => userSessionInvalidReason(R, fresh(MAX - 1), false, MAX - 1, 120), expected: null },
  { title: '§2.4 user max, grace 120: t = max is invalid (no grace on max)', actual: () => userSessionInvalidReason(R, fresh(MAX), false, MAX, 120), expected: 'max' },
  { title: '§2.4 user max, grace 120: t = max + 1 is invalid', actual: () => userSessionInvalidReason(R, fresh(MAX + 1), false, MAX + 1, 120), expected: 'max' },
];

const OFF = realm({ offlineSessionIdleTimeout: 3600 });
const OFF_MAX = realm({ offlineSessionIdleTimeout: 3600, offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 7200 });
const OFF_IDLE = T0 + 100 + 3600;
const offlineRows: Row[] = [
  { title: '§2.4 offline idle, grace 0: t = expiry − 1 is valid', actual: () => userSessionInvalidReason(OFF, session, true, OFF_IDLE - 1, 0), expected: null },
  { title: '§2.4 offline idle, grace 0: t = expiry is invalid', actual: () => userSessionInvalidReason(OFF, session, true, OFF_IDLE, 0), expected: 'idle' },
  { title: '§2.4 offline idle, grace 0: t = expiry + 1 is invalid', actual: () => userSessionInvalidReason(OFF, session, true, OFF_IDLE + 1, 0), expected: 'idle' },
  { title: '§2.4 offline idle, grace 120: t = expiry is valid', actual: () => userSessionInvalidReason(OFF, session, true, OFF_IDLE, 120), expected: null },
  { title: '§2.4 offline idle, grace 120: t = expiry + 120 is invalid', actual: () => userSessionInvalidReason(OFF, session, true, OFF_IDLE + 120, 120), expected: 'idle' },
  {
    title: '§2.4 offline max disabled: a fresh offline session is valid years later',
    actual: () => userSessionInvalidReason(OFF, fresh(T0 + 10 * 365 * 86400), true, T0 + 10 * 365 * 86400, 0),
    expected: null,
  },
  { title: '§2.4 offline max enabled: t = max − 1 is valid', actual: () => userSessionInvalidReason(OFF_MAX, fresh(T0 + 7199), true, T0 + 7199, 120), expected: null },
  { title: '§2.4 offline max enabled: t = max is invalid', actual: () => userSessionInvalidReason(OFF_MAX, fresh(T0 + 7200), true, T0 + 7200, 120), expected: 'max' },
  { title: '§2.4 offline max enabled: t = max + 1 is invalid', actual: () => userSessionInvalidReason(OFF_MAX, fresh(T0 + 7201), true, T0 + 7201, 120), expected: 'max' },
];

const rmSession = { ...session, rememberMe: true };
const ruleRows: Row[] = [
  {
    title: '§2.4 remember-me session is invalid once realm rememberMe is off (online)',
    actual: () => userSessionInvalidReason(realm({ rememberMe: false }), rmSession, false, T0 + 200, 120),
    expected: 'remember_me_disabled',
  },
  {
    title: '§2.4 remember-me session is invalid once realm rememberMe is off (offline too, KC 26 isSessionValid)',
    actual: () => userSessionInvalidReason(realm({ rememberMe: false }), rmSession, true, T0 + 200, 120),
    expected: 'remember_me_disabled',
  },
  {
    title: '§2.4 remember-me session is valid while realm rememberMe is on',
    actual: () => userSessionInvalidReason(realm({ rememberMe: true }), rmSession, false, T0 + 200, 0),
    expected: null,
  },
  {
    title: '§2.4 non-remember-me session ignores realm rememberMe',
    actual: () => userSessionInvalidReason(realm({ rememberMe: false }), session, false, T0 + 200, 0),
    expected: null,
  },
  {
    title: '§2.4 remember-me rule is checked before idle',
    actual: () => userSessionInvalidReason(realm({ rememberMe: false }), rmSession, false, T0 + 999999, 0),
    expected: 'remember_me_disabled',
  },
  {
    title: '§2.4 session brokered by a deleted IdP is invalid',
    actual: () => userSessionInvalidReason(R, session, false, T0 + 200, 0, true),
    expected: 'identity_provider_removed',
  },
  {
    title: '§2.4 IdP rule is checked after remember-me and before idle',
    actual: () => userSessionInvalidReason(realm({ rememberMe: true }), rmSession, false, T0 + 999999, 0, true),
    expected: 'identity_provider_removed',
  },
  {
    title: '§2.4 remember-me idle (max(ssoIdle, ssoIdleRM)) applies at the boundary',
    actual: () => userSessionInvalidReason(realm({ rememberMe: true, ssoSessionIdleTimeoutRememberMe: 7200 }), rmSession, false, T0 + 100 + 7199, 0),
    expected: null,
  },
  {
    title: '§2.4 remember-me idle expires at lastSessionRefresh + rmIdle',
    actual: () => userSessionInvalidReason(realm({ rememberMe: true, ssoSessionIdleTimeoutRememberMe: 7200 }), rmSession, false, T0 + 100 + 7200, 0),
    expected: 'idle',
  },
];

// Client session: its own idle (cIdle = 600) and max (cMax = 3000), not the user's.
const C = client({ 'client.session.idle.timeout': '600', 'client.session.max.lifespan': '3000' });
const cs = { started: T0 + 500, timestamp: T0 + 1000 };
const C_IDLE = T0 + 1000 + 600;
const C_MAX = T0 + 500 + 3000;
const freshCs = (now: number) => ({ started: T0 + 500, timestamp: now - 10 });
const clientRows: Row[] = [
  { title: '§2.4 client idle, grace 0: t = expiry − 1 is valid', actual: () => clientSessionInvalidReason(R, C, session, cs, false, C_IDLE - 1, 0), expected: null },
  { title: '§2.4 client idle, grace 0: t = expiry is invalid', actual: () => clientSessionInvalidReason(R, C, session, cs, false, C_IDLE, 0), expected: 'idle' },
  { title: '§2.4 client idle, grace 0: t = expiry + 1 is invalid', actual: () => clientSessionInvalidReason(R, C, session, cs, false, C_IDLE + 1, 0), expected: 'idle' },
  { title: '§2.4 client idle, grace 120: t = expiry is valid (grace applies to client sessions)', actual: () => clientSessionInvalidReason(R, C, session, cs, false, C_IDLE, 120), expected: null },
  { title: '§2.4 client idle, grace 120: t = expiry + 119 is valid', actual: () => clientSessionInvalidReason(R, C, session, cs, false, C_IDLE + 119, 120), expected: null },
  { title: '§2.4 client idle, grace 120: t = expiry + 120 is invalid', actual: () => clientSessionInvalidReason(R, C, session, cs, false, C_IDLE + 120, 120), expected: 'idle' },
  { title: '§2.4 client max, grace 0: t = max − 1 is valid', actual: () => clientSessionInvalidReason(R, C, session, freshCs(C_MAX - 1), false, C_MAX - 1, 0), expected: null },
  { title: '§2.4 client max, grace 0: t = max is invalid', actual: () => clientSessionInvalidReason(R, C, session, freshCs(C_MAX), false, C_MAX, 0), expected: 'max' },
  { title: '§2.4 client max, grace 0: t = max + 1 is invalid', actual: () => clientSessionInvalidReason(R, C, session, freshCs(C_MAX + 1), false, C_MAX + 1, 0), expected: 'max' },
  { title: '§2.4 client max, grace 120: t = max is invalid (no grace on max)', actual: () => clientSessionInvalidReason(R, C, session, freshCs(C_MAX), false, C_MAX, 120), expected: 'max' },
  {
    title: '§2.4 client max is capped by the user max (client attribute larger than SSO max)',
    actual: () =>
      clientSessionInvalidReason(R, client({ 'client.session.max.lifespan': '90000' }), session, freshCs(MAX), false, MAX, 0),
    expected: 'max',
  },
  {
    title: '§2.4 offline client session uses offline client idle',
    actual: () => clientSessionInvalidReason(OFF, client(), session, cs, true, T0 + 1000 + 3599, 0),
    expected: null,
  },
  {
    title: '§2.4 offline client session expires at timestamp + offline idle',
    actual: () => clientSessionInvalidReason(OFF, client(), session, cs, true, T0 + 1000 + 3600, 0),
    expected: 'idle',
  },
];

for (const row of [...userIdleRows, ...userMaxRows, ...offlineRows, ...ruleRows, ...clientRows]) {
  test(row.title, (t) => {
    t.is(row.actual(), row.expected);
  });
}

test('§2.4 INVALID_REASON strings are stable', (t) => {
  t.deepEqual({ ...INVALID_REASON }, {
    idle: 'idle',
    max: 'max',
    rememberMeDisabled: 'remember_me_disabled',
    identityProviderRemoved: 'identity_provider_removed',
  });
});

const predicateRows: { title: string; actual: () => boolean; expected: boolean }[] = [
  { title: '§2.4 idleOk is strict: idleExpiry > now − grace', actual: () => idleOk(T0, T0, 0), expected: false },
  { title: '§2.4 idleOk with grace: idleExpiry = now − grace + 1', actual: () => idleOk(T0, T0 + 119, 120), expected: true },
  { title: '§2.4 maxOk is strict: maxExpiry > now', actual: () => maxOk(T0, T0), expected: false },
  { title: '§2.4 maxOk: NEVER is always ok', actual: () => maxOk(-1, T0), expected: true },
];
for (const row of predicateRows) {
  test(row.title, (t) => {
    t.is(row.actual(), row.expected);
  });
}

// The timer-wheel deadline is the first second at which the check fails.
const deadlineRows: { title: string; deadline: () => number; expected: number; invalidAt: (t: number) => InvalidReason | null }[] = [
  {
    title: '§2.4 user deadline, grace 0 = idle expiry',
    deadline: () => userSessionDeadline(R, session, false, 0),
    expected: IDLE,
    invalidAt: (t) => userSessionInvalidReason(R, session, false, t, 0),
  },
  {
    title: '§2.4 user deadline, grace 120 = idle expiry + 120',
    deadline: () => userSessionDeadline(R, session, false, 120),
    expected: IDLE + 120,
    invalidAt: (t) => userSessionInvalidReason(R, session, false, t, 120),
  },
  {
    title: '§2.4 user deadline = max when max comes first (grace does not move it)',
    deadline: () => userSessionDeadline(R, { started: T0, lastSessionRefresh: MAX - 60, rememberMe: false }, false, 120),
    expected: MAX,
    invalidAt: (t) => userSessionInvalidReason(R, { started: T0, lastSessionRefresh: MAX - 60, rememberMe: false }, false, t, 120),
  },
  {
    title: '§2.4 offline user deadline with max disabled = idle expiry + grace',
    deadline: () => userSessionDeadline(OFF, session, true, 120),
    expected: OFF_IDLE + 120,
    invalidAt: (t) => userSessionInvalidReason(OFF, session, true, t, 120),
  },
  {
    title: '§2.4 client deadline, grace 120 = client idle expiry + 120',
    deadline: () => clientSessionDeadline(R, C, session, cs, false, 120),
    expected: C_IDLE + 120,
    invalidAt: (t) => clientSessionInvalidReason(R, C, session, cs, false, t, 120),
  },
  {
    title: '§2.4 client deadline = client max when it comes first',
    deadline: () => clientSessionDeadline(R, C, session, freshCs(C_MAX), false, 0),
    expected: C_MAX,
    invalidAt: (t) => clientSessionInvalidReason(R, C, session, freshCs(C_MAX), false, t, 0),
  },
];
for (const row of deadlineRows) {
  test(row.title, (t) => {
    const d = row.deadline();
    t.is(d, row.expected);
    t.is(row.invalidAt(d - 1), null, 'valid one second before the deadline');
    t.not(row.invalidAt(d), null, 'invalid at the deadline');
  });
}
