// The browser side of OIDC: the authorization endpoint with its login form,
// the login action, and RP-initiated logout with its confirmation. The logout
// URL is shared with the non-browser logout: a POST whose form carries
// `refresh_token` is that one (Keycloak tells them apart the same way).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FacadeContext } from '../../context.js';
import { LOGOUT_BODY } from '../../schemas/oidc.js';
import { refreshTokenLogout } from '../token-endpoints.js';
import { authorizationEndpoint } from './authorization-endpoint.js';
import { BROWSER_MESSAGE, ErrorPageError } from './browser-errors.js';
import { browserLogout, LOGOUT_CONFIRM_PATH, logoutConfirm, logoutConfirmGet } from './browser-logout.js';
import { browserRealm, browserRoute } from './browser-route.js';
import { loginAction } from './login-action.js';
import { LOGIN_ACTION_PATH } from './login-page.js';
import { loginRateLimitConfig } from '../login-rate-limit.js';

const REALM = '/realms/:realm';
const OIDC = `${REALM}/protocol/openid-connect`;

export function registerBrowserEndpoints(app: FastifyInstance, ctx: FacadeContext): void {
  const authorize = browserRoute(ctx, (request, reply) => authorizationEndpoint(ctx, request, reply));
  app.get(`${OIDC}/auth`, authorize);
  app.post(`${OIDC}/auth`, authorize);

  app.post(`${REALM}${LOGIN_ACTION_PATH}`, { config: loginRateLimitConfig(ctx) }, browserRoute(ctx, (request, reply) => loginAction(ctx, request, reply)));
  // A reload of the login action (after a back button): the form state is gone.
  app.get(
    `${REALM}${LOGIN_ACTION_PATH}`,
    browserRoute(ctx, async (request) => {
      browserRealm(ctx, request);
      throw new ErrorPageError(400, BROWSER_MESSAGE.invalidForm);
    }),
  );

  const logout = browserRoute(ctx, (request, reply) => browserLogout(ctx, request, reply));
  app.get(`${OIDC}/logout`, logout);
  app.post(`${OIDC}/logout`, { schema: { body: LOGOUT_BODY } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body;
    if (body !== null && typeof body === 'object' && Object.hasOwn(body, 'refresh_token')) return refreshTokenLogout(ctx, request, reply);
    return logout(request, reply);
  });
  app.post(`${REALM}${LOGOUT_CONFIRM_PATH}`, browserRoute(ctx, (request, reply) => logoutConfirm(ctx, request, reply)));
  app.get(`${REALM}${LOGOUT_CONFIRM_PATH}`, browserRoute(ctx, (request, reply) => logoutConfirmGet(ctx, request, reply)));
}
