// Browser (RP-initiated) logout, GET/POST /realms/{realm}/protocol/openid-connect/logout
// (docs/keycloak-semantics.md#logout, OpenID Connect RP-Initiated Logout 1.0), after
// Keycloak 26's LogoutEndpoint:
//
//   1. `redirect_uri` (removed in Keycloak 18+) ⇒ 400 page;
//      `post_logout_redirect_uri` without `id_token_hint` or `client_id` ⇒ 400 page;
//   2. `id_token_hint`: our realm's signature and `typ: ID`; its expiry is
//      ignored (a logout usually comes after the ID token expired);
//      `client_id`, when both are given, must be the hint's `azp`;
//   3. `post_logout_redirect_uri` must match the client's
//      `post.logout.redirect.uris` (`##`-separated, `+` = its redirect URIs);
//   4. no confirmation when the hint (or client_id + hint) identifies the
//      client, or when client_id + a valid redirect come with no session in
//      the browser; a confirmation page (POSTing to `logout/logout-confirm`
//      with a CSRF token) otherwise — and always when client_id is unknown or
//      the browser's session is not the hint's;
//   5. the logout: the hint's session (whose start must not follow the hint's
//      `iat`), else the identity cookie's; back-channel logout of its clients,
//      LOGOUT event, the SSO cookies expired, then a redirect to
//      post_logout_redirect_uri with `state`, or a "You are logged out" page.
//
// Front-channel logout (iframes to clients) is not offered.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { END_REASON, type SessionView } from '../../../protocol/actor-messages.js';
import type { ClientRecord, RealmRecord } from '../../../realm/model.js';
import { issuedBeforeSessionStart } from '../../../session/refresh-checks.js';
import { verifyJwt, type JwtPayload } from '../../../tokens/jwt.js';
import type { FacadeContext } from '../../context.js';
import { baseUrlOf, ipOf, issuerOf } from '../request-context.js';
import { param, paramsOf } from './authorization-request.js';
import { cookieScope, expireIdentityCookies, expireRememberMeCookie, setAuthSessionCookie } from './browser-cookies.js';
import { BROWSER_MESSAGE, ErrorPageError } from './browser-errors.js';
import { browserRealm } from './browser-route.js';
import { authSessionIdOf, csrfToken, csrfTokenValid, newAuthSessionId } from './csrf-token.js';
import { escapeHtml, sendInfoPage, sendPage, sendRedirect } from './html-page.js';
import { readIdentityCookie } from './identity-cookie.js';
import { realmDisplayName } from './login-page.js';
import { formActionSource, postLogoutRedirectUris, verifyRedirectUri } from './redirect-uri.js';
import { FORM_STATE_TYPE, numberClaim, signFormState, stringClaim, verifyFormState } from './signed-form-state.js';

export const LOGOUT_CONFIRM_PATH = '/protocol/openid-connect/logout/logout-confirm';
const LOGOUT_FIELD = Object.freeze({ csrf: 'csrf_token', logoutRequest: 'logout_request', confirm: 'confirmLogout' });

/** What a logout needs to finish, also carried (signed) through the confirmation page. */
interface LogoutRequest {
  /** The session named by a verified id_token_hint, and the hint's iat. */
  hintSessionId: string | null;
  hintIssuedAt: number | null;
  clientId: string | null;
  /** Verified post_logout_redirect_uri. */
  redirectUri: string | null;
  state: string | null;
}

interface IdTokenHint {
  sessionId: string | null;
  issuedAt: number;
  azp: string | null;
}

function verifyIdTokenHint(ctx: FacadeContext, realm: RealmRecord, token: string): IdTokenHint | null {
  const verified = verifyJwt(token, (kid) => ctx.keys.verifier(realm.id, kid));
  if (!verified.ok) return null;
  const t = verified.payload;
  if (t['typ'] !== 'ID' || typeof t['iat'] !== 'number') return null;
  return { sessionId: typeof t['sid'] === 'string' ? t['sid'] : null, issuedAt: t['iat'], azp: typeof t['azp'] === 'string' ? t['azp'] : null };
}

function logoutError(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, clientId: string | null, error: string, message: string): ErrorPageError {
  ctx.events.emit({ type: 'LOGOUT_ERROR', realmId: realm.id, clientId, userId: null, sessionId: null, ipAddress: ipOf(request), error, details: {} });
  return new ErrorPageError(400, message);
}

/** The session the browser's identity cookie names, if it still exists (the cookie's own expiry does not matter for a logout). */
async function cookieSession(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, issuer: string, now: number): Promise<SessionView | null> {
  const identity = readIdentityCookie(ctx, request, realm, issuer, { checkActive: false, now });
  if (identity === null) return null;
  const got = await ctx.engine.getSession(identity.sessionId);
  if (got === null || got.session.realm !== realm.id || got.session.userId !== identity.userId) return null;
  return got.session;
}

export async function browserLogout(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const realm = browserRealm(ctx, request);
  const issuer = issuerOf(ctx, request, realm);
  const now = ctx.clock.nowSeconds();
  const params = paramsOf(request);
  const hintText = param(params, 'id_token_hint');
  const clientIdParam = param(params, 'client_id') ?? null;
  const postLogoutRedirectUri = param(params, 'post_logout_redirect_uri');
  const state = param(params, 'state') ?? null;

  if (param(params, 'redirect_uri') !== undefined) throw logoutError(ctx, request, realm, clientIdParam, 'invalid_request', 'Invalid parameter: redirect_uri');
  if (postLogoutRedirectUri !== undefined && hintText === undefined && clientIdParam === null) {
    throw logoutError(ctx, request, realm, null, 'invalid_request', 'Missing parameter: id_token_hint');
  }

  let confirmationNeeded = true;
  let forcedConfirmation = false;
  let client: ClientRecord | undefined = clientIdParam === null ? undefined : ctx.store.clientByClientId(realm.id, clientIdParam);
  if (clientIdParam !== null && client === undefined) forcedConfirmation = true;

  let hint: IdTokenHint | null = null;
  if (hintText !== undefined) {
    hint = verifyIdTokenHint(ctx, realm, hintText);
    if (hint === null) throw logoutError(ctx, request, realm, clientIdParam, 'invalid_token', 'Invalid parameter: id_token_hint');
  }
  if (clientIdParam === null) {
    client = hint?.azp == null ? undefined : ctx.store.clientByClientId(realm.id, hint.azp);
    if (client !== undefined) confirmationNeeded = false;
  } else if (hint?.azp != null) {
    if (hint.azp !== clientIdParam) throw logoutError(ctx, request, realm, clientIdParam, 'invalid_token', 'Invalid parameter: id_token_hint');
    confirmationNeeded = false;
  }

  let redirectUri: string | null = null;
  if (postLogoutRedirectUri !== undefined) {
    if (client !== undefined) redirectUri = verifyRedirectUri(postLogoutRedirectUri, postLogoutRedirectUris(client), client.rootUrl, baseUrlOf(ctx, request));
    if (redirectUri === null) throw logoutError(ctx, request, realm, clientIdParam, 'invalid_redirect_uri', BROWSER_MESSAGE.invalidPostLogoutRedirectUri);
  }

  const browserSession = await cookieSession(ctx, request, realm, issuer, now);
  if (browserSession !== null) {
    if (hint?.sessionId != null && hint.sessionId !== browserSession.id) forcedConfirmation = true;
  } else if (hintText === undefined && client !== undefined && redirectUri !== null) {
    // Nothing to log out in this browser: go straight back (Keycloak does the same).
    confirmationNeeded = false;
  }

  const logout: LogoutRequest = {
    hintSessionId: hint?.sessionId ?? null,
    hintIssuedAt: hint?.issuedAt ?? null,
    clientId: client?.clientId ?? null,
    redirectUri,
    state,
  };
  if (confirmationNeeded || forcedConfirmation) return sendConfirmation(ctx, request, reply, realm, logout, now);
  return finishLogout(ctx, request, reply, realm, logout, now);
}

function sendConfirmation(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply, realm: RealmRecord, logout: LogoutRequest, now: number): FastifyReply {
  let authSessionId = authSessionIdOf(request);
  if (authSessionId === null) {
    authSessionId = newAuthSessionId();
    setAuthSessionCookie(reply, cookieScope(ctx, request, realm), authSessionId);
  }
  const issuer = issuerOf(ctx, request, realm);
  const signed = signFormState(
    ctx,
    realm,
    FORM_STATE_TYPE.logoutRequest,
    { sid: logout.hintSessionId, hiat: logout.hintIssuedAt, azp: logout.clientId, ru: logout.redirectUri, st: logout.state },
    now,
    realm.sessions.accessCodeLifespanLogin,
  );
  const bodyHtml = `<p>Do you want to log out?</p>
<form id="kc-logout-confirm" method="post" action="${escapeHtml(issuer + LOGOUT_CONFIRM_PATH)}">
<input type="hidden" name="${LOGOUT_FIELD.csrf}" value="${escapeHtml(csrfToken(ctx, realm, authSessionId))}">
<input type="hidden" name="${LOGOUT_FIELD.logoutRequest}" value="${escapeHtml(signed)}">
<button id="kc-logout" name="${LOGOUT_FIELD.confirm}" value="true" type="submit">Logout</button>
</form>`;
  const formActions = [formActionSource(issuer), logout.redirectUri === null ? null : formActionSource(logout.redirectUri)].filter((s): s is string => s !== null);
  return sendPage(reply, 200, { realmName: realmDisplayName(realm), heading: 'Logging out', bodyHtml, formActions });
}

/** POST .../logout/logout-confirm: the confirmation page comes back. */
export async function logoutConfirm(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const realm = browserRealm(ctx, request);
  const now = ctx.clock.nowSeconds();
  const form = paramsOf(request);
  const authSessionId = authSessionIdOf(request);
  const failed = (): ErrorPageError => logoutError(ctx, request, realm, null, 'invalid_request', BROWSER_MESSAGE.failedLogout);
  if (authSessionId === null || !csrfTokenValid(ctx, realm, authSessionId, param(form, LOGOUT_FIELD.csrf))) throw failed();
  if (param(form, LOGOUT_FIELD.confirm) === undefined) throw failed();
  const state = verifyFormState(ctx, realm, FORM_STATE_TYPE.logoutRequest, param(form, LOGOUT_FIELD.logoutRequest), now);
  if (state.status !== 'valid') throw failed();
  return finishLogout(ctx, request, reply, realm, logoutFromClaims(state.claims), now);
}

/** GET .../logout/logout-confirm (a reload after the logout): Keycloak's answers. */
export async function logoutConfirmGet(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const realm = browserRealm(ctx, request);
  const session = await cookieSession(ctx, request, realm, issuerOf(ctx, request, realm), ctx.clock.nowSeconds());
  if (session !== null) throw new ErrorPageError(400, BROWSER_MESSAGE.failedLogout);
  return sendInfoPage(reply, 200, realmDisplayName(realm), BROWSER_MESSAGE.loggedOut, BROWSER_MESSAGE.loggedOut);
}

function logoutFromClaims(claims: JwtPayload): LogoutRequest {
  return {
    hintSessionId: stringClaim(claims, 'sid'),
    hintIssuedAt: numberClaim(claims, 'hiat'),
    clientId: stringClaim(claims, 'azp'),
    redirectUri: stringClaim(claims, 'ru'),
    state: stringClaim(claims, 'st'),
  };
}

async function finishLogout(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply, realm: RealmRecord, logout: LogoutRequest, now: number): Promise<FastifyReply> {
  const issuer = issuerOf(ctx, request, realm);
  let target: SessionView | null = null;
  if (logout.hintSessionId !== null) {
    const got = await ctx.engine.getSession(logout.hintSessionId);
    if (got !== null && got.session.realm === realm.id) {
      if (issuedBeforeSessionStart(logout.hintIssuedAt ?? 0, got.session.started)) {
        throw logoutError(ctx, request, realm, logout.clientId, 'invalid_token', BROWSER_MESSAGE.sessionNotActive);
      }
      target = got.session;
    }
  }
  target ??= await cookieSession(ctx, request, realm, issuer, now);

  if (target !== null) {
    const ended = await ctx.engine.logoutSession(target.id, END_REASON.logout);
    if (ended !== null) {
      ctx.backchannel.notify(realm.id, issuer, [ended], now);
      ctx.metrics.sessionsRevoked.inc({ realm: realm.name, cause: 'logout' });
      ctx.events.emit({
        type: 'LOGOUT',
        realmId: realm.id,
        clientId: logout.clientId,
        userId: ended.session.userId,
        sessionId: ended.session.id,
        ipAddress: ipOf(request),
        error: null,
        details: logout.redirectUri !== null ? { redirect_uri: logout.redirectUri } : {},
      });
    }
  }
  const scope = cookieScope(ctx, request, realm);
  expireIdentityCookies(reply, scope);
  expireRememberMeCookie(reply, scope);
  if (logout.redirectUri !== null) {
    const url = new URL(logout.redirectUri);
    if (logout.state !== null) url.searchParams.append('state', logout.state);
    return sendRedirect(reply, url.href);
  }
  return sendInfoPage(reply, 200, realmDisplayName(realm), BROWSER_MESSAGE.loggedOut, BROWSER_MESSAGE.loggedOut);
}
