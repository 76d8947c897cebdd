// Is a session still valid? Keycloak's AuthenticationManager.isSessionValid and
// isClientSessionValid (docs/keycloak-semantics.md#validity-checks), with its strict comparisons:
//
//   user:    valid ⇔ not (rememberMe ∧ ¬realm.rememberMe)
//                   ∧ not (note identity_provider names a deleted IdP)
//                   ∧ idleExpiry > now − grace
//                   ∧ (maxExpiry == NEVER ∨ maxExpiry > now)
//   client:  valid ⇔ idleExpiry > now − grace ∧ (maxExpiry == NEVER ∨ maxExpiry > now)
//
// In Keycloak 26.x one isSessionValid serves online AND offline sessions (the
// old isOfflineSessionValid is gone), so the remember-me and IdP rules apply
// to offline sessions as well; only the timeouts differ (expiry.ts).
// `grace` is the idle window (SessionTimeoutHelper.IDLE_TIMEOUT_WINDOW_SECONDS,
// 120 s in Keycloak's volatile mode, 0 with persistent sessions or the
// clusterless feature); Keycloak applies the same window in both checks, user
// and client. sessiond takes it from --idle-grace-seconds. It covers the lag
// with which idle clocks travel between replicas, so it applies to idle
// checks only, never to max. Keycloak compares in milliseconds; for whole
// seconds `idle*1000 > nowMs − grace*1000` is exactly `idle > now − grace`
// with now = floor(nowMs / 1000).

import type { ClientSessionSettings } from './client-settings.js';
import {
  NEVER,
  clientSessionIdleExpiry,
  clientSessionMaxExpiry,
  userSessionIdleExpiry,
  userSessionMaxExpiry,
  type ClientSessionTimes,
  type UserSessionTimes,
} from './expiry.js';
import type { RealmSessionSettings } from './realm-settings.js';

/**
 * Why a session is not valid. Stable strings: they reach events and metrics.
 * Keycloak itself does not tell them apart on the wire: every reason of a
 * user session becomes "Session not active" / "Offline session not active"
 * and every reason of a client session "Client session not active"
 * (refresh-checks.ts maps them).
 */
export const INVALID_REASON = Object.freeze({
  idle: 'idle',
  max: 'max',
  rememberMeDisabled: 'remember_me_disabled',
  identityProviderRemoved: 'identity_provider_removed',
} as const);
export type InvalidReason = (typeof INVALID_REASON)[keyof typeof INVALID_REASON];

export function idleOk(idleExpiry: number, now: number, graceSeconds: number): boolean {
  return idleExpiry > now - graceSeconds;
}

export function maxOk(maxExpiry: number, now: number): boolean {
  return maxExpiry === NEVER || maxExpiry > now;
}

/**
 * null when the user session is valid at `now`, otherwise the first failing
 * rule in Keycloak's order. `identityProviderRemoved` is true when the
 * session's `identity_provider` note names an IdP the realm no longer has
 * (the caller owns the realm's IdP list).
 */
export function userSessionInvalidReason(
  realm: RealmSessionSettings,
  session: UserSessionTimes,
  offline: boolean,
  now: number,
  graceSeconds: number,
  identityProviderRemoved = false,
): InvalidReason | null {
  if (session.rememberMe && !realm.rememberMe) return INVALID_REASON.rememberMeDisabled;
  if (identityProviderRemoved) return INVALID_REASON.identityProviderRemoved;
  if (!idleOk(userSessionIdleExpiry(realm, session, offline), now, graceSeconds)) return INVALID_REASON.idle;
  if (!maxOk(userSessionMaxExpiry(realm, session, offline), now)) return INVALID_REASON.max;
  return null;
}

/**
 * null when the client session is valid at `now`, otherwise `idle` or `max`.
 * `offline` is the user session's offline flag, as in Keycloak.
 */
export function clientSessionInvalidReason(
  realm: RealmSessionSettings,
  client: ClientSessionSettings,
  userSession: Pick<UserSessionTimes, 'started' | 'rememberMe'>,
  clientSession: ClientSessionTimes,
  offline: boolean,
  now: number,
  graceSeconds: number,
): InvalidReason | null {
  if (!idleOk(clientSessionIdleExpiry(realm, client, userSession, clientSession, offline), now, graceSeconds)) {
    return INVALID_REASON.idle;
  }
  if (!maxOk(clientSessionMaxExpiry(realm, client, userSession, clientSession, offline), now)) {
    return INVALID_REASON.max;
  }
  return null;
}

/**
 * The instant (epoch s) at which the user session stops being valid by time:
 * the timer wheel arms the session at this deadline. It is the first second
 * `t` where `idleExpiry > t − grace` or `maxExpiry > t` fails. (The
 * remember-me and IdP rules are not time-based; they are checked on use.)
 */
export function userSessionDeadline(
  realm: RealmSessionSettings,
  session: UserSessionTimes,
  offline: boolean,
  graceSeconds: number,
): number {
  const idleDeadline = userSessionIdleExpiry(realm, session, offline) + graceSeconds;
  const max = userSessionMaxExpiry(realm, session, offline);
  return max === NEVER ? idleDeadline : Math.min(idleDeadline, max);
}

/** The instant (epoch s) at which a client session stops being valid by time. */
export function clientSessionDeadline(
  realm: RealmSessionSettings,
  client: ClientSessionSettings,
  userSession: Pick<UserSessionTimes, 'started' | 'rememberMe'>,
  clientSession: ClientSessionTimes,
  offline: boolean,
  graceSeconds: number,
): number {
  const idleDeadline = clientSessionIdleExpiry(realm, client, userSession, clientSession, offline) + graceSeconds;
  const max = clientSessionMaxExpiry(realm, client, userSession, clientSession, offline);
  return max === NEVER ? idleDeadline : Math.min(idleDeadline, max);
}
