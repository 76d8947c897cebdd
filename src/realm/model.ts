// The durable records behind sessions: realms, clients, users, roles and
// signing keys, as stored in LMDB (msgpackr) and cached on the main thread.
// Field names follow Keycloak's representations where one exists, so the
// admin API maps them one to one; times are epoch ms where Keycloak's
// representations use ms (createdTimestamp) and epoch s where its model does
// (notBefore and every session timeout).

import type { RealmSessionSettings } from '../session/realm-settings.js';
import type { SessionLimitPolicy } from '../session/session-limits.js';
import type { BruteForceSettings } from '../session/brute-force.js';
import type { Argon2Params } from '../crypto/argon2-params.js';

export const SIGNATURE_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export interface RealmEventSettings {
  eventsEnabled: boolean;
  /** Event types to store; empty = Keycloak's saveByDefault types. */
  enabledEventTypes: string[];
  /** Seconds user events are kept; 0 = forever. */
  eventsExpiration: number;
  adminEventsEnabled: boolean;
  adminEventsDetailsEnabled: boolean;
}

export interface RealmRecord {
  /** Internal id (Keycloak: `id`); stable across renames, used to partition sessions. */
  id: string;
  /** The realm's name (Keycloak: `realm`), used in every URL. */
  name: string;
  displayName: string | null;
  enabled: boolean;
  sessions: RealmSessionSettings;
  /** Brute-force detection (Keycloak's realm attributes of the same names). */
  bruteForce: BruteForceSettings;
  events: RealmEventSettings;
  /** Keycloak password-policy string, e.g. "hashIterations(210000) and length(8)". */
  passwordPolicy: string;
  defaultSignatureAlgorithm: SignatureAlgorithm;
  /** The `user-session-limits` authenticator's configuration, or null when not in the flow. */
  userSessionLimits: SessionLimitPolicy | null;
  /** Free-form realm attributes (Keycloak `attributes`). */
  attributes: Record<string, string>;
  createdTimestamp: number;
}

export interface ClientRecord {
  /** Internal UUID (Keycloak: `id`). Client sessions are keyed by it. */
  id: string;
  realmId: string;
  clientId: string;
  name: string | null;
  description: string | null;
  enabled: boolean;
  publicClient: boolean;
  bearerOnly: boolean;
  /** Confidential clients' secret (compared in constant time, never logged). */
  secret: string | null;
  protocol: string;
  rootUrl: string | null;
  baseUrl: string | null;
  adminUrl: string | null;
  redirectUris: string[];
  webOrigins: string[];
  standardFlowEnabled: boolean;
  implicitFlowEnabled: boolean;
  directAccessGrantsEnabled: boolean;
  serviceAccountsEnabled: boolean;
  consentRequired: boolean;
  frontchannelLogout: boolean;
  fullScopeAllowed: boolean;
  defaultClientScopes: string[];
  optionalClientScopes: string[];
  /** docs/keycloak-semantics.md#client-attributes string attributes (timeouts, back-channel logout URL, PKCE, ...). */
  attributes: Record<string, string>;
  /** Epoch s, 0 = none. */
  notBefore: number;
  /** Client roles defined by this client (e.g. realm-management's view-users). */
  roles: RoleRecord[];
}

export interface PasswordCredential {
  id: string;
  type: 'password';
  /** `pbkdf2-sha512` (default), `pbkdf2-sha256`, `pbkdf2` (SHA-1) or `argon2`. */
  algorithm: string;
  /** PBKDF2 iterations, or argon2's time cost. */
  iterations: number;
  /** argon2 only: its other parameters (credentialData.additionalParameters). */
  argon2?: Argon2Params;
  /** base64 (standard alphabet), as Keycloak's secretData. */
  salt: string;
  /** base64 derived key, as Keycloak's secretData.value; its length fixes the key size. */
  hash: string;
  createdDate: number;
  userLabel: string | null;
}

export interface UserRecord {
  id: string;
  realmId: string;
  /** Lower-cased, as Keycloak stores usernames. */
  username: string;
  email: string | null;
  emailVerified: boolean;
  firstName: string | null;
  lastName: string | null;
  enabled: boolean;
  /** Epoch ms. */
  createdTimestamp: number;
  /** Epoch s, 0 = none (POST /users/{id}/logout sets it). */
  notBefore: number;
  realmRoles: string[];
  /** clientId -> role names (e.g. realm-management -> [view-users]). */
  clientRoles: Record<string, string[]>;
  credentials: PasswordCredential[];
  requiredActions: string[];
  attributes: Record<string, string[]>;
  /** Set on service-account users: the clientId they stand for. */
  serviceAccountClientId: string | null;
}

export interface RoleRecord {
  id: string;
  name: string;
  description: string | null;
  composite: boolean;
  /** Composite members: realm role names and clientId -> role names. */
  composites: { realm: string[]; client: Record<string, string[]> } | null;
  clientRole: boolean;
  /** Realm id, or the client UUID for client roles. */
  containerId: string;
}

/** A realm as an import produces it, before it is written. */
export interface RealmBundle {
  realm: RealmRecord;
  clients: ClientRecord[];
  users: UserRecord[];
  /** Realm roles (client roles travel inside their clients). */
  roles: RoleRecord[];
  /** Users whose credentials arrived as plain text, to hash with the realm's policy before storing. */
  plainPasswords: { userId: string; password: string; temporary: boolean }[];
}
