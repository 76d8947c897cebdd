// Refresh-token rotation and reuse detection (docs/keycloak-semantics.md#refresh-token-rotation, Keycloak 25+;
// TokenManager.validateTokenReuse / validateTokenReuseForRefresh and
// AccessTokenResponseBuilder.generateRefreshToken in 26.x).
// With realm `revokeRefreshToken` on, each token chain (claim `reuse_id`, a
// new random id per login or code exchange, copied on refresh) keeps, in its
// client session: the last token id used, how often it was used, and the iat
// of the last refresh. Chains are keyed by the reuse_id (refreshChainKey), so
// two tabs or two logins never see each other's counters. Checks on refresh
// with token T:
//
//   1. stored id set, T.jti ≠ stored id, T.iat < lastRefresh, and the server
//      started no later than lastRefresh           ⇒ "Stale token"
//   2. T.jti ≠ stored id                            ⇒ stored id = T.jti, count = 0
//   3. count > refreshTokenMaxReuse                 ⇒ "Maximum allowed refresh token reuse exceeded"
//   4. success: count += 1; lastRefresh = iat of the NEW refresh token, which
//      Keycloak writes only when it issues one (use.refresh.tokens = true).
//
// The server-start condition in rule 1 exists because a chain's notes can
// outlive a restart while its tokens were minted by the previous process:
// after a restart a replay is not provably stale, so Keycloak falls through to
// the use counter. A token may therefore be used refreshTokenMaxReuse + 1
// times. On any failure the caller detaches the client session from its user
// session (all of that client's tokens in that SSO session die).

export const REFRESH_ERROR = Object.freeze({
  staleToken: 'Stale token',
  maxReuseExceeded: 'Maximum allowed refresh token reuse exceeded',
} as const);
export type RefreshReuseError = (typeof REFRESH_ERROR)[keyof typeof REFRESH_ERROR];

export interface RefreshChain {
  /** jti of the last token used in this chain; null before the first refresh. */
  tokenId: string | null;
  useCount: number;
  /** iat (epoch s) of the last refresh in this chain; 0 before the first. */
  lastRefresh: number;
}

export const EMPTY_CHAIN: Readonly<RefreshChain> = Object.freeze({ tokenId: null, useCount: 0, lastRefresh: 0 });

export interface PresentedRefreshToken {
  jti: string;
  iat: number;
}

export type RefreshReuseResult =
  | { ok: true; chain: RefreshChain }
  | { ok: false; error: RefreshReuseError };

/**
 * The key a chain is stored under: the token's `reuse_id` claim as a string,
 * or "" for tokens without one (TokenManager.getReuseIdKey).
 */
export function refreshChainKey(reuseId: unknown): string {
  return reuseId === undefined || reuseId === null ? '' : String(reuseId);
}

function staleReplay(current: Readonly<RefreshChain>, token: PresentedRefreshToken, serverStartedAt: number): boolean {
  return (
    current.tokenId !== null &&
    token.jti !== current.tokenId &&
    token.iat < current.lastRefresh &&
    serverStartedAt <= current.lastRefresh
  );
}

/**
 * Applies the rules to a chain for the refresh_token grant. On success the
 * returned chain is the one to store (use counted; lastRefresh = newIssuedAt,
 * or unchanged when `newIssuedAt` is null because no new refresh token is
 * issued, i.e. the client has use.refresh.tokens = false). The input is never
 * mutated.
 */
export function checkRefreshReuse(
  chain: Readonly<RefreshChain> | undefined,
  token: PresentedRefreshToken,
  maxReuse: number,
  serverStartedAt: number,
  newIssuedAt: number | null,
): RefreshReuseResult {
  const current = chain ?? EMPTY_CHAIN;
  if (staleReplay(current, token, serverStartedAt)) return { ok: false, error: REFRESH_ERROR.staleToken };
  let useCount = current.useCount;
  if (token.jti !== current.tokenId) useCount = 0;
  if (useCount > maxReuse) return { ok: false, error: REFRESH_ERROR.maxReuseExceeded };
  return {
    ok: true,
    chain: {
      tokenId: token.jti,
      useCount: useCount + 1,
      lastRefresh: newIssuedAt === null ? current.lastRefresh : newIssuedAt,
    },
  };
}

/**
 * The same rules read-only, as introspection applies them
 * (validateTokenReuse with refreshFlag = false): a token that is not the
 * chain's current one and not a stale replay passes without touching the
 * counter; the current one fails once its count exceeds maxReuse.
 * null = acceptable.
 */
export function refreshReuseIntrospectionError(
  chain: Readonly<RefreshChain> | undefined,
  token: PresentedRefreshToken,
  maxReuse: number,
  serverStartedAt: number,
): RefreshReuseError | null {
  const current = chain ?? EMPTY_CHAIN;
  if (staleReplay(current, token, serverStartedAt)) return REFRESH_ERROR.staleToken;
  if (token.jti !== current.tokenId) return null;
  return current.useCount > maxReuse ? REFRESH_ERROR.maxReuseExceeded : null;
}
