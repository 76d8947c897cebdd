// What `/` answers: a person who opens the server in a browser, or a script
// that probes it, gets a JSON answer naming the endpoints that exist (the
// admin console among them; `/admin/` itself redirects to the master realm's
// console, src/http/console/) and the documents that explain them, rather
// than a bare 404.

import type { FastifyInstance } from 'fastify';
import type { FacadeContext } from './context.js';
import { baseUrlOf } from './oidc/request-context.js';

/** Where the documentation lives, relative to the repository root. */
const DOCS = {
  readme: 'README.md',
  oidc: 'docs/oidc.md',
  browserLogin: 'docs/oidc-browser.md',
  adminApi: 'docs/admin-api.md',
  console: 'docs/console.md',
  configuration: 'docs/configuration.md',
} as const;

export function registerLanding(app: FastifyInstance, ctx: FacadeContext): void {
  app.get('/', { schema: { hide: true } }, async (request) => {
    const base = baseUrlOf(ctx, request);
    return {
      service: 'sessiond',
      description: "An in-memory single-sign-on session engine speaking Keycloak's protocols: OIDC endpoints, the admin REST API and an admin console.",
      endpoints: {
        openidConfiguration: `${base}/realms/{realm}/.well-known/openid-configuration`,
        adminApi: `${base}/admin/realms`,
        adminConsole: `${base}/admin/`,
      },
      docs: DOCS,
    };
  });
}
