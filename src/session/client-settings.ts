// Client attributes that override realm session and token values
// (docs/keycloak-semantics.md#client-attributes). Keycloak keeps them as strings in
// ClientRepresentation.attributes and parses them where they are used; the
// parsing rules below copy those call sites (Keycloak 26.x):
//
// - session timeouts (SessionExpirationUtils.getClientAttributeTimeout):
//   blank or not a Long ⇒ unset; Java's Long.parseLong does not trim, so
//   " 60" is unset too; a value ≤ 0 behaves like unset where it is used;
// - `access.token.lifespan` (TokenManager.getTokenExpiration): blank ⇒ the
//   realm value; ANY other value is parsed, so "0" means 0-second tokens
//   (not "inherit"). A non-integer makes Keycloak fail the token request with
//   a NumberFormatException; sessiond treats it as unset instead;
// - booleans (OIDCAdvancedConfigWrapper): a missing attribute takes the
//   default; a present one is Boolean.parseBoolean, i.e. true only for "true"
//   in any case, so use.refresh.tokens = "yes" or "" turns refresh tokens OFF.

export interface ClientSessionSettings {
  /**
   * `access.token.lifespan` in seconds; null = attribute missing or blank
   * (use the realm value). -1 means "until the SSO session max"; 0 is a real
   * 0-second lifespan, as in Keycloak.
   */
  accessTokenLifespan: number | null;
  /** `client.session.idle.timeout`; > 0 replaces the online client idle. */
  sessionIdleTimeout: number;
  /** `client.session.max.lifespan`; > 0 replaces the online client max. */
  sessionMaxLifespan: number;
  /** `client.offline.session.idle.timeout`; > 0 replaces the offline client idle. */
  offlineSessionIdleTimeout: number;
  /** `client.offline.session.max.lifespan`; > 0 replaces (and enables) the offline client max. */
  offlineSessionMaxLifespan: number;
  /** `use.refresh.tokens`, default true. */
  useRefreshTokens: boolean;
  /** `client_credentials.use_refresh_token`, default false. */
  clientCredentialsUseRefreshToken: boolean;
  /** ClientRepresentation.notBefore, epoch seconds, 0 = none. */
  notBefore: number;
}

export const CLIENT_ATTRIBUTE = Object.freeze({
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

export const CLIENT_SESSION_DEFAULTS: Readonly<ClientSessionSettings> = Object.freeze({
  accessTokenLifespan: null,
  sessionIdleTimeout: 0,
  sessionMaxLifespan: 0,
  offlineSessionIdleTimeout: 0,
  offlineSessionMaxLifespan: 0,
  useRefreshTokens: true,
  clientCredentialsUseRefreshToken: false,
  notBefore: 0,
});

const JAVA_LONG_TEXT = /^[-+]?\d+$/;
const JAVA_INT_MIN = -2147483648;
const JAVA_INT_MAX = 2147483647;

/**
 * An integer attribute, or 0 (unset) when it is missing, blank or not what
 * Java's Long.parseLong accepts (no surrounding whitespace).
 */
export function intAttribute(attributes: Readonly<Record<string, string>> | undefined, key: string): number {
  const raw = attributes?.[key];
  if (raw === undefined || raw === null) return 0;
  const text = String(raw);
  if (!JAVA_LONG_TEXT.test(text)) return 0;
  const value = Number.parseInt(text, 10);
  return Number.isSafeInteger(value) ? value : 0;
}

/**
 * `access.token.lifespan` as TokenManager.getTokenExpiration reads it: null
 * when missing or blank (after trim), otherwise Integer.parseInt of the raw
 * text. Keycloak throws on a non-integer; sessiond answers null (the realm
 * value) so one bad attribute cannot break every token request.
 */
export function accessTokenLifespanAttribute(attributes: Readonly<Record<string, string>> | undefined): number | null {
  const raw = attributes?.[CLIENT_ATTRIBUTE.accessTokenLifespan];
  if (raw === undefined || raw === null) return null;
  const text = String(raw);
  if (text.trim() === '') return null;
  if (!JAVA_LONG_TEXT.test(text)) return null;
  const value = Number.parseInt(text, 10);
  return value >= JAVA_INT_MIN && value <= JAVA_INT_MAX ? value : null;
}

/**
 * A boolean attribute as OIDCAdvancedConfigWrapper reads it: missing ⇒ the
 * default; present ⇒ true only for "true" in any case (Boolean.parseBoolean,
 * no trim), so any other present value is false.
 */
export function boolAttribute(
  attributes: Readonly<Record<string, string>> | undefined,
  key: string,
  fallback: boolean,
): boolean {
  const raw = attributes?.[key];
  if (raw === undefined || raw === null) return fallback;
  return String(raw).toLowerCase() === 'true';
}

export function clientSessionSettings(
  attributes: Readonly<Record<string, string>> | undefined,
  notBefore = 0,
): ClientSessionSettings {
  return {
    accessTokenLifespan: accessTokenLifespanAttribute(attributes),
    sessionIdleTimeout: intAttribute(attributes, CLIENT_ATTRIBUTE.sessionIdleTimeout),
    sessionMaxLifespan: intAttribute(attributes, CLIENT_ATTRIBUTE.sessionMaxLifespan),
    offlineSessionIdleTimeout: intAttribute(attributes, CLIENT_ATTRIBUTE.offlineSessionIdleTimeout),
    offlineSessionMaxLifespan: intAttribute(attributes, CLIENT_ATTRIBUTE.offlineSessionMaxLifespan),
    useRefreshTokens: boolAttribute(attributes, CLIENT_ATTRIBUTE.useRefreshTokens, true),
    clientCredentialsUseRefreshToken: boolAttribute(
      attributes,
      CLIENT_ATTRIBUTE.clientCredentialsUseRefreshToken,
      false,
    ),
    notBefore: Number.isSafeInteger(notBefore) ? notBefore : 0,
  };
}
