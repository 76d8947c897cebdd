// The SSO cookies (docs/keycloak-semantics.md#cookies), all on path `/realms/{realm}/`:
//
//   KEYCLOAK_IDENTITY     HttpOnly. HS512 JWT naming the user session (identity-cookie.ts).
//                         A browser-session cookie, or Max-Age = the remember-me max.
//   KEYCLOAK_SESSION      readable by scripts (the session-status iframe reads it):
//                         url-safe SHA-256 of the session id, as Keycloak 26.2+.
//                         Max-Age = the session max (remember-me max when remembered).
//   AUTH_SESSION_ID       HttpOnly, browser-session cookie: a random id that binds
//                         the login and logout forms' CSRF tokens to this browser.
//   KEYCLOAK_REMEMBER_ME  HttpOnly, `username:<urlencoded>`, one year: prefills the form.
//
// SameSite: Keycloak sends `SameSite=None; Secure` so that cookies reach it
// from cross-site POSTs (response_mode=form_post, front-channel iframes).
// Browsers drop a `SameSite=None` cookie that is not `Secure`, and `Secure`
// cookies are not stored over plain http, so on http (a developer's
// 127.0.0.1, tests) sessiond sends `SameSite=Lax` without `Secure` instead:
// top-level navigations from the client to the auth endpoint, which is all
// the code flow needs, still carry Lax cookies. Whether the request is https
// is judged by the public base URL (`--hostname`, else the request scheme),
// so a TLS-terminating proxy in front with `--hostname https://...` gets the
// Keycloak flags.

import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionView } from '../../../protocol/actor-messages.js';
import type { RealmRecord } from '../../../realm/model.js';
import type { FacadeContext } from '../../context.js';
import { baseUrlOf } from '../request-context.js';

export const COOKIE = Object.freeze({
  identity: 'KEYCLOAK_IDENTITY',
  session: 'KEYCLOAK_SESSION',
  authSession: 'AUTH_SESSION_ID',
  rememberMe: 'KEYCLOAK_REMEMBER_ME',
});

/** KEYCLOAK_REMEMBER_ME lives a year, as Keycloak's. */
export const REMEMBER_ME_COOKIE_MAX_AGE_S = 365 * 24 * 60 * 60;
const REMEMBER_ME_PREFIX = 'username:';

/** Every value sessiond writes is already cookie-safe (base64url, JWTs, percent-encoded text). */
const asIs = (value: string): string => value;

export interface CookieScope {
  path: string;
  secure: boolean;
}

export function cookieScope(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord): CookieScope {
  return { path: `/realms/${encodeURIComponent(realm.name)}/`, secure: baseUrlOf(ctx, request).startsWith('https:') };
}

function attributes(scope: CookieScope, httpOnly: boolean, maxAge: number | null): Parameters<FastifyReply['setCookie']>[2] {
  return {
    path: scope.path,
    httpOnly,
    secure: scope.secure,
    sameSite: scope.secure ? 'none' : 'lax',
    encode: asIs,
    ...(maxAge !== null ? { maxAge } : {}),
  };
}

/** KEYCLOAK_SESSION's value: base64url(SHA-256(session id)), never the id itself. */
export function sessionCookieValue(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url');
}

export interface LoginCookies {
  identityJwt: string;
  session: SessionView;
  /** Max-Age of KEYCLOAK_IDENTITY: null = browser-session cookie (not remembered). */
  identityMaxAge: number | null;
  /** Max-Age of KEYCLOAK_SESSION. */
  sessionMaxAge: number;
}

export function setLoginCookies(reply: FastifyReply, scope: CookieScope, cookies: LoginCookies): void {
  void reply.setCookie(COOKIE.identity, cookies.identityJwt, attributes(scope, true, cookies.identityMaxAge));
  void reply.setCookie(COOKIE.session, sessionCookieValue(cookies.session.id), attributes(scope, false, cookies.sessionMaxAge));
}

export function setAuthSessionCookie(reply: FastifyReply, scope: CookieScope, authSessionId: string): void {
  void reply.setCookie(COOKIE.authSession, authSessionId, attributes(scope, true, null));
}

export function setRememberMeCookie(reply: FastifyReply, scope: CookieScope, username: string): void {
  void reply.setCookie(COOKIE.rememberMe, REMEMBER_ME_PREFIX + encodeURIComponent(username), attributes(scope, true, REMEMBER_ME_COOKIE_MAX_AGE_S));
}

function expire(reply: FastifyReply, scope: CookieScope, name: string, httpOnly: boolean): void {
  void reply.setCookie(name, '', { ...attributes(scope, httpOnly, 0), expires: new Date(0) });
}

export function expireRememberMeCookie(reply: FastifyReply, scope: CookieScope): void {
  expire(reply, scope, COOKIE.rememberMe, true);
}

/** Keycloak's expireIdentityCookie: the identity and session cookies. */
export function expireIdentityCookies(reply: FastifyReply, scope: CookieScope): void {
  expire(reply, scope, COOKIE.identity, true);
  expire(reply, scope, COOKIE.session, false);
}

export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.cookies[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The username remembered by KEYCLOAK_REMEMBER_ME, if any. */
export function rememberedUsername(request: FastifyRequest): string | null {
  const value = cookieOf(request, COOKIE.rememberMe);
  if (value === undefined || !value.startsWith(REMEMBER_ME_PREFIX)) return null;
  const encoded = value.slice(REMEMBER_ME_PREFIX.length);
  try {
    const username = decodeURIComponent(encoded);
    return username === '' || username.length > 255 ? null : username;
  } catch {
    return null;
  }
}
