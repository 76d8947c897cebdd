// docs/keycloak-semantics.md#client-attributes: client attributes, parsed the way Keycloak 26.x's call
// sites parse them (SessionExpirationUtils.getClientAttributeTimeout,
// TokenManager.getTokenExpiration, OIDCAdvancedConfigWrapper).
import test from 'ava';
import {
  CLIENT_ATTRIBUTE,
  CLIENT_SESSION_DEFAULTS,
  accessTokenLifespanAttribute,
  boolAttribute,
  clientSessionSettings,
  intAttribute,
} from '../../src/session/index.js';

const KEY = 'client.session.idle.timeout';

const intRows: { title: string; value: string | undefined; expected: number }[] = [
  { title: '§2.2 timeout attribute missing ⇒ 0 (unset)', value: undefined, expected: 0 },
  { title: '§2.2 timeout attribute blank ⇒ 0 (unset)', value: '', expected: 0 },
  { title: '§2.2 timeout attribute not a number ⇒ 0 (unset)', value: 'ten', expected: 0 },
  { title: '§2.2 timeout attribute with surrounding spaces ⇒ 0 (Long.parseLong does not trim)', value: ' 60', expected: 0 },
  { title: '§2.2 timeout attribute decimal ⇒ 0 (unset)', value: '1.5', expected: 0 },
  { title: '§2.2 timeout attribute "600" ⇒ 600', value: '600', expected: 600 },
  { title: '§2.2 timeout attribute "+600" ⇒ 600 (Java accepts a plus sign)', value: '+600', expected: 600 },
  { title: '§2.2 timeout attribute "-1" ⇒ -1 (≤ 0 acts as unset where used)', value: '-1', expected: -1 },
];
for (const row of intRows) {
  test(row.title, (t) => {
    t.is(intAttribute(row.value === undefined ? {} : { [KEY]: row.value }, KEY), row.expected);
  });
}

test('§2.2 timeout attribute: no attributes at all ⇒ 0', (t) => {
  t.is(intAttribute(undefined, KEY), 0);
});

const lifespanRows: { title: string; value: string | undefined; expected: number | null }[] = [
  { title: '§2.2 access.token.lifespan missing ⇒ null (realm value)', value: undefined, expected: null },
  { title: '§2.2 access.token.lifespan "" ⇒ null (realm value)', value: '', expected: null },
  { title: '§2.2 access.token.lifespan "   " ⇒ null (blank after trim)', value: '   ', expected: null },
  { title: '§2.2 access.token.lifespan "0" ⇒ 0 (parsed, not inherit)', value: '0', expected: 0 },
  { title: '§2.2 access.token.lifespan "-1" ⇒ -1 (until SSO max)', value: '-1', expected: -1 },
  { title: '§2.2 access.token.lifespan "120" ⇒ 120', value: '120', expected: 120 },
  { title: '§2.2 access.token.lifespan not a number ⇒ null (Keycloak errors; sessiond ignores)', value: '5m', expected: null },
  { title: '§2.2 access.token.lifespan beyond Java int ⇒ null', value: '3000000000', expected: null },
];
for (const row of lifespanRows) {
  test(row.title, (t) => {
    const attrs: Record<string, string> = row.value === undefined ? {} : { 'access.token.lifespan': row.value };
    t.is(accessTokenLifespanAttribute(attrs), row.expected);
  });
}

const boolRows: { title: string; value: string | undefined; fallback: boolean; expected: boolean }[] = [
  { title: '§2.2 boolean attribute missing ⇒ default true', value: undefined, fallback: true, expected: true },
  { title: '§2.2 boolean attribute missing ⇒ default false', value: undefined, fallback: false, expected: false },
  { title: '§2.2 boolean attribute "true" ⇒ true', value: 'true', fallback: false, expected: true },
  { title: '§2.2 boolean attribute "TRUE" ⇒ true (case-insensitive)', value: 'TRUE', fallback: false, expected: true },
  { title: '§2.2 boolean attribute "false" ⇒ false', value: 'false', fallback: true, expected: false },
  { title: '§2.2 boolean attribute "yes" ⇒ false even with default true (Boolean.parseBoolean)', value: 'yes', fallback: true, expected: false },
  { title: '§2.2 boolean attribute "" ⇒ false even with default true', value: '', fallback: true, expected: false },
];
for (const row of boolRows) {
  test(row.title, (t) => {
    const attrs: Record<string, string> = row.value === undefined ? {} : { 'use.refresh.tokens': row.value };
    t.is(boolAttribute(attrs, 'use.refresh.tokens', row.fallback), row.expected);
  });
}

test('§2.2 clientSessionSettings maps every attribute', (t) => {
  t.deepEqual(
    clientSessionSettings(
      {
        'access.token.lifespan': '120',
        'client.session.idle.timeout': '600',
        'client.session.max.lifespan': '3600',
        'client.offline.session.idle.timeout': '86400',
        'client.offline.session.max.lifespan': '604800',
        'use.refresh.tokens': 'false',
        'client_credentials.use_refresh_token': 'true',
      },
      1_700_000_000,
    ),
    {
      accessTokenLifespan: 120,
      sessionIdleTimeout: 600,
      sessionMaxLifespan: 3600,
      offlineSessionIdleTimeout: 86400,
      offlineSessionMaxLifespan: 604800,
      useRefreshTokens: false,
      clientCredentialsUseRefreshToken: true,
      notBefore: 1_700_000_000,
    },
  );
});

test('§2.2 clientSessionSettings of no attributes = CLIENT_SESSION_DEFAULTS', (t) => {
  t.deepEqual(clientSessionSettings(undefined), { ...CLIENT_SESSION_DEFAULTS });
  t.is(CLIENT_SESSION_DEFAULTS.accessTokenLifespan, null);
  t.true(CLIENT_SESSION_DEFAULTS.useRefreshTokens);
  t.false(CLIENT_SESSION_DEFAULTS.clientCredentialsUseRefreshToken);
});

test('§2.2 a non-integer notBefore is treated as none', (t) => {
  t.is(clientSessionSettings({}, Number.NaN).notBefore, 0);
});

test('§2.2 attribute keys are Keycloak\'s exact strings', (t) => {
  t.deepEqual({ ...CLIENT_ATTRIBUTE }, {
    accessTokenLifespan: 'access.token.lifespan',
    sessionIdleTimeout: 'client.session.idle.timeout',
    sessionMaxLifespan: 'client.session.max.lifespan',
    offlineSessionIdleTimeout: 'client.offline.session.idle.timeout',
    offlineSessionMaxLifespan: 'client.offline.session.max.lifespan',
    useRefreshTokens: 'use.refresh.tokens',
    clientCredentialsUseRefreshToken: 'client_credentials.use_refresh_token',
    backchannelLogoutUrl: 'backchannel.logout.url',
    backchannelLogoutSessionRequired: 'backchannel.logout.session.required',
    backchannelLogoutRevokeOfflineTokens: 'backchannel.logout.revoke.offline.tokens',
    excludeSessionStateFromAuthResponse: 'exclude.session.state.from.auth.response',
    pkceCodeChallengeMethod: 'pkce.code.challenge.method',
    postLogoutRedirectUris: 'post.logout.redirect.uris',
  });
});
