// docs/keycloak-semantics.md#expiry-formulas: every expiry formula (SessionExpirationUtils /
// RealmExpiration), one table row per formula and branch. Each row computes
// a value with the rules and compares it with the number the spec gives.
import test from 'ava';
import {
  NEVER,
  clientSessionIdleExpiry,
  clientSessionIdleTimeout,
  clientSessionMaxExpiry,
  clientSessionMaxLifespan,
  earliest,
  realmTimeouts,
  userSessionIdleExpiry,
  userSessionMaxExpiry,
} from '../../src/session/index.js';
import { T0, client, realm } from './fixtures.js';

interface Row {
  title: string;
  actual: () => number;
  expected: number;
}

const plain = { started: T0, lastSessionRefresh: T0 + 100, rememberMe: false };
const rm = { started: T0, lastSessionRefresh: T0 + 100, rememberMe: true };
// The client session joined 500 s after the user session started.
const cs = { started: T0 + 500, timestamp: T0 + 700 };

const realmRows: Row[] = [
  { title: '§2.3 idle = ssoIdle when > 0', actual: () => realmTimeouts(realm({ ssoSessionIdleTimeout: 600 })).idle, expected: 600 },
  { title: '§2.3 idle: ssoIdle 0 → 1800', actual: () => realmTimeouts(realm({ ssoSessionIdleTimeout: 0 })).idle, expected: 1800 },
  { title: '§2.3 idle: ssoIdle < 0 → 1800', actual: () => realmTimeouts(realm({ ssoSessionIdleTimeout: -5 })).idle, expected: 1800 },
  { title: '§2.3 max = ssoMax when > 0', actual: () => realmTimeouts(realm({ ssoSessionMaxLifespan: 7200 })).max, expected: 7200 },
  { title: '§2.3 max: ssoMax 0 → 36000', actual: () => realmTimeouts(realm({ ssoSessionMaxLifespan: 0 })).max, expected: 36000 },
  {
    title: '§2.3 remember-me idle = max(ssoIdle, ssoIdleRM): RM larger wins',
    actual: () => realmTimeouts(realm({ ssoSessionIdleTimeout: 1800, ssoSessionIdleTimeoutRememberMe: 7200 })).rememberMeIdle,
    expected: 7200,
  },
  {
    title: '§2.3 remember-me idle = max(ssoIdle, ssoIdleRM): RM smaller loses',
    actual: () => realmTimeouts(realm({ ssoSessionIdleTimeout: 1800, ssoSessionIdleTimeoutRememberMe: 60 })).rememberMeIdle,
    expected: 1800,
  },
  {
    title: '§2.3 remember-me idle: ssoIdleRM 0 → ssoIdle',
    actual: () => realmTimeouts(realm({ ssoSessionIdleTimeoutRememberMe: 0 })).rememberMeIdle,
    expected: 1800,
  },
  {
    title: '§2.3 remember-me max = max(ssoMax, ssoMaxRM): RM larger wins',
    actual: () => realmTimeouts(realm({ ssoSessionMaxLifespan: 36000, ssoSessionMaxLifespanRememberMe: 86400 })).rememberMeMax,
    expected: 86400,
  },
  {
    title: '§2.3 remember-me max = max(ssoMax, ssoMaxRM): RM smaller loses',
    actual: () => realmTimeouts(realm({ ssoSessionMaxLifespan: 36000, ssoSessionMaxLifespanRememberMe: 3600 })).rememberMeMax,
    expected: 36000,
  },
  {
    title: '§2.3 remember-me max uses the defaulted ssoMax (0 → 36000)',
    actual: () => realmTimeouts(realm({ ssoSessionMaxLifespan: 0, ssoSessionMaxLifespanRememberMe: 100 })).rememberMeMax,
    expected: 36000,
  },
  { title: '§2.3 offIdle: offlineIdle 0 → 2592000', actual: () => realmTimeouts(realm({ offlineSessionIdleTimeout: 0 })).offlineIdle, expected: 2592000 },
  { title: '§2.3 offIdle = offlineIdle when > 0', actual: () => realmTimeouts(realm({ offlineSessionIdleTimeout: 3600 })).offlineIdle, expected: 3600 },
  {
    title: '§2.3 offMax = -1 (never) while offline max is disabled',
    actual: () => realmTimeouts(realm({ offlineSessionMaxLifespanEnabled: false, offlineSessionMaxLifespan: 1000 })).offlineMax,
    expected: NEVER,
  },
  {
    title: '§2.3 offMax = offlineMax when enabled',
    actual: () => realmTimeouts(realm({ offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 1000 })).offlineMax,
    expected: 1000,
  },
  {
    title: '§2.3 offMax: enabled with offlineMax 0 → 5184000',
    actual: () => realmTimeouts(realm({ offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 0 })).offlineMax,
    expected: 5184000,
  },
];

const userRows: Row[] = [
  { title: '§2.3 online user max expiry = started + max', actual: () => userSessionMaxExpiry(realm(), plain, false), expected: T0 + 36000 },
  {
    title: '§2.3 online user max expiry = started + rmMax for remember-me',
    actual: () => userSessionMaxExpiry(realm({ ssoSessionMaxLifespanRememberMe: 86400 }), rm, false),
    expected: T0 + 86400,
  },
  {
    title: '§2.3 online user max expiry ignores ssoMaxRM for a non-remember-me session',
    actual: () => userSessionMaxExpiry(realm({ ssoSessionMaxLifespanRememberMe: 86400 }), plain, false),
    expected: T0 + 36000,
  },
  { title: '§2.3 online user idle expiry = lastSessionRefresh + idle', actual: () => userSessionIdleExpiry(realm(), plain, false), expected: T0 + 100 + 1800 },
  {
    title: '§2.3 online user idle expiry = lastSessionRefresh + rmIdle for remember-me',
    actual: () => userSessionIdleExpiry(realm({ ssoSessionIdleTimeoutRememberMe: 7200 }), rm, false),
    expected: T0 + 100 + 7200,
  },
  {
    title: '§2.3 offline user max expiry = never while offline max is disabled',
    actual: () => userSessionMaxExpiry(realm({ offlineSessionMaxLifespanEnabled: false }), plain, true),
    expected: NEVER,
  },
  {
    title: '§2.3 offline user max expiry = started + offMax when enabled',
    actual: () => userSessionMaxExpiry(realm({ offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 864000 }), plain, true),
    expected: T0 + 864000,
  },
  {
    title: '§2.3 offline user idle expiry = lastSessionRefresh + offIdle',
    actual: () => userSessionIdleExpiry(realm(), plain, true),
    expected: T0 + 100 + 2592000,
  },
  {
    title: '§2.3 offline user idle ignores remember-me timeouts',
    actual: () => userSessionIdleExpiry(realm({ ssoSessionIdleTimeoutRememberMe: 7200, offlineSessionIdleTimeout: 3600 }), rm, true),
    expected: T0 + 100 + 3600,
  },
];

const onlineClientRows: Row[] = [
  {
    title: '§2.3 online cMax = realm SSO max when nothing overrides it',
    actual: () => clientSessionMaxLifespan(realm(), client(), false, false),
    expected: 36000,
  },
  {
    title: '§2.3 online cMax = rmMax for remember-me when nothing overrides it',
    actual: () => clientSessionMaxLifespan(realm({ ssoSessionMaxLifespanRememberMe: 86400 }), client(), true, false),
    expected: 86400,
  },
  {
    title: '§2.3 online cMax = realm clientSessionMaxLifespan when > 0',
    actual: () => clientSessionMaxLifespan(realm({ clientSessionMaxLifespan: 3000 }), client(), true, false),
    expected: 3000,
  },
  {
    title: '§2.3 online cMax: client attribute replaces the realm value (not a min)',
    actual: () =>
      clientSessionMaxLifespan(realm({ clientSessionMaxLifespan: 3000 }), client({ 'client.session.max.lifespan': '9000' }), false, false),
    expected: 9000,
  },
  {
    title: '§2.3 online cMax: client attribute ≤ 0 is unset',
    actual: () =>
      clientSessionMaxLifespan(realm({ clientSessionMaxLifespan: 3000 }), client({ 'client.session.max.lifespan': '-1' }), false, false),
    expected: 3000,
  },
  {
    title: '§2.3 online client max expiry = clientStarted + cMax when below the user max',
    actual: () => clientSessionMaxExpiry(realm(), client({ 'client.session.max.lifespan': '600' }), plain, cs, false),
    expected: T0 + 500 + 600,
  },
  {
    title: '§2.3 online client max expiry is capped by the user-session max',
    actual: () => clientSessionMaxExpiry(realm(), client({ 'client.session.max.lifespan': '90000' }), plain, cs, false),
    expected: T0 + 36000,
  },
  {
    title: '§2.3 online client max with SSO defaults = user max (client started later, cap wins)',
    actual: () => clientSessionMaxExpiry(realm(), client(), plain, cs, false),
    expected: T0 + 36000,
  },
  {
    title: '§2.3 online cIdle = realm SSO idle when nothing overrides it',
    actual: () => clientSessionIdleTimeout(realm(), client(), false, false),
    expected: 1800,
  },
  {
    title: '§2.3 online cIdle = rmIdle for remember-me when nothing overrides it',
    actual: () => clientSessionIdleTimeout(realm({ ssoSessionIdleTimeoutRememberMe: 7200 }), client(), true, false),
    expected: 7200,
  },
  {
    title: '§2.3 online cIdle = realm clientSessionIdleTimeout when > 0',
    actual: () => clientSessionIdleTimeout(realm({ clientSessionIdleTimeout: 900 }), client(), false, false),
    expected: 900,
  },
  {
    title: '§2.3 online cIdle: client attribute replaces the realm value (not a min)',
    actual: () =>
      clientSessionIdleTimeout(realm({ clientSessionIdleTimeout: 900 }), client({ 'client.session.idle.timeout': '5000' }), false, false),
    expected: 5000,
  },
  {
    title: '§2.3 online client idle expiry = timestamp + cIdle',
    actual: () => clientSessionIdleExpiry(realm(), client({ 'client.session.idle.timeout': '300' }), plain, cs, false),
    expected: T0 + 700 + 300,
  },
  {
    title: '§2.3 online client idle expiry is not min-ed with the user idle',
    actual: () => clientSessionIdleExpiry(realm(), client({ 'client.session.idle.timeout': '7200' }), plain, cs, false),
    expected: T0 + 700 + 7200,
  },
];

const offlineOn = { offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 100000 };
const offlineClientRows: Row[] = [
  {
    title: '§2.3 offline client max = never when realm offline max is off and no client attribute',
    actual: () => clientSessionMaxExpiry(realm({ clientOfflineSessionMaxLifespan: 2000 }), client(), plain, cs, true),
    expected: NEVER,
  },
  {
    title: '§2.3 offline client max: client attribute > 0 enables a max even with realm offline max off',
    actual: () => clientSessionMaxExpiry(realm(), client({ 'client.offline.session.max.lifespan': '1000' }), plain, cs, true),
    expected: T0 + 500 + 1000,
  },
  {
    title: '§2.3 offline client max: client attribute wins over realm clientOfflineSessionMaxLifespan',
    actual: () =>
      clientSessionMaxExpiry(
        realm({ ...offlineOn, clientOfflineSessionMaxLifespan: 2000 }),
        client({ 'client.offline.session.max.lifespan': '3000' }),
        plain,
        cs,
        true,
      ),
    expected: T0 + 500 + 3000,
  },
  {
    title: '§2.3 offline client max = clientStarted + realm clientOfflineSessionMaxLifespan when > 0',
    actual: () => clientSessionMaxExpiry(realm({ ...offlineOn, clientOfflineSessionMaxLifespan: 2000 }), client(), plain, cs, true),
    expected: T0 + 500 + 2000,
  },
  {
    title: '§2.3 offline client max falls back to offMax and is capped by the offline user max',
    actual: () => clientSessionMaxExpiry(realm(offlineOn), client(), plain, cs, true),
    expected: T0 + 100000,
  },
  {
    title: '§2.3 offline client max with client attribute is capped by the offline user max when that is enabled',
    actual: () => clientSessionMaxExpiry(realm(offlineOn), client({ 'client.offline.session.max.lifespan': '200000' }), plain, cs, true),
    expected: T0 + 100000,
  },
  {
    title: '§2.3 offline client lifespan = never (realm off, no attribute)',
    actual: () => clientSessionMaxLifespan(realm(), client(), false, true),
    expected: NEVER,
  },
  {
    title: '§2.3 offline client idle = offIdle when nothing overrides it',
    actual: () => clientSessionIdleExpiry(realm(), client(), plain, cs, true),
    expected: T0 + 700 + 2592000,
  },
  {
    title: '§2.3 offline client idle = realm clientOfflineSessionIdleTimeout when > 0',
    actual: () => clientSessionIdleExpiry(realm({ clientOfflineSessionIdleTimeout: 4000 }), client(), plain, cs, true),
    expected: T0 + 700 + 4000,
  },
  {
    title: '§2.3 offline client idle: client attribute replaces the realm value',
    actual: () =>
      clientSessionIdleExpiry(
        realm({ clientOfflineSessionIdleTimeout: 4000 }),
        client({ 'client.offline.session.idle.timeout': '8000' }),
        plain,
        cs,
        true,
      ),
    expected: T0 + 700 + 8000,
  },
  {
    title: '§2.3 offline client idle ignores the online client idle attribute',
    actual: () => clientSessionIdleTimeout(realm(), client({ 'client.session.idle.timeout': '60' }), false, true),
    expected: 2592000,
  },
];

const earliestRows: Row[] = [
  { title: '§2.3 earliest(): NEVER is +infinity (left)', actual: () => earliest(NEVER, T0), expected: T0 },
  { title: '§2.3 earliest(): NEVER is +infinity (right)', actual: () => earliest(T0, NEVER), expected: T0 },
  { title: '§2.3 earliest(): the smaller instant', actual: () => earliest(T0 + 5, T0 + 3), expected: T0 + 3 },
  { title: '§2.3 earliest(): both NEVER', actual: () => earliest(NEVER, NEVER), expected: NEVER },
];

for (const row of [...realmRows, ...userRows, ...onlineClientRows, ...offlineClientRows, ...earliestRows]) {
  test(row.title, (t) => {
    t.is(row.actual(), row.expected);
  });
}
