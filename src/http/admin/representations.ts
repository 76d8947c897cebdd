// Keycloak's admin representations (RealmRepresentation, ClientRepresentation,
// UserRepresentation, RoleRepresentation, UserSessionRepresentation, ...)
// to and from our records. Times: representations use epoch ms where
// Keycloak does (createdTimestamp, session start/lastAccess), seconds for
// every timeout and notBefore, exactly like Keycloak.

import { randomUUID } from 'node:crypto';
import type { SessionView } from '../../protocol/actor-messages.js';
import { clientDefaults, realmRecordDefaults, userDefaults } from '../../realm/defaults.js';
import { clientRep, userIdentityRep } from '../../realm/export/keycloak-export.js';
import { SIGNATURE_ALGORITHMS, type ClientRecord, type RealmRecord, type RoleRecord, type SignatureAlgorithm, type UserRecord } from '../../realm/model.js';
import { BRUTE_FORCE_KEYS, bruteForceSettings, bruteForceValueError, type BruteForceSettings } from '../../session/brute-force.js';
import { REALM_SESSION_KEYS, realmSessionSettings, type RealmSessionSettings } from '../../session/realm-settings.js';
import { badRequest } from './admin-error.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function str(rep: Json, key: string, max = 1024): string | undefined {
  const v = rep[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${key} must be a string`, key);
  return v;
}

function bool(rep: Json, key: string): boolean | undefined {
  const v = rep[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${key} must be a boolean`, key);
  return v;
}

function int(rep: Json, key: string): number | undefined {
  const v = rep[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badRequest(`${key} must be an integer`, key);
  return v;
}

function strings(rep: Json, key: string, maxItems = 1000): string[] | undefined {
  const v = rep[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > maxItems || v.some((x) => typeof x !== 'string')) throw badRequest(`${key} must be an array of strings`, key);
  return v as string[];
}

function stringMap(rep: Json, key: string): Record<string, string> | undefined {
  const v = rep[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw badRequest(`${key} must be an object`, key);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue;
    out[k] = typeof x === 'string' ? x : String(x);
  }
  return out;
}

export function requireObject(body: unknown): Json {
  if (!isObject(body)) throw badRequest('Request body must be a JSON object');
  return body;
}

// ---------------------------------------------------------------------------
// Realms

export function realmToRep(realm: RealmRecord): Json {
  return {
    id: realm.id,
    realm: realm.name,
    displayName: realm.displayName ?? undefined,
    enabled: realm.enabled,
    ...realm.sessions,
    ...realm.bruteForce,
    eventsEnabled: realm.events.eventsEnabled,
    eventsExpiration: realm.events.eventsExpiration,
    enabledEventTypes: realm.events.enabledEventTypes,
    eventsListeners: ['jboss-logging'],
    adminEventsEnabled: realm.events.adminEventsEnabled,
    adminEventsDetailsEnabled: realm.events.adminEventsDetailsEnabled,
    passwordPolicy: realm.passwordPolicy,
    defaultSignatureAlgorithm: realm.defaultSignatureAlgorithm,
    sslRequired: 'external',
    attributes: realm.attributes,
  };
}

/** Applies a (partial) RealmRepresentation to a realm record; fields absent keep their value. */
export function applyRealmRep(realm: RealmRecord, rep: Json): RealmRecord {
  const sessions: Partial<RealmSessionSettings> = { ...realm.sessions };
  for (const key of REALM_SESSION_KEYS) {
    const v = rep[key];
    if (v === undefined || v === null) continue;
    if (typeof realm.sessions[key] === 'boolean') {
      if (typeof v !== 'boolean') throw badRequest(`${key} must be a boolean`, key);
    } else if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw badRequest(`${key} must be an integer`, key);
    }
    (sessions as Record<string, unknown>)[key] = v;
  }
  const bruteForce: Partial<Record<keyof BruteForceSettings, unknown>> = { ...realm.bruteForce };
  for (const key of BRUTE_FORCE_KEYS) {
    const v = rep[key];
    if (v === undefined || v === null) continue;
    const error = bruteForceValueError(key, v);
    if (error !== null) throw badRequest(error, key);
    bruteForce[key] = v;
  }
  const alg = str(rep, 'defaultSignatureAlgorithm', 32);
  if (alg !== undefined && !(SIGNATURE_ALGORITHMS as readonly string[]).includes(alg)) {
    throw badRequest(`defaultSignatureAlgorithm ${alg} is not supported (${SIGNATURE_ALGORITHMS.join(', ')})`, 'defaultSignatureAlgorithm');
  }
  const name = str(rep, 'realm', 255);
  if (name !== undefined && (name.trim() === '' || /[/\\]/.test(name))) throw badRequest('Invalid realm name', 'realm');
  const expiration = int(rep, 'eventsExpiration');
  if (expiration !== undefined && expiration < 0) throw badRequest('eventsExpiration must not be negative', 'eventsExpiration');
  return {
    ...realm,
    name: name ?? realm.name,
    displayName: str(rep, 'displayName') ?? realm.displayName,
    enabled: bool(rep, 'enabled') ?? realm.enabled,
    sessions: realmSessionSettings(sessions, { master: false }),
    bruteForce: bruteForceSettings(bruteForce),
    events: {
      eventsEnabled: bool(rep, 'eventsEnabled') ?? realm.events.eventsEnabled,
      enabledEventTypes: strings(rep, 'enabledEventTypes') ?? realm.events.enabledEventTypes,
      eventsExpiration: expiration ?? realm.events.eventsExpiration,
      adminEventsEnabled: bool(rep, 'adminEventsEnabled') ?? realm.events.adminEventsEnabled,
      adminEventsDetailsEnabled: bool(rep, 'adminEventsDetailsEnabled') ?? realm.events.adminEventsDetailsEnabled,
    },
    passwordPolicy: str(rep, 'passwordPolicy', 2048) ?? realm.passwordPolicy,
    defaultSignatureAlgorithm: (alg as SignatureAlgorithm | undefined) ?? realm.defaultSignatureAlgorithm,
    attributes: { ...realm.attributes, ...(stringMap(rep, 'attributes') ?? {}) },
  };
}

/** A new realm record from a RealmRepresentation (POST /admin/realms). */
export function realmFromRep(rep: Json): RealmRecord {
  const name = str(rep, 'realm', 255);
  if (name === undefined || name.trim() === '') throw badRequest('Realm name cannot be empty', 'realm');
  const base = realmRecordDefaults(name, { id: str(rep, 'id', 255) ?? randomUUID() });
  return applyRealmRep(base, rep);
}

// ---------------------------------------------------------------------------
// Clients

/** The admin API's ClientRepresentation: the exported one (secret in clear) plus the fields Keycloak's admin API adds. */
export function clientToRep(client: ClientRecord): Json {
  return {
    ...clientRep(client, false),
    surrogateAuthRequired: false,
    alwaysDisplayInConsole: false,
    clientAuthenticatorType: 'client-secret',
    nodeReRegistrationTimeout: -1,
    access: { view: true, configure: true, manage: true },
  };
}

/** Applies a ClientRepresentation to a client record (create: `client` is the defaults). */
export function applyClientRep(client: ClientRecord, rep: Json): ClientRecord {
  const clientId = str(rep, 'clientId', 255);
  if (clientId !== undefined && clientId.trim() === '') throw badRequest('clientId must not be empty', 'clientId');
  const notBefore = int(rep, 'notBefore');
  if (notBefore !== undefined && notBefore < 0) throw badRequest('notBefore must not be negative', 'notBefore');
  const publicClient = bool(rep, 'publicClient') ?? client.publicClient;
  const next: ClientRecord = {
    ...client,
    clientId: clientId ?? client.clientId,
    name: str(rep, 'name') ?? client.name,
    description: str(rep, 'description') ?? client.description,
    enabled: bool(rep, 'enabled') ?? client.enabled,
    publicClient,
    bearerOnly: bool(rep, 'bearerOnly') ?? client.bearerOnly,
    secret: str(rep, 'secret') ?? client.secret,
    protocol: str(rep, 'protocol', 64) ?? client.protocol,
    rootUrl: str(rep, 'rootUrl', 2048) ?? client.rootUrl,
    baseUrl: str(rep, 'baseUrl', 2048) ?? client.baseUrl,
    adminUrl: str(rep, 'adminUrl', 2048) ?? client.adminUrl,
    redirectUris: strings(rep, 'redirectUris') ?? client.redirectUris,
    webOrigins: strings(rep, 'webOrigins') ?? client.webOrigins,
    standardFlowEnabled: bool(rep, 'standardFlowEnabled') ?? client.standardFlowEnabled,
    implicitFlowEnabled: bool(rep, 'implicitFlowEnabled') ?? client.implicitFlowEnabled,
    directAccessGrantsEnabled: bool(rep, 'directAccessGrantsEnabled') ?? client.directAccessGrantsEnabled,
    serviceAccountsEnabled: bool(rep, 'serviceAccountsEnabled') ?? client.serviceAccountsEnabled,
    consentRequired: bool(rep, 'consentRequired') ?? client.consentRequired,
    frontchannelLogout: bool(rep, 'frontchannelLogout') ?? client.frontchannelLogout,
    fullScopeAllowed: bool(rep, 'fullScopeAllowed') ?? client.fullScopeAllowed,
    defaultClientScopes: strings(rep, 'defaultClientScopes') ?? client.defaultClientScopes,
    optionalClientScopes: strings(rep, 'optionalClientScopes') ?? client.optionalClientScopes,
    attributes: rep['attributes'] === undefined ? client.attributes : { ...client.attributes, ...(stringMap(rep, 'attributes') ?? {}) },
    notBefore: notBefore ?? client.notBefore,
  };
  if (!next.publicClient && !next.bearerOnly && next.secret === null) next.secret = newClientSecret();
  return next;
}

export function clientFromRep(realmId: string, rep: Json): ClientRecord {
  const clientId = str(rep, 'clientId', 255);
  if (clientId === undefined || clientId.trim() === '') throw badRequest('clientId must not be empty', 'clientId');
  return applyClientRep(clientDefaults(realmId, clientId, str(rep, 'id', 255) ?? randomUUID()), rep);
}

export function newClientSecret(): string {
  return randomUUID().replaceAll('-', '').slice(0, 32);
}

// ---------------------------------------------------------------------------
// Users

export function userToRep(user: UserRecord, brief = false): Json {
  return {
    ...userIdentityRep(user, !brief),
    totp: false,
    disableableCredentialTypes: [],
    requiredActions: user.requiredActions,
    notBefore: user.notBefore,
    ...(user.serviceAccountClientId !== null ? { serviceAccountClientId: user.serviceAccountClientId } : {}),
    access: { manageGroupMembership: true, view: true, mapRoles: true, impersonate: false, manage: true },
  };
}

export function applyUserRep(user: UserRecord, rep: Json): UserRecord {
  const username = str(rep, 'username', 255);
  if (username !== undefined && username.trim() === '') throw badRequest('error-user-attribute-required', 'username');
  const email = rep['email'] === '' ? null : str(rep, 'email', 255);
  if (email !== undefined && email !== null && !/^[^@\s]+@[^@\s]+$/.test(email)) throw badRequest('error-invalid-email', 'email');
  const notBefore = int(rep, 'notBefore');
  let attributes = user.attributes;
  const attrs = rep['attributes'];
  if (attrs !== undefined && attrs !== null) {
    if (!isObject(attrs)) throw badRequest('attributes must be an object', 'attributes');
    attributes = {};
    for (const [k, v] of Object.entries(attrs)) attributes[k] = Array.isArray(v) ? v.map(String) : [String(v)];
  }
  return {
    ...user,
    username: username?.toLowerCase() ?? user.username,
    email: email === undefined ? user.email : email,
    emailVerified: bool(rep, 'emailVerified') ?? user.emailVerified,
    firstName: str(rep, 'firstName') ?? user.firstName,
    lastName: str(rep, 'lastName') ?? user.lastName,
    enabled: bool(rep, 'enabled') ?? user.enabled,
    notBefore: notBefore ?? user.notBefore,
    requiredActions: strings(rep, 'requiredActions') ?? user.requiredActions,
    attributes,
  };
}

export function userFromRep(realmId: string, rep: Json): UserRecord {
  const username = str(rep, 'username', 255);
  if (username === undefined || username.trim() === '') throw badRequest('error-user-attribute-required', 'username');
  const base = userDefaults(realmId, username.toLowerCase());
  return applyUserRep(base, rep);
}

// ---------------------------------------------------------------------------
// Roles

export function roleToRep(role: RoleRecord): Json {
  return {
    id: role.id,
    name: role.name,
    ...(role.description !== null ? { description: role.description } : {}),
    composite: role.composite,
    clientRole: role.clientRole,
    containerId: role.containerId,
  };
}

export function roleFromRep(realmId: string, rep: Json): RoleRecord {
  const name = str(rep, 'name', 255);
  if (name === undefined || name.trim() === '') throw badRequest('Role name must not be empty', 'name');
  return { id: randomUUID(), name, description: str(rep, 'description') ?? null, composite: false, composites: null, clientRole: false, containerId: realmId };
}

// ---------------------------------------------------------------------------
// Sessions

/** UserSessionRepresentation: times in ms, clients as {clientUUID: clientId}. */
export function sessionToRep(view: SessionView, clientIdOf: (uuid: string) => string | undefined, lastAccessOf?: (view: SessionView) => number): Json {
  const clients: Record<string, string> = {};
  for (const c of view.clients) {
    const clientId = clientIdOf(c.client);
    if (clientId !== undefined) clients[c.client] = clientId;
  }
  return {
    id: view.id,
    username: view.username,
    userId: view.userId,
    ipAddress: view.ip,
    start: view.started * 1000,
    lastAccess: (lastAccessOf === undefined ? view.lastSessionRefresh : lastAccessOf(view)) * 1000,
    rememberMe: view.rememberMe,
    clients,
    transientUser: false,
  };
}
