// A stored realm as Keycloak realm-representation JSON: the format of
// `kc.sh export` and of the admin console's partial export, and what
// `--import-realm` reads (realm/import/keycloak-realm.ts), so that a realm
// exported here imports into Keycloak or into another sessiond with its
// settings, clients, roles and users, and every user keeps their password.
//
// Two uses:
// - the admin API's partial export (`POST /admin/realms/{r}/partial-export`):
//   no users, and secrets masked as Keycloak masks them
//   (ModelToRepresentation.stripForExport: client secrets become
//   "**********");
// - the offline export (`npm run export`): users with their hashed
//   credentials in Keycloak's CredentialRepresentation form, secrets kept.
//
// Only what sessiond holds is written; a Keycloak import fills the rest
// (flows, client scopes, components) with its defaults, as for any
// hand-written realm file. The one flow written is the user-session-limits
// authenticator when the realm has limits, because that is where Keycloak
// (and the importer) reads them from.

import { credentialToKeycloak } from '../../crypto/keycloak-credential.js';
import { REALM_SESSION_KEYS } from '../../session/realm-settings.js';
import { SESSION_LIMIT_BEHAVIOR, SESSION_LIMIT_CONFIG, type SessionLimitPolicy } from '../../session/session-limits.js';
import { defaultRoleName } from '../defaults.js';
import type { ClientRecord, RealmRecord, RoleRecord, UserRecord } from '../model.js';
import type { RealmStore } from '../realm-store.js';

export type Json = Record<string, unknown>;

/** Keycloak's mask for secrets in a partial export (ComponentRepresentation.SECRET_VALUE). */
export const SECRET_MASK = '**********';

export interface RealmExportOptions {
  clients: boolean;
  /** Realm roles, and client roles inside `roles.client`. */
  groupsAndRoles: boolean;
  /** Replace client secrets by SECRET_MASK. */
  maskSecrets: boolean;
}

function roleRep(role: RoleRecord): Json {
  return {
    id: role.id,
    name: role.name,
    ...(role.description !== null ? { description: role.description } : {}),
    composite: role.composite,
    ...(role.composite && role.composites !== null
      ? {
          composites: {
            ...(role.composites.realm.length > 0 ? { realm: role.composites.realm } : {}),
            ...(Object.keys(role.composites.client).length > 0 ? { client: role.composites.client } : {}),
          },
        }
      : {}),
    clientRole: role.clientRole,
    containerId: role.containerId,
  };
}

/** A ClientRepresentation as Keycloak exports it; `maskSecrets` as partial-export does. */
export function clientRep(client: ClientRecord, maskSecrets: boolean): Json {
  const hasSecret = !client.publicClient && client.secret !== null;
  return {
    id: client.id,
    clientId: client.clientId,
    ...(client.name !== null ? { name: client.name } : {}),
    ...(client.description !== null ? { description: client.description } : {}),
    ...(client.rootUrl !== null ? { rootUrl: client.rootUrl } : {}),
    ...(client.adminUrl !== null ? { adminUrl: client.adminUrl } : {}),
    ...(client.baseUrl !== null ? { baseUrl: client.baseUrl } : {}),
    enabled: client.enabled,
    ...(hasSecret ? { secret: maskSecrets ? SECRET_MASK : client.secret } : {}),
    redirectUris: client.redirectUris,
    webOrigins: client.webOrigins,
    notBefore: client.notBefore,
    bearerOnly: client.bearerOnly,
    consentRequired: client.consentRequired,
    standardFlowEnabled: client.standardFlowEnabled,
    implicitFlowEnabled: client.implicitFlowEnabled,
    directAccessGrantsEnabled: client.directAccessGrantsEnabled,
    serviceAccountsEnabled: client.serviceAccountsEnabled,
    publicClient: client.publicClient,
    frontchannelLogout: client.frontchannelLogout,
    protocol: client.protocol,
    attributes: client.attributes,
    fullScopeAllowed: client.fullScopeAllowed,
    defaultClientScopes: client.defaultClientScopes,
    optionalClientScopes: client.optionalClientScopes,
  };
}

/** A UserRepresentation's identity fields, as both the export and the admin API write them (absent ones left out). */
export function userIdentityRep(user: UserRecord, withAttributes: boolean): Json {
  return {
    id: user.id,
    username: user.username,
    ...(user.firstName !== null ? { firstName: user.firstName } : {}),
    ...(user.lastName !== null ? { lastName: user.lastName } : {}),
    ...(user.email !== null ? { email: user.email } : {}),
    emailVerified: user.emailVerified,
    ...(withAttributes && Object.keys(user.attributes).length > 0 ? { attributes: user.attributes } : {}),
    createdTimestamp: user.createdTimestamp,
    enabled: user.enabled,
  };
}

/** One user as `kc.sh export` writes it, hashed credentials included. */
export function userExportRep(user: UserRecord): Json {
  return {
    ...userIdentityRep(user, true),
    ...(user.serviceAccountClientId !== null ? { serviceAccountClientId: user.serviceAccountClientId } : {}),
    credentials: user.credentials.map(credentialToKeycloak),
    requiredActions: user.requiredActions,
    realmRoles: user.realmRoles,
    ...(Object.keys(user.clientRoles).length > 0 ? { clientRoles: user.clientRoles } : {}),
    notBefore: user.notBefore,
  };
}

const LIMITS_FLOW_ALIAS = 'browser';
const LIMITS_CONFIG_ALIAS = 'session-limits';

/**
 * The browser flow with the user-session-limits authenticator, where Keycloak
 * keeps a realm's limits. `autheticatorFlow` (sic) is the name Keycloak's
 * AuthenticationExecutionExportRepresentation writes next to `authenticatorFlow`.
 */
function sessionLimitFlows(policy: SessionLimitPolicy): Json {
  return {
    browserFlow: LIMITS_FLOW_ALIAS,
    authenticationFlows: [
      {
        alias: LIMITS_FLOW_ALIAS,
        description: 'browser based authentication',
        providerId: 'basic-flow',
        topLevel: true,
        builtIn: true,
        authenticationExecutions: [
          { authenticator: 'auth-cookie', authenticatorFlow: false, requirement: 'ALTERNATIVE', priority: 10, autheticatorFlow: false, userSetupAllowed: false },
          { authenticator: 'auth-username-password-form', authenticatorFlow: false, requirement: 'ALTERNATIVE', priority: 20, autheticatorFlow: false, userSetupAllowed: false },
          {
            authenticator: SESSION_LIMIT_CONFIG.providerId,
            authenticatorConfig: LIMITS_CONFIG_ALIAS,
            authenticatorFlow: false,
            requirement: 'REQUIRED',
            priority: 30,
            autheticatorFlow: false,
            userSetupAllowed: false,
          },
        ],
      },
    ],
    authenticatorConfig: [
      {
        alias: LIMITS_CONFIG_ALIAS,
        config: {
          [SESSION_LIMIT_CONFIG.behavior]:
            policy.behavior === SESSION_LIMIT_BEHAVIOR.deny ? SESSION_LIMIT_CONFIG.denyNewSession : SESSION_LIMIT_CONFIG.terminateOldestSession,
          [SESSION_LIMIT_CONFIG.userRealmLimit]: String(policy.realmLimit),
          [SESSION_LIMIT_CONFIG.userClientLimit]: String(policy.clientLimit),
        },
      },
    ],
  };
}

/** The realm representation without users (those go in `users` or in user files). */
export function realmExportRep(store: RealmStore, realm: RealmRecord, options: RealmExportOptions): Json {
  const sessions: Json = {};
  for (const key of REALM_SESSION_KEYS) sessions[key] = realm.sessions[key];
  const clients = store.clients(realm.id);
  const rep: Json = {
    id: realm.id,
    realm: realm.name,
    ...(realm.displayName !== null ? { displayName: realm.displayName } : {}),
    enabled: realm.enabled,
    ...sessions,
    ...realm.bruteForce,
    passwordPolicy: realm.passwordPolicy,
    defaultSignatureAlgorithm: realm.defaultSignatureAlgorithm,
    eventsEnabled: realm.events.eventsEnabled,
    eventsExpiration: realm.events.eventsExpiration,
    enabledEventTypes: realm.events.enabledEventTypes,
    adminEventsEnabled: realm.events.adminEventsEnabled,
    adminEventsDetailsEnabled: realm.events.adminEventsDetailsEnabled,
    attributes: realm.attributes,
    defaultRole: { name: defaultRoleName(realm.name), composite: true, clientRole: false, containerId: realm.id },
  };
  if (options.groupsAndRoles) {
    const client: Record<string, Json[]> = {};
    for (const c of clients) if (c.roles.length > 0) client[c.clientId] = c.roles.map(roleRep);
    rep['roles'] = { realm: store.realmRoles(realm.id).map(roleRep), client };
  }
  if (options.clients) rep['clients'] = clients.map((c) => clientRep(c, options.maskSecrets));
  if (realm.userSessionLimits !== null) Object.assign(rep, sessionLimitFlows(realm.userSessionLimits));
  return rep;
}
