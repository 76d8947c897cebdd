// The login form: username, password, "Remember me" when the realm allows it
// (docs/keycloak-semantics.md#remember-me), each with a visible label; errors are announced
// (role=alert) and tied to the fields (aria-describedby). It posts to the
// login-action URL with the CSRF token and the signed authorization request
// in hidden fields, and sets AUTH_SESSION_ID when the browser has none yet.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RealmRecord } from '../../../realm/model.js';
import type { FacadeContext } from '../../context.js';
import { issuerOf } from '../request-context.js';
import { toClaims, type AuthorizationRequest } from './authorization-request.js';
import { cookieScope, setAuthSessionCookie } from './browser-cookies.js';
import { authSessionIdOf, csrfToken, newAuthSessionId } from './csrf-token.js';
import { escapeHtml, sendPage } from './html-page.js';
import { formActionSource } from './redirect-uri.js';
import { FORM_STATE_TYPE, signFormState } from './signed-form-state.js';

export const LOGIN_ACTION_PATH = '/login-actions/authenticate';
export const LOGIN_FIELD = Object.freeze({
  username: 'username',
  password: 'password',
  rememberMe: 'rememberMe',
  csrf: 'csrf_token',
  authRequest: 'auth_request',
});

export interface LoginFormOptions {
  status?: number;
  error?: string | null;
  /** Shown above the form without marking the fields invalid (e.g. a restarted login). */
  notice?: string | null;
  username?: string | null;
  rememberMe?: boolean;
  now: number;
}

export function realmDisplayName(realm: RealmRecord): string {
  return realm.displayName !== null && realm.displayName !== '' ? realm.displayName : realm.name;
}

export function sendLoginForm(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply, realm: RealmRecord, req: AuthorizationRequest, options: LoginFormOptions): FastifyReply {
  let authSessionId = authSessionIdOf(request);
  if (authSessionId === null) {
    authSessionId = newAuthSessionId();
    setAuthSessionCookie(reply, cookieScope(ctx, request, realm), authSessionId);
  }
  const issuer = issuerOf(ctx, request, realm);
  const signed = signFormState(ctx, realm, FORM_STATE_TYPE.authRequest, toClaims(req), options.now, realm.sessions.accessCodeLifespanLogin);
  const error = options.error ?? null;
  const invalid = error !== null ? ' aria-invalid="true" aria-describedby="login-error"' : '';
  const rememberMe = realm.sessions.rememberMe
    ? `<div class="check">
<input id="rememberMe" name="${LOGIN_FIELD.rememberMe}" type="checkbox"${options.rememberMe === true ? ' checked' : ''}>
<label for="rememberMe">Remember me</label>
</div>
`
    : '';
  const bodyHtml = `${error !== null ? `<p class="alert" id="login-error" role="alert">${escapeHtml(error)}</p>\n` : ''}${
    options.notice != null ? `<p class="info" role="status">${escapeHtml(options.notice)}</p>\n` : ''
  }<form id="kc-form-login" method="post" action="${escapeHtml(issuer + LOGIN_ACTION_PATH)}">
<input type="hidden" name="${LOGIN_FIELD.csrf}" value="${escapeHtml(csrfToken(ctx, realm, authSessionId))}">
<input type="hidden" name="${LOGIN_FIELD.authRequest}" value="${escapeHtml(signed)}">
<div class="field">
<label for="username">Username or email</label>
<input id="username" name="${LOGIN_FIELD.username}" type="text" value="${escapeHtml(options.username ?? '')}" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus required${invalid}>
</div>
<div class="field">
<label for="password">Password</label>
<input id="password" name="${LOGIN_FIELD.password}" type="password" autocomplete="current-password" required${invalid}>
</div>
${rememberMe}<button id="kc-login" name="login" type="submit">Sign In</button>
</form>`;
  const formActions = [formActionSource(issuer), formActionSource(req.redirectUri)].filter((s): s is string => s !== null);
  return sendPage(reply, options.status ?? 200, {
    realmName: realmDisplayName(realm),
    heading: 'Sign in to your account',
    bodyHtml,
    formActions,
  });
}
