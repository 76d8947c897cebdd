// A user's effective roles: the realm and client roles mapped to the user,
// with composites expanded (default-roles-<realm> brings offline_access,
// uma_authorization and account's roles; realm-admin brings every admin
// role). Roles are few, so the expansion is a small graph walk per token.

import type { RealmStore } from './realm-store.js';
import type { UserRecord } from './model.js';

export interface EffectiveRoles {
  realm: Set<string>;
  /** clientId -> role names. */
  clients: Map<string, Set<string>>;
}

export function effectiveRoles(store: RealmStore, realmId: string, user: UserRecord): EffectiveRoles {
  const out: EffectiveRoles = { realm: new Set(), clients: new Map() };
  const addClientRole = (clientId: string, name: string): void => {
    let roles = out.clients.get(clientId);
    if (roles === undefined) out.clients.set(clientId, (roles = new Set()));
    if (roles.has(name)) return;
    roles.add(name);
    const client = store.clientByClientId(realmId, clientId);
    const role = client?.roles.find((r) => r.name === name);
    if (role?.composites) expand(role.composites);
  };
  const addRealmRole = (name: string): void => {
    if (out.realm.has(name)) return;
    out.realm.add(name);
    const role = store.realmRole(realmId, name);
    if (role?.composites) expand(role.composites);
  };
  const expand = (composites: { realm: string[]; client: Record<string, string[]> }): void => {
    for (const name of composites.realm) addRealmRole(name);
    for (const [clientId, names] of Object.entries(composites.client)) for (const name of names) addClientRole(clientId, name);
  };
  for (const name of user.realmRoles) addRealmRole(name);
  for (const [clientId, names] of Object.entries(user.clientRoles)) for (const name of names) addClientRole(clientId, name);
  return out;
}

/** Does the user hold `role` of `clientId` (directly or through a composite)? */
export function hasClientRole(roles: EffectiveRoles, clientId: string, role: string): boolean {
  return roles.clients.get(clientId)?.has(role) === true;
}
