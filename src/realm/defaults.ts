// What Keycloak puts into every realm it creates, as records: the built-in
// clients (`realm-management`, `account`, `account-console`, `admin-cli`,
// `broker`, `security-admin-console`; in master `master-realm` instead of
// `realm-management`), their client roles, and the realm roles
// `offline_access`, `uma_authorization` and `default-roles-<realm>` (plus
// `admin` and `create-realm` in master).
//
// Sources (keycloak/keycloak, 26.x):
// - services/.../managers/RealmManager.java: createRealm / importRealm and the
//   setup* methods (which clients exist, their flags, URLs and roles; which
//   of them an import adds when the file lacks them).
// - server-spi/.../models/AdminRoles.java: ALL_REALM_ROLES; addQueryCompositeRoles
//   in RealmManager makes view-users ⊇ {query-users, query-groups} and
//   view-clients ⊇ {query-clients}; realm-admin holds all of them plus
//   `impersonation` (ImpersonationConstants.setupRealmRole).
// - KeycloakModelUtils.createManagementClient (bearer-only) / createPublicClient.
// - JPA RealmAdapter.addClient: a new client is enabled with the standard flow
//   on and every other flag off; RepresentationToModel.createClient keeps those
//   for fields an import omits, with protocol `openid-connect` and
//   fullScopeAllowed = !consentRequired.
//
// Ids are fresh UUIDs. The clock is read only as the default of a `now` parameter.

import { randomUUID } from 'node:crypto';
import { DEFAULT_PASSWORD_ALGORITHM, PBKDF2_SALT_BYTES, pbkdf2Algorithm } from '../crypto/pbkdf2-algorithms.js';
import { realmSessionSettings, type RealmSessionSettings } from '../session/realm-settings.js';
import { bruteForceSettings, type BruteForceSettings } from '../session/brute-force.js';
import type {
  ClientRecord,
  RealmBundle,
  RealmEventSettings,
  RealmRecord,
  RoleRecord,
  SignatureAlgorithm,
  UserRecord,
} from './model.js';

export const MASTER_REALM_NAME = 'master';

export const REALM_MANAGEMENT_CLIENT_ID = 'realm-management';
export const ACCOUNT_CLIENT_ID = 'account';
export const ACCOUNT_CONSOLE_CLIENT_ID = 'account-console';
export const ADMIN_CLI_CLIENT_ID = 'admin-cli';
export const BROKER_CLIENT_ID = 'broker';
export const ADMIN_CONSOLE_CLIENT_ID = 'security-admin-console';
/** Master holds one `<realm>-realm` client per realm (AdminRoles.APP_SUFFIX). */
export const MASTER_ADMIN_CLIENT_SUFFIX = '-realm';

export const OFFLINE_ACCESS_ROLE = 'offline_access';
export const UMA_AUTHORIZATION_ROLE = 'uma_authorization';
export const DEFAULT_ROLES_PREFIX = 'default-roles-';
export const ADMIN_ROLE = 'admin';
export const CREATE_REALM_ROLE = 'create-realm';
export const REALM_ADMIN_ROLE = 'realm-admin';
export const IMPERSONATION_ROLE = 'impersonation';

/** AdminRoles.ALL_REALM_ROLES (Keycloak 24–26.x; later builds add *-organizations). */
export const ADMIN_CLIENT_ROLES = Object.freeze([
  'create-client',
  'view-realm',
  'view-users',
  'view-clients',
  'view-events',
  'view-identity-providers',
  'view-authorization',
  'manage-realm',
  'manage-users',
  'manage-clients',
  'manage-events',
  'manage-identity-providers',
  'manage-authorization',
  'query-users',
  'query-clients',
  'query-realms',
  'query-groups',
] as const);

/** RealmManager.addQueryCompositeRoles: the only admin roles that contain others. */
export const ADMIN_ROLE_COMPOSITES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'view-users': Object.freeze(['query-users', 'query-groups']),
  'view-clients': Object.freeze(['query-clients']),
});

/** AccountRoles.DEFAULT: the account roles every user gets through the default role. */
export const ACCOUNT_DEFAULT_ROLES = Object.freeze(['view-profile', 'manage-account'] as const);

/**
 * Client scopes a new OIDC client gets when its representation names none:
 * the realm's defaultDefaultClientScopes / defaultOptionalClientScopes of a
 * Keycloak 26 realm (DefaultClientScopes; `basic` since 25, `organization` since 26).
 */
export const DEFAULT_CLIENT_SCOPES = Object.freeze(['web-origins', 'acr', 'profile', 'roles', 'basic', 'email']);
export const OPTIONAL_CLIENT_SCOPES = Object.freeze([
  'address',
  'phone',
  'offline_access',
  'organization',
  'microprofile-jwt',
]);

/** Constants.DEFAULT_SIGNATURE_ALGORITHM. */
export const DEFAULT_SIGNATURE_ALGORITHM: SignatureAlgorithm = 'RS256';

const DEFAULT_PASSWORD_SPEC = pbkdf2Algorithm(DEFAULT_PASSWORD_ALGORITHM)!;

/**
 * How passwords are hashed when the realm's passwordPolicy names no
 * hashAlgorithm/hashIterations: Keycloak 24's default (and FIPS mode's in
 * 25+), Pbkdf2Sha512PasswordHashProviderFactory, 210,000 iterations (OWASP),
 * 512-bit key. Keycloak 25+ outside FIPS defaults to argon2, which Node 20
 * cannot compute, so sessiond keeps PBKDF2.
 */
export const DEFAULT_PASSWORD_HASH = Object.freeze({
  algorithm: DEFAULT_PASSWORD_SPEC.id,
  iterations: DEFAULT_PASSWORD_SPEC.defaultIterations,
  keyBytes: DEFAULT_PASSWORD_SPEC.keyBytes,
  saltBytes: PBKDF2_SALT_BYTES,
});

/** Keycloak's values when a realm representation omits the event settings. */
export const REALM_EVENT_DEFAULTS: Readonly<RealmEventSettings> = Object.freeze({
  eventsEnabled: false,
  enabledEventTypes: [],
  eventsExpiration: 0,
  adminEventsEnabled: false,
  adminEventsDetailsEnabled: false,
});

export function defaultRoleName(realmName: string): string {
  // RealmManager.determineDefaultRoleName lower-cases the realm name.
  return DEFAULT_ROLES_PREFIX + realmName.toLowerCase();
}

export function masterAdminClientId(realmName: string): string {
  return realmName + MASTER_ADMIN_CLIENT_SUFFIX;
}

export function isMasterRealm(realm: Pick<RealmRecord, 'name'>): boolean {
  return realm.name === MASTER_REALM_NAME;
}

/** The admin client that holds a realm's own admin roles. */
export function realmAdminClientId(realm: Pick<RealmRecord, 'name'>): string {
  return isMasterRealm(realm) ? masterAdminClientId(MASTER_REALM_NAME) : REALM_MANAGEMENT_CLIENT_ID;
}

/**
 * A user as Keycloak's `UserProvider.addUser` leaves it: disabled, no email,
 * names, roles, credentials, required actions or attributes. Callers set what
 * their path sets (the admin API, the bootstrap admin, service accounts).
 */
export function userDefaults(realmId: string, username: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: randomUUID(),
    realmId,
    username,
    email: null,
    emailVerified: false,
    firstName: null,
    lastName: null,
    enabled: false,
    createdTimestamp: Date.now(),
    notBefore: 0,
    realmRoles: [],
    clientRoles: {},
    credentials: [],
    requiredActions: [],
    attributes: {},
    serviceAccountClientId: null,
    ...overrides,
  };
}

/**
 * A client as Keycloak's import leaves it when the representation sets only
 * its clientId: enabled, standard flow on, everything else off, full scope,
 * openid-connect, no secret.
 */
export function clientDefaults(realmId: string, clientId: string, id: string = randomUUID()): ClientRecord {
  return {
    id,
    realmId,
    clientId,
    name: null,
    description: null,
    enabled: true,
    publicClient: false,
    bearerOnly: false,
    secret: null,
    protocol: 'openid-connect',
    rootUrl: null,
    baseUrl: null,
    adminUrl: null,
    redirectUris: [],
    webOrigins: [],
    standardFlowEnabled: true,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
    serviceAccountsEnabled: false,
    consentRequired: false,
    frontchannelLogout: false,
    fullScopeAllowed: true,
    defaultClientScopes: [...DEFAULT_CLIENT_SCOPES],
    optionalClientScopes: [...OPTIONAL_CLIENT_SCOPES],
    attributes: {},
    notBefore: 0,
    roles: [],
  };
}

function role(
  name: string,
  containerId: string,
  clientRole: boolean,
  composites: RoleRecord['composites'] = null,
  description: string | null = `\${role_${name}}`,
): RoleRecord {
  const composite = composites !== null && (composites.realm.length > 0 || Object.keys(composites.client).length > 0);
  return {
    id: randomUUID(),
    name,
    description,
    composite,
    composites: composite ? composites : null,
    clientRole,
    containerId,
  };
}

/** Realm admin roles as RealmManager.setupRealmAdminManagement / createMasterAdminManagement make them. */
function adminClientRoles(client: Pick<ClientRecord, 'id' | 'clientId'>, withRealmAdmin: boolean): RoleRecord[] {
  const roles: RoleRecord[] = [];
  for (const name of ADMIN_CLIENT_ROLES) {
    const members = ADMIN_ROLE_COMPOSITES[name];
    roles.push(role(name, client.id, true, members ? { realm: [], client: { [client.clientId]: [...members] } } : null));
  }
  roles.push(role(IMPERSONATION_ROLE, client.id, true));
  if (withRealmAdmin) {
    const all = [...ADMIN_CLIENT_ROLES, IMPERSONATION_ROLE];
    roles.push(role(REALM_ADMIN_ROLE, client.id, true, { realm: [], client: { [client.clientId]: all } }));
  }
  return roles;
}

/** The built-in clients of a realm, keyed by clientId, in Keycloak's creation order. */
function builtInClients(realm: Pick<RealmRecord, 'id' | 'name'>): ClientRecord[] {
  const encodedName = encodeURIComponent(realm.name);
  const accountBase = `/realms/${encodedName}/account/`;
  const clients: ClientRecord[] = [];

  const admin = clientDefaults(realm.id, realmAdminClientId(realm));
  admin.bearerOnly = true;
  admin.fullScopeAllowed = false;
  if (isMasterRealm(realm)) {
    // createMasterAdminManagement: no localized name, no realm-admin role
    // (master's `admin` realm role plays that part).
    admin.name = `${MASTER_REALM_NAME} Realm`;
    admin.roles = adminClientRoles(admin, false);
  } else {
    admin.name = `\${client_${REALM_MANAGEMENT_CLIENT_ID}}`;
    admin.roles = adminClientRoles(admin, true);
  }
  clients.push(admin);

  const account = clientDefaults(realm.id, ACCOUNT_CLIENT_ID);
  account.name = `\${client_${ACCOUNT_CLIENT_ID}}`;
  account.publicClient = true;
  account.fullScopeAllowed = false;
  account.rootUrl = '${authBaseUrl}';
  account.baseUrl = accountBase;
  account.redirectUris = [accountBase + '*'];
  account.attributes = { 'post.logout.redirect.uris': '+' };
  account.roles = [
    role('view-profile', account.id, true),
    role('manage-account', account.id, true, { realm: [], client: { [ACCOUNT_CLIENT_ID]: ['manage-account-links'] } }),
    role('manage-account-links', account.id, true),
    role('view-applications', account.id, true),
    role('view-consent', account.id, true),
    role('manage-consent', account.id, true, { realm: [], client: { [ACCOUNT_CLIENT_ID]: ['view-consent'] } }),
    role('view-groups', account.id, true),
    // KeycloakModelUtils.setupDeleteAccount: present, but not a default role.
    role('delete-account', account.id, true),
  ];
  clients.push(account);

  const accountConsole = clientDefaults(realm.id, ACCOUNT_CONSOLE_CLIENT_ID);
  accountConsole.name = `\${client_${ACCOUNT_CONSOLE_CLIENT_ID}}`;
  accountConsole.publicClient = true;
  accountConsole.fullScopeAllowed = false;
  accountConsole.rootUrl = '${authBaseUrl}';
  accountConsole.baseUrl = accountBase;
  accountConsole.redirectUris = [accountBase + '*'];
  accountConsole.attributes = { 'post.logout.redirect.uris': '+', 'pkce.code.challenge.method': 'S256' };
  clients.push(accountConsole);

  const adminCli = clientDefaults(realm.id, ADMIN_CLI_CLIENT_ID);
  adminCli.name = `\${client_${ADMIN_CLI_CLIENT_ID}}`;
  adminCli.publicClient = true;
  adminCli.standardFlowEnabled = false;
  adminCli.directAccessGrantsEnabled = true;
  adminCli.attributes = { 'client.use.lightweight.access.token.enabled': 'true' };
  clients.push(adminCli);

  const broker = clientDefaults(realm.id, BROKER_CLIENT_ID);
  broker.name = `\${client_${BROKER_CLIENT_ID}}`;
  broker.bearerOnly = true;
  broker.fullScopeAllowed = false;
  broker.roles = [role('read-token', broker.id, true)];
  clients.push(broker);

  const adminConsole = adminConsoleClient(realm);
  clients.push(adminConsole);

  return clients;
}

/**
 * The admin console's public PKCE client, `security-admin-console`, whose
 * redirect URIs are the realm's console path (made at realm creation, and by
 * the console when a realm imported without it is opened).
 */
export function adminConsoleClient(realm: Pick<RealmRecord, 'id' | 'name'>): ClientRecord {
  const consoleBase = `/admin/${encodeURIComponent(realm.name)}/console/`;
  const adminConsole = clientDefaults(realm.id, ADMIN_CONSOLE_CLIENT_ID);
  adminConsole.name = `\${client_${ADMIN_CONSOLE_CLIENT_ID}}`;
  adminConsole.publicClient = true;
  adminConsole.rootUrl = '${authAdminUrl}';
  adminConsole.baseUrl = consoleBase;
  adminConsole.redirectUris = [consoleBase + '*'];
  adminConsole.webOrigins = ['+'];
  adminConsole.attributes = {
    'post.logout.redirect.uris': '+',
    'pkce.code.challenge.method': 'S256',
    'client.use.lightweight.access.token.enabled': 'true',
  };
  return adminConsole;
}

/** The built-in realm roles, given the clients they refer to. */
function builtInRealmRoles(realm: Pick<RealmRecord, 'id' | 'name'>, defaultRole: string): RoleRecord[] {
  const roles: RoleRecord[] = [
    role(OFFLINE_ACCESS_ROLE, realm.id, false, null, '${role_offline-access}'),
    role(UMA_AUTHORIZATION_ROLE, realm.id, false),
    role(
      defaultRole,
      realm.id,
      false,
      {
        realm: [OFFLINE_ACCESS_ROLE, UMA_AUTHORIZATION_ROLE],
        client: { [ACCOUNT_CLIENT_ID]: [...ACCOUNT_DEFAULT_ROLES] },
      },
      '${role_default-roles}',
    ),
  ];
  if (isMasterRealm(realm)) {
    const masterClient = masterAdminClientId(MASTER_REALM_NAME);
    roles.push(role(CREATE_REALM_ROLE, realm.id, false));
    // createMasterAdminManagement: admin ⊇ create-realm and every admin role of
    // every `<realm>-realm` client; here only master's own client exists.
    roles.push(
      role(ADMIN_ROLE, realm.id, false, {
        realm: [CREATE_REALM_ROLE],
        client: { [masterClient]: [...ADMIN_CLIENT_ROLES, IMPERSONATION_ROLE] },
      }),
    );
  }
  return roles;
}

/** Realm fields that may be overridden; session and event settings may be partial. */
export type RealmOverrides = Partial<Omit<RealmRecord, 'name' | 'sessions' | 'events' | 'bruteForce'>> & {
  sessions?: Partial<RealmSessionSettings>;
  bruteForce?: Partial<BruteForceSettings>;
  events?: Partial<RealmEventSettings>;
};

/** A realm record with Keycloak's defaults for a new realm (master: 60 s access tokens). */
export function realmRecordDefaults(name: string, overrides: RealmOverrides = {}, now: number = Date.now()): RealmRecord {
  const master = name === MASTER_REALM_NAME;
  const { sessions, events, bruteForce, ...rest } = overrides;
  return {
    id: randomUUID(),
    name,
    // ApplianceBootstrap names the master realm after the product.
    displayName: master ? 'Keycloak' : null,
    enabled: true,
    passwordPolicy: '',
    defaultSignatureAlgorithm: DEFAULT_SIGNATURE_ALGORITHM,
    userSessionLimits: null,
    attributes: {},
    createdTimestamp: now,
    ...rest,
    sessions: realmSessionSettings(sessions ?? {}, { master }),
    bruteForce: bruteForceSettings(bruteForce ?? {}),
    events: { ...REALM_EVENT_DEFAULTS, enabledEventTypes: [], ...events },
  };
}

/** Everything Keycloak's RealmManager.createRealm puts into a new realm. */
export function newRealmBundle(name: string, overrides: RealmOverrides = {}): RealmBundle {
  if (name.trim() === '') throw new TypeError('realm name must not be blank');
  const realm = realmRecordDefaults(name, overrides);
  return {
    realm,
    clients: builtInClients(realm),
    users: [],
    roles: builtInRealmRoles(realm, defaultRoleName(realm.name)),
    plainPasswords: [],
  };
}

/** The master realm as Keycloak bootstraps it (no users: the bootstrap admin is added separately). */
export function masterRealmBundle(overrides: RealmOverrides = {}): RealmBundle {
  return newRealmBundle(MASTER_REALM_NAME, overrides);
}

export interface CompleteRealmOptions {
  /** The realm's default role when it is not `default-roles-<realm>` (a representation's `defaultRole.name`). */
  defaultRoleName?: string;
  /** Creation time for service-account users added here (epoch ms). */
  now?: number;
}

/**
 * Adds whatever of Keycloak's built-in realm contents an imported bundle
 * lacks, as RealmManager.importRealm does: missing built-in clients (with
 * their roles), missing admin roles of an existing admin client (and the
 * realm-admin / query composites, checkRealmAdminManagementRoles), the
 * account client's `delete-account`, the realm roles `offline_access`,
 * `uma_authorization` and the default role, and a service-account user for
 * every client with serviceAccountsEnabled that has none
 * (ClientManager.enableServiceAccount). What the bundle has keeps its ids and
 * values. Returns a new bundle; the input is not modified (clients and roles
 * that gain members are copied).
 */
export function completeRealm(bundle: RealmBundle, options: CompleteRealmOptions = {}): RealmBundle {
  const out: RealmBundle = {
    realm: bundle.realm,
    clients: [...bundle.clients],
    users: [...bundle.users],
    roles: [...bundle.roles],
    plainPasswords: [...bundle.plainPasswords],
  };
  completeClientsAndRoles(out, options);
  addServiceAccountUsers(out, options.defaultRoleName ?? defaultRoleName(out.realm.name), options.now ?? Date.now());
  return out;
}

/**
 * The client-and-role half of completeRealm, in place: missing built-in
 * clients, missing admin and account roles, missing built-in realm roles.
 * Clients it changes are replaced by copies, never mutated. The importer
 * runs it before it reads users, which may hold the roles it adds.
 */
export function completeClientsAndRoles(bundle: RealmBundle, options: CompleteRealmOptions = {}): void {
  const realm = bundle.realm;
  const indexByClientId = new Map<string, number>();
  bundle.clients.forEach((c, i) => indexByClientId.set(c.clientId, i));

  for (const builtIn of builtInClients(realm)) {
    const index = indexByClientId.get(builtIn.clientId);
    if (index === undefined) {
      indexByClientId.set(builtIn.clientId, bundle.clients.length);
      bundle.clients.push(builtIn);
      continue;
    }
    const existing = bundle.clients[index]!;
    if (builtIn.clientId === realmAdminClientId(realm)) {
      bundle.clients[index] = completeAdminClient(existing, !isMasterRealm(realm));
    } else if (builtIn.clientId === ACCOUNT_CLIENT_ID && !existing.roles.some((r) => r.name === 'delete-account')) {
      bundle.clients[index] = { ...existing, roles: [...existing.roles, role('delete-account', existing.id, true)] };
    }
  }

  const defaultRole = options.defaultRoleName ?? defaultRoleName(realm.name);
  const realmRoleNames = new Set(bundle.roles.map((r) => r.name));
  const clientRoleNames = new Map(bundle.clients.map((c) => [c.clientId, new Set(c.roles.map((r) => r.name))]));
  for (const builtIn of builtInRealmRoles(realm, defaultRole)) {
    if (realmRoleNames.has(builtIn.name)) continue;
    // A customised built-in client may lack a role the built-in composite
    // names (account's view-profile, say); a composite never dangles.
    bundle.roles.push(pruneComposites(builtIn, realmRoleNames, clientRoleNames, builtInRealmRoleNames(realm, defaultRole)));
  }
}

function builtInRealmRoleNames(realm: Pick<RealmRecord, 'name'>, defaultRole: string): Set<string> {
  const names = new Set([OFFLINE_ACCESS_ROLE, UMA_AUTHORIZATION_ROLE, defaultRole]);
  if (isMasterRealm(realm)) names.add(CREATE_REALM_ROLE).add(ADMIN_ROLE);
  return names;
}

function pruneComposites(
  r: RoleRecord,
  realmRoles: ReadonlySet<string>,
  clientRoles: ReadonlyMap<string, ReadonlySet<string>>,
  alsoRealm: ReadonlySet<string>,
): RoleRecord {
  if (r.composites === null) return r;
  const realm = r.composites.realm.filter((n) => realmRoles.has(n) || alsoRealm.has(n));
  const client: Record<string, string[]> = {};
  for (const [clientId, names] of Object.entries(r.composites.client)) {
    const have = clientRoles.get(clientId);
    const kept = have ? names.filter((n) => have.has(n)) : [];
    if (kept.length > 0) client[clientId] = kept;
  }
  const composite = realm.length > 0 || Object.keys(client).length > 0;
  return { ...r, composite, composites: composite ? { realm, client } : null };
}

/** Adds missing admin roles and restores realm-admin / view-* composites (checkRealmAdminManagementRoles). */
function completeAdminClient(client: ClientRecord, withRealmAdmin: boolean): ClientRecord {
  const byName = new Map(client.roles.map((r) => [r.name, r]));
  const wanted = [...ADMIN_CLIENT_ROLES, IMPERSONATION_ROLE];
  let changed = false;
  const roles = [...client.roles];
  for (const name of wanted) {
    if (!byName.has(name)) {
      const r = role(name, client.id, true);
      roles.push(r);
      byName.set(name, r);
      changed = true;
    }
  }
  const addMembers = (name: string, members: readonly string[]): void => {
    const index = roles.findIndex((r) => r.name === name);
    const r = index >= 0 ? roles[index]! : role(name, client.id, true);
    const have = new Set(r.composites?.client[client.clientId] ?? []);
    const missing = members.filter((m) => !have.has(m));
    if (index >= 0 && missing.length === 0) return;
    const composites = {
      realm: r.composites?.realm ?? [],
      client: { ...r.composites?.client, [client.clientId]: [...have, ...missing] },
    };
    const updated: RoleRecord = { ...r, composite: true, composites };
    if (index >= 0) roles[index] = updated;
    else roles.push(updated);
    changed = true;
  };
  for (const [name, members] of Object.entries(ADMIN_ROLE_COMPOSITES)) addMembers(name, members);
  if (withRealmAdmin) addMembers(REALM_ADMIN_ROLE, wanted);
  return changed ? { ...client, roles } : client;
}

/** Username Keycloak gives a client's service-account user (ServiceAccountConstants). */
export function serviceAccountUsername(clientId: string): string {
  return ('service-account-' + clientId).toLowerCase();
}

/**
 * Adds a `service-account-<clientId>` user for every client with service
 * accounts enabled that has none, holding the default role as
 * ClientManager.enableServiceAccount makes it. A same-named user that is not
 * linked is left alone (Keycloak's import would fail; the importer reports it).
 */
export function addServiceAccountUsers(bundle: RealmBundle, defaultRole: string, now: number): void {
  const linked = new Set<string>();
  const usernames = new Set<string>();
  for (const u of bundle.users) {
    if (u.serviceAccountClientId !== null) linked.add(u.serviceAccountClientId);
    usernames.add(u.username);
  }
  for (const client of bundle.clients) {
    if (!client.serviceAccountsEnabled || linked.has(client.clientId)) continue;
    const username = serviceAccountUsername(client.clientId);
    if (usernames.has(username)) continue;
    // UserProvider.addUser(realm, username) grants the default role.
    const user = userDefaults(bundle.realm.id, username, { enabled: true, createdTimestamp: now, realmRoles: [defaultRole], serviceAccountClientId: client.clientId });
    bundle.users.push(user);
    usernames.add(username);
  }
}
