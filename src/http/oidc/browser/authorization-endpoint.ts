// GET/POST /realms/{realm}/protocol/openid-connect/auth — the start of the
// authorization code flow, as named steps:
//
//   1. check client and redirect URI (error page), then the rest of the
//      request (error redirect) — authorization-request.ts;
//   2. SSO: a valid KEYCLOAK_IDENTITY cookie, no `prompt=login` and `max_age`
//      not exceeded (vs the session's AUTH_TIME) ⇒ no form: the client
//      session joins the cookie's user session (a valid one is reused, an
//      expired one restarted), the user idle clock moves (docs/keycloak-semantics.md#what-moves-the-idle-clocks),
//      and a code goes back to the client;
//   3. `prompt=none` without such a session ⇒ `login_required`;
//   4. otherwise the login form (login-page.ts); login-action.ts takes it from there.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { hasCode } from '../../../errors.js';
import type { SessionView } from '../../../protocol/actor-messages.js';
import type { RealmRecord } from '../../../realm/model.js';
import type { FacadeContext } from '../../context.js';
import { issuerOf } from '../request-context.js';
import { checkAuthorizationRequest, paramsOf, PROMPT, resolveRedirectTarget, type AuthorizationRequest } from './authorization-request.js';
import { errorRedirectUrl } from './authorization-response.js';
import { COOKIE, cookieOf, cookieScope, expireIdentityCookies, rememberedUsername } from './browser-cookies.js';
import { ErrorRedirect } from './browser-errors.js';
import { browserRealm } from './browser-route.js';
import { completeLogin } from './complete-login.js';
import { sendRedirect } from './html-page.js';
import { authenticateIdentityCookie, type CookieSession } from './identity-cookie.js';
import { sendLoginForm } from './login-page.js';

export async function authorizationEndpoint(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const realm = browserRealm(ctx, request);
  const issuer = issuerOf(ctx, request, realm);
  const now = ctx.clock.nowSeconds();
  const params = paramsOf(request);
  const target = resolveRedirectTarget(ctx, request, realm, params);
  let req: AuthorizationRequest;
  try {
    req = checkAuthorizationRequest(target, params);
  } catch (err) {
    if (err instanceof ErrorRedirect) return sendRedirect(reply, errorRedirectUrl(target.redirectUri, err.error, err.description, target.state, issuer));
    throw err;
  }

  const cookie = await authenticateIdentityCookie(ctx, request, realm, issuer, { checkActive: true, now });
  // Keycloak expires an identity cookie that no longer authenticates anyone.
  if (cookie === null && cookieOf(request, COOKIE.identity) !== undefined) expireIdentityCookies(reply, cookieScope(ctx, request, realm));
  const reauthenticate = mustReauthenticate(req, cookie, now);

  if (cookie !== null && !reauthenticate) {
    const session = await joinSession(ctx, realm, req, cookie.session.id);
    if (session !== null) return completeLogin(ctx, request, reply, realm, req, { session, ssoAuth: true, rememberMeCookie: 'keep', issuer, now });
  }
  if (req.prompt.includes(PROMPT.none)) return sendRedirect(reply, errorRedirectUrl(req.redirectUri, 'login_required', null, req.state, issuer));

  const remembered = rememberedUsername(request);
  return sendLoginForm(ctx, request, reply, realm, req, {
    now,
    // Re-authentication shows who is signed in, as Keycloak's form does.
    username: req.loginHint ?? (cookie !== null ? cookie.session.username : null) ?? remembered,
    rememberMe: remembered !== null,
  });
}

/** `prompt=login` (or select_account, which sessiond treats alike), or the session's AUTH_TIME older than max_age. */
function mustReauthenticate(req: AuthorizationRequest, cookie: CookieSession | null, now: number): boolean {
  if (req.prompt.includes(PROMPT.login) || req.prompt.includes(PROMPT.selectAccount)) return true;
  return cookie !== null && req.maxAge !== null && cookie.session.authTime + req.maxAge < now;
}

/**
 * Attaches the client to the SSO session; attachClient with touchUser moves
 * the user idle clock in the same command (no separate touch). Null when the
 * session ended since the cookie was checked.
 */
async function joinSession(ctx: FacadeContext, realm: RealmRecord, req: AuthorizationRequest, sessionId: string): Promise<SessionView | null> {
  try {
    return await ctx.engine.attachClient(sessionId, realm.id, { client: req.client.id, scope: req.scope, ssoAuth: true }, { touchUser: true });
  } catch (err) {
    if (hasCode(err, 'ERR_SESSION_NOT_FOUND')) return null;
    throw err;
  }
}
