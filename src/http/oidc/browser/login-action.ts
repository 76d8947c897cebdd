// POST /realms/{realm}/login-actions/authenticate — the login form comes
// back. Named steps:
//
//   1. AUTH_SESSION_ID cookie present, CSRF token valid for it (else a 400 page);
//   2. the signed authorization request verifies; an expired one restarts the
//      login with a fresh form, as Keycloak's KC_RESTART does;
//   3. credentials (authenticatePassword: a constant amount of hashing whether
//      or not the user exists; a user locked by brute-force detection costs no
//      hash). Wrong or locked ⇒ the form again, 200, "Invalid username or
//      password.", LOGIN_ERROR (locked: user_temporarily_disabled or
//      user_disabled). Disabled ⇒ the form with Keycloak's message. Pending
//      required actions ⇒ an error page (no UI for them);
//   4. a re-authentication (prompt=login, max_age): the identity cookie names
//      a valid session of the same user ⇒ that session is kept, the client
//      session joins it and AUTH_TIME becomes now (Keycloak's
//      AuthenticationProcessor.attachSession). Another user ⇒ a 400 page
//      "You are already authenticated as different user ..." and a LOGIN_ERROR
//      different_user_authenticated; the session stays;
//   5. otherwise the browser's previous session (an invalid one) ends and the
//      login makes a new user session (Keycloak removes a cookie session that a
//      login replaced, docs/keycloak-semantics.md#cookies) with its first
//      client session (session limits apply: "deny" ⇒ 403 page);
//   6. code, cookies, LOGIN event and redirect.
//
// The password is never logged nor echoed; the username is, escaped.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { hasCode } from '../../../errors.js';
import { END_REASON, type SessionCreateResult, type SessionView } from '../../../protocol/actor-messages.js';
import type { RealmRecord, UserRecord } from '../../../realm/model.js';
import type { FacadeContext } from '../../context.js';
import { ipOf, issuerOf } from '../request-context.js';
import { authenticatePassword, loginSucceeded } from '../password-login.js';
import { tooManyAttempts } from '../login-rate-limit.js';
import { fromClaims, param, paramsOf, type AuthorizationRequest } from './authorization-request.js';
import { BROWSER_MESSAGE, ErrorPageError } from './browser-errors.js';
import { browserRealm } from './browser-route.js';
import { completeLogin } from './complete-login.js';
import { authSessionIdOf, csrfTokenValid } from './csrf-token.js';
import { authenticateIdentityCookie, readIdentityCookie } from './identity-cookie.js';
import { LOGIN_FIELD, sendLoginForm } from './login-page.js';
import { FORM_STATE_TYPE, verifyFormState } from './signed-form-state.js';

const USERNAME_LENGTH_MAX = 255;

export async function loginAction(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const realm = browserRealm(ctx, request);
  const issuer = issuerOf(ctx, request, realm);
  const now = ctx.clock.nowSeconds();
  const form = paramsOf(request);

  const authSessionId = authSessionIdOf(request);
  if (authSessionId === null) throw new ErrorPageError(400, BROWSER_MESSAGE.cookieNotFound);
  if (!csrfTokenValid(ctx, realm, authSessionId, param(form, LOGIN_FIELD.csrf))) throw new ErrorPageError(400, BROWSER_MESSAGE.invalidForm);
  const state = verifyFormState(ctx, realm, FORM_STATE_TYPE.authRequest, param(form, LOGIN_FIELD.authRequest), now);
  if (state.status === 'invalid') throw new ErrorPageError(400, BROWSER_MESSAGE.invalidForm);
  const req = fromClaims(ctx, request, realm, state.claims);
  if (state.status === 'expired') return sendLoginForm(ctx, request, reply, realm, req, { now, notice: BROWSER_MESSAGE.loginTimeout });

  const username = (param(form, LOGIN_FIELD.username) ?? '').trim().slice(0, USERNAME_LENGTH_MAX);
  const password = param(form, LOGIN_FIELD.password) ?? '';
  const rememberMe = realm.sessions.rememberMe && (param(form, LOGIN_FIELD.rememberMe) ?? '').toLowerCase() === 'on';
  const again = (error: string): FastifyReply => sendLoginForm(ctx, request, reply, realm, req, { now, error, username, rememberMe });

  const login = await authenticatePassword(ctx, realm, { username, password, ip: ipOf(request), emptyPasswordCounts: false });
  if (login.outcome === 'busy') throw tooManyAttempts(1);
  if (login.outcome !== 'success') {
    const error = login.outcome === 'locked' ? login.error : login.user === undefined ? 'user_not_found' : 'invalid_user_credentials';
    loginFailed(ctx, request, realm, req, login.user?.id ?? null, error, username);
    return again(BROWSER_MESSAGE.invalidUser);
  }
  const user = login.user;
  if (!user.enabled) {
    loginFailed(ctx, request, realm, req, user.id, 'user_disabled', username);
    return again(BROWSER_MESSAGE.accountDisabled);
  }
  if (user.requiredActions.length > 0) {
    loginFailed(ctx, request, realm, req, user.id, 'resolve_required_actions', username);
    throw new ErrorPageError(400, BROWSER_MESSAGE.accountNotSetUp);
  }

  const current = await authenticateIdentityCookie(ctx, request, realm, issuer, { checkActive: true, now });
  let session: SessionView;
  if (current !== null) {
    if (current.user.id !== user.id) {
      loginFailed(ctx, request, realm, req, user.id, 'different_user_authenticated', username, { existing_user: current.user.id });
      throw new ErrorPageError(400, BROWSER_MESSAGE.differentUser(current.user.username));
    }
    session = await reauthenticate(ctx, realm, req, current.session.id);
  } else {
    await endPreviousSession(ctx, request, realm, issuer, now);
    const created = await createSession(ctx, request, realm, req, user, rememberMe);
    ctx.backchannel.notify(realm.id, issuer, created.ended, now);
    session = created.session;
  }
  await loginSucceeded(ctx, realm, login);
  ctx.metrics.logins.inc({ realm: realm.name, outcome: 'success' });
  return completeLogin(ctx, request, reply, realm, req, {
    session,
    ssoAuth: false,
    rememberMeCookie: rememberMe ? { username } : 'expire',
    issuer,
    now,
  });
}

/** The cookie's session, kept: the client joins it, its idle clock and AUTH_TIME move to now. */
async function reauthenticate(ctx: FacadeContext, realm: RealmRecord, req: AuthorizationRequest, sessionId: string): Promise<SessionView> {
  return ctx.engine.attachClient(sessionId, realm.id, { client: req.client.id, scope: req.scope }, { touchUser: true, reauthenticated: true });
}

function loginFailed(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, req: AuthorizationRequest, userId: string | null, error: string, username: string, extra: Record<string, string> = {}): void {
  ctx.metrics.logins.inc({ realm: realm.name, outcome: 'failure' });
  ctx.events.emit({
    type: 'LOGIN_ERROR',
    realmId: realm.id,
    clientId: req.client.clientId,
    userId,
    sessionId: null,
    ipAddress: ipOf(request),
    error,
    details: { auth_method: 'openid-connect', auth_type: 'code', redirect_uri: req.redirectUriParam, username, ...extra },
  });
}

/** Ends the session the browser's identity cookie names (expired cookie or not), so one browser holds one session. */
async function endPreviousSession(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, issuer: string, now: number): Promise<void> {
  const previous = readIdentityCookie(ctx, request, realm, issuer, { checkActive: false, now });
  if (previous === null) return;
  const got = await ctx.engine.getSession(previous.sessionId);
  if (got === null || got.session.realm !== realm.id || got.session.userId !== previous.userId) return;
  const ended = await ctx.engine.logoutSession(previous.sessionId, END_REASON.logout);
  if (ended !== null) {
    ctx.backchannel.notify(realm.id, issuer, [ended], now);
    ctx.metrics.sessionsRevoked.inc({ realm: realm.name, cause: 'logout' });
  }
}

async function createSession(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, req: AuthorizationRequest, user: UserRecord, rememberMe: boolean): Promise<SessionCreateResult> {
  try {
    return await ctx.engine.createSession({
      realm: realm.id,
      userId: user.id,
      username: user.username,
      ip: ipOf(request),
      authMethod: 'openid-connect',
      rememberMe,
      client: { client: req.client.id, scope: req.scope },
      limits: realm.userSessionLimits,
    });
  } catch (err) {
    if (hasCode(err, 'ERR_SESSION_LIMIT')) {
      ctx.metrics.logins.inc({ realm: realm.name, outcome: 'failure' });
      ctx.events.emit({ type: 'LOGIN_ERROR', realmId: realm.id, clientId: req.client.clientId, userId: user.id, sessionId: null, ipAddress: ipOf(request), error: 'generic_authentication_error', details: { reason: 'session_limit', username: user.username } });
      throw new ErrorPageError(403, BROWSER_MESSAGE.sessionLimit);
    }
    throw err;
  }
}
