// docs/keycloak-semantics.md#realm-timeouts: realm attributes and their defaults for a new realm.
// Values are stored as given; the "≤ 0 means default" rules apply where the
// values are used (§2.3, tested in expiry.test.ts).
import test from 'ava';
import {
  MASTER_ACCESS_TOKEN_LIFESPAN_S,
  REALM_SESSION_DEFAULTS,
  REALM_SESSION_KEYS,
  realmSessionSettings,
  type RealmSessionSettings,
} from '../../src/session/index.js';

const defaults: [keyof RealmSessionSettings, number | boolean][] = [
  ['ssoSessionIdleTimeout', 1800],
  ['ssoSessionMaxLifespan', 36000],
  ['ssoSessionIdleTimeoutRememberMe', 0],
  ['ssoSessionMaxLifespanRememberMe', 0],
  ['clientSessionIdleTimeout', 0],
  ['clientSessionMaxLifespan', 0],
  ['offlineSessionIdleTimeout', 2592000],
  ['offlineSessionMaxLifespanEnabled', false],
  ['offlineSessionMaxLifespan', 5184000],
  ['clientOfflineSessionIdleTimeout', 0],
  ['clientOfflineSessionMaxLifespan', 0],
  ['accessTokenLifespan', 300],
  ['accessTokenLifespanForImplicitFlow', 900],
  ['accessCodeLifespan', 60],
  ['accessCodeLifespanLogin', 1800],
  ['accessCodeLifespanUserAction', 300],
  ['actionTokenGeneratedByUserLifespan', 300],
  ['actionTokenGeneratedByAdminLifespan', 43200],
  ['revokeRefreshToken', false],
  ['refreshTokenMaxReuse', 0],
  ['notBefore', 0],
  ['rememberMe', false],
];

for (const [key, value] of defaults) {
  test(`§2.1 default ${key} = ${String(value)}`, (t) => {
    t.is(realmSessionSettings()[key], value);
    t.is(REALM_SESSION_DEFAULTS[key], value);
  });
}

test('§2.1 the defaults table covers every realm key', (t) => {
  t.deepEqual(
    defaults.map(([k]) => k).sort(),
    [...REALM_SESSION_KEYS].sort(),
  );
});

test('§2.1 master realm access tokens live 60 s', (t) => {
  t.is(MASTER_ACCESS_TOKEN_LIFESPAN_S, 60);
  t.is(realmSessionSettings({}, { master: true }).accessTokenLifespan, 60);
});

test('§2.1 an explicit accessTokenLifespan wins over the master default', (t) => {
  t.is(realmSessionSettings({ accessTokenLifespan: 120 }, { master: true }).accessTokenLifespan, 120);
});

const overrideRows: { title: string; partial: Partial<RealmSessionSettings>; key: keyof RealmSessionSettings; expected: number | boolean }[] = [
  { title: '§2.1 given values are kept (ssoSessionIdleTimeout 600)', partial: { ssoSessionIdleTimeout: 600 }, key: 'ssoSessionIdleTimeout', expected: 600 },
  { title: '§2.1 0 is stored as 0, not replaced by the default', partial: { ssoSessionIdleTimeout: 0 }, key: 'ssoSessionIdleTimeout', expected: 0 },
  { title: '§2.1 booleans are taken as given', partial: { offlineSessionMaxLifespanEnabled: true }, key: 'offlineSessionMaxLifespanEnabled', expected: true },
  { title: '§2.1 fractional seconds are truncated', partial: { accessTokenLifespan: 299.9 }, key: 'accessTokenLifespan', expected: 299 },
  {
    title: '§2.1 a non-finite number keeps the default',
    partial: { ssoSessionMaxLifespan: Number.POSITIVE_INFINITY },
    key: 'ssoSessionMaxLifespan',
    expected: 36000,
  },
  {
    title: '§2.1 a wrongly typed value keeps the default',
    partial: { rememberMe: 'true' as unknown as boolean },
    key: 'rememberMe',
    expected: false,
  },
];
for (const row of overrideRows) {
  test(row.title, (t) => {
    t.is(realmSessionSettings(row.partial)[row.key], row.expected);
  });
}

test('§2.1 REALM_SESSION_DEFAULTS is frozen', (t) => {
  t.true(Object.isFrozen(REALM_SESSION_DEFAULTS));
});
