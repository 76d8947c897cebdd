// What `/` and `/admin/` answer. sessiond has no web console: a person who
// opens the server in a browser, or a script that probes it, gets a JSON
// answer naming the endpoints that exist and the documents that explain
// them, rather than a bare 404.

import type { FastifyInstance } from 'fastify';
import type { FacadeContext } from './context.js';
import { baseUrlOf } from './oidc/request-context.js';

/** Where the documentation lives, relative to the repository root. */
const DOCS = {
  readme: 'README.md',
  oidc: 'docs/oidc.md',
  browserLogin: 'docs/oidc-browser.md',
  adminApi: 'docs/admin-api.md',
  configuration: 'docs/configuration.md',
} as const;

export function registerLanding(app: FastifyInstance, ctx: FacadeContext): void {
  app.get('/', { schema: { hide: true } }, async (request) => {
    const base = baseUrlOf(ctx, request);
    return {
      service: 'sessiond',
      description: "An in-memory single-sign-on session engine speaking Keycloak's protocols. There is no web console: use the OIDC endpoints and the admin REST API.",
      endpoints: {
        openidConfiguration: `${base}/realms/{realm}/.well-known/openid-configuration`,
        adminApi: `${base}/admin/realms`,
      },
      docs: DOCS,
    };
  });
  app.get('/admin', { schema: { hide: true } }, async (request) => {
    const base = baseUrlOf(ctx, request);
    return {
      service: 'sessiond',
      description: "No admin console is served. The Keycloak admin REST API is under /admin/realms, with a bearer token from the master realm's admin-cli client.",
      endpoints: {
        adminApi: `${base}/admin/realms`,
        adminToken: `${base}/realms/master/protocol/openid-connect/token`,
      },
      docs: DOCS,
    };
  });
}
