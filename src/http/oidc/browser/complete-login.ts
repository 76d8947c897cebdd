// The end of a successful browser login, by form or by SSO cookie: a code
// for the client, the SSO cookies (renewed on SSO too, as Keycloak's
// redirectAfterSuccessfulFlow does), a LOGIN event, and the redirect.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionView } from '../../../protocol/actor-messages.js';
import type { RealmRecord } from '../../../realm/model.js';
import type { FacadeContext } from '../../context.js';
import { ipOf } from '../request-context.js';
import type { AuthorizationRequest } from './authorization-request.js';
import { codeRedirectUrl, errorRedirectUrl } from './authorization-response.js';
import { cookieScope, expireRememberMeCookie, setLoginCookies, setRememberMeCookie } from './browser-cookies.js';
import { sendRedirect } from './html-page.js';
import { mintIdentityToken, ssoSessionMax } from './identity-cookie.js';

export interface CompletedLogin {
  session: SessionView;
  ssoAuth: boolean;
  /** KEYCLOAK_REMEMBER_ME: set to the username typed (remember me), expire it (form login without), or keep (SSO). */
  rememberMeCookie: { username: string } | 'expire' | 'keep';
  issuer: string;
  now: number;
}

export async function completeLogin(ctx: FacadeContext, request: FastifyRequest, reply: FastifyReply, realm: RealmRecord, req: AuthorizationRequest, done: CompletedLogin): Promise<FastifyReply> {
  const { session, issuer, now } = done;
  const location = await codeRedirectUrl(ctx, realm, req, session.id, issuer, done.ssoAuth, now);
  if (location === null) {
    // The shard's code store is full: the login stands (cookies are set), the client may retry.
    ctx.log.warn({ realm: realm.name, client: req.client.clientId }, 'authorization code store full');
  }
  const scope = cookieScope(ctx, request, realm);
  const identity = mintIdentityToken(ctx, realm, issuer, session, now);
  const lifetime = ssoSessionMax(realm, session.rememberMe);
  setLoginCookies(reply, scope, {
    identityJwt: identity.jwt,
    session,
    // Not remembered: a browser-session cookie, as Keycloak's.
    identityMaxAge: session.rememberMe ? lifetime : null,
    sessionMaxAge: lifetime,
  });
  if (done.rememberMeCookie === 'expire') expireRememberMeCookie(reply, scope);
  else if (done.rememberMeCookie !== 'keep') setRememberMeCookie(reply, scope, done.rememberMeCookie.username);
  ctx.events.emit({
    type: 'LOGIN',
    realmId: realm.id,
    clientId: req.client.clientId,
    userId: session.userId,
    sessionId: session.id,
    ipAddress: ipOf(request),
    error: null,
    details: {
      auth_method: 'openid-connect',
      auth_type: 'code',
      response_type: 'code',
      redirect_uri: req.redirectUriParam,
      consent: 'no_consent_required',
      code_id: session.id,
      username: session.username,
      ...(session.rememberMe ? { remember_me: 'true' } : {}),
    },
  });
  return sendRedirect(reply, location ?? errorRedirectUrl(req.redirectUri, 'temporarily_unavailable', 'Too many pending authorization codes', req.state, issuer));
}
