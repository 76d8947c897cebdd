// Realm attributes that govern sessions and tokens (docs/keycloak-semantics.md#realm-timeouts), with
// Keycloak's defaults for a new realm. All values are int seconds unless the
// name says otherwise; Keycloak's RealmRepresentation uses the same names and
// units, so they cross the admin API unchanged.

export interface RealmSessionSettings {
  ssoSessionIdleTimeout: number;
  ssoSessionMaxLifespan: number;
  ssoSessionIdleTimeoutRememberMe: number;
  ssoSessionMaxLifespanRememberMe: number;
  clientSessionIdleTimeout: number;
  clientSessionMaxLifespan: number;
  offlineSessionIdleTimeout: number;
  offlineSessionMaxLifespanEnabled: boolean;
  offlineSessionMaxLifespan: number;
  clientOfflineSessionIdleTimeout: number;
  clientOfflineSessionMaxLifespan: number;
  accessTokenLifespan: number;
  accessTokenLifespanForImplicitFlow: number;
  accessCodeLifespan: number;
  accessCodeLifespanLogin: number;
  accessCodeLifespanUserAction: number;
  actionTokenGeneratedByUserLifespan: number;
  actionTokenGeneratedByAdminLifespan: number;
  revokeRefreshToken: boolean;
  refreshTokenMaxReuse: number;
  notBefore: number;
  rememberMe: boolean;
}

export const SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S = 1800;
export const SSO_SESSION_MAX_LIFESPAN_DEFAULT_S = 36000;
export const OFFLINE_SESSION_IDLE_TIMEOUT_DEFAULT_S = 2592000; // 30 days
export const OFFLINE_SESSION_MAX_LIFESPAN_DEFAULT_S = 5184000; // 60 days
/** Keycloak gives the master realm 60 s access tokens, every other realm 300 s. */
export const MASTER_ACCESS_TOKEN_LIFESPAN_S = 60;

export const REALM_SESSION_DEFAULTS: Readonly<RealmSessionSettings> = Object.freeze({
  ssoSessionIdleTimeout: SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S,
  ssoSessionMaxLifespan: SSO_SESSION_MAX_LIFESPAN_DEFAULT_S,
  ssoSessionIdleTimeoutRememberMe: 0,
  ssoSessionMaxLifespanRememberMe: 0,
  clientSessionIdleTimeout: 0,
  clientSessionMaxLifespan: 0,
  offlineSessionIdleTimeout: OFFLINE_SESSION_IDLE_TIMEOUT_DEFAULT_S,
  offlineSessionMaxLifespanEnabled: false,
  offlineSessionMaxLifespan: OFFLINE_SESSION_MAX_LIFESPAN_DEFAULT_S,
  clientOfflineSessionIdleTimeout: 0,
  clientOfflineSessionMaxLifespan: 0,
  accessTokenLifespan: 300,
  accessTokenLifespanForImplicitFlow: 900,
  accessCodeLifespan: 60,
  accessCodeLifespanLogin: 1800,
  accessCodeLifespanUserAction: 300,
  actionTokenGeneratedByUserLifespan: 300,
  actionTokenGeneratedByAdminLifespan: 43200,
  revokeRefreshToken: false,
  refreshTokenMaxReuse: 0,
  notBefore: 0,
  rememberMe: false,
});

const NUMERIC_KEYS = Object.freeze(
  (Object.keys(REALM_SESSION_DEFAULTS) as (keyof RealmSessionSettings)[]).filter(
    (k) => typeof REALM_SESSION_DEFAULTS[k] === 'number',
  ),
);
const BOOLEAN_KEYS = Object.freeze(
  (Object.keys(REALM_SESSION_DEFAULTS) as (keyof RealmSessionSettings)[]).filter(
    (k) => typeof REALM_SESSION_DEFAULTS[k] === 'boolean',
  ),
);

/** The attribute names this module owns, in a stable order. */
export const REALM_SESSION_KEYS: readonly (keyof RealmSessionSettings)[] = Object.freeze(
  Object.keys(REALM_SESSION_DEFAULTS) as (keyof RealmSessionSettings)[],
);

/**
 * Builds complete settings from a partial representation: missing keys take
 * Keycloak's defaults (the master realm's access tokens live 60 s). Values are
 * stored as given, like Keycloak stores them; the "≤0 means default" rules are
 * applied where the values are used (see expiry.ts), not here, so an admin who
 * reads a realm back sees what was written.
 */
export function realmSessionSettings(
  partial: Partial<RealmSessionSettings> = {},
  options: { master?: boolean } = {},
): RealmSessionSettings {
  const out: RealmSessionSettings = { ...REALM_SESSION_DEFAULTS };
  if (options.master === true) out.accessTokenLifespan = MASTER_ACCESS_TOKEN_LIFESPAN_S;
  for (const key of NUMERIC_KEYS) {
    const v = partial[key];
    if (typeof v === 'number' && Number.isFinite(v)) (out[key] as number) = Math.trunc(v);
  }
  for (const key of BOOLEAN_KEYS) {
    const v = partial[key];
    if (typeof v === 'boolean') (out[key] as boolean) = v;
  }
  return out;
}
