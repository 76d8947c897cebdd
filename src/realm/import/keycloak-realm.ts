// Keycloak realm representations (the JSON `kc.sh export`, the admin
// console's partial export and hand-written `--import-realm` files use) as a
// RealmBundle.
//
// What is read, and Keycloak's value when a field is absent
// (DefaultExportImportManager.importRealm / createUser,
// RepresentationToModel.createClient, RealmManager.importRealm):
//
//   realm     id (absent: a fresh UUID, KeycloakModelUtils.generateId), realm,
//             displayName, enabled (absent: false — the JPA column default),
//             every docs/keycloak-semantics.md#realm-timeouts attribute (absent: §2.1 default; master's
//             accessTokenLifespan 60; actionTokenGeneratedByUserLifespan falls
//             back to the file's accessCodeLifespanUserAction), event
//             settings, passwordPolicy, defaultSignatureAlgorithm (RS256),
//             attributes, the user-session-limits authenticator of the
//             browser (else direct grant) flow.
//   clients   enabled and standardFlowEnabled default true, every other flag
//             false, fullScopeAllowed = !consentRequired, protocol
//             openid-connect, webOrigins derived from http(s) redirect URIs,
//             `post.logout.redirect.uris` "+", the realm's default client
//             scopes, a generated secret for a confidential client without one.
//   roles     realm roles and client roles (attached to their client).
//   users     username and email lower-cased, enabled default false, role
//             mappings checked against the realm's roles, password credentials
//             (plain → plainPasswords, hashed → PasswordCredential).
//
// Then the realm is completed as Keycloak's import completes it
// (completeRealm: built-in clients and roles that the file lacks, service-
// account users). Everything else in the file is ignored; the first
// occurrence of each ignored field (per position, indices folded) is
// returned in `ignored` for a debug log.
//
// Stricter than Keycloak on purpose: a user's realm or client role that does
// not exist is an error here (Keycloak silently creates it), so a typo does
// not grant a new empty role.
//
// Speed: one pass per array, Map/Set lookups for duplicates and references,
// paths built only for errors and for the first occurrence of an ignored
// field; 100 k users with hashed credentials take ~0.6 s on top of the
// ~0.4 s JSON.parse of their 80 MB (2 cores, see the test).

import { randomBytes, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { SIGNATURE_ALGORITHMS, type ClientRecord, type RealmBundle, type RealmRecord, type RoleRecord, type SignatureAlgorithm, type UserRecord } from '../model.js';
import {
  REALM_SESSION_DEFAULTS,
  REALM_SESSION_KEYS,
  realmSessionSettings,
  type RealmSessionSettings,
} from '../../session/realm-settings.js';
import { BRUTE_FORCE_KEYS, bruteForceSettings, bruteForceValueError, type BruteForceSettings } from '../../session/brute-force.js';
import { SESSION_LIMIT_CONFIG, sessionLimitPolicyFromConfig, type SessionLimitPolicy } from '../../session/session-limits.js';
import {
  clientDefaults,
  completeClientsAndRoles,
  addServiceAccountUsers,
  DEFAULT_CLIENT_SCOPES,
  DEFAULT_SIGNATURE_ALGORITHM,
  defaultRoleName,
  MASTER_REALM_NAME,
  OPTIONAL_CLIENT_SCOPES,
  serviceAccountUsername,
} from '../defaults.js';
import { parsePasswordPolicy } from '../../crypto/password-hasher.js';
import { CredentialFormatError, passwordCredentialFromExport } from './credential.js';
import { childPath, indexPath, jsonTypeName, RealmImportError } from './import-error.js';
import { mergeUserFiles, readRealmDirectory, type RealmFile } from './realm-directory.js';

export { RealmImportError } from './import-error.js';
export { mergeUserFiles, readRealmDirectory, parseJsonText, type RealmDocument, type RealmFile } from './realm-directory.js';

export interface ParseRealmOptions {
  /** `{realm, users}` files (kc.sh export --users different_files) whose users join this realm. */
  userFiles?: readonly RealmFile[];
  /** Import time (epoch ms): createdTimestamp of the realm and of records the file leaves undated. */
  now?: number;
  /** JSON path of the realm object inside `file` (`$[1]` in an array of realms). */
  root?: string;
  /** Ignored-field paths listed at most (the rest are counted in a note). */
  ignoredMax?: number;
}

export interface ParsedRealm {
  bundle: RealmBundle;
  /** The file the realm came from. */
  file: string;
  /** JSON paths of ignored fields, first occurrence of each (`$.users[0].totp`, not every user's). */
  ignored: string[];
  /** Things the operator should know: skipped credentials, generated secrets, defaults with consequences. */
  notes: string[];
}

/** Ignored fields listed by default; distinct ones, so a real export stays far below it. */
export const IGNORED_PATHS_MAX = 200;

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Fields read from each kind of object. Anything else is reported as ignored.
const REALM_FIELDS = new Set<string>([
  'id', 'realm', 'displayName', 'enabled', ...REALM_SESSION_KEYS, ...BRUTE_FORCE_KEYS,
  'eventsEnabled', 'enabledEventTypes', 'eventsExpiration', 'adminEventsEnabled', 'adminEventsDetailsEnabled',
  'passwordPolicy', 'defaultSignatureAlgorithm', 'attributes', 'clients', 'roles', 'users', 'defaultRole',
  'defaultDefaultClientScopes', 'defaultOptionalClientScopes', 'keycloakVersion',
  'authenticationFlows', 'authenticatorConfig', 'browserFlow', 'directGrantFlow', 'clientScopes',
]);
const CLIENT_FIELDS = new Set<string>([
  'id', 'clientId', 'name', 'description', 'enabled', 'publicClient', 'bearerOnly', 'secret', 'protocol',
  'rootUrl', 'baseUrl', 'adminUrl', 'redirectUris', 'webOrigins', 'standardFlowEnabled', 'implicitFlowEnabled',
  'directAccessGrantsEnabled', 'directGrantsOnly', 'serviceAccountsEnabled', 'consentRequired', 'frontchannelLogout',
  'fullScopeAllowed', 'defaultClientScopes', 'optionalClientScopes', 'attributes', 'notBefore',
]);
const ROLES_FIELDS = new Set<string>(['realm', 'client']);
const ROLE_FIELDS = new Set<string>(['id', 'name', 'description', 'composite', 'composites', 'clientRole', 'containerId']);
const COMPOSITES_FIELDS = new Set<string>(['realm', 'client']);
const USER_FIELDS = new Set<string>([
  'id', 'username', 'email', 'emailVerified', 'firstName', 'lastName', 'enabled', 'createdTimestamp', 'notBefore',
  'realmRoles', 'clientRoles', 'requiredActions', 'attributes', 'serviceAccountClientId', 'credentials',
]);
const CREDENTIAL_FIELDS = new Set<string>([
  'id', 'type', 'userLabel', 'createdDate', 'secretData', 'credentialData', 'value', 'temporary',
  'hashedSaltedValue', 'salt', 'hashIterations', 'algorithm',
]);
const USER_FILE_FIELDS = new Set<string>(['realm', 'users']);

/** Keycloak's built-in required actions, matched case-insensitively as DefaultRequiredActions does. */
const REQUIRED_ACTIONS = new Map(
  [
    'CONFIGURE_TOTP', 'TERMS_AND_CONDITIONS', 'UPDATE_PASSWORD', 'UPDATE_PROFILE', 'VERIFY_EMAIL', 'VERIFY_PROFILE',
    'UPDATE_EMAIL', 'CONFIGURE_RECOVERY_AUTHN_CODES', 'delete_account', 'delete_credential', 'update_user_locale',
    'webauthn-register', 'webauthn-register-passwordless', 'idp_link',
  ].map((a) => [a.toLowerCase(), a]),
);
const UPDATE_PASSWORD = 'UPDATE_PASSWORD';

/** Keycloak's masked value for secrets in an admin-console partial export. */
const MASKED_SECRET = '**********';
const GENERATED_SECRET_LENGTH = 32;
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// ReservedCharValidator.RESERVED_CHARS_PATTERN (RFC 3986 §2.2 reserved
// characters and the backslash), which Keycloak checks on realm ids and names.
const RESERVED_NAME_CHARS = /[:/?#@!$&()*+,;=[\]\\]/;
const INTEGER_TEXT = /^-?\d+$/;

/** Per-parse state: where we are, what was ignored, and what to tell the operator. */
class Context {
  file: string;
  readonly mainFile: string;
  readonly now: number;
  readonly ignored: string[] = [];
  readonly notes: string[] = [];
  readonly #ignoredMax: number;
  readonly #ignoredSeen = new Set<string>();
  #ignoredUnlisted = 0;
  readonly #tallies = new Map<string, { count: number; first: string; text: string }>();

  constructor(file: string, now: number, ignoredMax: number) {
    this.file = file;
    this.mainFile = file;
    this.now = now;
    this.#ignoredMax = ignoredMax;
  }

  fail(path: string, reason: string): never {
    throw new RealmImportError(this.file, path, reason);
  }

  /**
   * Records the keys of `obj` outside `known`. `pattern` names the position
   * with indices folded (`users[].`), so each field is listed once, at its
   * first occurrence, however many users carry it.
   */
  ignoreUnknown(obj: JsonObject, known: ReadonlySet<string>, base: string, pattern: string): void {
    for (const key in obj) {
      if (known.has(key)) continue;
      const folded = pattern + key;
      if (this.#ignoredSeen.has(folded)) continue;
      this.#ignoredSeen.add(folded);
      if (this.ignored.length >= this.#ignoredMax) {
        this.#ignoredUnlisted++;
        continue;
      }
      const path = childPath(base, key);
      this.ignored.push(this.file === this.mainFile ? path : `${basename(this.file)}: ${path}`);
    }
  }

  /** Counts a repeated condition and notes it once, with the first place it happened. */
  tally(key: string, path: string, text: string): void {
    const t = this.#tallies.get(key);
    if (t) t.count++;
    else this.#tallies.set(key, { count: 1, first: this.file === this.mainFile ? path : `${basename(this.file)}: ${path}`, text });
  }

  finish(): void {
    for (const t of this.#tallies.values()) this.notes.push(`${t.text}: ${t.count} (first at ${t.first})`);
    if (this.#ignoredUnlisted > 0) this.notes.push(`${this.#ignoredUnlisted} more ignored fields not listed`);
  }

  // Typed reads. null is "absent", as Jackson reads it. Booleans and integers
  // may also arrive as strings ("true", "300"): Jackson coerces those, so a
  // file Keycloak accepts is accepted here.

  str(obj: JsonObject, key: string, base: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(childPath(base, key), `must be a string, got ${jsonTypeName(v)}`);
    return v;
  }

  bool(obj: JsonObject, key: string, base: string): boolean | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
    return this.fail(childPath(base, key), `must be a boolean, got ${jsonTypeName(v)}`);
  }

  int(obj: JsonObject, key: string, base: string): number | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string' && INTEGER_TEXT.test(v)) {
      const n = Number(v);
      if (Number.isSafeInteger(n)) return n;
    }
    return this.fail(childPath(base, key), `must be an integer, got ${typeof v === 'number' ? String(v) : jsonTypeName(v)}`);
  }

  array(obj: JsonObject, key: string, base: string): unknown[] | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(childPath(base, key), `must be an array, got ${jsonTypeName(v)}`);
    return v;
  }

  object(obj: JsonObject, key: string, base: string): JsonObject | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) this.fail(childPath(base, key), `must be an object, got ${jsonTypeName(v)}`);
    return v;
  }

  strings(obj: JsonObject, key: string, base: string): string[] | undefined {
    const arr = this.array(obj, key, base);
    if (arr === undefined) return undefined;
    for (let i = 0; i < arr.length; i++) {
      if (typeof arr[i] !== 'string') this.fail(indexPath(childPath(base, key), i), `must be a string, got ${jsonTypeName(arr[i])}`);
    }
    return arr as string[];
  }

  /** A map of scalars as strings (client and realm attributes); null values are dropped as Keycloak removes them. */
  stringMap(obj: JsonObject, key: string, base: string): Record<string, string> | undefined {
    const map = this.object(obj, key, base);
    if (map === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const k in map) {
      const v = map[k];
      if (v === null || v === undefined) continue;
      if (typeof v === 'string') out[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
      else this.fail(childPath(childPath(base, key), k), `must be a string, got ${jsonTypeName(v)}`);
    }
    return out;
  }
}

/** Options for parsing users, shared between the realm file and its user files. */
interface UserScope {
  realmId: string;
  realmRoles: ReadonlySet<string>;
  clientRoles: ReadonlyMap<string, ReadonlySet<string>>;
  usernames: Map<string, string>;
  ids: Map<string, string>;
  serviceAccounts: Map<string, string>;
  users: UserRecord[];
  plainPasswords: RealmBundle['plainPasswords'];
}

/**
 * Parses one realm representation. `file` names it in errors. Throws
 * RealmImportError for a file that cannot be imported as a whole.
 */
export function parseKeycloakRealm(json: unknown, file: string, options: ParseRealmOptions = {}): ParsedRealm {
  const ctx: Context = new Context(file, options.now ?? Date.now(), options.ignoredMax ?? IGNORED_PATHS_MAX);
  const root = options.root ?? '$';
  if (!isObject(json)) ctx.fail(root, `a realm representation must be a JSON object, got ${jsonTypeName(json)}`);
  ctx.ignoreUnknown(json, REALM_FIELDS, root, '.');

  const realm = parseRealmRecord(ctx, json, root);
  const version = ctx.str(json, 'keycloakVersion', root);
  if (version !== undefined) ctx.notes.push(`exported by Keycloak ${version}`);

  // Clients first: roles attach to them, users refer to both.
  const scopeDefaults: ScopeDefaults = {
    defaults: ctx.strings(json, 'defaultDefaultClientScopes', root) ?? [...DEFAULT_CLIENT_SCOPES],
    optional: ctx.strings(json, 'defaultOptionalClientScopes', root) ?? [...OPTIONAL_CLIENT_SCOPES],
    protocols: scopeProtocols(json),
  };
  const { clients, clientPaths } = parseClients(ctx, json, root, realm.id, scopeDefaults);
  const bundle: RealmBundle = { realm, clients, users: [], roles: [], plainPasswords: [] };

  const defaultRoleRep = ctx.object(json, 'defaultRole', root);
  const defaultRole =
    (defaultRoleRep && ctx.str(defaultRoleRep, 'name', childPath(root, 'defaultRole'))) || defaultRoleName(realm.name);

  const importedRoles = parseRoles(ctx, json, root, bundle);
  completeClientsAndRoles(bundle, { defaultRoleName: defaultRole });
  attachPendingClientRoles(ctx, bundle, importedRoles);
  checkComposites(ctx, bundle, importedRoles.checks);

  const scope = userScope(bundle);
  const users = ctx.array(json, 'users', root);
  if (users !== undefined) parseUsers(ctx, users, childPath(root, 'users'), scope);
  for (const userFile of options.userFiles ?? []) {
    ctx.file = userFile.file;
    parseUserFile(ctx, userFile.json, realm.name, scope);
  }
  ctx.file = file;
  bundle.users = scope.users;
  bundle.plainPasswords = scope.plainPasswords;

  // ClientManager.enableServiceAccount runs for every client with service
  // accounts on; a same-named unlinked user would make Keycloak's import fail.
  for (const client of bundle.clients) {
    if (!client.serviceAccountsEnabled || scope.serviceAccounts.has(client.clientId)) continue;
    const taken = scope.usernames.get(serviceAccountUsername(client.clientId));
    if (taken !== undefined) {
      ctx.fail(
        childPath(clientPaths.get(client.clientId) ?? root, 'serviceAccountsEnabled'),
        `user "${serviceAccountUsername(client.clientId)}" (${taken}) exists but is not this client's service account`,
      );
    }
  }
  const before = bundle.users.length;
  addServiceAccountUsers(bundle, defaultRole, ctx.now);
  if (bundle.users.length > before) {
    ctx.notes.push(`created ${bundle.users.length - before} service-account user(s) for clients with serviceAccountsEnabled`);
  }

  ctx.finish();
  return { bundle, file, ignored: ctx.ignored, notes: ctx.notes };
}

/** readRealmDirectory + mergeUserFiles + parseKeycloakRealm, for `--import-realm DIR`. */
export async function loadRealmDirectory(
  dir: string,
  options: Omit<ParseRealmOptions, 'userFiles' | 'root'> = {},
): Promise<ParsedRealm[]> {
  const documents = mergeUserFiles(await readRealmDirectory(dir));
  return documents.map((doc) => parseKeycloakRealm(doc.json, doc.file, { ...options, root: doc.root, userFiles: doc.userFiles }));
}

function parseRealmRecord(ctx: Context, json: JsonObject, root: string): RealmRecord {
  const name = ctx.str(json, 'realm', root);
  if (name === undefined || name.trim() === '') ctx.fail(childPath(root, 'realm'), 'the realm name is missing');
  if (RESERVED_NAME_CHARS.test(name)) ctx.fail(childPath(root, 'realm'), `realm name "${name}" contains a reserved character (RFC 3986 §2.2, or \\)`);
  const id = ctx.str(json, 'id', root);
  if (id !== undefined && RESERVED_NAME_CHARS.test(id)) ctx.fail(childPath(root, 'id'), `realm id "${id}" contains a reserved character (RFC 3986 §2.2, or \\)`);

  const partial: Partial<RealmSessionSettings> = {};
  for (const key of REALM_SESSION_KEYS) {
    const value = typeof REALM_SESSION_DEFAULTS[key] === 'boolean' ? ctx.bool(json, key, root) : ctx.int(json, key, root);
    if (value !== undefined) (partial as Record<string, number | boolean>)[key] = value;
  }
  // DefaultExportImportManager: an absent user-action token lifespan copies
  // the realm's accessCodeLifespanUserAction rather than the constant.
  if (partial.actionTokenGeneratedByUserLifespan === undefined && partial.accessCodeLifespanUserAction !== undefined) {
    partial.actionTokenGeneratedByUserLifespan = partial.accessCodeLifespanUserAction;
  }

  const algorithm = ctx.str(json, 'defaultSignatureAlgorithm', root) ?? DEFAULT_SIGNATURE_ALGORITHM;
  if (!(SIGNATURE_ALGORITHMS as readonly string[]).includes(algorithm)) {
    ctx.fail(
      childPath(root, 'defaultSignatureAlgorithm'),
      `unsupported signature algorithm "${algorithm}" (sessiond signs with ${SIGNATURE_ALGORITHMS.join(', ')})`,
    );
  }

  const enabled = ctx.bool(json, 'enabled', root);
  if (enabled === undefined) ctx.notes.push(`realm "${name}" has no "enabled" field: imported disabled, as Keycloak does`);

  return {
    id: id !== undefined && id.trim() !== '' ? id : randomUUID(),
    name,
    displayName: ctx.str(json, 'displayName', root) ?? null,
    enabled: enabled ?? false,
    sessions: realmSessionSettings(partial, { master: name === MASTER_REALM_NAME }),
    bruteForce: parseBruteForce(ctx, json, root),
    events: {
      eventsEnabled: ctx.bool(json, 'eventsEnabled', root) ?? false,
      enabledEventTypes: [...(ctx.strings(json, 'enabledEventTypes', root) ?? [])],
      eventsExpiration: ctx.int(json, 'eventsExpiration', root) ?? 0,
      adminEventsEnabled: ctx.bool(json, 'adminEventsEnabled', root) ?? false,
      adminEventsDetailsEnabled: ctx.bool(json, 'adminEventsDetailsEnabled', root) ?? false,
    },
    passwordPolicy: parsePolicy(ctx, json, root),
    defaultSignatureAlgorithm: algorithm as SignatureAlgorithm,
    userSessionLimits: parseSessionLimits(ctx, json, root),
    attributes: ctx.stringMap(json, 'attributes', root) ?? {},
    createdTimestamp: ctx.now,
  };
}

/** The brute-force attributes present (defaults for the rest); a value that cannot be used fails the import. */
function parseBruteForce(ctx: Context, json: JsonObject, root: string): BruteForceSettings {
  const partial: Partial<Record<keyof BruteForceSettings, unknown>> = {};
  for (const key of BRUTE_FORCE_KEYS) {
    const value = json[key];
    if (value === undefined || value === null) continue;
    const error = bruteForceValueError(key, value);
    if (error !== null) ctx.fail(childPath(root, key), error);
    partial[key] = value;
  }
  return bruteForceSettings(partial);
}

/** The policy as written; its hashing part must be one sessiond can follow. */
function parsePolicy(ctx: Context, json: JsonObject, root: string): string {
  const policy = ctx.str(json, 'passwordPolicy', root) ?? '';
  try {
    parsePasswordPolicy(policy);
  } catch (err) {
    ctx.fail(childPath(root, 'passwordPolicy'), (err as Error).message);
  }
  return policy;
}

function parseClients(
  ctx: Context,
  json: JsonObject,
  root: string,
  realmId: string,
  scopes: ScopeDefaults,
): { clients: ClientRecord[]; clientPaths: Map<string, string> } {
  const list = ctx.array(json, 'clients', root) ?? [];
  const base = childPath(root, 'clients');
  const clients: ClientRecord[] = [];
  const clientPaths = new Map<string, string>();
  const idPaths = new Map<string, string>();
  const generated: string[] = [];

  for (let i = 0; i < list.length; i++) {
    const rep = list[i];
    const at = indexPath(base, i);
    if (!isObject(rep)) ctx.fail(at, `a client must be an object, got ${jsonTypeName(rep)}`);
    ctx.ignoreUnknown(rep, CLIENT_FIELDS, at, 'clients[].');

    const clientId = ctx.str(rep, 'clientId', at);
    if (clientId === undefined || clientId === '') ctx.fail(childPath(at, 'clientId'), 'clientId is required');
    const firstAt = clientPaths.get(clientId);
    if (firstAt !== undefined) ctx.fail(childPath(at, 'clientId'), `duplicate clientId "${clientId}" (first at ${firstAt})`);
    clientPaths.set(clientId, at);
    const id = ctx.str(rep, 'id', at) || randomUUID();
    const firstId = idPaths.get(id);
    if (firstId !== undefined) ctx.fail(childPath(at, 'id'), `duplicate client id "${id}" (first at ${firstId})`);
    idPaths.set(id, at);

    const c = clientDefaults(realmId, clientId, id);
    c.name = ctx.str(rep, 'name', at) ?? null;
    c.description = ctx.str(rep, 'description', at) ?? null;
    c.enabled = ctx.bool(rep, 'enabled', at) ?? true;
    c.publicClient = ctx.bool(rep, 'publicClient', at) ?? false;
    c.bearerOnly = ctx.bool(rep, 'bearerOnly', at) ?? false;
    c.consentRequired = ctx.bool(rep, 'consentRequired', at) ?? false;
    const directGrantsOnly = ctx.bool(rep, 'directGrantsOnly', at); // pre-1.x field, still honoured by Keycloak
    if (directGrantsOnly !== undefined) {
      c.standardFlowEnabled = !directGrantsOnly;
      c.directAccessGrantsEnabled = directGrantsOnly;
    }
    c.standardFlowEnabled = ctx.bool(rep, 'standardFlowEnabled', at) ?? c.standardFlowEnabled;
    c.implicitFlowEnabled = ctx.bool(rep, 'implicitFlowEnabled', at) ?? false;
    c.directAccessGrantsEnabled = ctx.bool(rep, 'directAccessGrantsEnabled', at) ?? c.directAccessGrantsEnabled;
    c.serviceAccountsEnabled = ctx.bool(rep, 'serviceAccountsEnabled', at) ?? false;
    c.frontchannelLogout = ctx.bool(rep, 'frontchannelLogout', at) ?? false;
    c.fullScopeAllowed = ctx.bool(rep, 'fullScopeAllowed', at) ?? !c.consentRequired;
    c.protocol = ctx.str(rep, 'protocol', at) ?? 'openid-connect';
    c.rootUrl = ctx.str(rep, 'rootUrl', at) ?? null;
    c.baseUrl = ctx.str(rep, 'baseUrl', at) ?? null;
    c.adminUrl = ctx.str(rep, 'adminUrl', at) ?? null;
    c.redirectUris = [...(ctx.strings(rep, 'redirectUris', at) ?? [])];
    const webOrigins = ctx.strings(rep, 'webOrigins', at);
    c.webOrigins = webOrigins ? [...webOrigins] : originsOf(c.redirectUris);
    c.defaultClientScopes = [...(ctx.strings(rep, 'defaultClientScopes', at) ?? scopesFor(scopes, 'defaults', c.protocol))];
    c.optionalClientScopes = [...(ctx.strings(rep, 'optionalClientScopes', at) ?? scopesFor(scopes, 'optional', c.protocol))];
    c.attributes = ctx.stringMap(rep, 'attributes', at) ?? {};
    // DefaultExportImportManager.createClients: imported clients reuse their
    // redirect URIs after logout unless the file says otherwise.
    if (c.attributes['post.logout.redirect.uris'] === undefined) c.attributes['post.logout.redirect.uris'] = '+';
    c.notBefore = ctx.int(rep, 'notBefore', at) ?? 0;

    const secret = ctx.str(rep, 'secret', at);
    const confidential = !c.publicClient && !c.bearerOnly;
    if (secret === MASKED_SECRET) {
      // A partial export masks secrets; importing the mask would make every
      // confidential client's secret the same well-known string.
      c.secret = confidential ? generateSecret() : null;
      if (confidential) generated.push(`${clientId} (masked in the file)`);
    } else if (secret !== undefined) {
      c.secret = secret;
    } else if (confidential) {
      c.secret = generateSecret();
      generated.push(clientId);
    }
    clients.push(c);
  }
  if (generated.length > 0) {
    ctx.notes.push(`generated client secrets (read them with the admin API): ${generated.join(', ')}`);
  }
  return { clients, clientPaths };
}

interface ScopeDefaults {
  defaults: string[];
  optional: string[];
  /** Client scope name → protocol, from the file's clientScopes. */
  protocols: Map<string, string>;
}

/** The realm's client scopes of the client's protocol (a new client gets those, and only those). */
function scopesFor(scopes: ScopeDefaults, which: 'defaults' | 'optional', protocol: string): string[] {
  return scopes[which].filter((name) => (scopes.protocols.get(name) ?? 'openid-connect') === protocol);
}

function scopeProtocols(json: JsonObject): Map<string, string> {
  const out = new Map<string, string>();
  const list = json['clientScopes'];
  if (!Array.isArray(list)) return out;
  for (const s of list) {
    if (isObject(s) && typeof s['name'] === 'string') out.set(s['name'], typeof s['protocol'] === 'string' ? s['protocol'] : 'openid-connect');
  }
  return out;
}

function generateSecret(): string {
  const bytes = randomBytes(GENERATED_SECRET_LENGTH * 2);
  let out = '';
  // Rejection sampling keeps every character equally likely (62 does not divide 256).
  for (let i = 0; i < bytes.length && out.length < GENERATED_SECRET_LENGTH; i++) {
    const b = bytes[i]!;
    if (b < 248) out += SECRET_ALPHABET[b % 62];
  }
  return out.length === GENERATED_SECRET_LENGTH ? out : out + generateSecret().slice(out.length);
}

/** UriUtils.getOrigin of each http(s) redirect URI, as Keycloak derives webOrigins. */
function originsOf(redirectUris: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const uri of redirectUris) {
    if (!uri.startsWith('http')) continue;
    const schemeEnd = uri.indexOf('://');
    if (schemeEnd < 0) continue;
    const pathStart = uri.indexOf('/', schemeEnd + 3);
    origins.add(pathStart < 0 ? uri : uri.slice(0, pathStart));
  }
  return [...origins];
}

interface RoleCheck {
  role: RoleRecord;
  path: string;
}

interface ImportedRoles {
  /** Roles of clients the file does not define, waiting for the built-in client to exist. */
  pending: { clientId: string; roles: RoleRecord[]; at: string }[];
  checks: RoleCheck[];
}

function parseRoles(ctx: Context, json: JsonObject, root: string, bundle: RealmBundle): ImportedRoles {
  const out: ImportedRoles = { pending: [], checks: [] };
  const rolesRep = ctx.object(json, 'roles', root);
  if (rolesRep === undefined) return out;
  const rolesAt = childPath(root, 'roles');
  ctx.ignoreUnknown(rolesRep, ROLES_FIELDS, rolesAt, 'roles.');

  const realmList = ctx.array(rolesRep, 'realm', rolesAt) ?? [];
  const realmBase = childPath(rolesAt, 'realm');
  const seen = new Map<string, string>();
  for (let i = 0; i < realmList.length; i++) {
    const at = indexPath(realmBase, i);
    const r = parseRole(ctx, realmList[i], at, bundle.realm.id, false, 'roles.realm[].');
    const first = seen.get(r.name);
    if (first !== undefined) ctx.fail(childPath(at, 'name'), `duplicate realm role "${r.name}" (first at ${first})`);
    seen.set(r.name, at);
    bundle.roles.push(r);
    out.checks.push({ role: r, path: at });
  }

  const clientMap = ctx.object(rolesRep, 'client', rolesAt);
  if (clientMap === undefined) return out;
  const clientBase = childPath(rolesAt, 'client');
  const byClientId = new Map(bundle.clients.map((c, i) => [c.clientId, i]));
  for (const clientId in clientMap) {
    const listAt = childPath(clientBase, clientId);
    const list = clientMap[clientId];
    if (!Array.isArray(list)) ctx.fail(listAt, `must be an array of roles, got ${jsonTypeName(list)}`);
    const index = byClientId.get(clientId);
    const containerId = index === undefined ? '' : bundle.clients[index]!.id;
    const roles: RoleRecord[] = [];
    const names = new Map<string, string>();
    for (let i = 0; i < list.length; i++) {
      const at = indexPath(listAt, i);
      const r = parseRole(ctx, list[i], at, containerId, true, 'roles.client.*[].');
      const first = names.get(r.name);
      if (first !== undefined) ctx.fail(childPath(at, 'name'), `duplicate role "${r.name}" of client "${clientId}" (first at ${first})`);
      names.set(r.name, at);
      roles.push(r);
      out.checks.push({ role: r, path: at });
    }
    if (index === undefined) {
      // Keycloak sets up built-in clients before importing roles, so a file
      // may give roles to `realm-management` without listing the client.
      out.pending.push({ clientId, roles, at: listAt });
    } else {
      const client = bundle.clients[index]!;
      bundle.clients[index] = { ...client, roles: [...client.roles, ...roles] };
    }
  }
  return out;
}

function parseRole(ctx: Context, rep: unknown, at: string, containerId: string, clientRole: boolean, pattern: string): RoleRecord {
  if (!isObject(rep)) ctx.fail(at, `a role must be an object, got ${jsonTypeName(rep)}`);
  ctx.ignoreUnknown(rep, ROLE_FIELDS, at, pattern);
  const name = ctx.str(rep, 'name', at);
  if (name === undefined || name === '') ctx.fail(childPath(at, 'name'), 'the role name is missing');
  // `composite`, `clientRole` and `containerId` are derived, not trusted.
  ctx.bool(rep, 'composite', at);
  ctx.bool(rep, 'clientRole', at);
  ctx.str(rep, 'containerId', at);
  let composites: RoleRecord['composites'] = null;
  const comp = ctx.object(rep, 'composites', at);
  if (comp !== undefined) {
    const compAt = childPath(at, 'composites');
    ctx.ignoreUnknown(comp, COMPOSITES_FIELDS, compAt, pattern + 'composites.');
    const realm = [...(ctx.strings(comp, 'realm', compAt) ?? [])];
    const client: Record<string, string[]> = {};
    const clientComp = ctx.object(comp, 'client', compAt);
    if (clientComp !== undefined) {
      for (const clientId in clientComp) client[clientId] = [...(ctx.strings(clientComp, clientId, childPath(compAt, 'client')) ?? [])];
    }
    if (realm.length > 0 || Object.keys(client).length > 0) composites = { realm, client };
  }
  return {
    id: ctx.str(rep, 'id', at) || randomUUID(),
    name,
    description: ctx.str(rep, 'description', at) ?? null,
    composite: composites !== null,
    composites,
    clientRole,
    containerId,
  };
}

function attachPendingClientRoles(ctx: Context, bundle: RealmBundle, imported: ImportedRoles): void {
  for (const p of imported.pending) {
    const index = bundle.clients.findIndex((c) => c.clientId === p.clientId);
    if (index < 0) ctx.fail(p.at, `roles for client "${p.clientId}", which the realm does not have`);
    const client = bundle.clients[index]!;
    // The file's roles replace the built-in ones of the same name (and keep the file's ids).
    const fromFile = new Set(p.roles.map((r) => r.name));
    const roles = client.roles.filter((r) => !fromFile.has(r.name));
    for (const r of p.roles) {
      r.containerId = client.id; // parsed here, so ours to set
      roles.push(r);
    }
    bundle.clients[index] = { ...client, roles };
  }
}

/** RepresentationToModel.addComposites: every member must exist once all roles do. */
function checkComposites(ctx: Context, bundle: RealmBundle, checks: readonly RoleCheck[]): void {
  const realmRoles = new Set(bundle.roles.map((r) => r.name));
  const clientRoles = new Map(bundle.clients.map((c) => [c.clientId, new Set(c.roles.map((r) => r.name))]));
  for (const { role, path } of checks) {
    if (role.composites === null) continue;
    const compAt = childPath(path, 'composites');
    role.composites.realm.forEach((name, i) => {
      if (!realmRoles.has(name)) ctx.fail(indexPath(childPath(compAt, 'realm'), i), `unknown realm role "${name}"`);
    });
    for (const clientId in role.composites.client) {
      const at = childPath(childPath(compAt, 'client'), clientId);
      const names = clientRoles.get(clientId);
      if (names === undefined) ctx.fail(at, `unknown client "${clientId}"`);
      role.composites.client[clientId]!.forEach((name, i) => {
        if (!names.has(name)) ctx.fail(indexPath(at, i), `unknown role "${name}" of client "${clientId}"`);
      });
    }
  }
}

function userScope(bundle: RealmBundle): UserScope {
  return {
    realmId: bundle.realm.id,
    realmRoles: new Set(bundle.roles.map((r) => r.name)),
    clientRoles: new Map(bundle.clients.map((c) => [c.clientId, new Set(c.roles.map((r) => r.name))])),
    usernames: new Map(),
    ids: new Map(),
    serviceAccounts: new Map(),
    users: [],
    plainPasswords: [],
  };
}

function parseUserFile(ctx: Context, json: unknown, realmName: string, scope: UserScope): void {
  if (!isObject(json)) ctx.fail('$', `a user file must be a JSON object, got ${jsonTypeName(json)}`);
  ctx.ignoreUnknown(json, USER_FILE_FIELDS, '$', 'userfile.');
  const realm = ctx.str(json, 'realm', '$');
  if (realm !== realmName) ctx.fail('$.realm', `names realm "${String(realm)}", expected "${realmName}"`);
  const users = ctx.array(json, 'users', '$');
  if (users !== undefined) parseUsers(ctx, users, '$.users', scope);
}

function parseUsers(ctx: Context, list: unknown[], base: string, scope: UserScope): void {
  for (let i = 0; i < list.length; i++) {
    const at = `${base}[${i}]`;
    const rep = list[i];
    if (!isObject(rep)) ctx.fail(at, `a user must be an object, got ${jsonTypeName(rep)}`);
    scope.users.push(parseUser(ctx, rep, at, scope));
  }
}

function parseUser(ctx: Context, rep: JsonObject, at: string, scope: UserScope): UserRecord {
  ctx.ignoreUnknown(rep, USER_FIELDS, at, 'users[].');
  const rawName = ctx.str(rep, 'username', at);
  if (rawName === undefined || rawName === '') ctx.fail(childPath(at, 'username'), 'the username is missing');
  const username = rawName.toLowerCase();
  const firstName = scope.usernames.get(username);
  if (firstName !== undefined) ctx.fail(childPath(at, 'username'), `duplicate username "${username}" (first at ${firstName})`);
  scope.usernames.set(username, where(ctx, at));

  const id = ctx.str(rep, 'id', at) || randomUUID();
  const firstId = scope.ids.get(id);
  if (firstId !== undefined) ctx.fail(childPath(at, 'id'), `duplicate user id "${id}" (first at ${firstId})`);
  scope.ids.set(id, where(ctx, at));

  const email = ctx.str(rep, 'email', at);
  const groups = rep['groups'];
  if (Array.isArray(groups) && groups.length > 0) {
    ctx.tally('groups', at, 'users in groups (groups are not imported: roles granted through a group are lost)');
  }
  const realmRoles = ctx.strings(rep, 'realmRoles', at) ?? [];
  for (let j = 0; j < realmRoles.length; j++) {
    if (!scope.realmRoles.has(realmRoles[j]!)) {
      ctx.fail(indexPath(childPath(at, 'realmRoles'), j), `unknown realm role "${realmRoles[j]}"`);
    }
  }

  const clientRoles: Record<string, string[]> = {};
  const clientRolesRep = ctx.object(rep, 'clientRoles', at);
  if (clientRolesRep !== undefined) {
    const crAt = childPath(at, 'clientRoles');
    for (const clientId in clientRolesRep) {
      const known = scope.clientRoles.get(clientId);
      if (known === undefined) ctx.fail(childPath(crAt, clientId), `unknown client "${clientId}"`);
      const names = ctx.strings(clientRolesRep, clientId, crAt) ?? [];
      for (let j = 0; j < names.length; j++) {
        if (!known.has(names[j]!)) {
          ctx.fail(indexPath(childPath(crAt, clientId), j), `unknown role "${names[j]}" of client "${clientId}"`);
        }
      }
      clientRoles[clientId] = [...names];
    }
  }

  const requiredActions: string[] = [];
  for (const action of ctx.strings(rep, 'requiredActions', at) ?? []) {
    const canonical = REQUIRED_ACTIONS.get(action.toLowerCase()) ?? action;
    if (!requiredActions.includes(canonical)) requiredActions.push(canonical);
  }

  const serviceAccountClientId = ctx.str(rep, 'serviceAccountClientId', at) ?? null;
  if (serviceAccountClientId !== null) {
    const saAt = childPath(at, 'serviceAccountClientId');
    if (!scope.clientRoles.has(serviceAccountClientId)) ctx.fail(saAt, `unknown client "${serviceAccountClientId}"`);
    const first = scope.serviceAccounts.get(serviceAccountClientId);
    if (first !== undefined) ctx.fail(saAt, `client "${serviceAccountClientId}" already has a service-account user (${first})`);
    scope.serviceAccounts.set(serviceAccountClientId, where(ctx, at));
  }

  const user: UserRecord = {
    id,
    realmId: scope.realmId,
    username,
    // JPA UserAdapter.setEmail lower-cases, like the username.
    email: email === undefined || email === '' ? null : email.toLowerCase(),
    emailVerified: ctx.bool(rep, 'emailVerified', at) ?? false,
    firstName: ctx.str(rep, 'firstName', at) ?? null,
    lastName: ctx.str(rep, 'lastName', at) ?? null,
    // createUser: `userRep.isEnabled() != null && userRep.isEnabled()`.
    enabled: ctx.bool(rep, 'enabled', at) ?? false,
    createdTimestamp: ctx.int(rep, 'createdTimestamp', at) ?? ctx.now,
    notBefore: ctx.int(rep, 'notBefore', at) ?? 0,
    realmRoles: [...realmRoles],
    clientRoles,
    credentials: [],
    requiredActions,
    attributes: parseUserAttributes(ctx, rep, at),
    serviceAccountClientId,
  };
  const credentials = ctx.array(rep, 'credentials', at);
  if (credentials !== undefined && credentials.length > 0) parseCredentials(ctx, credentials, at + '.credentials', user, scope);
  return user;
}

/** Where a record was first seen, for duplicate messages (file named when it is a user file). */
function where(ctx: Context, at: string): string {
  return ctx.file === ctx.mainFile ? at : `${basename(ctx.file)} ${at}`;
}

function parseUserAttributes(ctx: Context, rep: JsonObject, at: string): Record<string, string[]> {
  const map = ctx.object(rep, 'attributes', at);
  const out: Record<string, string[]> = {};
  if (map === undefined) return out;
  const attrAt = childPath(at, 'attributes');
  for (const key in map) {
    const v = map[key];
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      const values: string[] = [];
      for (let j = 0; j < v.length; j++) {
        const item = v[j];
        if (typeof item === 'string') values.push(item);
        else if (typeof item === 'number' || typeof item === 'boolean') values.push(String(item));
        else if (item !== null) ctx.fail(indexPath(childPath(attrAt, key), j), `must be a string, got ${jsonTypeName(item)}`);
      }
      out[key] = values;
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      // Hand-written files often give one value; it is unambiguous.
      out[key] = [String(v)];
    } else {
      ctx.fail(childPath(attrAt, key), `must be an array of strings, got ${jsonTypeName(v)}`);
    }
  }
  return out;
}

function parseCredentials(ctx: Context, list: unknown[], base: string, user: UserRecord, scope: UserScope): void {
  let passwordAt: string | null = null;
  for (let k = 0; k < list.length; k++) {
    const at = indexPath(base, k);
    const rep = list[k];
    if (!isObject(rep)) ctx.fail(at, `a credential must be an object, got ${jsonTypeName(rep)}`);
    const type = ctx.str(rep, 'type', at);
    if (type === undefined || type === '') ctx.fail(childPath(at, 'type'), 'the credential type is missing');
    if (type !== 'password') {
      // OTP, WebAuthn, recovery codes, password history: not used by sessiond.
      ctx.tally(`type:${type}`, at, `skipped credentials of type "${type}"`);
      continue;
    }
    ctx.ignoreUnknown(rep, CREDENTIAL_FIELDS, at, 'users[].credentials[].');
    if (passwordAt !== null) ctx.fail(at, `a second password credential (the first is at ${passwordAt})`);
    passwordAt = at;

    const value = rep['value'];
    if (value !== undefined && value !== null) {
      // RepresentationToModel.createCredentials: a plain `value` wins over secretData.
      if (typeof value !== 'string') ctx.fail(childPath(at, 'value'), `must be a string, got ${jsonTypeName(value)}`);
      if (value === '') ctx.fail(childPath(at, 'value'), 'the password is empty');
      const temporary = ctx.bool(rep, 'temporary', at) ?? false;
      scope.plainPasswords.push({ userId: user.id, password: value, temporary });
      // A temporary password makes Keycloak require UPDATE_PASSWORD at next login.
      if (temporary && !user.requiredActions.includes(UPDATE_PASSWORD)) user.requiredActions.push(UPDATE_PASSWORD);
      continue;
    }
    let parsed;
    try {
      parsed = passwordCredentialFromExport(rep, at, ctx.now);
    } catch (err) {
      if (err instanceof CredentialFormatError) ctx.fail(err.path, err.reason);
      throw err;
    }
    if (parsed.kind === 'unsupported') {
      ctx.tally(
        `algorithm:${parsed.algorithm}`,
        at,
        `skipped password hashes made with "${parsed.algorithm}", which sessiond cannot verify (those users must reset their password)`,
      );
      continue;
    }
    user.credentials.push(parsed.credential);
  }
}

function parseSessionLimits(ctx: Context, json: JsonObject, root: string): SessionLimitPolicy | null {
  // Read leniently: flows are otherwise ignored, and a malformed piece only
  // means "no limits found", except an authenticator config sessiond would
  // have to guess about.
  const flows = Array.isArray(json['authenticationFlows']) ? json['authenticationFlows'] : [];
  const configs = Array.isArray(json['authenticatorConfig']) ? json['authenticatorConfig'] : [];
  if (flows.length === 0) return null;
  const flowsByAlias = new Map<string, JsonObject>();
  for (const f of flows) if (isObject(f) && typeof f['alias'] === 'string') flowsByAlias.set(f['alias'], f);

  const find = (alias: string, seen: Set<string>): JsonObject | null => {
    if (seen.has(alias)) return null;
    seen.add(alias);
    const flow = flowsByAlias.get(alias);
    const executions = flow && Array.isArray(flow['authenticationExecutions']) ? flow['authenticationExecutions'] : [];
    for (const e of executions) {
      if (!isObject(e) || e['requirement'] === 'DISABLED') continue;
      if (e['authenticator'] === SESSION_LIMIT_CONFIG.providerId) return e;
      if (e['authenticatorFlow'] === true && typeof e['flowAlias'] === 'string') {
        const inner = find(e['flowAlias'], seen);
        if (inner) return inner;
      }
    }
    return null;
  };
  const browser = typeof json['browserFlow'] === 'string' ? json['browserFlow'] : 'browser';
  const direct = typeof json['directGrantFlow'] === 'string' ? json['directGrantFlow'] : 'direct grant';
  const execution = find(browser, new Set()) ?? find(direct, new Set());
  if (execution === null) return null;

  const alias = execution['authenticatorConfig'];
  const index = configs.findIndex((c) => isObject(c) && c['alias'] === alias);
  const config = index >= 0 ? (configs[index] as JsonObject)['config'] : undefined;
  if (!isObject(config)) {
    ctx.notes.push('the user-session-limits authenticator has no configuration: no session limits applied');
    return null;
  }
  const text: Record<string, string | undefined> = {};
  for (const k in config) text[k] = config[k] === null || config[k] === undefined ? undefined : String(config[k]);
  const policy = sessionLimitPolicyFromConfig(text);
  if (policy === null) {
    ctx.fail(
      childPath(childPath(indexPath(childPath(root, 'authenticatorConfig'), index), 'config'), SESSION_LIMIT_CONFIG.behavior),
      `unknown session-limit behavior "${String(text[SESSION_LIMIT_CONFIG.behavior])}" (expected "${SESSION_LIMIT_CONFIG.denyNewSession}" or "${SESSION_LIMIT_CONFIG.terminateOldestSession}")`,
    );
  }
  ctx.notes.push(`user session limits: realm ${policy.realmLimit}, client ${policy.clientLimit}, ${policy.behavior}`);
  return policy;
}
