// The refresh_token grant's checks in Keycloak 26.x's order, with its exact
// error_description strings (docs/keycloak-semantics.md#grants, #validity-checks, #refresh-token-rotation, #not-before-revocation). Order matters
// on the wire: a token that is both expired and replayed must say "Token is
// not active", not "Maximum allowed refresh token reuse exceeded".
//
// Sources: services/.../protocol/oidc/grants/RefreshTokenGrantType.java
// (process), services/.../protocol/oidc/TokenManager.java (refreshAccessToken,
// verifyRefreshToken, validateToken, validateTokenReuseForRefresh,
// validateTokenReuse), core/.../TokenVerifier.java (IS_ACTIVE, RealmUrlCheck),
// core/.../representations/JsonWebToken.java (isExpired,
// isIssuedBeforeSessionStart).
//
//  RefreshTokenGrantType.process
//   1. no `refresh_token` form parameter        invalid_request "No refresh token"
//  TokenManager.verifyRefreshToken
//   2. token does not decode / bad signature    "Invalid refresh token"
//   3. typ is neither "Refresh" nor "Offline"   "Invalid refresh token"
//   4. iss ≠ realm issuer                       "Invalid token issuer. Expected '<url>', but was '<iss>'"
//   5. iat < realm notBefore                    "Stale token"
//   6. exp ≠ 0 and now > exp                    "Token is not active"   (at now == exp still active)
//   7. azp ≠ authenticated client               "Invalid refresh token. Token client and authorized client don't match"
//      (mTLS / DPoP binding checks follow in Keycloak; sessiond has neither)
//  TokenManager.validateToken
//   8. typ Offline: no offline session          "Offline user session not found"
//   9. typ Offline: session invalid (§2.4)      "Offline session not active"        ⇒ offline session revoked
//  10. typ Refresh: none or invalid (§2.4)      "Session not active"                ⇒ back-channel logout
//  11. session has no user                      "Invalid refresh token"
//  12. user disabled                            "User disabled"
//  13. iat + 1 < user session started           "Refresh token issued before the user session started"
//  14. no client session for the client         "Session doesn't have required client"
//  15. client session invalid (§2.4)            "Client session not active"         ⇒ client session removed
//  16. iat + 1 < client session started         "refresh token issued before the client session started" (lower-case r)
//  17. azp ≠ client                             "Unmatching clients"  (cannot fail after 7; kept for order)
//  18. iat < client not-before (min rule, §3)
//      or iat < user not-before                 "Stale token"
//  19. offline session, offline access revoked  "Offline session invalid because offline access not granted anymore"
//  20. consent withdrawn (consent clients)      invalid_scope "Client no longer has requested consent from user"
//  TokenManager.refreshAccessToken
//  21. client session's client ≠ authenticated client
//                                               "Invalid refresh token. Token client and authorized client don't match"
//  22. revokeRefreshToken: reuse rules (§2.8)   "Stale token" / "Maximum allowed refresh token reuse exceeded"
//                                                                                   ⇒ client session detached
//
// Every failure is HTTP 400 with error `invalid_grant` unless noted; the
// REFRESH_TOKEN_ERROR event gets error `invalid_token` and detail `reason` =
// the description. Step 19 is in the newest 26.x TokenManager read; earlier
// 26.x builds skip it. Older builds (≤ 21) spelled step 13 "Refresh toked
// issued before the user session started". Steps 17 and 21 cannot fail when
// the client session is looked up by the authenticated client, but they are
// listed so the table is Keycloak's.

import { clientCheckNotBefore, isStale } from './not-before.js';
import {
  REFRESH_ERROR,
  checkRefreshReuse,
  type PresentedRefreshToken,
  type RefreshChain,
  type RefreshReuseError,
} from './refresh-reuse.js';
import type { InvalidReason } from './validity.js';

/** The refresh grant's error_description strings, exactly as Keycloak 26.x sends them. */
export const REFRESH_GRANT_ERROR = Object.freeze({
  noRefreshToken: 'No refresh token',
  invalidRefreshToken: 'Invalid refresh token',
  tokenNotActive: 'Token is not active',
  staleToken: REFRESH_ERROR.staleToken,
  clientMismatch: "Invalid refresh token. Token client and authorized client don't match",
  offlineSessionNotFound: 'Offline user session not found',
  offlineSessionNotActive: 'Offline session not active',
  sessionNotActive: 'Session not active',
  userDisabled: 'User disabled',
  issuedBeforeUserSession: 'Refresh token issued before the user session started',
  sessionMissingClient: "Session doesn't have required client",
  clientSessionNotActive: 'Client session not active',
  issuedBeforeClientSession: 'refresh token issued before the client session started',
  unmatchingClients: 'Unmatching clients',
  offlineAccessNotGranted: 'Offline session invalid because offline access not granted anymore',
  consentWithdrawn: 'Client no longer has requested consent from user',
  maxReuseExceeded: REFRESH_ERROR.maxReuseExceeded,
} as const);
export type RefreshGrantErrorDescription = (typeof REFRESH_GRANT_ERROR)[keyof typeof REFRESH_GRANT_ERROR];

/** TokenVerifier.RealmUrlCheck's message (step 4). */
export function invalidIssuerDescription(expectedIssuer: string, actualIssuer: string): string {
  return `Invalid token issuer. Expected '${expectedIssuer}', but was '${actualIssuer}'`;
}

export const OAUTH_ERROR = Object.freeze({
  invalidRequest: 'invalid_request',
  invalidGrant: 'invalid_grant',
  invalidScope: 'invalid_scope',
} as const);
export type OAuthErrorCode = (typeof OAUTH_ERROR)[keyof typeof OAUTH_ERROR];

/** The event error Keycloak records for a failed refresh (detail `reason` = description). */
export const REFRESH_GRANT_EVENT_ERROR = 'invalid_token';
/** Every failure of the grant answers this status (mTLS binding failures, not modelled, are 401). */
export const REFRESH_GRANT_FAILURE_STATUS = 400;

/** Token `typ` values a refresh token may carry (TokenUtil). */
export const REFRESH_TOKEN_TYPE = Object.freeze({
  refresh: 'Refresh',
  offline: 'Offline',
} as const);

/** What the caller must do to the stored state when a check fails. */
export const REFRESH_FAILURE_EFFECT = Object.freeze({
  none: 'none',
  /** Back-channel logout of the online user session, if it exists. */
  logoutUserSession: 'logout_user_session',
  /** Remove the offline user session. */
  revokeOfflineSession: 'revoke_offline_session',
  /** Remove this client's session from the user session. */
  removeClientSession: 'remove_client_session',
  /** Detach this client's session from the user session (reuse detection). */
  detachClientSession: 'detach_client_session',
} as const);
export type RefreshFailureEffect = (typeof REFRESH_FAILURE_EFFECT)[keyof typeof REFRESH_FAILURE_EFFECT];

/** Check names, in Keycloak's order. Stable strings: they reach logs and metrics. */
export const REFRESH_CHECK = Object.freeze({
  tokenPresent: 'token_present',
  tokenDecodes: 'token_decodes',
  tokenType: 'token_type',
  issuer: 'issuer',
  realmNotBefore: 'realm_not_before',
  tokenActive: 'token_active',
  tokenClient: 'token_client',
  offlineSessionFound: 'offline_session_found',
  offlineSessionActive: 'offline_session_active',
  sessionActive: 'session_active',
  userExists: 'user_exists',
  userEnabled: 'user_enabled',
  issuedAfterUserSession: 'issued_after_user_session',
  clientSessionFound: 'client_session_found',
  clientSessionActive: 'client_session_active',
  issuedAfterClientSession: 'issued_after_client_session',
  matchingClients: 'matching_clients',
  clientUserNotBefore: 'client_user_not_before',
  offlineAccessGranted: 'offline_access_granted',
  consentGranted: 'consent_granted',
  clientSessionClient: 'client_session_client',
  reuse: 'reuse',
} as const);
export type RefreshCheck = (typeof REFRESH_CHECK)[keyof typeof REFRESH_CHECK];

export interface RefreshCheckStep {
  readonly check: RefreshCheck;
  readonly error: OAuthErrorCode;
  /** null: built at run time (issuer: invalidIssuerDescription; reuse: from checkRefreshReuse). */
  readonly description: RefreshGrantErrorDescription | null;
  readonly effect: RefreshFailureEffect;
}

function step(
  check: RefreshCheck,
  description: RefreshGrantErrorDescription | null,
  effect: RefreshFailureEffect = REFRESH_FAILURE_EFFECT.none,
  error: OAuthErrorCode = OAUTH_ERROR.invalidGrant,
): RefreshCheckStep {
  return Object.freeze({ check, error, description, effect });
}

const E = REFRESH_GRANT_ERROR;
const C = REFRESH_CHECK;
const FX = REFRESH_FAILURE_EFFECT;

/** Keycloak 26.x's refresh-grant checks, in the order it applies them (see the header). */
export const REFRESH_GRANT_CHECKS: readonly RefreshCheckStep[] = Object.freeze([
  step(C.tokenPresent, E.noRefreshToken, FX.none, OAUTH_ERROR.invalidRequest),
  step(C.tokenDecodes, E.invalidRefreshToken),
  step(C.tokenType, E.invalidRefreshToken),
  step(C.issuer, null),
  step(C.realmNotBefore, E.staleToken),
  step(C.tokenActive, E.tokenNotActive),
  step(C.tokenClient, E.clientMismatch),
  step(C.offlineSessionFound, E.offlineSessionNotFound),
  step(C.offlineSessionActive, E.offlineSessionNotActive, FX.revokeOfflineSession),
  step(C.sessionActive, E.sessionNotActive, FX.logoutUserSession),
  step(C.userExists, E.invalidRefreshToken),
  step(C.userEnabled, E.userDisabled),
  step(C.issuedAfterUserSession, E.issuedBeforeUserSession),
  step(C.clientSessionFound, E.sessionMissingClient),
  step(C.clientSessionActive, E.clientSessionNotActive, FX.removeClientSession),
  step(C.issuedAfterClientSession, E.issuedBeforeClientSession),
  step(C.matchingClients, E.unmatchingClients),
  step(C.clientUserNotBefore, E.staleToken),
  step(C.offlineAccessGranted, E.offlineAccessNotGranted),
  step(C.consentGranted, E.consentWithdrawn, FX.none, OAUTH_ERROR.invalidScope),
  step(C.clientSessionClient, E.clientMismatch),
  step(C.reuse, null, FX.detachClientSession),
]);

/**
 * JsonWebToken.isIssuedBeforeSessionStart: one second of tolerance, because a
 * token minted in the same second the session (re)started is legitimate.
 */
export function issuedBeforeSessionStart(issuedAt: number, sessionStarted: number): boolean {
  return issuedAt + 1 < sessionStarted;
}

/**
 * JsonWebToken.isExpired: 0 means "no exp", and a token is still active AT
 * its exp second (unlike sessions, whose max/idle checks are strict).
 */
export function tokenExpired(expiresAt: number, now: number): boolean {
  return expiresAt !== 0 && now > expiresAt;
}

/** The claims of the presented refresh token the checks read. */
export interface RefreshTokenClaims {
  typ: string;
  iss: string;
  iat: number;
  /** 0 = no exp (offline tokens while the realm's offline max is off). */
  exp: number;
  /** The client the token was issued to (clientId, not UUID). */
  azp: string;
  jti: string;
}

export interface RefreshReuseFacts {
  /** The chain stored under refreshChainKey(token.reuse_id); undefined before its first refresh. */
  chain: Readonly<RefreshChain> | undefined;
  maxReuse: number;
  serverStartedAt: number;
  /** iat of the refresh token about to be issued, or null when none is (use.refresh.tokens = false). */
  newIssuedAt: number | null;
}

/**
 * Everything the checks read, looked up by the caller beforehand. Lookups
 * follow Keycloak: the user session is the one with id = token `sid` in the
 * offline store for typ "Offline", the online store otherwise; the client
 * session is that user session's session of the authenticated client.
 */
export interface RefreshGrantFacts {
  now: number;
  /** The `refresh_token` form parameter was sent. */
  tokenPresent: boolean;
  /** The verified claims; null when the token does not decode or its signature fails. */
  token: RefreshTokenClaims | null;
  expectedIssuer: string;
  /** clientId of the client that authenticated at the token endpoint. */
  authorizedClientId: string;
  realmNotBefore: number;
  clientNotBefore: number;
  /** null = not found. invalidReason from validity.ts (userSessionInvalidReason). */
  userSession: { started: number; invalidReason: InvalidReason | null } | null;
  /** null = the session's user no longer exists. */
  user: { enabled: boolean; notBefore: number } | null;
  /** null = the user session holds no session of this client. invalidReason from clientSessionInvalidReason. */
  clientSession: { started: number; invalidReason: InvalidReason | null; clientId: string } | null;
  /** Offline sessions only: the client still has the offline_access scope and the user the role. */
  offlineAccessGranted: boolean;
  /** Consent-required clients only: every consented scope of the token is still granted. */
  consentGranted: boolean;
  /** Present only when the realm has revokeRefreshToken on. */
  reuse: RefreshReuseFacts | null;
}

export interface RefreshGrantFailure {
  ok: false;
  check: RefreshCheck;
  error: OAuthErrorCode;
  description: string;
  effect: RefreshFailureEffect;
}

/** On success, `chain` is the reuse chain to store (null when rotation is off). */
export type RefreshGrantVerdict = { ok: true; chain: RefreshChain | null } | RefreshGrantFailure;

function failed(check: RefreshCheck, description: string | null = null): RefreshGrantFailure {
  const s = REFRESH_GRANT_CHECKS.find((x) => x.check === check)!;
  return { ok: false, check, error: s.error, description: description ?? s.description!, effect: s.effect };
}

/** What the token-only checks (steps 1–7) read: no session state, so the facade runs them. */
export type RefreshTokenFacts = Pick<RefreshGrantFacts, 'now' | 'tokenPresent' | 'token' | 'expectedIssuer' | 'authorizedClientId' | 'realmNotBefore'>;

/** What the session checks (steps 8–22) read: the shard that owns the session gathers them. */
export type RefreshSessionFacts = Omit<RefreshGrantFacts, 'tokenPresent' | 'token' | 'expectedIssuer'> & {
  /** The token's claims the session checks read (typ Offline selects the offline store). */
  token: Pick<RefreshTokenClaims, 'typ' | 'iat' | 'jti' | 'azp'>;
};

/**
 * Steps 1–7: the presented token itself (TokenManager.verifyRefreshToken).
 * `checkExpiry: false` skips step 6, as the refresh-token logout does.
 * Returns the first failure, or null.
 */
export function verifyRefreshToken(f: Readonly<RefreshTokenFacts>, options: { checkExpiry?: boolean } = {}): RefreshGrantFailure | null {
  if (!f.tokenPresent) return failed(C.tokenPresent);
  const t = f.token;
  if (t === null) return failed(C.tokenDecodes);
  if (t.typ !== REFRESH_TOKEN_TYPE.offline && t.typ !== REFRESH_TOKEN_TYPE.refresh) return failed(C.tokenType);
  if (t.iss !== f.expectedIssuer) return failed(C.issuer, invalidIssuerDescription(f.expectedIssuer, t.iss));
  if (isStale(t.iat, f.realmNotBefore)) return failed(C.realmNotBefore);
  if (options.checkExpiry !== false && tokenExpired(t.exp, f.now)) return failed(C.tokenActive);
  if (t.azp !== f.authorizedClientId) return failed(C.tokenClient);
  return null;
}

/**
 * Steps 8–22: the user session, the user, the client session, not-before,
 * offline access, consent and reuse (TokenManager.validateToken and
 * refreshAccessToken). Returns the first failure with the effect the caller
 * must apply, or the reuse chain to store.
 */
export function verifyRefreshSession(f: Readonly<RefreshSessionFacts>): RefreshGrantVerdict {
  const t = f.token;
  const offline = t.typ === REFRESH_TOKEN_TYPE.offline;
  const us = f.userSession;
  if (offline) {
    if (us === null) return failed(C.offlineSessionFound);
    if (us.invalidReason !== null) return failed(C.offlineSessionActive);
  } else if (us === null || us.invalidReason !== null) {
    return failed(C.sessionActive);
  }
  if (f.user === null) return failed(C.userExists);
  if (!f.user.enabled) return failed(C.userEnabled);
  if (issuedBeforeSessionStart(t.iat, us.started)) return failed(C.issuedAfterUserSession);

  const cs = f.clientSession;
  if (cs === null) return failed(C.clientSessionFound);
  if (cs.invalidReason !== null) return failed(C.clientSessionActive);
  if (issuedBeforeSessionStart(t.iat, cs.started)) return failed(C.issuedAfterClientSession);
  if (t.azp !== f.authorizedClientId) return failed(C.matchingClients);
  if (isStale(t.iat, clientCheckNotBefore(f.realmNotBefore, f.clientNotBefore)) || isStale(t.iat, f.user.notBefore)) {
    return failed(C.clientUserNotBefore);
  }
  if (offline && !f.offlineAccessGranted) return failed(C.offlineAccessGranted);
  if (!f.consentGranted) return failed(C.consentGranted);
  if (cs.clientId !== f.authorizedClientId) return failed(C.clientSessionClient);

  if (f.reuse === null) return { ok: true, chain: null };
  const presented: PresentedRefreshToken = { jti: t.jti, iat: t.iat };
  const r = checkRefreshReuse(f.reuse.chain, presented, f.reuse.maxReuse, f.reuse.serverStartedAt, f.reuse.newIssuedAt);
  if (!r.ok) return failed(C.reuse, r.error satisfies RefreshReuseError);
  return { ok: true, chain: r.chain };
}

/**
 * All the checks in Keycloak's order (steps 1–22): the first failure, or the
 * reuse chain to store. Pure: the caller applies `effect` and the chain. In
 * the product the facade runs verifyRefreshToken and the owning shard
 * verifyRefreshSession, which together are exactly this.
 */
export function verifyRefreshGrant(f: Readonly<RefreshGrantFacts>): RefreshGrantVerdict {
  const tokenFailure = verifyRefreshToken(f);
  if (tokenFailure !== null) return tokenFailure;
  return verifyRefreshSession({ ...f, token: f.token! });
}

/** The description a session validity failure produces (steps 9, 10 and 15). */
export function sessionNotActiveDescription(kind: 'user' | 'offline' | 'client'): RefreshGrantErrorDescription {
  if (kind === 'offline') return E.offlineSessionNotActive;
  if (kind === 'client') return E.clientSessionNotActive;
  return E.sessionNotActive;
}
