// Users: create, list (username / exact / search / email / first / max),
// count, get, update, delete, reset-password, realm and client role
// mappings. (User sessions, logout and consents are in sessions.ts.)

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parsePasswordPolicy } from '../../crypto/password-hasher.js';
import { END_REASON } from '../../protocol/actor-messages.js';
import { defaultRoleName } from '../../realm/defaults.js';
import type { RealmRecord, UserRecord } from '../../realm/model.js';
import { DISABLED_BY_PERMANENT_LOCKOUT, DISABLED_REASON_ATTRIBUTE, isTemporarilyLocked } from '../../session/brute-force.js';
import type { FacadeContext } from '../context.js';
import { baseUrlOf } from '../oidc/request-context.js';
import { auditAdmin, targetRealm } from './admin-routes.js';
import { badRequest, conflict, notFound } from './admin-error.js';
import { clientOf } from './clients.js';
import { pageQuery } from './paging.js';
import { applyUserRep, requireObject, roleToRep, userFromRep, userToRep } from './representations.js';

export function userOf(ctx: FacadeContext, realm: RealmRecord, request: FastifyRequest): UserRecord {
  const id = (request.params as { id?: string }).id ?? '';
  const user = ctx.store.userById(id);
  if (user === undefined || user.realmId !== realm.id) throw notFound('User not found');
  return user;
}

interface UserListQuery {
  search?: string;
  username?: string;
  email?: string;
  exact?: string;
  enabled?: string;
  first?: string;
  max?: string;
  briefRepresentation?: string;
}

export function registerUserRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  app.get('/:realm/users', async (request) => {
    const realm = targetRealm(ctx, request, 'query-users');
    const q = request.query as UserListQuery;
    const { first, max } = pageQuery(q, 100);
    const users = ctx.store.listUsers(realm.id, {
      ...(q.search !== undefined ? { search: q.search } : {}),
      ...(q.username !== undefined ? { username: q.username } : {}),
      ...(q.email !== undefined ? { email: q.email } : {}),
      ...(q.exact !== undefined ? { exact: q.exact === 'true' } : {}),
      ...(q.enabled !== undefined ? { enabled: q.enabled === 'true' } : {}),
      first,
      max,
    });
    return users.map((u) => userToRep(u, q.briefRepresentation === 'true'));
  });

  app.get('/:realm/users/count', async (request) => {
    const realm = targetRealm(ctx, request, 'query-users');
    const q = request.query as UserListQuery;
    return ctx.store.countUsers(realm.id, {
      ...(q.search !== undefined ? { search: q.search } : {}),
      ...(q.username !== undefined ? { username: q.username } : {}),
      ...(q.email !== undefined ? { email: q.email } : {}),
      ...(q.enabled !== undefined ? { enabled: q.enabled === 'true' } : {}),
    });
  });

  app.post('/:realm/users', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const rep = requireObject(request.body);
    const user = userFromRep(realm.id, rep);
    if (ctx.store.userByUsername(realm.id, user.username) !== undefined) throw conflict('User exists with same username');
    if (user.email !== null && ctx.store.userByEmail(realm.id, user.email) !== undefined) throw conflict('User exists with same email');
    const defaultRole = defaultRoleName(realm.name);
    if (ctx.store.realmRole(realm.id, defaultRole) !== undefined) user.realmRoles = [defaultRole];
    const credentials = Array.isArray(rep['credentials']) ? (rep['credentials'] as unknown[]) : [];
    for (const c of credentials) {
      const cred = requireObject(c);
      if (cred['type'] !== undefined && cred['type'] !== 'password') continue;
      if (typeof cred['value'] !== 'string') throw badRequest('credential value must be a string');
      user.credentials = [await ctx.hasher.hash(cred['value'], parsePasswordPolicy(realm.passwordPolicy))];
      if (cred['temporary'] === true && !user.requiredActions.includes('UPDATE_PASSWORD')) user.requiredActions.push('UPDATE_PASSWORD');
    }
    await ctx.store.putUser(user);
    auditAdmin(ctx, request, realm, 'CREATE', 'USER', `users/${user.id}`, userToRep(user));
    void reply.header('location', `${baseUrlOf(ctx, request)}/admin/realms/${encodeURIComponent(realm.name)}/users/${user.id}`);
    return reply.code(201).send();
  });

  app.get('/:realm/users/:id', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    return userToRep(userOf(ctx, realm, request));
  });

  app.put('/:realm/users/:id', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const rep = requireObject(request.body);
    let updated = applyUserRep(user, rep);
    if (updated.username !== user.username && ctx.store.userByUsername(realm.id, updated.username) !== undefined) throw conflict('User exists with same username');
    if (rep['enabled'] === true) updated = await releaseLockout(ctx, realm, user, updated);
    // A disabled user's sessions stay but stop refreshing ("User disabled"), as in Keycloak.
    await ctx.store.putUser(updated);
    auditAdmin(ctx, request, realm, 'UPDATE', 'USER', `users/${user.id}`, rep);
    return reply.code(204).send();
  });

  app.delete('/:realm/users/:id', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    await ctx.store.deleteUser(user.id);
    await ctx.engine.loginFailures.remove(realm.id, user.id);
    const ended = await ctx.engine.logoutUser(realm.id, user.id, END_REASON.userDeleted);
    await ctx.engine.removeUserOfflineSessions(realm.id, user.id, END_REASON.userDeleted);
    if (ended.length > 0) ctx.metrics.sessionsRevoked.inc({ realm: realm.name, cause: 'user_deleted' }, ended.length);
    auditAdmin(ctx, request, realm, 'DELETE', 'USER', `users/${user.id}`);
    return reply.code(204).send();
  });

  app.put('/:realm/users/:id/reset-password', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const rep = requireObject(request.body);
    if (typeof rep['value'] !== 'string' || rep['value'] === '') throw badRequest('invalidPasswordMinLengthMessage');
    const credential = await ctx.hasher.hash(rep['value'], parsePasswordPolicy(realm.passwordPolicy));
    // Keycloak (UserResource.resetPassword): temporary only when the body says `"temporary": true`.
    const temporary = rep['temporary'] === true;
    const requiredActions = user.requiredActions.filter((a) => a !== 'UPDATE_PASSWORD');
    if (temporary) requiredActions.push('UPDATE_PASSWORD');
    await ctx.store.putUser({ ...user, credentials: [credential], requiredActions });
    auditAdmin(ctx, request, realm, 'ACTION', 'USER', `users/${user.id}/reset-password`);
    return reply.code(204).send();
  });

  // ------------------------------------------------------------- role mappings
  app.get('/:realm/users/:id/role-mappings', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const user = userOf(ctx, realm, request);
    const clientMappings: Record<string, unknown> = {};
    for (const [clientId, names] of Object.entries(user.clientRoles)) {
      const client = ctx.store.clientByClientId(realm.id, clientId);
      if (client === undefined) continue;
      clientMappings[clientId] = { id: client.id, client: clientId, mappings: client.roles.filter((r) => names.includes(r.name)).map(roleToRep) };
    }
    return {
      realmMappings: user.realmRoles.map((name) => ctx.store.realmRole(realm.id, name)).filter((r) => r !== undefined).map(roleToRep),
      ...(Object.keys(clientMappings).length > 0 ? { clientMappings } : {}),
    };
  });

  app.get('/:realm/users/:id/role-mappings/realm', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const user = userOf(ctx, realm, request);
    return user.realmRoles.map((name) => ctx.store.realmRole(realm.id, name)).filter((r) => r !== undefined).map(roleToRep);
  });

  app.post('/:realm/users/:id/role-mappings/realm', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const names = roleNames(request.body);
    for (const name of names) if (ctx.store.realmRole(realm.id, name) === undefined) throw notFound('Role not found');
    await ctx.store.putUser({ ...user, realmRoles: [...new Set([...user.realmRoles, ...names])] });
    auditAdmin(ctx, request, realm, 'CREATE', 'REALM_ROLE_MAPPING', `users/${user.id}/role-mappings/realm`, request.body);
    return reply.code(204).send();
  });

  app.delete('/:realm/users/:id/role-mappings/realm', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const names = new Set(roleNames(request.body));
    await ctx.store.putUser({ ...user, realmRoles: user.realmRoles.filter((r) => !names.has(r)) });
    auditAdmin(ctx, request, realm, 'DELETE', 'REALM_ROLE_MAPPING', `users/${user.id}/role-mappings/realm`, request.body);
    return reply.code(204).send();
  });

  app.get('/:realm/users/:id/role-mappings/clients/:client', async (request) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const user = userOf(ctx, realm, request);
    const client = clientOf(ctx, realm, { params: { id: (request.params as { client: string }).client } } as FastifyRequest);
    const names = user.clientRoles[client.clientId] ?? [];
    return client.roles.filter((r) => names.includes(r.name)).map(roleToRep);
  });

  app.post('/:realm/users/:id/role-mappings/clients/:client', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const client = clientOf(ctx, realm, { params: { id: (request.params as { client: string }).client } } as FastifyRequest);
    const names = roleNames(request.body);
    for (const name of names) if (!client.roles.some((r) => r.name === name)) throw notFound('Role not found');
    const current = user.clientRoles[client.clientId] ?? [];
    await ctx.store.putUser({ ...user, clientRoles: { ...user.clientRoles, [client.clientId]: [...new Set([...current, ...names])] } });
    auditAdmin(ctx, request, realm, 'CREATE', 'CLIENT_ROLE_MAPPING', `users/${user.id}/role-mappings/clients/${client.id}`, request.body);
    return reply.code(204).send();
  });

  app.delete('/:realm/users/:id/role-mappings/clients/:client', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const user = userOf(ctx, realm, request);
    const client = clientOf(ctx, realm, { params: { id: (request.params as { client: string }).client } } as FastifyRequest);
    const names = new Set(roleNames(request.body));
    const remaining = (user.clientRoles[client.clientId] ?? []).filter((r) => !names.has(r));
    const clientRoles = { ...user.clientRoles };
    if (remaining.length === 0) delete clientRoles[client.clientId];
    else clientRoles[client.clientId] = remaining;
    await ctx.store.putUser({ ...user, clientRoles });
    auditAdmin(ctx, request, realm, 'DELETE', 'CLIENT_ROLE_MAPPING', `users/${user.id}/role-mappings/clients/${client.id}`, request.body);
    return reply.code(204).send();
  });
}

/**
 * Enabling a user ends their lockout, as Keycloak's UserResource.updateUser:
 * the login failures go when the user was disabled or temporarily locked, and
 * the `disabledReason` a permanent lockout wrote is removed.
 */
async function releaseLockout(ctx: FacadeContext, realm: RealmRecord, before: UserRecord, updated: UserRecord): Promise<UserRecord> {
  const record = await ctx.engine.loginFailures.get(realm.id, before.id);
  if (record !== null && (!before.enabled || isTemporarilyLocked(record, ctx.clock.nowSeconds()))) await ctx.engine.loginFailures.remove(realm.id, before.id);
  if (updated.attributes[DISABLED_REASON_ATTRIBUTE]?.[0] !== DISABLED_BY_PERMANENT_LOCKOUT) return updated;
  const { [DISABLED_REASON_ATTRIBUTE]: _reason, ...attributes } = updated.attributes;
  return { ...updated, attributes };
}

/** Role names from a body of RoleRepresentations (`[{id, name}]`). */
function roleNames(body: unknown): string[] {
  if (!Array.isArray(body)) throw badRequest('Request body must be an array of roles');
  return body.map((r) => {
    if (r === null || typeof r !== 'object' || typeof (r as { name?: unknown }).name !== 'string') throw badRequest('Each role needs a name');
    return (r as { name: string }).name;
  });
}
