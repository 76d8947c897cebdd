// The endpoints around tokens: introspection (RFC 7662, docs/keycloak-semantics.md#introspection-revocation-userinfo),
// revocation (RFC 7009, §6.5), userinfo (GET/POST bearer) and the
// non-browser logout with a refresh token (§4.2), plus discovery and JWKS.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { END_REASON } from '../../protocol/actor-messages.js';
import { SIGNATURE_ALGORITHMS } from '../../realm/model.js';
import { issuedBeforeSessionStart, REFRESH_GRANT_ERROR, verifyRefreshToken } from '../../session/refresh-checks.js';
import { refreshClaims } from './token-checks.js';
import { verifyJwt } from '../../tokens/jwt.js';
import type { FacadeContext } from '../context.js';
import { OAuthError, insufficientScope, invalidRequest, invalidToken } from './oauth-error.js';
import { allowAnyOrigin, allowTokenOrigins } from './cors.js';
import { authenticateClient, field, ipOf, issuerOf, realmOf, requireFormBody, type FormBody } from './request-context.js';
import { checkToken } from './token-checks.js';
import { INTROSPECT_BODY, REVOKE_BODY, USERINFO_BODY } from '../schemas/oidc.js';

const PATH = '/realms/:realm/protocol/openid-connect';

export function registerTokenEndpoints(app: FastifyInstance, ctx: FacadeContext): void {
  // ---------------------------------------------------------------- discovery
  app.get('/realms/:realm/.well-known/openid-configuration', async (request) => {
    allowAnyOrigin(request);
    const realm = realmOf(ctx, request);
    const issuer = issuerOf(ctx, request, realm);
    const oidc = `${issuer}/protocol/openid-connect`;
    return {
      issuer,
      authorization_endpoint: `${oidc}/auth`,
      token_endpoint: `${oidc}/token`,
      introspection_endpoint: `${oidc}/token/introspect`,
      userinfo_endpoint: `${oidc}/userinfo`,
      end_session_endpoint: `${oidc}/logout`,
      jwks_uri: `${oidc}/certs`,
      revocation_endpoint: `${oidc}/revoke`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'password', 'client_credentials'],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...SIGNATURE_ALGORITHMS],
      userinfo_signing_alg_values_supported: ['none'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      claims_supported: ['aud', 'sub', 'iss', 'auth_time', 'name', 'given_name', 'family_name', 'preferred_username', 'email', 'email_verified', 'acr', 'sid'],
      claim_types_supported: ['normal'],
      claims_parameter_supported: false,
      scopes_supported: ['openid', 'profile', 'email', 'offline_access', 'address', 'phone', 'roles', 'web-origins', 'acr', 'basic'],
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      code_challenge_methods_supported: ['plain', 'S256'],
      tls_client_certificate_bound_access_tokens: false,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
      frontchannel_logout_supported: false,
      frontchannel_logout_session_supported: false,
      authorization_response_iss_parameter_supported: true,
    };
  });

  app.get(`${PATH}/certs`, async (request, reply) => {
    allowAnyOrigin(request);
    const realm = realmOf(ctx, request);
    void reply.header('cache-control', 'no-cache');
    return { keys: ctx.keys.jwks(realm.id) };
  });

  // ---------------------------------------------------------- introspection
  app.post(`${PATH}/token/introspect`, { schema: { body: INTROSPECT_BODY }, preValidation: requireFormBody }, async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    const realm = realmOf(ctx, request);
    const body = (request.body ?? {}) as FormBody;
    const client = authenticateClient(ctx, request, realm, body);
    if (client.publicClient) throw new OAuthError(403, 'invalid_request', 'Client not allowed.');
    const token = field(body, 'token');
    if (token === undefined || token === '') throw invalidRequest('Token not provided.');
    const checked = await checkToken(ctx, realm, issuerOf(ctx, request, realm), token, { allowRefresh: true });
    ctx.events.emit({ type: 'INTROSPECT_TOKEN', realmId: realm.id, clientId: client.clientId, userId: checked.active ? checked.user.id : null, sessionId: null, ipAddress: ipOf(request), error: checked.active ? null : 'invalid_token', details: {} });
    if (!checked.active) return { active: false };
    const p = checked.payload;
    return {
      ...p,
      client_id: p['azp'],
      username: checked.user.username,
      token_type: p['typ'] === 'Bearer' ? 'Bearer' : p['typ'],
      active: true,
    };
  });

  // ------------------------------------------------------------- revocation
  app.post(`${PATH}/revoke`, { schema: { body: REVOKE_BODY }, preValidation: requireFormBody }, async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    const realm = realmOf(ctx, request);
    const body = (request.body ?? {}) as FormBody;
    const client = authenticateClient(ctx, request, realm, body);
    const token = field(body, 'token');
    if (token === undefined || token === '') throw invalidRequest('Token not provided');
    const verified = verifyJwt(token, (kid) => ctx.keys.verifier(realm.id, kid));
    // RFC 7009 §2.2: an invalid or unknown token is answered 200 all the same.
    if (!verified.ok) return reply.code(200).send({ error: 'invalid_token', error_description: 'Invalid token' });
    const t = verified.payload;
    if (t['typ'] !== 'Bearer' && t['typ'] !== 'Refresh' && t['typ'] !== 'Offline') {
      throw new OAuthError(400, 'unsupported_token_type', 'Unsupported token type');
    }
    if (typeof t['azp'] !== 'string') return reply.code(200).send({ error: 'invalid_token', error_description: 'Invalid token' });
    if (t['azp'] !== client.clientId) throw invalidRequest('Unmatching clients');
    const now = ctx.clock.nowSeconds();
    const typ = t['typ'];
    const sid = typeof t['sid'] === 'string' ? t['sid'] : null;
    if (typ === 'Bearer') {
      const jti = typeof t['jti'] === 'string' ? t['jti'] : '';
      const exp = typeof t['exp'] === 'number' ? t['exp'] : now;
      if (jti !== '') await ctx.revoked.revoke(jti, exp, now);
      ctx.events.emit({ type: 'REVOKE_GRANT', realmId: realm.id, clientId: client.clientId, userId: typeof t['sub'] === 'string' ? t['sub'] : null, sessionId: sid, ipAddress: ipOf(request), error: null, details: { token_id: jti } });
      return reply.code(200).send();
    }
    if ((typ === 'Refresh' || typ === 'Offline') && sid !== null) {
      if (typ === 'Offline') await ctx.engine.removeOfflineClient(sid, client.id, END_REASON.revoked);
      const detached = await ctx.engine.detachClient(sid, client.id, { removeIfEmpty: true });
      if (detached.ended !== null) ctx.metrics.sessionsRevoked.inc({ realm: realm.name, cause: 'revocation' });
      ctx.events.emit({ type: 'REVOKE_GRANT', realmId: realm.id, clientId: client.clientId, userId: typeof t['sub'] === 'string' ? t['sub'] : null, sessionId: sid, ipAddress: ipOf(request), error: null, details: { revoked_client: client.clientId, refresh_token_id: String(t['jti'] ?? ''), refresh_token_type: String(typ) } });
    }
    return reply.code(200).send();
  });

  // --------------------------------------------------------------- userinfo
  const userinfo = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const realm = realmOf(ctx, request);
    const header = request.headers.authorization;
    let token: string | undefined;
    if (typeof header === 'string' && /^bearer /i.test(header)) token = header.slice(7).trim();
    else if (request.method === 'POST') token = field((request.body ?? {}) as FormBody, 'access_token');
    if (token === undefined || token === '') {
      throw new OAuthError(401, 'invalid_request', 'Token not provided', { 'www-authenticate': `Bearer realm="${realm.name}"` });
    }
    const checked = await checkToken(ctx, realm, issuerOf(ctx, request, realm), token, { allowRefresh: false });
    if (!checked.active) {
      ctx.events.emit({ type: 'USER_INFO_REQUEST_ERROR', realmId: realm.id, clientId: null, userId: null, sessionId: null, ipAddress: ipOf(request), error: 'invalid_token', details: { reason: checked.reason } });
      throw invalidToken('Token verification failed', realm.name);
    }
    const p = checked.payload;
    allowTokenOrigins(request, p['allowed-origins']);
    const scopes = new Set(String(p['scope'] ?? '').split(' '));
    // Keycloak 19.0.2+: UserInfo is OIDC only; a token without the openid scope gets 403 insufficient_scope.
    if (!scopes.has('openid')) {
      ctx.events.emit({ type: 'USER_INFO_REQUEST_ERROR', realmId: realm.id, clientId: String(p['azp'] ?? ''), userId: checked.user.id, sessionId: null, ipAddress: ipOf(request), error: 'access_denied', details: { reason: 'Missing openid scope' } });
      throw insufficientScope('Missing openid scope', realm.name);
    }
    const user = checked.user;
    const out: Record<string, unknown> = { sub: user.id };
    if (scopes.has('email')) out['email_verified'] = user.emailVerified;
    if (scopes.has('profile')) {
      const name = [user.firstName, user.lastName].filter((x) => x !== null && x !== '').join(' ');
      if (name !== '') out['name'] = name;
      out['preferred_username'] = user.username;
      if (user.firstName !== null) out['given_name'] = user.firstName;
      if (user.lastName !== null) out['family_name'] = user.lastName;
    }
    if (scopes.has('email') && user.email !== null) out['email'] = user.email;
    void reply.header('cache-control', 'no-store');
    return out;
  };
  app.get(`${PATH}/userinfo`, userinfo);
  app.post(`${PATH}/userinfo`, { schema: { body: USERINFO_BODY } }, userinfo);

}


/**
 * POST .../logout with a `refresh_token` form field and client authentication
 * (docs/keycloak-semantics.md#logout, non-browser): ends the whole user session (back-channel
 * logout of its clients); 204, also when the session is already gone. The
 * token's expiry is not checked; its iat must not precede the session.
 */
export async function refreshTokenLogout(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  await requireFormBody(request);
  const body = (request.body ?? {}) as FormBody;
  const realm = realmOf(ctx, request);
  const client = authenticateClient(ctx, request, realm, body);
  const verified = verifyJwt(field(body, 'refresh_token') ?? '', (kid) => ctx.keys.verifier(realm.id, kid));
  const t = verified.ok ? verified.payload : {};
  const issuer = issuerOf(ctx, request, realm);
  // TokenManager.verifyRefreshToken without the expiry check: type, issuer, realm not-before, client.
  const failure = verifyRefreshToken(
    { now: ctx.clock.nowSeconds(), tokenPresent: true, token: verified.ok ? refreshClaims(t) : null, expectedIssuer: issuer, authorizedClientId: client.clientId, realmNotBefore: realm.sessions.notBefore },
    { checkExpiry: false },
  );
  if (failure !== null) throw new OAuthError(400, failure.error, failure.description);
  const iat = refreshClaims(t).iat;
  const sid = typeof t['sid'] === 'string' ? t['sid'] : '';
  // An offline token logs out its offline session, and the online one of the
  // same id with it (AuthenticationManager.backchannelLogout with offline =
  // true); back-channel logouts go to the offline session's clients.
  const offline = t['typ'] === 'Offline';
  const got = offline ? await ctx.engine.getOfflineSession(sid) : await ctx.engine.getSession(sid);
  if (got !== null) {
    if (issuedBeforeSessionStart(iat, got.session.started)) throw new OAuthError(400, 'invalid_grant', REFRESH_GRANT_ERROR.issuedBeforeUserSession);
    let ended = offline ? await ctx.engine.removeOfflineSession(sid, END_REASON.logout) : null;
    const online = await ctx.engine.logoutSession(sid, END_REASON.logout);
    ended ??= online;
    if (ended !== null) {
      ctx.backchannel.notify(realm.id, issuer, [ended], ctx.clock.nowSeconds());
      ctx.metrics.sessionsRevoked.inc({ realm: realm.name, cause: 'logout' });
      ctx.events.emit({ type: 'LOGOUT', realmId: realm.id, clientId: client.clientId, userId: ended.session.userId, sessionId: sid, ipAddress: ipOf(request), error: null, details: {} });
    }
  }
  return reply.code(204).send();
}
