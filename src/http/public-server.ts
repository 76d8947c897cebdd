// The public HTTP server: Keycloak's OIDC endpoints under /realms/{realm}
// (and, later, the admin REST API under /admin/realms). buildPublicServer()
// never listens; the node does. Every failure a caller can cause ends as a
// 4xx with an OAuth error body on OIDC paths (Keycloak's error shape on admin
// paths); anything else is a 500 whose details stay in the log.

import formbody from '@fastify/formbody';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { PATH_PARAM_MAX_CHARS } from '../constants.js';
import { EngineError } from '../errors.js';
import { drainRequestBody } from './lingering-close.js';
import { registerProxyHeaders, trustProxySetting, type ProxyOptions } from './proxy-headers.js';
import type { FacadeContext } from './context.js';
import { OAuthError } from './oidc/oauth-error.js';
import { registerAdminRoutes } from './admin/admin-routes.js';
import { registerLanding } from './landing.js';
import { registerAccessLog } from './access-log.js';
import { registerConsoleRoutes } from './console/console-routes.js';
import { registerCors } from './oidc/cors.js';
import { registerLoginRateLimit } from './oidc/login-rate-limit.js';
import { registerTokenEndpoint } from './oidc/token-endpoint.js';
import { registerTokenEndpoints } from './oidc/token-endpoints.js';
import { registerBrowserEndpoints } from './oidc/browser/register-browser-endpoints.js';

/** Request bodies on OIDC endpoints (Keycloak's forms are a few KiB at most). */
export const OIDC_BODY_LIMIT_BYTES = 64 * 1024;

export interface PublicServerOptions {
  logger?: FastifyInstance['log'] | boolean;
  /** One `access` line per request through ctx.log (`--access-log`). */
  accessLog?: boolean;
  /** Which reverse-proxy headers to believe, and from whom (default: none). */
  proxy?: ProxyOptions;
}

export function buildPublicServer(ctx: FacadeContext, options: PublicServerOptions = {}): FastifyInstance {
  const app = Fastify({
    ...(typeof options.logger === 'object' ? { loggerInstance: options.logger } : { logger: options.logger ?? false }),
    bodyLimit: OIDC_BODY_LIMIT_BYTES,
    trustProxy: trustProxySetting(options.proxy ?? { proxyHeaders: 'none', proxyTrustedAddresses: [] }),
    // The Keycloak admin client asks for `/users/?username=` and `/clients/?clientId=`.
    // Overlong path parameters (ids) are looked up and not found: 404, not the router's 414.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: PATH_PARAM_MAX_CHARS },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  // The OpenAPI document of the whole surface, generated from the route schemas
  // (served at /openapi.json on the management port). Registered before any route.
  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'sessiond',
        description: "Keycloak-compatible OIDC endpoints (/realms/{realm}/...) and admin REST API (/admin/realms/...), with sessiond's session extensions.",
        version: '0.1.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  registerProxyHeaders(app, options.proxy ?? { proxyHeaders: 'none', proxyTrustedAddresses: [] });
  void app.register(formbody, { bodyLimit: OIDC_BODY_LIMIT_BYTES });
  void app.register(cookie);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    ctx.metrics.httpDuration.observe({ route, method: request.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  if (options.accessLog === true) registerAccessLog(app, ctx.log);

  app.setErrorHandler((err: FastifyError | OAuthError | EngineError | Error, request, reply) => {
    if (err instanceof OAuthError) {
      void reply.headers(err.headers);
      return reply.code(err.status).send(err.toJSON());
    }
    const fastifyError = err as FastifyError;
    if (fastifyError.validation !== undefined) {
      return reply.code(400).send({ error: 'invalid_request', error_description: `Invalid request: ${fastifyError.message}` });
    }
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return drainRequestBody(request.raw).then(() =>
        reply.code(413).send({ error: 'invalid_request', error_description: 'Request body is too large' }),
      );
    }
    if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({ error: 'invalid_request', error_description: 'Unsupported content type' });
    }
    if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      return reply.code(fastifyError.statusCode).send({ error: 'invalid_request', error_description: fastifyError.message });
    }
    if (err instanceof EngineError && err.status === 503) {
      void reply.header('retry-after', '1');
      // Overload says so; a cluster's failover answers say the service is briefly unavailable.
      const overloaded = err.code === 'ERR_ACTOR_OVERLOADED' || err.code === 'ERR_HASH_OVERLOADED';
      const description = overloaded ? 'Service is overloaded, retry later' : 'Service is temporarily unavailable, retry later';
      return reply.code(503).send({ error: 'temporarily_unavailable', error_description: description });
    }
    ctx.log.error({ err, route: request.routeOptions.url }, 'request failed');
    return reply.code(500).send({ error: 'server_error', error_description: 'Internal server error' });
  });

  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not_found', error_description: 'Not found' }));

  // `/` and `/admin/`: where to go from here (no console is served).
  registerLanding(app, ctx);

  // The admin API (its own body parsing, authentication and error shapes).
  registerAdminRoutes(app, ctx);
  // The admin web console (a page and its bundle; it calls the admin API).
  registerConsoleRoutes(app, ctx);

  void app.register(async (oidc) => {
    await registerLoginRateLimit(oidc);
    registerCors(oidc);
    registerTokenEndpoint(oidc, ctx);
    registerTokenEndpoints(oidc, ctx);
    // auth, login form, and the logout URL (browser logout; refresh_token logout on POST).
    registerBrowserEndpoints(oidc, ctx);
  });

  return app;
}
