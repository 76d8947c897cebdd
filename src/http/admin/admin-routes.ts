// The admin REST API under /admin/realms (docs/keycloak-semantics.md#admin-tokens-and-roles): realms, clients,
// users, roles, partial import, every session endpoint, events, and the
// extensions only sessiond has (bulk revoke, filtered counts, one session).
// This module is the plugin: body parsing that tolerates the admin client's
// habits (`{}` bodies on POST/DELETE, empty JSON bodies, trailing slashes),
// authentication, error bodies in Keycloak's shapes, metrics and admin
// events. The resources live in their own modules.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { EngineError } from '../../errors.js';
import type { RealmRecord } from '../../realm/model.js';
import { StoreError } from '../../realm/realm-store.js';
import type { FacadeContext } from '../context.js';
import { authenticateAdmin, requireRole, type AdminPrincipal, type AdminRole } from './admin-auth.js';
import { AdminError, notFound } from './admin-error.js';
import { registerAttackDetectionRoutes } from './attack-detection.js';
import { registerClientRoutes } from './clients.js';
import { registerEventRoutes } from './events.js';
import { registerRealmRoutes } from './realms.js';
import { registerSessionRoutes } from './sessions.js';
import { registerUserRoutes } from './users.js';
import { adminRouteDoc } from '../schemas/admin.js';
import { drainRequestBody } from '../lingering-close.js';

/** Admin bodies: realm representations and partial imports can be large. */
export const ADMIN_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

/** The request's admin, authenticated by the plugin's hook. */
export function adminOf(request: FastifyRequest): AdminPrincipal {
  return request.admin!;
}

/** The realm named in the path, if the admin may see it with `role`; 404/403 otherwise. */
export function targetRealm(ctx: FacadeContext, request: FastifyRequest, role: AdminRole): RealmRecord {
  const name = (request.params as { realm?: string }).realm ?? '';
  const realm = ctx.store.realmByName(name);
  const admin = adminOf(request);
  // Keycloak (RealmsAdminResource.getRealmAdmin) looks the realm up before any
  // permission check: an unknown realm is 404 "Realm not found." for every
  // authenticated caller; a realm other than the token's (unless master) is 403.
  if (realm === undefined) throw notFound('Realm not found.');
  requireRole(admin, realm, role);
  return realm;
}

/** Records an admin event for a change made by this request (when the realm stores them). */
export function auditAdmin(
  ctx: FacadeContext,
  request: FastifyRequest,
  realm: RealmRecord,
  operationType: 'CREATE' | 'UPDATE' | 'DELETE' | 'ACTION',
  resourceType: string,
  resourcePath: string,
  representation?: unknown,
  details?: Record<string, string>,
): void {
  const admin = adminOf(request);
  ctx.events.emitAdmin({
    realmId: realm.id,
    authDetails: { realmId: admin.realm.id, clientId: admin.client.id, userId: admin.user.id, ipAddress: admin.ipAddress },
    operationType,
    resourceType,
    resourcePath,
    representation,
    error: null,
    details: details ?? null,
  });
}

export function registerAdminRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  void app.register(
    async (admin) => {
      // The admin client sends `{}` (or nothing) with content-type JSON on POST and DELETE.
      admin.removeContentTypeParser('application/json');
      admin.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: ADMIN_BODY_LIMIT_BYTES }, (_request, body, done) => {
        const text = (body as string).trim();
        if (text === '') return done(null, {});
        // `__proto__` and `constructor.prototype` keys are refused (prototype poisoning), as Fastify's own parser does.
        try {
          done(null, secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' }));
        } catch {
          done(new AdminError(400, { error: 'unknown_error', error_description: 'Malformed JSON body' }), undefined);
        }
      });

      // Schemas and OpenAPI docs come from one table (schemas/admin.ts), attached as routes are added.
      admin.addHook('onRoute', (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        const doc = adminRouteDoc(String(methods[0]), route.url);
        if (doc === undefined) return;
        route.schema = {
          ...route.schema,
          summary: doc.summary,
          tags: doc.tags,
          security: [{ bearer: [] }],
          ...(doc.params !== undefined ? { params: doc.params } : {}),
          ...(doc.querystring !== undefined ? { querystring: doc.querystring } : {}),
          ...(doc.body !== undefined ? { body: doc.body } : {}),
        };
      });

      admin.addHook('onRequest', async (request) => {
        request.admin = await authenticateAdmin(ctx, request);
      });

      admin.addHook('onResponse', async (request, reply) => {
        const status = reply.statusCode;
        const outcome = status < 400 ? 'success' : status < 500 ? 'client_error' : 'server_error';
        ctx.metrics.adminRequests.inc({ route: request.routeOptions.url ?? 'unmatched', outcome });
      });

      admin.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number; code?: string }, request: FastifyRequest, reply: FastifyReply) => {
        if (err instanceof AdminError) return reply.code(err.status).send(err.body);
        if (err instanceof StoreError) {
          const status = err.code === 'ERR_CONFLICT' ? 409 : err.code === 'ERR_NOT_FOUND' ? 404 : 400;
          return reply.code(status).send(status === 404 ? { error: err.message } : { errorMessage: err.message });
        }
        // An id in the path no resource can have (over 255 characters) names nothing: 404, as Keycloak.
        if (err.validation !== undefined && (err as { validationContext?: string }).validationContext === 'params') {
          return reply.code(404).send({ error: 'HTTP 404 Not Found' });
        }
        if (err.validation !== undefined) return reply.code(400).send({ error: 'unknown_error', error_description: err.message });
        if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
          return drainRequestBody(request.raw).then(() => reply.code(413).send({ error: 'Request body is too large' }));
        }
        if (err instanceof EngineError) {
          if (err.status === 503) return reply.code(503).header('retry-after', '1').send({ error: 'Service is overloaded, retry later' });
          if (err.status < 500) return reply.code(err.status).send({ errorMessage: err.message });
        }
        if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
          return reply.code(err.statusCode).send({ error: err.message });
        }
        ctx.log.error({ err, route: request.routeOptions.url }, 'admin request failed');
        return reply.code(500).send({ error: 'unknown_error' });
      });

      admin.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'HTTP 404 Not Found' }));

      registerRealmRoutes(admin, ctx);
      registerClientRoutes(admin, ctx);
      registerUserRoutes(admin, ctx);
      registerSessionRoutes(admin, ctx);
      registerEventRoutes(admin, ctx);
      registerAttackDetectionRoutes(admin, ctx);
    },
    { prefix: '/admin/realms' },
  );
}
