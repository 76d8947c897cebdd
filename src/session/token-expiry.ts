// Token lifetimes (docs/keycloak-semantics.md#token-lifetimes, TokenManager.getTokenExpiration and
// AccessTokenResponseBuilder.getExpiration in Keycloak 26.x): access-token
// `exp`, and refresh-token `exp` computed after the clocks moved to the
// token's `iat`. Keycloak does this arithmetic in milliseconds and floors to
// seconds at the end; with whole-second inputs that is the same as the
// second-based arithmetic here.

import type { ClientSessionSettings } from './client-settings.js';
import {
  NEVER,
  clientSessionIdleExpiry,
  clientSessionMaxExpiry,
  type ClientSessionTimes,
  type UserSessionTimes,
} from './expiry.js';
import type { RealmSessionSettings } from './realm-settings.js';

/**
 * Access-token lifespan in seconds; -1 means "until the SSO session max".
 * The implicit flow always uses the realm's implicit-flow lifespan. Otherwise
 * a set client attribute wins whatever its value (0 included: Keycloak parses
 * any non-blank value), and only a missing/blank one falls back to the realm.
 */
export function accessTokenLifespan(
  realm: RealmSessionSettings,
  client: ClientSessionSettings,
  implicitFlow = false,
): number {
  if (implicitFlow) return realm.accessTokenLifespanForImplicitFlow;
  if (client.accessTokenLifespan !== null) return client.accessTokenLifespan;
  return realm.accessTokenLifespan;
}

export interface AccessTokenExpiryInput {
  realm: RealmSessionSettings;
  client: ClientSessionSettings;
  now: number;
  userSession: Pick<UserSessionTimes, 'started' | 'rememberMe'>;
  /**
   * The client session whose max caps the token. Keycloak always has one
   * (a transient session gets a fresh one, started = now); leaving it out
   * skips the cap.
   */
  clientSession?: Pick<ClientSessionTimes, 'started'>;
  /**
   * Keycloak's `offline` for the cap: the session is offline, or the granted
   * scopes include offline_access, or it is a transient copy of an offline
   * session (note created_from_persistent = offline).
   */
  offline: boolean;
  implicitFlow?: boolean;
}

/** Access-token (and ID-token) `exp`, epoch s. */
export function accessTokenExpiry(input: AccessTokenExpiryInput): number {
  const { realm, client, now, userSession, clientSession, offline } = input;
  const lifespan = accessTokenLifespan(realm, client, input.implicitFlow === true);
  let exp: number;
  if (lifespan === -1) {
    // Keycloak reads the RAW realm values here, not the "≤0 → default" ones
    // of SessionExpirationUtils, and takes ssoMaxRM even when it is smaller
    // than ssoMax (no max()): the client-session cap below then applies.
    const rmMax = realm.ssoSessionMaxLifespanRememberMe;
    exp = userSession.started + (userSession.rememberMe && rmMax > 0 ? rmMax : realm.ssoSessionMaxLifespan);
  } else {
    exp = now + lifespan;
  }
  if (clientSession !== undefined) {
    const cap = clientSessionMaxExpiry(realm, client, userSession, clientSession, offline);
    if (cap > 0) exp = Math.min(exp, cap);
  }
  return exp;
}

export interface RefreshTokenExpiryInput {
  realm: RealmSessionSettings;
  client: ClientSessionSettings;
  userSession: Pick<UserSessionTimes, 'started' | 'rememberMe'>;
  /** The client session AFTER its timestamp moved to the new token's iat. */
  clientSession: ClientSessionTimes;
  offline: boolean;
}

/**
 * Refresh-token `exp`, epoch s, or 0 for an offline token without expiry.
 * Keycloak sets `exp` on an offline token only when the REALM's
 * offlineSessionMaxLifespanEnabled is on; a client-level
 * `client.offline.session.max.lifespan` alone does not give the token an
 * `exp` (it still bounds the offline client session server-side). Without
 * `exp` the response says refresh_expires_in 0 and offline idle is enforced
 * by the server only.
 */
export function refreshTokenExpiry(input: RefreshTokenExpiryInput): number {
  const { realm, client, userSession, clientSession, offline } = input;
  if (offline && !realm.offlineSessionMaxLifespanEnabled) return 0;
  const idle = clientSessionIdleExpiry(realm, client, userSession, clientSession, offline);
  const max = clientSessionMaxExpiry(realm, client, userSession, clientSession, offline);
  return max === NEVER ? idle : Math.min(idle, max);
}

/**
 * `expires_in` / `refresh_expires_in` of a token response (0 when there is no
 * exp). It can be ≤ 0 when a cap put `exp` at or before `now`; Keycloak sends
 * that value as is.
 */
export function expiresIn(exp: number, now: number): number {
  return exp > 0 ? exp - now : 0;
}
