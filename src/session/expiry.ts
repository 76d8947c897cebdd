// When a session expires: Keycloak's SessionExpirationUtils / RealmExpiration
// formulas (docs/keycloak-semantics.md#expiry-formulas), in int epoch seconds. Every function is pure;
// `NEVER` (-1) stands for "no max", as in Keycloak.
//
//   idle   = ssoSessionIdleTimeout   (≤0 → 1800)      rmIdle = max(idle, ssoSessionIdleTimeoutRememberMe)
//   max    = ssoSessionMaxLifespan   (≤0 → 36000)     rmMax  = max(max,  ssoSessionMaxLifespanRememberMe)
//   offIdle = offlineSessionIdleTimeout (≤0 → 30 d)   offMax = enabled ? (offlineSessionMaxLifespan ≤0 → 60 d) : NEVER
//
// A client-level timeout REPLACES the realm value (it is not a minimum); the
// online client max is then capped by the user session's max.

import type { ClientSessionSettings } from './client-settings.js';
import {
  OFFLINE_SESSION_IDLE_TIMEOUT_DEFAULT_S,
  OFFLINE_SESSION_MAX_LIFESPAN_DEFAULT_S,
  SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S,
  SSO_SESSION_MAX_LIFESPAN_DEFAULT_S,
  type RealmSessionSettings,
} from './realm-settings.js';

export const NEVER = -1;

export interface UserSessionTimes {
  /** Epoch s the user session started. */
  started: number;
  /** Epoch s of the user session's idle clock (`lastSessionRefresh`). */
  lastSessionRefresh: number;
  rememberMe: boolean;
}

export interface ClientSessionTimes {
  /** Epoch s the client session started (note `startedAt`). */
  started: number;
  /** Epoch s of the client session's idle clock (`timestamp`). */
  timestamp: number;
}

/** The realm's effective timeouts in seconds, after the "≤0 means default" rules. */
export interface RealmTimeouts {
  idle: number;
  max: number;
  rememberMeIdle: number;
  rememberMeMax: number;
  offlineIdle: number;
  /** NEVER when offline max is disabled. */
  offlineMax: number;
}

export function ssoSessionIdleTimeout(realm: RealmSessionSettings): number {
  return realm.ssoSessionIdleTimeout > 0 ? realm.ssoSessionIdleTimeout : SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S;
}

export function ssoSessionMaxLifespan(realm: RealmSessionSettings): number {
  return realm.ssoSessionMaxLifespan > 0 ? realm.ssoSessionMaxLifespan : SSO_SESSION_MAX_LIFESPAN_DEFAULT_S;
}

export function offlineSessionIdleTimeout(realm: RealmSessionSettings): number {
  return realm.offlineSessionIdleTimeout > 0 ? realm.offlineSessionIdleTimeout : OFFLINE_SESSION_IDLE_TIMEOUT_DEFAULT_S;
}

/** The configured offline max (≤0 → 60 d), whether or not it is enabled. */
export function offlineSessionMaxLifespan(realm: RealmSessionSettings): number {
  return realm.offlineSessionMaxLifespan > 0 ? realm.offlineSessionMaxLifespan : OFFLINE_SESSION_MAX_LIFESPAN_DEFAULT_S;
}

export function realmTimeouts(realm: RealmSessionSettings): RealmTimeouts {
  const idle = ssoSessionIdleTimeout(realm);
  const max = ssoSessionMaxLifespan(realm);
  return {
    idle,
    max,
    rememberMeIdle: Math.max(idle, realm.ssoSessionIdleTimeoutRememberMe),
    rememberMeMax: Math.max(max, realm.ssoSessionMaxLifespanRememberMe),
    offlineIdle: offlineSessionIdleTimeout(realm),
    offlineMax: realm.offlineSessionMaxLifespanEnabled ? offlineSessionMaxLifespan(realm) : NEVER,
  };
}

/** Max expiry of a user session (epoch s), or NEVER. */
export function userSessionMaxExpiry(
  realm: RealmSessionSettings,
  session: Pick<UserSessionTimes, 'started' | 'rememberMe'>,
  offline: boolean,
): number {
  if (offline) {
    if (!realm.offlineSessionMaxLifespanEnabled) return NEVER;
    return session.started + offlineSessionMaxLifespan(realm);
  }
  const max = ssoSessionMaxLifespan(realm);
  return session.started + (session.rememberMe ? Math.max(max, realm.ssoSessionMaxLifespanRememberMe) : max);
}

/** Idle expiry of a user session (epoch s). */
export function userSessionIdleExpiry(
  realm: RealmSessionSettings,
  session: Pick<UserSessionTimes, 'lastSessionRefresh' | 'rememberMe'>,
  offline: boolean,
): number {
  if (offline) return session.lastSessionRefresh + offlineSessionIdleTimeout(realm);
  const idle = ssoSessionIdleTimeout(realm);
  return session.lastSessionRefresh + (session.rememberMe ? Math.max(idle, realm.ssoSessionIdleTimeoutRememberMe) : idle);
}

/** The client-session max lifespan in seconds before the user-session cap, or NEVER (offline, disabled). */
export function clientSessionMaxLifespan(
  realm: RealmSessionSettings,
  client: ClientSessionSettings,
  rememberMe: boolean,
  offline: boolean,
): number {
  if (offline) {
    if (!realm.offlineSessionMaxLifespanEnabled && !(client.offlineSessionMaxLifespan > 0)) return NEVER;
    if (client.offlineSessionMaxLifespan > 0) return client.offlineSessionMaxLifespan;
    if (realm.clientOfflineSessionMaxLifespan > 0) return realm.clientOfflineSessionMaxLifespan;
    return offlineSessionMaxLifespan(realm);
  }
  if (client.sessionMaxLifespan > 0) return client.sessionMaxLifespan;
  if (realm.clientSessionMaxLifespan > 0) return realm.clientSessionMaxLifespan;
  const max = ssoSessionMaxLifespan(realm);
  return rememberMe ? Math.max(max, realm.ssoSessionMaxLifespanRememberMe) : max;
}

/** The client-session idle timeout in seconds. */
export function clientSessionIdleTimeout(
  realm: RealmSessionSettings,
  client: ClientSessionSettings,
  rememberMe: boolean,
  offline: boolean,
): number {
  if (offline) {
    if (client.offlineSessionIdleTimeout > 0) return client.offlineSessionIdleTimeout;
    if (realm.clientOfflineSessionIdleTimeout > 0) return realm.clientOfflineSessionIdleTimeout;
    return offlineSessionIdleTimeout(realm);
  }
  if (client.sessionIdleTimeout > 0) return client.sessionIdleTimeout;
  if (realm.clientSessionIdleTimeout > 0) return realm.clientSessionIdleTimeout;
  const idle = ssoSessionIdleTimeout(realm);
  return rememberMe ? Math.max(idle, realm.ssoSessionIdleTimeoutRememberMe) : idle;
}

/** Max expiry of a client session (epoch s), capped by the user session's max; NEVER if none. */
export function clientSessionMaxExpiry(
  realm: RealmSessionSettings,
  client: ClientSessionSettings,
  userSession: Pick<UserSessionTimes, 'started' | 'rememberMe'>,
  clientSession: Pick<ClientSessionTimes, 'started'>,
  offline: boolean,
): number {
  const lifespan = clientSessionMaxLifespan(realm, client, userSession.rememberMe, offline);
  if (lifespan === NEVER) return NEVER;
  const own = clientSession.started + lifespan;
  const userMax = userSessionMaxExpiry(realm, userSession, offline);
  return userMax > 0 ? Math.min(own, userMax) : own;
}

/** Idle expiry of a client session (epoch s); not capped by the user idle (that is checked separately). */
export function clientSessionIdleExpiry(
  realm: RealmSessionSettings,
  client: ClientSessionSettings,
  userSession: Pick<UserSessionTimes, 'rememberMe'>,
  clientSession: Pick<ClientSessionTimes, 'timestamp'>,
  offline: boolean,
): number {
  return clientSession.timestamp + clientSessionIdleTimeout(realm, client, userSession.rememberMe, offline);
}

/** min() that treats NEVER as +infinity. */
export function earliest(a: number, b: number): number {
  if (a === NEVER) return b;
  if (b === NEVER) return a;
  return a < b ? a : b;
}
