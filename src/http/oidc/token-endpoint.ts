// POST /realms/{realm}/protocol/openid-connect/token (docs/keycloak-semantics.md#grants):
// authenticate the client, then the grant — password, authorization_code
// (+PKCE), refresh_token (rotation, reuse detection, not-before) or
// client_credentials — then sign the tokens. Each grant is a list of named
// steps; failures are OAuthErrors with Keycloak's exact error_description.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EngineError } from '../../errors.js';
import type { EndedSession, SessionView } from '../../protocol/actor-messages.js';
import { OFFLINE_ACCESS_ROLE, serviceAccountUsername } from '../../realm/defaults.js';
import type { ClientRecord, RealmRecord, UserRecord } from '../../realm/model.js';
import { effectiveRoles } from '../../realm/roles.js';
import { clientSessionSettings } from '../../session/client-settings.js';
import { OAUTH_ERROR, REFRESH_GRANT_ERROR, verifyRefreshToken } from '../../session/refresh-checks.js';
import { CLIENT_SESSION_NOTE } from '../../logout/backchannel-logout.js';
import { refreshClaims } from './token-checks.js';
import { verifyJwt } from '../../tokens/jwt.js';
import type { IssuedTokens } from '../../tokens/token-service.js';
import type { FacadeContext } from '../context.js';
import { OAuthError, invalidGrant, invalidRequest, notAllowed, unauthorizedClient, unsupportedGrantType } from './oauth-error.js';
import { isPasswordGrant, loginRateLimitConfig, tooManyAttempts } from './login-rate-limit.js';
import { authenticatePassword, loginSucceeded } from './password-login.js';
import { authenticateClient, field, ipOf, issuerOf, realmOf, requireFormBody, type FormBody } from './request-context.js';
import { grantScope, narrowScope } from './scope.js';
import { TOKEN_BODY } from '../schemas/oidc.js';

export const GRANT = Object.freeze({
  password: 'password',
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  clientCredentials: 'client_credentials',
});

const SUPPORTED_GRANTS = new Set<string>(Object.values(GRANT));

/** An adapter's host: a DNS name, IPv4 or bracketed IPv6 address, and an optional port. */
const ADAPTER_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** PKCE code_verifier: 43-128 unreserved characters (RFC 7636 §4.1). */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

interface GrantContext {
  ctx: FacadeContext;
  request: FastifyRequest;
  realm: RealmRecord;
  client: ClientRecord;
  body: FormBody;
  issuer: string;
  now: number;
}

export function registerTokenEndpoint(app: FastifyInstance, ctx: FacadeContext): void {
  const limit = loginRateLimitConfig(ctx, isPasswordGrant);
  app.post('/realms/:realm/protocol/openid-connect/token', { schema: { body: TOKEN_BODY }, preValidation: requireFormBody, config: limit }, async (request, reply) => {
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const realm = realmOf(ctx, request);
    const body = (request.body ?? {}) as FormBody;
    const grantType = field(body, 'grant_type');
    let outcome = 'error';
    const started = process.hrtime.bigint();
    try {
      if (grantType === undefined || grantType === '') throw invalidRequest('Missing form parameter: grant_type');
      const client = authenticateClient(ctx, request, realm, body);
      if (!SUPPORTED_GRANTS.has(grantType)) throw unsupportedGrantType();
      const g: GrantContext = { ctx, request, realm, client, body, issuer: issuerOf(ctx, request, realm), now: ctx.clock.nowSeconds() };
      let result: Record<string, unknown>;
      switch (grantType) {
        case GRANT.password:
          result = await passwordGrant(g);
          break;
        case GRANT.authorizationCode:
          result = await authorizationCodeGrant(g);
          break;
        case GRANT.refreshToken:
          result = await refreshTokenGrant(g);
          break;
        default:
          result = await clientCredentialsGrant(g);
          break;
      }
      outcome = 'success';
      return result;
    } finally {
      const grant = SUPPORTED_GRANTS.has(grantType ?? '') ? grantType! : 'unsupported';
      ctx.metrics.tokenRequests.inc({ realm: realm.name, grant_type: grant, outcome });
      ctx.metrics.tokenDuration.observe({ realm: realm.name, grant_type: grant }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });
}

// ---------------------------------------------------------------------------
// password

async function passwordGrant(g: GrantContext): Promise<Record<string, unknown>> {
  const { ctx, realm, client, body, request } = g;
  if (!client.directAccessGrantsEnabled) throw unauthorizedClient('Client not allowed for direct access grants');
  const username = field(body, 'username') ?? '';
  const password = field(body, 'password') ?? '';
  const ip = ipOf(request);
  const login = await authenticatePassword(ctx, realm, { username, password, ip, emptyPasswordCounts: true });
  if (login.outcome === 'busy') throw tooManyAttempts(1);
  if (login.outcome !== 'success') {
    // Keycloak's ValidateUsername / ValidatePassword: a locked user gets the wrong password's answer.
    const error = login.outcome === 'locked' ? login.error : login.user === undefined ? 'user_not_found' : 'invalid_user_credentials';
    ctx.metrics.logins.inc({ realm: realm.name, outcome: 'failure' });
    ctx.events.emit({ type: 'LOGIN_ERROR', realmId: realm.id, clientId: client.clientId, userId: login.user?.id ?? null, sessionId: null, ipAddress: ip, error, details: { auth_method: 'openid-connect', grant_type: GRANT.password, username } });
    throw invalidGrant('Invalid user credentials', 401);
  }
  const user = login.user;
  if (!user.enabled) {
    ctx.metrics.logins.inc({ realm: realm.name, outcome: 'failure' });
    ctx.events.emit({ type: 'LOGIN_ERROR', realmId: realm.id, clientId: client.clientId, userId: user.id, sessionId: null, ipAddress: ip, error: 'user_disabled', details: { username } });
    throw invalidGrant('Account disabled');
  }
  if (user.requiredActions.length > 0) {
    ctx.metrics.logins.inc({ realm: realm.name, outcome: 'failure' });
    ctx.events.emit({ type: 'LOGIN_ERROR', realmId: realm.id, clientId: client.clientId, userId: user.id, sessionId: null, ipAddress: ip, error: 'resolve_required_actions', details: { username } });
    throw invalidGrant('Account is not fully set up');
  }
  const granted = grantScope(client, field(body, 'scope'));
  const roles = effectiveRoles(ctx.store, realm.id, user);
  if (granted.offline) requireOfflineAccess(client, roles.realm);
  const created = await createSessionOrFail(g, user, granted.scope);
  await loginSucceeded(ctx, realm, login);
  const session = created.session;
  ctx.backchannel.notify(realm.id, g.issuer, created.ended, g.now);
  let tokenSession: SessionView = session;
  if (granted.offline) {
    tokenSession = await ctx.engine.grantOffline(session.id, client.id, granted.scope);
    // Keycloak 26.1+: an offline token request by the password grant drops the online session.
    await ctx.engine.logoutSession(session.id, 'last_client_detached');
  }
  const issued = await issue(g, user, roles, tokenSession, granted.scope, GRANT.password, granted.offline, { reuseId: newReuseId(realm) });
  ctx.metrics.logins.inc({ realm: realm.name, outcome: 'success' });
  ctx.events.emit({
    type: 'LOGIN',
    realmId: realm.id,
    clientId: client.clientId,
    userId: user.id,
    sessionId: session.id,
    ipAddress: ip,
    error: null,
    details: { auth_method: 'openid-connect', grant_type: GRANT.password, username: user.username, token_id: issued.accessJti, scope: granted.scope, ...(issued.refreshJti !== null ? { refresh_token_id: issued.refreshJti, refresh_token_type: granted.offline ? 'Offline' : 'Refresh' } : {}) },
  });
  return issued.body;
}

function requireOfflineAccess(client: ClientRecord, realmRoles: Set<string>): void {
  const clientAllows = client.optionalClientScopes.includes('offline_access') || client.defaultClientScopes.includes('offline_access');
  if (!clientAllows || !realmRoles.has(OFFLINE_ACCESS_ROLE)) throw notAllowed('Offline tokens not allowed for the user or client');
}

async function createSessionOrFail(g: GrantContext, user: UserRecord, scope: string): Promise<{ session: SessionView; ended: EndedSession[] }> {
  try {
    return await g.ctx.engine.createSession({
      realm: g.realm.id,
      userId: user.id,
      username: user.username,
      ip: ipOf(g.request),
      authMethod: 'openid-connect',
      rememberMe: false,
      client: { client: g.client.id, scope },
      limits: g.realm.userSessionLimits,
    });
  } catch (err) {
    if (err instanceof EngineError && err.code === 'ERR_SESSION_LIMIT') {
      g.ctx.events.emit({ type: 'LOGIN_ERROR', realmId: g.realm.id, clientId: g.client.clientId, userId: user.id, sessionId: null, ipAddress: ipOf(g.request), error: 'generic_authentication_error', details: { reason: 'session_limit' } });
      throw new OAuthError(403, 'access_denied', 'Maximum number of sessions reached');
    }
    throw err;
  }
}

function newReuseId(realm: RealmRecord): string | null {
  return realm.sessions.revokeRefreshToken ? randomUUID() : null;
}

async function issue(
  g: GrantContext,
  user: UserRecord,
  roles: ReturnType<typeof effectiveRoles>,
  session: SessionView | null,
  scope: string,
  grantType: string,
  offline: boolean,
  extra: { reuseId?: string | null; nonce?: string | null; ssoAuth?: boolean } = {},
): Promise<IssuedTokens> {
  // Tokens are minted now, after the credential check and the session write:
  // with the `now` of the request's start, a slow hash (a busy pool) could
  // give a token an iat more than a second before the session it belongs to
  // started, and every refresh of it would fail ("Refresh token issued before
  // the user session started").
  g.now = Math.max(g.now, g.ctx.clock.nowSeconds());
  const clientSession = session === null ? null : (session.clients.find((c) => c.client === g.client.id) ?? null);
  const useRefresh = clientSessionSettings(g.client.attributes).useRefreshTokens;
  return g.ctx.tokens.issue({
    realm: g.realm,
    client: g.client,
    user,
    roles,
    issuer: g.issuer,
    now: g.now,
    grantType,
    scope,
    session,
    clientSession,
    offline,
    nonce: extra.nonce ?? null,
    reuseId: extra.reuseId ?? null,
    withRefreshToken: useRefresh && session !== null,
    ssoAuth: extra.ssoAuth === true,
    userNotBefore: Math.max(user.notBefore, g.ctx.engine.notBefore(g.realm.id, undefined, user.id).user),
  });
}

// ---------------------------------------------------------------------------
// authorization_code

async function authorizationCodeGrant(g: GrantContext): Promise<Record<string, unknown>> {
  const { ctx, realm, client, body, request } = g;
  const code = field(body, 'code');
  if (code === undefined || code === '') throw invalidRequest('Missing parameter: code');
  const dot = code.lastIndexOf('.');
  const sessionId = dot > 0 ? code.slice(dot + 1) : '';
  const data = sessionId === '' ? null : await ctx.engine.takeCode(sessionId, code.slice(0, dot));
  const codeError = (error: string, description: string): OAuthError => {
    ctx.events.emit({ type: 'CODE_TO_TOKEN_ERROR', realmId: realm.id, clientId: client.clientId, userId: null, sessionId: sessionId || null, ipAddress: ipOf(request), error, details: {} });
    return invalidGrant(description);
  };
  if (data === null) {
    // A used (or unknown) code for a live session: Keycloak's AuthorizationCodeGrantType detaches
    // the client session, since a replayed code means it may have been stolen.
    if (sessionId !== '') await ctx.engine.detachClient(sessionId, client.id);
    throw codeError('invalid_code', 'Code not valid');
  }
  if (g.now > data.exp) throw codeError('expired_code', 'Code is expired');
  // Keycloak's order (OAuth2CodeParser, AuthorizationCodeGrantType.process):
  // session, user, redirect_uri, client, standard flow, session validity, then
  // PKCE (PkceUtils). A code whose session is gone is "Code not valid".
  const got = await ctx.engine.validate(sessionId, client.id);
  if (got.session === null) throw codeError('invalid_code', 'Code not valid');
  const user = ctx.store.userById(got.session.userId);
  if (user === undefined) throw codeError('user_not_found', 'User not found');
  if (!user.enabled) throw codeError('user_disabled', 'User disabled');
  const redirectUri = field(body, 'redirect_uri');
  if (redirectUri !== data.redirectUri) throw codeError('invalid_redirect_uri', 'Incorrect redirect_uri');
  if (data.client !== client.id) throw codeError('invalid_client', 'Auth error');
  if (!client.standardFlowEnabled) throw codeError('not_allowed', 'Client not allowed to exchange code');
  if (!got.valid) throw codeError('session_expired', REFRESH_GRANT_ERROR.sessionNotActive);
  checkPkce(data.codeChallenge, data.codeChallengeMethod, field(body, 'code_verifier'), (error, description) => codeError(error, description));
  // Code to token moves both idle clocks (docs/keycloak-semantics.md#what-moves-the-idle-clocks).
  const notes = adapterSessionNotes(body);
  const session = await ctx.engine.attachClient(sessionId, realm.id, { client: client.id, scope: data.scope, ssoAuth: data.ssoAuth, ...(notes !== null ? { notes } : {}) }, { touchUser: true });
  const roles = effectiveRoles(ctx.store, realm.id, user);
  const granted = grantScope(client, data.scope);
  let tokenSession: SessionView = session;
  if (granted.offline) {
    requireOfflineAccess(client, roles.realm);
    tokenSession = await ctx.engine.grantOffline(sessionId, client.id, granted.scope);
  }
  const issued = await issue(g, user, roles, tokenSession, granted.scope, GRANT.authorizationCode, granted.offline, { reuseId: newReuseId(realm), nonce: data.nonce, ssoAuth: data.ssoAuth });
  ctx.events.emit({ type: 'CODE_TO_TOKEN', realmId: realm.id, clientId: client.clientId, userId: user.id, sessionId, ipAddress: ipOf(request), error: null, details: { token_id: issued.accessJti, grant_type: GRANT.authorizationCode, ...(issued.refreshJti !== null ? { refresh_token_id: issued.refreshJti } : {}) } });
  return issued.body;
}

// ---------------------------------------------------------------------------
// refresh_token


async function refreshTokenGrant(g: GrantContext): Promise<Record<string, unknown>> {
  const { ctx, realm, client, body, request } = g;
  const fail = (description: string, userId: string | null = null, sessionId: string | null = null, error = 'invalid_token'): OAuthError => {
    ctx.events.emit({ type: 'REFRESH_TOKEN_ERROR', realmId: realm.id, clientId: client.clientId, userId, sessionId, ipAddress: ipOf(request), error, details: { reason: description, grant_type: GRANT.refreshToken } });
    return invalidGrant(description);
  };
  const encoded = field(body, 'refresh_token');
  const verified = encoded === undefined || encoded === '' ? null : verifyJwt(encoded, (kid) => ctx.keys.verifier(realm.id, kid));
  const t = verified?.ok === true ? verified.payload : {};
  const claims = refreshClaims(t);
  // Steps 1–7 of src/session/refresh-checks.ts; the owning shard runs the rest.
  const tokenFailure = verifyRefreshToken({
    now: g.now,
    tokenPresent: verified !== null,
    token: verified?.ok === true ? claims : null,
    expectedIssuer: g.issuer,
    authorizedClientId: client.clientId,
    realmNotBefore: realm.sessions.notBefore,
  });
  if (tokenFailure !== null) {
    if (tokenFailure.error === OAUTH_ERROR.invalidRequest) throw invalidRequest(tokenFailure.description);
    throw fail(tokenFailure.description);
  }
  const { typ, iat } = claims;
  const sid = typeof t['sid'] === 'string' ? t['sid'] : '';
  const sub = typeof t['sub'] === 'string' ? t['sub'] : '';
  const jti = claims.jti;
  const reuseId = typeof t['reuse_id'] === 'string' ? t['reuse_id'] : '';
  const originalScope = typeof t['scope'] === 'string' ? t['scope'] : '';
  const scope = narrowScope(originalScope, field(body, 'scope'));
  const offline = typ === 'Offline';
  const user = ctx.store.userById(sub);
  const roles = user === undefined ? null : effectiveRoles(ctx.store, realm.id, user);
  const input = {
    sessionId: sid,
    realm: realm.id,
    client: client.id,
    userId: sub,
    token: { jti, iat, reuseId },
    user: user === undefined ? null : { enabled: user.enabled, notBefore: user.notBefore },
  };
  const result = offline
    ? await ctx.engine.refreshOffline({ ...input, offlineAccess: roles !== null && roles.realm.has(OFFLINE_ACCESS_ROLE) })
    : await ctx.engine.refresh(input);
  if (!result.ok) {
    if (result.ended !== null && !offline) ctx.backchannel.notify(realm.id, g.issuer, [result.ended], g.now);
    throw fail(result.error, null, sid || null);
  }
  const issued = await issue(g, user!, roles!, result.session, scope, GRANT.refreshToken, offline, { reuseId: reuseId === '' ? null : reuseId });
  ctx.events.emit({ type: 'REFRESH_TOKEN', realmId: realm.id, clientId: client.clientId, userId: sub, sessionId: sid, ipAddress: ipOf(request), error: null, details: { token_id: issued.accessJti, refresh_token_id: jti, refresh_token_type: String(typ), updated_refresh_token_id: issued.refreshJti ?? '' } });
  return issued.body;
}

// ---------------------------------------------------------------------------
// client_credentials

async function clientCredentialsGrant(g: GrantContext): Promise<Record<string, unknown>> {
  const { ctx, realm, client, body, request } = g;
  if (client.publicClient) throw unauthorizedClient('Public client not allowed to retrieve service account');
  if (!client.serviceAccountsEnabled) throw unauthorizedClient('Client not enabled to retrieve service account');
  const user = ctx.store.userByUsername(realm.id, serviceAccountUsername(client.clientId));
  if (user === undefined || !user.enabled) throw invalidRequest('User is disabled');
  const granted = grantScope(client, field(body, 'scope'));
  const roles = effectiveRoles(ctx.store, realm.id, user);
  const settings = clientSessionSettings(client.attributes);
  // Refused before a session is created, so that a refusal leaves none behind.
  if (granted.offline) requireOfflineAccess(client, roles.realm);
  let session: SessionView | null = null;
  if (settings.clientCredentialsUseRefreshToken) {
    // A persistent session (authMethod client_auth) only when the client asks for refresh tokens.
    const created = await ctx.engine.createSession({
      realm: realm.id,
      userId: user.id,
      username: user.username,
      ip: ipOf(request),
      authMethod: 'client_auth',
      client: { client: client.id, scope: granted.scope },
      notes: { clientId: client.clientId, clientAddress: ipOf(request) },
    });
    session = created.session;
  }
  const issued = await issue(g, user, roles, session, granted.scope, GRANT.clientCredentials, false, { reuseId: session === null ? null : newReuseId(realm) });
  ctx.events.emit({ type: 'CLIENT_LOGIN', realmId: realm.id, clientId: client.clientId, userId: user.id, sessionId: session?.id ?? null, ipAddress: ipOf(request), error: null, details: { grant_type: GRANT.clientCredentials, token_id: issued.accessJti, client_auth_method: 'client-secret' } });
  return issued.body;
}

/**
 * PKCE at the token endpoint, as Keycloak's PkceUtils: a code with a
 * challenge needs a verifier (43-128 unreserved characters) that matches it;
 * a verifier without a challenge is refused too. An empty verifier is an
 * invalid one, an absent one is "not specified".
 */
function checkPkce(
  challenge: string | null,
  method: string | null,
  verifier: string | undefined,
  fail: (error: string, description: string) => OAuthError,
): void {
  if (challenge === null) {
    if (verifier !== undefined) throw fail('invalid_code_verifier', 'PKCE code verifier specified but challenge not present in authorization');
    return;
  }
  if (verifier === undefined) throw fail('code_verifier_missing', 'PKCE code verifier not specified');
  if (!CODE_VERIFIER.test(verifier)) throw fail('invalid_code_verifier', 'PKCE verification failed: Invalid code verifier');
  const computed = method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  if (computed !== challenge) throw fail('pkce_verification_failed', 'PKCE verification failed: Code mismatch');
}

/**
 * AuthorizationCodeGrantType.updateClientSession: a legacy adapter sends its
 * own session id (`client_session_state`) and host (`client_session_host`)
 * with the code; they become client-session notes, and the host fills
 * `${application.session.host}` in the client's back-channel logout URL. The
 * host is kept only when it is a plain `host[:port]` (no scheme, path or
 * user info), so that it cannot rewrite the rest of the URL.
 */
function adapterSessionNotes(body: FormBody): Record<string, string> | null {
  const state = field(body, 'client_session_state');
  if (state === undefined || state === '') return null;
  const host = field(body, 'client_session_host');
  return { [CLIENT_SESSION_NOTE.state]: state, ...(host !== undefined && ADAPTER_HOST.test(host) ? { [CLIENT_SESSION_NOTE.host]: host } : {}) };
}

/** A fresh authorization code value (the session id is appended by the caller). */
export function newCodeValue(): string {
  return randomBytes(24).toString('base64url');
}

