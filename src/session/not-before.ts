// Not-before revocation policy (docs/keycloak-semantics.md#not-before-revocation). A token whose `iat` is before
// the applicable not-before is "Stale token". All values are epoch seconds,
// 0 meaning "none".

/**
 * The client check value: the client's not-before, unless the realm has one,
 * in which case the smaller of the two. (Keycloak's min rule: a client
 * not-before later than a non-zero realm not-before is effectively ignored.)
 */
export function clientCheckNotBefore(realmNotBefore: number, clientNotBefore: number): number {
  if (clientNotBefore === 0) return realmNotBefore;
  if (realmNotBefore === 0) return clientNotBefore;
  return Math.min(clientNotBefore, realmNotBefore);
}

/** `token.iat < notBefore` ⇒ stale. */
export function isStale(issuedAt: number, notBefore: number): boolean {
  return issuedAt < notBefore;
}

/** The `not-before-policy` field of a token response: the latest of the three. */
export function notBeforePolicy(realmNotBefore: number, clientNotBefore: number, userNotBefore: number): number {
  return Math.max(realmNotBefore, clientNotBefore, userNotBefore, 0);
}

export interface NotBeforeValues {
  realm: number;
  client: number;
  user: number;
}

/**
 * The refresh-grant not-before checks in Keycloak's order: realm, then client
 * (min rule), then user. Returns true when the token is stale. In the grant
 * the realm check runs while the token is verified, the client and user
 * checks only after the session checks (refresh-checks.ts keeps that order).
 */
export function refreshTokenStale(issuedAt: number, nb: NotBeforeValues): boolean {
  return (
    isStale(issuedAt, nb.realm) || isStale(issuedAt, clientCheckNotBefore(nb.realm, nb.client)) || isStale(issuedAt, nb.user)
  );
}

/** Introspection and bearer checks: client check (min rule) and user check. */
export function bearerTokenStale(issuedAt: number, nb: NotBeforeValues): boolean {
  return isStale(issuedAt, clientCheckNotBefore(nb.realm, nb.client)) || isStale(issuedAt, nb.user);
}
