// Which scopes a token gets (docs/keycloak-semantics.md#token-claims `scope`). A request may name
// `openid` and any of the client's default or optional client scopes; an
// unknown one is refused. The token's `scope` lists `openid` (if asked), the
// client's default scopes that Keycloak includes in the token scope (profile,
// email, ...) and the optional ones asked for. web-origins, acr, roles and
// basic never appear there (Keycloak's include.in.token.scope = false).

import type { ClientRecord } from '../../realm/model.js';
import { invalidScope } from './oauth-error.js';

const NOT_IN_TOKEN_SCOPE: ReadonlySet<string> = new Set(['web-origins', 'acr', 'roles', 'basic']);
export const OFFLINE_ACCESS_SCOPE = 'offline_access';
export const OPENID_SCOPE = 'openid';

export interface GrantedScope {
  /** The `scope` claim and response field. */
  scope: string;
  openid: boolean;
  offline: boolean;
}

export function splitScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  return scope.split(' ').filter((s) => s !== '');
}

/** The scope granted for `requested` (space separated) to `client`. */
export function grantScope(client: ClientRecord, requested: string | undefined): GrantedScope {
  const asked = splitScope(requested);
  const unknown = asked.filter(
    (s) => s !== OPENID_SCOPE && !client.defaultClientScopes.includes(s) && !client.optionalClientScopes.includes(s),
  );
  if (unknown.length > 0) throw invalidScope(`Invalid scopes: ${requested ?? ''}`);
  const out: string[] = [];
  const openid = asked.includes(OPENID_SCOPE);
  if (openid) out.push(OPENID_SCOPE);
  for (const s of asked) if (s !== OPENID_SCOPE && client.optionalClientScopes.includes(s) && !out.includes(s)) out.push(s);
  for (const s of [...client.defaultClientScopes].sort()) if (!NOT_IN_TOKEN_SCOPE.has(s) && !out.includes(s)) out.push(s);
  return { scope: out.join(' '), openid, offline: out.includes(OFFLINE_ACCESS_SCOPE) };
}

/**
 * A refresh may only narrow the original scope (docs/keycloak-semantics.md#refresh-token-rotation): the
 * requested scopes must all be in the original one.
 */
export function narrowScope(original: string, requested: string | undefined): string {
  if (requested === undefined || requested.trim() === '') return original;
  const have = new Set(splitScope(original));
  const asked = splitScope(requested);
  if (asked.some((s) => !have.has(s))) throw invalidScope(`Invalid scopes: ${requested}`);
  // Keep the original order; default scopes stay (Keycloak always includes them).
  const keep = new Set(asked);
  return splitScope(original)
    .filter((s) => keep.has(s) || (s !== OPENID_SCOPE && s !== OFFLINE_ACCESS_SCOPE && !asked.includes(s) && isDefaultish(s)))
    .join(' ');
}

function isDefaultish(scope: string): boolean {
  return scope === 'profile' || scope === 'email';
}
