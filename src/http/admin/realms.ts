// Realms and realm roles: POST /admin/realms, GET/PUT/DELETE
// /admin/realms/{realm}, /roles, partialImport for bulk users/clients, and
// partial-export.

import type { FastifyInstance } from 'fastify';
import { credentialFromKeycloak, parsePasswordPolicy } from '../../crypto/password-hasher.js';
import { CREATE_REALM_ROLE, MASTER_REALM_NAME, defaultRoleName } from '../../realm/defaults.js';
import { parseKeycloakRealm } from '../../realm/import/keycloak-realm.js';
import type { ClientRecord, RealmRecord, UserRecord } from '../../realm/model.js';
import { realmExportRep } from '../../realm/export/keycloak-export.js';
import { baseUrlOf } from '../oidc/request-context.js';
import type { FacadeContext } from '../context.js';
import { adminOf, auditAdmin, targetRealm } from './admin-routes.js';
import { allowed, requireRole } from './admin-auth.js';
import { badRequest, conflict, forbidden, notFound } from './admin-error.js';
import { applyRealmRep, clientFromRep, realmToRep, requireObject, roleFromRep, roleToRep, userFromRep } from './representations.js';

export function registerRealmRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  app.get('/', async (request) => {
    const admin = adminOf(request);
    const visible = ctx.store
      .realms()
      .filter((realm) => allowed(admin, realm, 'view-realm') || allowed(admin, realm, 'view-users') || allowed(admin, realm, 'view-clients'))
      .map(realmToRep);
    // Keycloak's RealmsAdminResource.getRealms: throwIfEmpty(realms, new ForbiddenException()).
    if (visible.length === 0) throw forbidden();
    return visible;
  });

  app.post('/', async (request, reply) => {
    const admin = adminOf(request);
    if (!(admin.realm.name === MASTER_REALM_NAME && (admin.superAdmin || admin.roles.realm.has(CREATE_REALM_ROLE)))) throw forbidden();
    const rep = requireObject(request.body);
    if (typeof rep['realm'] !== 'string' || rep['realm'].trim() === '') throw badRequest('Realm name cannot be empty', 'realm');
    if (ctx.store.realmByName(rep['realm']) !== undefined) throw conflict(`Conflict detected. See logs for details`);
    let parsed;
    try {
      parsed = parseKeycloakRealm({ enabled: true, ...rep }, 'request');
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    const realm = await ctx.importBundle(parsed.bundle);
    void reply.header('location', `${baseUrlOf(ctx, request)}/admin/realms/${encodeURIComponent(realm.name)}`);
    return reply.code(201).send();
  });

  app.get('/:realm', async (request) => realmToRep(targetRealm(ctx, request, 'view-realm')));

  app.put('/:realm', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-realm');
    const rep = requireObject(request.body);
    const updated = applyRealmRep(realm, rep);
    if (updated.name !== realm.name && realm.name === MASTER_REALM_NAME) throw badRequest('Cannot rename master realm');
    await ctx.store.updateRealm(updated);
    auditAdmin(ctx, request, updated, 'UPDATE', 'REALM', '', rep);
    return reply.code(204).send();
  });

  app.delete('/:realm', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-realm');
    if (realm.name === MASTER_REALM_NAME) throw badRequest('Cannot delete master realm');
    await ctx.store.deleteRealm(realm.id);
    await ctx.engine.loginFailures.removeRealm(realm.id);
    await ctx.events.clear(realm.id, false);
    await ctx.events.clear(realm.id, true);
    return reply.code(204).send();
  });

  // ---------------------------------------------------------------- realm roles
  app.get('/:realm/roles', async (request) => {
    const realm = targetRealm(ctx, request, 'view-realm');
    const { search, first, max } = request.query as { search?: string; first?: string; max?: string };
    const roles = ctx.store.realmRoles(realm.id).filter((r) => search === undefined || r.name.includes(search));
    const start = first === undefined ? 0 : Math.max(0, Number(first) || 0);
    const count = max === undefined ? roles.length : Math.max(0, Number(max) || 0);
    return roles.slice(start, start + count).map(roleToRep);
  });

  app.post('/:realm/roles', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-realm');
    const role = roleFromRep(realm.id, requireObject(request.body));
    if (ctx.store.realmRole(realm.id, role.name) !== undefined) throw conflict(`Role with name ${role.name} already exists`);
    await ctx.store.putRealmRole(realm.id, role);
    auditAdmin(ctx, request, realm, 'CREATE', 'REALM_ROLE', `roles/${role.name}`, roleToRep(role));
    void reply.header('location', `${baseUrlOf(ctx, request)}/admin/realms/${encodeURIComponent(realm.name)}/roles/${encodeURIComponent(role.name)}`);
    return reply.code(201).send();
  });

  app.get('/:realm/roles/:role', async (request) => {
    const realm = targetRealm(ctx, request, 'view-realm');
    const role = ctx.store.realmRole(realm.id, (request.params as { role: string }).role);
    if (role === undefined) throw notFound('Could not find role');
    return roleToRep(role);
  });

  app.delete('/:realm/roles/:role', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-realm');
    const name = (request.params as { role: string }).role;
    if (name === defaultRoleName(realm.name)) throw badRequest('You cannot delete the default role');
    await ctx.store.deleteRealmRole(realm.id, name);
    auditAdmin(ctx, request, realm, 'DELETE', 'REALM_ROLE', `roles/${name}`);
    return reply.code(204).send();
  });

  // -------------------------------------------------------------- partial export
  // Keycloak's RealmAdminResource.partialExport: the realm without users,
  // clients and roles only when asked, secrets masked.
  app.post('/:realm/partial-export', async (request) => {
    const realm = targetRealm(ctx, request, 'view-realm');
    const query = request.query as { exportClients?: string; exportGroupsAndRoles?: string };
    // JAX-RS Boolean.valueOf: "true" in any case is true, anything else false.
    const clients = query.exportClients?.toLowerCase() === 'true';
    const groupsAndRoles = query.exportGroupsAndRoles?.toLowerCase() === 'true';
    if (clients) requireRole(adminOf(request), realm, 'view-clients');
    return realmExportRep(ctx.store, realm, { clients, groupsAndRoles, maskSecrets: true });
  });

  // -------------------------------------------------------------- partial import
  app.post('/:realm/partialImport', async (request) => {
    const realm = targetRealm(ctx, request, 'manage-realm');
    const rep = requireObject(request.body);
    const policy = rep['ifResourceExists'] ?? 'FAIL';
    if (policy !== 'FAIL' && policy !== 'SKIP' && policy !== 'OVERWRITE') throw badRequest('ifResourceExists must be FAIL, SKIP or OVERWRITE');
    return partialImport(ctx, realm, rep, policy);
  });
}

interface PartialImportResult {
  overwritten: number;
  added: number;
  skipped: number;
  results: { action: 'ADDED' | 'SKIPPED' | 'OVERWRITTEN'; resourceType: 'USER' | 'CLIENT' | 'REALM_ROLE'; resourceName: string; id: string }[];
}

/**
 * Keycloak's partialImport for users, clients and realm roles. With FAIL, any
 * existing resource fails the whole import before anything is written.
 */
async function partialImport(ctx: FacadeContext, realm: RealmRecord, rep: Record<string, unknown>, policy: 'FAIL' | 'SKIP' | 'OVERWRITE'): Promise<PartialImportResult> {
  const result: PartialImportResult = { overwritten: 0, added: 0, skipped: 0, results: [] };
  const clientReps = Array.isArray(rep['clients']) ? (rep['clients'] as unknown[]) : [];
  const userReps = Array.isArray(rep['users']) ? (rep['users'] as unknown[]) : [];
  const roles = rep['roles'] as { realm?: unknown[] } | undefined;
  const roleReps = Array.isArray(roles?.realm) ? roles.realm : [];

  const clients: { record: ClientRecord; existing: ClientRecord | undefined }[] = clientReps.map((r) => {
    const record = clientFromRep(realm.id, requireObject(r));
    const existing = ctx.store.clientByClientId(realm.id, record.clientId);
    return { record: existing === undefined ? record : { ...record, id: existing.id }, existing };
  });
  const policyOfRealm = parsePasswordPolicy(realm.passwordPolicy);
  const users: { record: UserRecord; existing: UserRecord | undefined; password: string | null }[] = userReps.map((r, i) => {
    const userRep = requireObject(r);
    const record = userFromRep(realm.id, userRep);
    if (typeof userRep['id'] === 'string') record.id = userRep['id'];
    if (Array.isArray(userRep['realmRoles'])) record.realmRoles = (userRep['realmRoles'] as unknown[]).filter((x): x is string => typeof x === 'string');
    let password: string | null = null;
    for (const [k, c] of (Array.isArray(userRep['credentials']) ? (userRep['credentials'] as unknown[]) : []).entries()) {
      const cred = requireObject(c);
      if (cred['type'] !== 'password') continue;
      if (typeof cred['value'] === 'string') password = cred['value'];
      else record.credentials = [credentialFromKeycloak(cred, `users[${i}].credentials[${k}]`)];
    }
    const existing = ctx.store.userByUsername(realm.id, record.username);
    return { record: existing === undefined ? record : { ...record, id: existing.id, createdTimestamp: existing.createdTimestamp }, existing, password };
  });
  if (policy === 'FAIL') {
    const clash = clients.find((c) => c.existing !== undefined)?.record.clientId ?? users.find((u) => u.existing !== undefined)?.record.username;
    if (clash !== undefined) throw conflict(`Resource ${clash} already exists`);
  }
  for (const r of roleReps) {
    const role = roleFromRep(realm.id, requireObject(r));
    const existing = ctx.store.realmRole(realm.id, role.name);
    if (existing !== undefined && policy === 'FAIL') throw conflict(`Resource ${role.name} already exists`);
    if (existing !== undefined && policy === 'SKIP') {
      result.skipped++;
      result.results.push({ action: 'SKIPPED', resourceType: 'REALM_ROLE', resourceName: role.name, id: existing.id });
      continue;
    }
    await ctx.store.putRealmRole(realm.id, existing === undefined ? role : { ...role, id: existing.id });
    result[existing === undefined ? 'added' : 'overwritten']++;
    result.results.push({ action: existing === undefined ? 'ADDED' : 'OVERWRITTEN', resourceType: 'REALM_ROLE', resourceName: role.name, id: existing?.id ?? role.id });
  }
  for (const { record, existing } of clients) {
    if (existing !== undefined && policy === 'SKIP') {
      result.skipped++;
      result.results.push({ action: 'SKIPPED', resourceType: 'CLIENT', resourceName: record.clientId, id: existing.id });
      continue;
    }
    await ctx.store.putClient(record);
    result[existing === undefined ? 'added' : 'overwritten']++;
    result.results.push({ action: existing === undefined ? 'ADDED' : 'OVERWRITTEN', resourceType: 'CLIENT', resourceName: record.clientId, id: record.id });
  }
  const defaultRole = defaultRoleName(realm.name);
  for (const { record, existing, password } of users) {
    if (existing !== undefined && policy === 'SKIP') {
      result.skipped++;
      result.results.push({ action: 'SKIPPED', resourceType: 'USER', resourceName: record.username, id: existing.id });
      continue;
    }
    for (const role of record.realmRoles) if (ctx.store.realmRole(realm.id, role) === undefined) throw badRequest(`Role ${role} does not exist`);
    if (existing === undefined && !record.realmRoles.includes(defaultRole) && ctx.store.realmRole(realm.id, defaultRole) !== undefined) record.realmRoles.push(defaultRole);
    if (password !== null) record.credentials = [await ctx.hasher.hash(password, policyOfRealm)];
    await ctx.store.putUser(record);
    result[existing === undefined ? 'added' : 'overwritten']++;
    result.results.push({ action: existing === undefined ? 'ADDED' : 'OVERWRITTEN', resourceType: 'USER', resourceName: record.username, id: record.id });
  }
  return result;
}
