// Per-user session limits (docs/keycloak-semantics.md#session-limits, authenticator
// `user-session-limits`, UserSessionLimitsAuthenticator in Keycloak 26.x).
// Checked when a login is about to create a session for a client. The realm
// limit counts all of the user's online sessions in the realm, the client
// limit those holding a client session of the client logging in. A limit L is
// exceeded when count > L − 1 (one more session would pass it); ≤ 0 disables.
// Keycloak's order:
//
//   1. only if a NEW user session is needed and the realm limit is exceeded:
//        deny ⇒ refuse (limit "realm");
//        terminate ⇒ end the oldest client-limit sessions (count − (clientL − 1),
//        never fewer than 0), and if the realm limit is still exceeded, the
//        oldest of the remaining sessions (remaining − (realmL − 1));
//   2. else, only if a NEW client session is needed and the client limit is
//        exceeded: deny ⇒ refuse (limit "client"); terminate ⇒ end the oldest
//        client-limit sessions (count − (clientL − 1)).
//
// "Oldest" = lowest lastSessionRefresh. A re-authentication inside an existing
// SSO session (identity cookie, prompt=login) needs no new user session and,
// if the session already holds the client, no new client session either, so
// it is never counted against itself (#35344). Some 26.x builds compute a
// negative victim count in step 1 when the client limit is not reached, which
// makes Java's Stream.limit throw; sessiond clamps it to 0, as later code does.
// Unlike Keycloak (#14689) sessiond decides this inside the one actor that
// owns all of the user's sessions, so parallel logins cannot exceed a limit.

export const SESSION_LIMIT_BEHAVIOR = Object.freeze({
  deny: 'deny',
  terminateOldest: 'terminate_oldest',
} as const);
export type SessionLimitBehavior = (typeof SESSION_LIMIT_BEHAVIOR)[keyof typeof SESSION_LIMIT_BEHAVIOR];

/** The authenticator's config keys and values, as stored in a realm export. */
export const SESSION_LIMIT_CONFIG = Object.freeze({
  providerId: 'user-session-limits',
  userRealmLimit: 'userRealmLimit',
  userClientLimit: 'userClientLimit',
  behavior: 'behavior',
  errorMessage: 'errorMessage',
  denyNewSession: 'Deny new session',
  terminateOldestSession: 'Terminate oldest session',
  /** Message key shown on the 403 error page when errorMessage is unset. */
  defaultErrorMessage: 'sessionLimitExceeded',
} as const);

export interface SessionLimitPolicy {
  /** ≤ 0 disables. */
  realmLimit: number;
  /** ≤ 0 disables. */
  clientLimit: number;
  behavior: SessionLimitBehavior;
}

export interface ExistingSession {
  id: string;
  lastSessionRefresh: number;
  /** Whether the session holds a client session of the client logging in. */
  hasClient: boolean;
}

/** What the login needs, from the identity cookie (both true for a fresh login). */
export interface SessionLimitContext {
  /** No valid SSO session is being reused. */
  newUserSession: boolean;
  /** No valid SSO session, or it does not hold a client session of this client yet. */
  newClientSession: boolean;
}

export const FRESH_LOGIN: Readonly<SessionLimitContext> = Object.freeze({ newUserSession: true, newClientSession: true });

export type SessionLimitDecision =
  | { allow: true; victims: string[] }
  | { allow: false; limit: 'realm' | 'client' };

/**
 * The authenticator config as a policy. Blank or missing limits are -1
 * (disabled), like Keycloak; a limit that is not an integer is also disabled
 * here (Keycloak throws NumberFormatException). An unknown behavior is null:
 * Keycloak then neither denies nor terminates, and the caller should refuse
 * the configuration rather than guess.
 */
export function sessionLimitPolicyFromConfig(
  config: Readonly<Record<string, string | undefined>>,
): SessionLimitPolicy | null {
  const behaviorText = config[SESSION_LIMIT_CONFIG.behavior];
  let behavior: SessionLimitBehavior;
  if (behaviorText === SESSION_LIMIT_CONFIG.denyNewSession) behavior = SESSION_LIMIT_BEHAVIOR.deny;
  else if (behaviorText === SESSION_LIMIT_CONFIG.terminateOldestSession) behavior = SESSION_LIMIT_BEHAVIOR.terminateOldest;
  else return null;
  return {
    realmLimit: configLimit(config[SESSION_LIMIT_CONFIG.userRealmLimit]),
    clientLimit: configLimit(config[SESSION_LIMIT_CONFIG.userClientLimit]),
    behavior,
  };
}

function configLimit(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return -1;
  if (!/^[-+]?\d+$/.test(raw)) return -1;
  const value = Number.parseInt(raw, 10);
  return Number.isSafeInteger(value) ? value : -1;
}

function exceeds(count: number, limit: number): boolean {
  return limit > 0 && count > limit - 1;
}

function oldestFirst(a: ExistingSession, b: ExistingSession): number {
  return a.lastSessionRefresh - b.lastSessionRefresh || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The oldest sessions to end so that at most limit − 1 remain (none if already so). */
function oldest(sessions: readonly ExistingSession[], limit: number): ExistingSession[] {
  const count = Math.max(0, sessions.length - (limit - 1));
  return [...sessions].sort(oldestFirst).slice(0, count);
}

/**
 * Decides whether one more session may be created, and which sessions must
 * end for it (client-limit victims first, then realm-limit victims).
 */
export function decideSessionLimit(
  policy: SessionLimitPolicy,
  existing: readonly ExistingSession[],
  context: Readonly<SessionLimitContext> = FRESH_LOGIN,
): SessionLimitDecision {
  const forClient = policy.clientLimit > 0 ? existing.filter((s) => s.hasClient) : [];
  if (context.newUserSession && exceeds(existing.length, policy.realmLimit)) {
    if (policy.behavior === SESSION_LIMIT_BEHAVIOR.deny) return { allow: false, limit: 'realm' };
    const clientVictims = policy.clientLimit > 0 ? oldest(forClient, policy.clientLimit) : [];
    const victims = clientVictims.map((v) => v.id);
    if (exceeds(existing.length - clientVictims.length, policy.realmLimit)) {
      const gone = new Set(victims);
      const remaining = existing.filter((s) => !gone.has(s.id));
      for (const v of oldest(remaining, policy.realmLimit)) victims.push(v.id);
    }
    return { allow: true, victims };
  }
  if (context.newClientSession && exceeds(forClient.length, policy.clientLimit)) {
    if (policy.behavior === SESSION_LIMIT_BEHAVIOR.deny) return { allow: false, limit: 'client' };
    return { allow: true, victims: oldest(forClient, policy.clientLimit).map((v) => v.id) };
  }
  return { allow: true, victims: [] };
}
