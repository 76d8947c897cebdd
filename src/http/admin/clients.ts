// Clients: create, list (clientId / search / first / max), get, update,
// delete, client-secret, client roles, service-account user.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { completeRealm, serviceAccountUsername } from '../../realm/defaults.js';
import type { ClientRecord, RealmRecord } from '../../realm/model.js';
import type { FacadeContext } from '../context.js';
import { baseUrlOf } from '../oidc/request-context.js';
import { auditAdmin, targetRealm } from './admin-routes.js';
import { badRequest, conflict, notFound } from './admin-error.js';
import { pageQuery } from './paging.js';
import { applyClientRep, clientFromRep, clientToRep, newClientSecret, requireObject, roleFromRep, roleToRep, userToRep } from './representations.js';

export function clientOf(ctx: FacadeContext, realm: RealmRecord, request: FastifyRequest): ClientRecord {
  const id = (request.params as { id?: string }).id ?? '';
  const client = ctx.store.clientById(id);
  if (client === undefined || client.realmId !== realm.id) throw notFound('Could not find client');
  return client;
}

export function registerClientRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  app.get('/:realm/clients', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const query = request.query as { clientId?: string; search?: string; first?: string; max?: string; viewableOnly?: string };
    const { first, max } = pageQuery(query, 100);
    let clients = ctx.store.clients(realm.id);
    if (query.clientId !== undefined) {
      clients = query.search === 'true' ? clients.filter((c) => c.clientId.toLowerCase().includes(query.clientId!.toLowerCase())) : clients.filter((c) => c.clientId === query.clientId);
    }
    return clients.slice(first, first + max).map(clientToRep);
  });

  app.post('/:realm/clients', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-clients');
    const client = clientFromRep(realm.id, requireObject(request.body));
    if (ctx.store.clientByClientId(realm.id, client.clientId) !== undefined) throw conflict(`Client ${client.clientId} already exists`);
    if (ctx.store.clientById(client.id) !== undefined) throw conflict(`Client ${client.id} already exists`);
    await ctx.store.putClient(client);
    await ensureServiceAccount(ctx, realm, client);
    auditAdmin(ctx, request, realm, 'CREATE', 'CLIENT', `clients/${client.id}`, clientToRep(client));
    void reply.header('location', `${baseUrlOf(ctx, request)}/admin/realms/${encodeURIComponent(realm.name)}/clients/${client.id}`);
    return reply.code(201).send();
  });

  app.get('/:realm/clients/:id', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    return clientToRep(clientOf(ctx, realm, request));
  });

  app.put('/:realm/clients/:id', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-clients');
    const client = clientOf(ctx, realm, request);
    const rep = requireObject(request.body);
    if (rep['id'] !== undefined && rep['id'] !== client.id) throw badRequest('Client id cannot be changed');
    const updated = applyClientRep(client, rep);
    if (updated.clientId !== client.clientId && ctx.store.clientByClientId(realm.id, updated.clientId) !== undefined) {
      throw conflict(`Client ${updated.clientId} already exists`);
    }
    await ctx.store.putClient(updated);
    await ensureServiceAccount(ctx, realm, updated);
    auditAdmin(ctx, request, realm, 'UPDATE', 'CLIENT', `clients/${client.id}`, rep);
    return reply.code(204).send();
  });

  app.delete('/:realm/clients/:id', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-clients');
    const client = clientOf(ctx, realm, request);
    await ctx.store.deleteClient(client.id);
    const account = ctx.store.userByUsername(realm.id, serviceAccountUsername(client.clientId));
    if (account !== undefined && account.serviceAccountClientId === client.clientId) await ctx.store.deleteUser(account.id);
    auditAdmin(ctx, request, realm, 'DELETE', 'CLIENT', `clients/${client.id}`);
    return reply.code(204).send();
  });

  app.get('/:realm/clients/:id/client-secret', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, request);
    return { type: 'secret', ...(client.secret !== null ? { value: client.secret } : {}) };
  });

  app.post('/:realm/clients/:id/client-secret', async (request) => {
    const realm = targetRealm(ctx, request, 'manage-clients');
    const client = clientOf(ctx, realm, request);
    if (client.publicClient || client.bearerOnly) throw badRequest('Client is not confidential');
    const updated = { ...client, secret: newClientSecret() };
    await ctx.store.putClient(updated);
    auditAdmin(ctx, request, realm, 'ACTION', 'CLIENT', `clients/${client.id}/client-secret`);
    return { type: 'secret', value: updated.secret };
  });

  app.get('/:realm/clients/:id/service-account-user', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, request);
    const user = client.serviceAccountsEnabled ? ctx.store.userByUsername(realm.id, serviceAccountUsername(client.clientId)) : undefined;
    if (user === undefined) throw badRequest('Service account not enabled for the client');
    return userToRep(user);
  });

  // Client roles (needed to grant realm-management roles through the API).
  app.get('/:realm/clients/:id/roles', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    return clientOf(ctx, realm, request).roles.map(roleToRep);
  });

  app.get('/:realm/clients/:id/roles/:role', async (request) => {
    const realm = targetRealm(ctx, request, 'view-clients');
    const client = clientOf(ctx, realm, request);
    const role = client.roles.find((r) => r.name === (request.params as { role: string }).role);
    if (role === undefined) throw notFound('Could not find role');
    return roleToRep(role);
  });

  app.post('/:realm/clients/:id/roles', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-clients');
    const client = clientOf(ctx, realm, request);
    const role = { ...roleFromRep(client.id, requireObject(request.body)), clientRole: true, containerId: client.id };
    if (client.roles.some((r) => r.name === role.name)) throw conflict(`Role with name ${role.name} already exists`);
    await ctx.store.putClient({ ...client, roles: [...client.roles, role] });
    auditAdmin(ctx, request, realm, 'CREATE', 'CLIENT_ROLE', `clients/${client.id}/roles/${role.name}`, roleToRep(role));
    void reply.header('location', `${baseUrlOf(ctx, request)}/admin/realms/${encodeURIComponent(realm.name)}/clients/${client.id}/roles/${encodeURIComponent(role.name)}`);
    return reply.code(201).send();
  });
}

/** A client with service accounts enabled has its `service-account-<clientId>` user (as Keycloak creates it). */
async function ensureServiceAccount(ctx: FacadeContext, realm: RealmRecord, client: ClientRecord): Promise<void> {
  if (!client.serviceAccountsEnabled) return;
  if (ctx.store.userByUsername(realm.id, serviceAccountUsername(client.clientId)) !== undefined) return;
  const completed = completeRealm({ realm, clients: [client], users: [], roles: ctx.store.realmRoles(realm.id), plainPasswords: [] });
  const account = completed.users.find((u) => u.serviceAccountClientId === client.clientId);
  if (account !== undefined) await ctx.store.putUser(account);
}
