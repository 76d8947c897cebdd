// Who may call the admin API (docs/keycloak-semantics.md#admin-tokens-and-roles). A bearer access token
// issued by this server: from the master realm, whose realm role `admin`
// may do everything in every realm; or from the target realm itself, whose
// `realm-management` client roles grant what they name (`realm-admin` all of
// them; `manage-x` implies `view-x`, as Keycloak's permission checks do).
// Missing/invalid token: 401; token without the role: 403.

import type { FastifyRequest } from 'fastify';
import { ADMIN_ROLE, MASTER_REALM_NAME, REALM_ADMIN_ROLE, REALM_MANAGEMENT_CLIENT_ID } from '../../realm/defaults.js';
import type { ClientRecord, RealmRecord, UserRecord } from '../../realm/model.js';
import { effectiveRoles, type EffectiveRoles } from '../../realm/roles.js';
import { peekJwtPayload } from '../../tokens/jwt.js';
import type { FacadeContext } from '../context.js';
import { baseUrlOf } from '../oidc/request-context.js';
import { checkToken } from '../oidc/token-checks.js';
import { forbidden, unauthorized } from './admin-error.js';

export type AdminRole =
  | 'view-users' | 'manage-users' | 'query-users'
  | 'view-clients' | 'manage-clients' | 'query-clients'
  | 'view-realm' | 'manage-realm' | 'query-realms'
  | 'view-events' | 'manage-events';

/** The admin behind a request, for authorization and audit. */
export interface AdminPrincipal {
  realm: RealmRecord;
  user: UserRecord;
  client: ClientRecord;
  roles: EffectiveRoles;
  /** Master realm role `admin`: everything everywhere. */
  superAdmin: boolean;
  ipAddress: string;
}

const IMPLIED_BY: Partial<Record<AdminRole, AdminRole[]>> = {
  'view-users': ['manage-users'],
  'query-users': ['view-users', 'manage-users'],
  'view-clients': ['manage-clients'],
  'query-clients': ['view-clients', 'manage-clients'],
  'view-realm': ['manage-realm'],
  'query-realms': ['view-realm', 'manage-realm'],
  'view-events': ['manage-events'],
};

export async function authenticateAdmin(ctx: FacadeContext, request: FastifyRequest): Promise<AdminPrincipal> {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !/^bearer /i.test(header)) throw unauthorized();
  const token = header.slice(7).trim();
  const claims = peekJwtPayload(token);
  const iss = typeof claims?.['iss'] === 'string' ? claims['iss'] : '';
  const base = `${baseUrlOf(ctx, request)}/realms/`;
  if (!iss.startsWith(base)) throw unauthorized();
  const realm = ctx.store.realmByName(decodeURIComponent(iss.slice(base.length)));
  if (realm === undefined || !realm.enabled) throw unauthorized();
  const checked = await checkToken(ctx, realm, iss, token, { allowRefresh: false });
  if (!checked.active) throw unauthorized();
  const roles = effectiveRoles(ctx.store, realm.id, checked.user);
  return {
    realm,
    user: checked.user,
    client: checked.client,
    roles,
    superAdmin: realm.name === MASTER_REALM_NAME && roles.realm.has(ADMIN_ROLE),
    ipAddress: request.ip,
  };
}

/** May `admin` do what `role` names in `target`? */
export function allowed(admin: AdminPrincipal, target: RealmRecord, role: AdminRole): boolean {
  if (admin.superAdmin) return true;
  if (admin.realm.id !== target.id) return false;
  const held = admin.roles.clients.get(REALM_MANAGEMENT_CLIENT_ID);
  if (held === undefined) return false;
  if (held.has(REALM_ADMIN_ROLE) || held.has(role)) return true;
  return (IMPLIED_BY[role] ?? []).some((r) => held.has(r));
}

export function requireRole(admin: AdminPrincipal, target: RealmRecord, role: AdminRole): void {
  if (!allowed(admin, target, role)) throw forbidden();
}
