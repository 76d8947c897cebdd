// Is a token this server issued still good? The checks introspection,
// userinfo and other bearer endpoints share (docs/keycloak-semantics.md#introspection-revocation-userinfo): signature
// with the realm's key, type, expiry, issuer, revoked ids, client,
// not-before, user, and the session behind the token — online or offline
// (the jti's session-type prefix says which, as Keycloak 26.2+ encodes it).

import { OFFLINE_ACCESS_ROLE } from '../../realm/defaults.js';
import type { ClientRecord, RealmRecord, UserRecord } from '../../realm/model.js';
import { effectiveRoles } from '../../realm/roles.js';
import { bearerTokenStale, isStale } from '../../session/not-before.js';
import { issuedBeforeSessionStart, tokenExpired, type RefreshTokenClaims } from '../../session/refresh-checks.js';
import { refreshReuseIntrospectionError } from '../../session/refresh-reuse.js';
import { verifyJwt, type JwtPayload } from '../../tokens/jwt.js';
import type { FacadeContext } from '../context.js';

export type TokenCheck =
  | { active: true; payload: JwtPayload; client: ClientRecord; user: UserRecord; offline: boolean }
  | { active: false; reason: string };

const inactive = (reason: string): TokenCheck => ({ active: false, reason });

/**
 * Checks an access token (typ Bearer) or, with `allowRefresh`, a refresh or
 * offline token (typ Refresh/Offline) of `realm`. Never throws on bad input.
 */
export async function checkToken(
  ctx: FacadeContext,
  realm: RealmRecord,
  issuer: string,
  token: string,
  options: { allowRefresh: boolean },
): Promise<TokenCheck> {
  const verified = verifyJwt(token, (kid) => ctx.keys.verifier(realm.id, kid));
  if (!verified.ok) return inactive(verified.reason);
  const t = verified.payload;
  const typ = t['typ'];
  const isAccess = typ === 'Bearer';
  const isRefresh = typ === 'Refresh' || typ === 'Offline';
  if (!isAccess && !(options.allowRefresh && isRefresh)) return inactive('token_type');
  if (isAccess && verified.header.alg === 'HS512') return inactive('token_type');
  const now = ctx.clock.nowSeconds();
  const iat = typeof t['iat'] === 'number' ? t['iat'] : 0;
  const exp = typeof t['exp'] === 'number' ? t['exp'] : 0;
  if (isAccess && exp === 0) return inactive('no_exp');
  if (tokenExpired(exp, now)) return inactive('expired');
  if (t['iss'] !== issuer) return inactive('issuer');
  const jti = typeof t['jti'] === 'string' ? t['jti'] : '';
  if (isAccess && ctx.revoked.isRevoked(jti, now)) return inactive('revoked');
  const client = typeof t['azp'] === 'string' ? ctx.store.clientByClientId(realm.id, t['azp']) : undefined;
  if (client === undefined || !client.enabled) return inactive('client');
  if (isStale(iat, realm.sessions.notBefore) && isRefresh) return inactive('not_before');
  const sub = typeof t['sub'] === 'string' ? t['sub'] : '';
  const user = ctx.store.userById(sub);
  if (user === undefined || !user.enabled) return inactive('user');
  const userNotBefore = Math.max(user.notBefore, ctx.engine.notBefore(realm.id, undefined, user.id).user);
  if (bearerTokenStale(iat, { realm: realm.sessions.notBefore, client: client.notBefore, user: userNotBefore })) return inactive('not_before');

  const sid = typeof t['sid'] === 'string' ? t['sid'] : null;
  const offline = typ === 'Offline' || (isAccess && jti.startsWith('of'));
  if (sid === null) {
    // Only transient tokens (client_credentials without a session) may have no sid.
    return isAccess && jti.startsWith('tr') ? { active: true, payload: t, client, user, offline: false } : inactive('no_session');
  }
  const got = offline ? await ctx.engine.getOfflineSession(sid) : await ctx.engine.getSession(sid);
  if (got === null) return inactive('session_not_found');
  if (got.invalid !== null) return inactive('session_invalid');
  if (issuedBeforeSessionStart(iat, got.session.started)) return inactive('before_session');
  const clientSession = got.session.clients.find((c) => c.client === client.id);
  if (clientSession === undefined) return inactive('client_session_not_found');
  if (got.clientsInvalid[client.id] !== null && got.clientsInvalid[client.id] !== undefined) return inactive('client_session_invalid');
  if (issuedBeforeSessionStart(iat, clientSession.started)) return inactive('before_client_session');
  if (offline && !effectiveRoles(ctx.store, realm.id, user).realm.has(OFFLINE_ACCESS_ROLE)) return inactive('offline_access');
  if (isRefresh && realm.sessions.revokeRefreshToken) {
    const reuseId = typeof t['reuse_id'] === 'string' ? t['reuse_id'] : '';
    const chain = await ctx.engine.refreshChain(sid, client.id, reuseId, offline);
    if (refreshReuseIntrospectionError(chain, { jti, iat }, realm.sessions.refreshTokenMaxReuse, ctx.engine.formedAt) !== null) {
      return inactive('reuse');
    }
  }
  return { active: true, payload: t, client, user, offline };
}

/** The claims of a verified refresh token the checks read (absent ones as Keycloak reads them: empty, 0). */
export function refreshClaims(t: Record<string, unknown>): RefreshTokenClaims {
  const text = (key: string): string => (typeof t[key] === 'string' ? (t[key] as string) : '');
  const time = (key: string): number => (typeof t[key] === 'number' ? (t[key] as number) : 0);
  return { typ: text('typ'), iss: String(t['iss']), iat: time('iat'), exp: time('exp'), azp: text('azp'), jti: text('jti') };
}
