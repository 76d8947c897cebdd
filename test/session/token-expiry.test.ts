// docs/keycloak-semantics.md#token-lifetimes (and §2.2 for `access.token.lifespan`): access-token and
// refresh-token `exp`, as TokenManager computes them in Keycloak 26.x.
import test from 'ava';
import {
  accessTokenExpiry,
  accessTokenLifespan,
  expiresIn,
  refreshTokenExpiry,
} from '../../src/session/index.js';
import { T0, client, realm } from './fixtures.js';

interface Row {
  title: string;
  actual: () => number;
  expected: number;
}

const NOW = T0 + 1000;
const user = { started: T0, rememberMe: false };
const rmUser = { started: T0, rememberMe: true };
const cs = { started: T0 + 500 };

const lifespanRows: Row[] = [
  { title: '§2.5 L = realm accessTokenLifespan without a client attribute', actual: () => accessTokenLifespan(realm(), client()), expected: 300 },
  { title: '§2.5 L = client access.token.lifespan when set', actual: () => accessTokenLifespan(realm(), client({ 'access.token.lifespan': '60' })), expected: 60 },
  { title: '§2.5 L: client value "0" is a 0-second lifespan, not "inherit"', actual: () => accessTokenLifespan(realm(), client({ 'access.token.lifespan': '0' })), expected: 0 },
  { title: '§2.5 L: blank client value falls back to the realm', actual: () => accessTokenLifespan(realm(), client({ 'access.token.lifespan': '  ' })), expected: 300 },
  { title: '§2.5 L: client value -1 means until the SSO max', actual: () => accessTokenLifespan(realm(), client({ 'access.token.lifespan': '-1' })), expected: -1 },
  { title: '§2.5 L: realm value -1 passes through', actual: () => accessTokenLifespan(realm({ accessTokenLifespan: -1 }), client()), expected: -1 },
  {
    title: '§2.5 L: implicit flow uses accessTokenLifespanForImplicitFlow, ignoring the client attribute',
    actual: () => accessTokenLifespan(realm(), client({ 'access.token.lifespan': '60' }), true),
    expected: 900,
  },
];

const accessRows: Row[] = [
  {
    title: '§2.5 access exp = now + L',
    actual: () => accessTokenExpiry({ realm: realm(), client: client(), now: NOW, userSession: user, clientSession: cs, offline: false }),
    expected: NOW + 300,
  },
  {
    title: '§2.5 access exp with client "0" = now',
    actual: () =>
      accessTokenExpiry({ realm: realm(), client: client({ 'access.token.lifespan': '0' }), now: NOW, userSession: user, clientSession: cs, offline: false }),
    expected: NOW,
  },
  {
    title: '§2.5 access exp with L = -1 = userStarted + ssoMax',
    actual: () =>
      accessTokenExpiry({ realm: realm(), client: client({ 'access.token.lifespan': '-1' }), now: NOW, userSession: user, clientSession: cs, offline: false }),
    expected: T0 + 36000,
  },
  {
    title: '§2.5 access exp with L = -1, remember-me and ssoMaxRM > 0 = userStarted + ssoMaxRM (no max() with ssoMax)',
    actual: () =>
      accessTokenExpiry({
        realm: realm({ ssoSessionMaxLifespanRememberMe: 7200 }),
        client: client({ 'access.token.lifespan': '-1' }),
        now: NOW,
        userSession: rmUser,
        clientSession: cs,
        offline: false,
      }),
    expected: T0 + 7200,
  },
  {
    title: '§2.5 access exp with L = -1, remember-me and ssoMaxRM = 0 = userStarted + ssoMax',
    actual: () =>
      accessTokenExpiry({ realm: realm(), client: client({ 'access.token.lifespan': '-1' }), now: NOW, userSession: rmUser, clientSession: cs, offline: false }),
    expected: T0 + 36000,
  },
  {
    title: '§2.5 access exp with L = -1 is capped by the client-session max',
    actual: () =>
      accessTokenExpiry({
        realm: realm(),
        client: client({ 'access.token.lifespan': '-1', 'client.session.max.lifespan': '600' }),
        now: NOW,
        userSession: user,
        clientSession: cs,
        offline: false,
      }),
    expected: T0 + 500 + 600,
  },
  {
    title: '§2.5 access exp = min(now + L, client-session max)',
    actual: () =>
      accessTokenExpiry({
        realm: realm(),
        client: client({ 'access.token.lifespan': '3600', 'client.session.max.lifespan': '1000' }),
        now: NOW,
        userSession: user,
        clientSession: cs,
        offline: false,
      }),
    expected: T0 + 1500,
  },
  {
    title: '§2.5 access exp is capped by the user-session max through the client max',
    actual: () =>
      accessTokenExpiry({ realm: realm({ accessTokenLifespan: 100000 }), client: client(), now: NOW, userSession: user, clientSession: cs, offline: false }),
    expected: T0 + 36000,
  },
  {
    title: '§2.5 access exp: offline with offline max disabled has no cap',
    actual: () =>
      accessTokenExpiry({ realm: realm({ accessTokenLifespan: 100000 }), client: client(), now: NOW, userSession: user, clientSession: cs, offline: true }),
    expected: NOW + 100000,
  },
  {
    title: '§2.5 access exp: offline with offline max enabled is capped by the offline client max',
    actual: () =>
      accessTokenExpiry({
        realm: realm({ accessTokenLifespan: 100000, offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 50000 }),
        client: client(),
        now: NOW,
        userSession: user,
        clientSession: cs,
        offline: true,
      }),
    expected: T0 + 50000,
  },
  {
    title: '§2.5 access exp: offline capped by client.offline.session.max.lifespan even with realm offline max off',
    actual: () =>
      accessTokenExpiry({
        realm: realm({ accessTokenLifespan: 100000 }),
        client: client({ 'client.offline.session.max.lifespan': '2000' }),
        now: NOW,
        userSession: user,
        clientSession: cs,
        offline: true,
      }),
    expected: T0 + 2500,
  },
  {
    title: '§2.5 access exp: implicit flow lifespan',
    actual: () =>
      accessTokenExpiry({ realm: realm(), client: client(), now: NOW, userSession: user, clientSession: cs, offline: false, implicitFlow: true }),
    expected: NOW + 900,
  },
  {
    title: '§2.5 access exp without a client session is not capped',
    actual: () => accessTokenExpiry({ realm: realm({ accessTokenLifespan: 100000 }), client: client(), now: NOW, userSession: user, offline: false }),
    expected: NOW + 100000,
  },
];

// Refresh tokens: the clocks have moved to iat = NOW (client timestamp = NOW).
const csAtNow = { started: T0 + 500, timestamp: NOW };
const offlineOn = { offlineSessionMaxLifespanEnabled: true, offlineSessionMaxLifespan: 100000 };
const refreshRows: Row[] = [
  {
    title: '§2.5 online refresh exp = now + cIdle while the max is further',
    actual: () => refreshTokenExpiry({ realm: realm(), client: client(), userSession: user, clientSession: csAtNow, offline: false }),
    expected: NOW + 1800,
  },
  {
    title: '§2.5 online refresh exp = client max when it comes first',
    actual: () =>
      refreshTokenExpiry({
        realm: realm(),
        client: client({ 'client.session.max.lifespan': '1000' }),
        userSession: user,
        clientSession: csAtNow,
        offline: false,
      }),
    expected: T0 + 1500,
  },
  {
    title: '§2.5 online refresh exp = user max when it comes first',
    actual: () =>
      refreshTokenExpiry({ realm: realm(), client: client(), userSession: user, clientSession: { started: T0 + 500, timestamp: T0 + 35000 }, offline: false }),
    expected: T0 + 36000,
  },
  {
    title: '§2.5 online refresh exp uses the remember-me idle',
    actual: () =>
      refreshTokenExpiry({ realm: realm({ ssoSessionIdleTimeoutRememberMe: 7200 }), client: client(), userSession: rmUser, clientSession: csAtNow, offline: false }),
    expected: NOW + 7200,
  },
  {
    title: '§2.5 online refresh exp uses client.session.idle.timeout',
    actual: () =>
      refreshTokenExpiry({ realm: realm(), client: client({ 'client.session.idle.timeout': '300' }), userSession: user, clientSession: csAtNow, offline: false }),
    expected: NOW + 300,
  },
  {
    title: '§2.5 offline refresh token has no exp (0) while realm offline max is off',
    actual: () => refreshTokenExpiry({ realm: realm(), client: client(), userSession: user, clientSession: csAtNow, offline: true }),
    expected: 0,
  },
  {
    title: '§2.5 offline refresh token has no exp even with client.offline.session.max.lifespan when realm offline max is off',
    actual: () =>
      refreshTokenExpiry({
        realm: realm(),
        client: client({ 'client.offline.session.max.lifespan': '2000' }),
        userSession: user,
        clientSession: csAtNow,
        offline: true,
      }),
    expected: 0,
  },
  {
    title: '§2.5 offline refresh exp = now + offline idle when realm offline max is on',
    actual: () =>
      refreshTokenExpiry({ realm: realm({ ...offlineOn, offlineSessionIdleTimeout: 3600 }), client: client(), userSession: user, clientSession: csAtNow, offline: true }),
    expected: NOW + 3600,
  },
  {
    title: '§2.5 offline refresh exp = offline max when it comes first',
    actual: () => refreshTokenExpiry({ realm: realm(offlineOn), client: client(), userSession: user, clientSession: csAtNow, offline: true }),
    expected: T0 + 100000,
  },
];

const inRows: Row[] = [
  { title: '§2.5 expires_in = exp − now', actual: () => expiresIn(NOW + 300, NOW), expected: 300 },
  { title: '§2.5 refresh_expires_in = 0 for a token without exp', actual: () => expiresIn(0, NOW), expected: 0 },
  { title: '§2.5 expires_in is 0 for a token capped at now', actual: () => expiresIn(NOW, NOW), expected: 0 },
];

for (const row of [...lifespanRows, ...accessRows, ...refreshRows, ...inRows]) {
  test(row.title, (t) => {
    t.is(row.actual(), row.expected);
  });
}
