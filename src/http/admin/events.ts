// Events and admin events (docs/keycloak-semantics.md#events): GET/DELETE /events, the realm's
// event configuration, GET/DELETE /admin-events; newest first, with
// Keycloak's filters and paging.

import type { FastifyInstance } from 'fastify';
import type { FacadeContext } from '../context.js';
import { auditAdmin, targetRealm } from './admin-routes.js';
import { badRequest } from './admin-error.js';
import { pageQuery } from './paging.js';
import { requireObject } from './representations.js';

/** Keycloak takes dates as `yyyy-MM-dd` or epoch ms. Returns epoch ms, or undefined. */
function parseDate(value: string | undefined, name: string, endOfDay: boolean): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,15}$/.test(value)) return Number(value);
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (match === null) throw badRequest(`${name} must be yyyy-MM-dd or epoch milliseconds`, name);
  const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  if (Number.isNaN(start)) throw badRequest(`${name} is not a date`, name);
  return endOfDay ? start + 86_400_000 - 1 : start;
}

function list(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).filter((v) => v !== '');
}

export function registerEventRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  app.get('/:realm/events', async (request) => {
    const realm = targetRealm(ctx, request, 'view-events');
    const q = request.query as Record<string, string | string[] | undefined>;
    const { first, max } = pageQuery({ first: q['first'] as string | undefined, max: q['max'] as string | undefined }, 100);
    const types = list(q['type']);
    return ctx.events.gatherEvents(realm.id, {
      ...(types !== undefined ? { types } : {}),
      ...(typeof q['client'] === 'string' ? { client: q['client'] } : {}),
      ...(typeof q['user'] === 'string' ? { user: q['user'] } : {}),
      ...(typeof q['ipAddress'] === 'string' ? { ipAddress: q['ipAddress'] } : {}),
      ...optional('dateFrom', parseDate(q['dateFrom'] as string | undefined, 'dateFrom', false)),
      ...optional('dateTo', parseDate(q['dateTo'] as string | undefined, 'dateTo', true)),
      first,
      max,
    });
  });

  app.delete('/:realm/events', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-events');
    await ctx.events.clearEverywhere(realm.id, false);
    auditAdmin(ctx, request, realm, 'DELETE', 'REALM', 'events');
    return reply.code(204).send();
  });

  app.get('/:realm/events/config', async (request) => {
    const realm = targetRealm(ctx, request, 'view-events');
    return {
      eventsEnabled: realm.events.eventsEnabled,
      eventsExpiration: realm.events.eventsExpiration,
      eventsListeners: ['jboss-logging'],
      enabledEventTypes: realm.events.enabledEventTypes,
      adminEventsEnabled: realm.events.adminEventsEnabled,
      adminEventsDetailsEnabled: realm.events.adminEventsDetailsEnabled,
    };
  });

  app.put('/:realm/events/config', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-events');
    const rep = requireObject(request.body);
    const bool = (key: string, fallback: boolean): boolean => {
      const v = rep[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'boolean') throw badRequest(`${key} must be a boolean`, key);
      return v;
    };
    const expiration = rep['eventsExpiration'];
    if (expiration !== undefined && expiration !== null && (typeof expiration !== 'number' || !Number.isSafeInteger(expiration) || expiration < 0)) {
      throw badRequest('eventsExpiration must be a non-negative integer (seconds)', 'eventsExpiration');
    }
    const types = rep['enabledEventTypes'];
    if (types !== undefined && types !== null && (!Array.isArray(types) || types.some((t) => typeof t !== 'string'))) {
      throw badRequest('enabledEventTypes must be an array of strings', 'enabledEventTypes');
    }
    await ctx.store.updateRealm({
      ...realm,
      events: {
        eventsEnabled: bool('eventsEnabled', realm.events.eventsEnabled),
        eventsExpiration: typeof expiration === 'number' ? expiration : realm.events.eventsExpiration,
        enabledEventTypes: Array.isArray(types) ? (types as string[]) : realm.events.enabledEventTypes,
        adminEventsEnabled: bool('adminEventsEnabled', realm.events.adminEventsEnabled),
        adminEventsDetailsEnabled: bool('adminEventsDetailsEnabled', realm.events.adminEventsDetailsEnabled),
      },
    });
    auditAdmin(ctx, request, realm, 'UPDATE', 'REALM', 'events/config', rep);
    return reply.code(204).send();
  });

  app.get('/:realm/admin-events', async (request) => {
    const realm = targetRealm(ctx, request, 'view-events');
    const q = request.query as Record<string, string | string[] | undefined>;
    const { first, max } = pageQuery({ first: q['first'] as string | undefined, max: q['max'] as string | undefined }, 100);
    const operationTypes = list(q['operationTypes']);
    const resourceTypes = list(q['resourceTypes']);
    return ctx.events.gatherAdminEvents(realm.id, {
      ...(operationTypes !== undefined ? { operationTypes } : {}),
      ...(resourceTypes !== undefined ? { resourceTypes } : {}),
      ...(typeof q['resourcePath'] === 'string' ? { resourcePath: q['resourcePath'] } : {}),
      ...(typeof q['authUser'] === 'string' ? { authUser: q['authUser'] } : {}),
      ...(typeof q['authClient'] === 'string' ? { authClient: q['authClient'] } : {}),
      ...(typeof q['authIpAddress'] === 'string' ? { authIpAddress: q['authIpAddress'] } : {}),
      ...optional('dateFrom', parseDate(q['dateFrom'] as string | undefined, 'dateFrom', false)),
      ...optional('dateTo', parseDate(q['dateTo'] as string | undefined, 'dateTo', true)),
      first,
      max,
    });
  });

  app.delete('/:realm/admin-events', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-events');
    await ctx.events.clearEverywhere(realm.id, true);
    return reply.code(204).send();
  });
}

function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}
