// TokenService: Keycloak-shaped access, ID and refresh tokens, and the token
// response around them (docs/keycloak-semantics.md#token-lifetimes, #grants, #token-claims). Claims appear in
// Keycloak's order so that a client comparing decoded tokens side by side
// sees the same thing. Access and ID tokens are signed with the realm's
// default algorithm (RS256, ES256 or EdDSA); refresh tokens with the realm's
// HS512 key, as Keycloak does for internal tokens.

import { createHash, randomUUID } from 'node:crypto';
import type { ClientSessionView, SessionView } from '../protocol/actor-messages.js';
import type { ClientRecord, RealmRecord, UserRecord } from '../realm/model.js';
import type { EffectiveRoles } from '../realm/roles.js';
import { clientSessionSettings } from '../session/client-settings.js';
import { notBeforePolicy } from '../session/not-before.js';
import { accessTokenExpiry, expiresIn, refreshTokenExpiry } from '../session/token-expiry.js';
import type { KeyRing } from './key-ring.js';
import type { JwtPayload } from './jwt.js';

export const TOKEN_TYPE = Object.freeze({ bearer: 'Bearer', id: 'ID', refresh: 'Refresh', offline: 'Offline', logout: 'Logout' });

/** Keycloak 26.2+ jti prefixes: session type, token type, grant type (DefaultTokenContextEncoderProvider). */
const SESSION_TYPE_CODE = { online: 'on', offline: 'of', transient: 'tr' } as const;
const GRANT_TYPE_CODE: Record<string, string> = {
  authorization_code: 'ac',
  password: 'ro',
  client_credentials: 'cc',
  refresh_token: 'rt',
};

export interface TokenRequestContext {
  realm: RealmRecord;
  client: ClientRecord;
  user: UserRecord;
  roles: EffectiveRoles;
  issuer: string;
  now: number;
  grantType: string;
  /** Granted scope (space separated), as it goes into the `scope` claim. */
  scope: string;
  /** The user session (online or offline) or null for a transient session. */
  session: SessionView | null;
  clientSession: ClientSessionView | null;
  offline: boolean;
  /** ID token `nonce` (authorization code flow). */
  nonce?: string | null;
  /** `reuse_id` of the refresh-token chain (rotation on). */
  reuseId?: string | null;
  /** Issue a refresh token (`use.refresh.tokens`, session present). */
  withRefreshToken: boolean;
  /** SSO (cookie) login: `acr` "0" instead of "1". */
  ssoAuth?: boolean;
  /** The user's not-before, for `not-before-policy`. */
  userNotBefore: number;
}

export interface IssuedTokens {
  body: Record<string, unknown>;
  accessJti: string;
  refreshJti: string | null;
  accessExp: number;
  refreshExp: number;
}

function audience(list: string[]): string | string[] | undefined {
  if (list.length === 0) return undefined;
  return list.length === 1 ? list[0] : list;
}

/** UriUtils.getOrigin's pattern: scheme, host and a numeric port when there is one. */
const ORIGIN = /^https?:\/\/[\w-]+(?:\.[\w-]+)*(?::\d{2,5})?/i;

/**
 * The `allowed-origins` claim (WebOriginsUtils.resolveValidWebOrigins): the
 * client's web origins, where `+` stands for the origins of its redirect URIs.
 */
export function allowedOrigins(client: Pick<ClientRecord, 'webOrigins' | 'redirectUris'>): string[] {
  const out = new Set<string>();
  for (const origin of client.webOrigins) {
    if (origin !== '+') {
      out.add(origin);
      continue;
    }
    for (const uri of client.redirectUris) {
      const match = ORIGIN.exec(uri);
      if (match !== null) out.add(match[0]);
    }
  }
  return [...out];
}

export class TokenService {
  readonly #keys: KeyRing;

  constructor(keys: KeyRing) {
    this.#keys = keys;
  }

  /** Issues the tokens of a grant and the JSON body of the token response. */
  async issue(ctx: TokenRequestContext): Promise<IssuedTokens> {
    const { realm, client, user, session, clientSession, now } = ctx;
    const clientSettings = clientSessionSettings(client.attributes, client.notBefore);
    const sessionType = session === null ? SESSION_TYPE_CODE.transient : ctx.offline ? SESSION_TYPE_CODE.offline : SESSION_TYPE_CODE.online;
    const accessJti = `${sessionType}rt${GRANT_TYPE_CODE[ctx.grantType] ?? 'xx'}:${randomUUID()}`;
    const accessExp = accessTokenExpiry({
      realm: realm.sessions,
      client: clientSettings,
      now,
      userSession: session ?? { started: now, rememberMe: false },
      ...(clientSession !== null ? { clientSession } : {}),
      offline: ctx.offline,
    });
    const scopes = new Set(ctx.scope.split(' ').filter((s) => s !== ''));
    const profile = scopes.has('profile');
    const email = scopes.has('email');
    const acr = ctx.ssoAuth === true ? '0' : '1';
    const name = [user.firstName, user.lastName].filter((p): p is string => p !== null && p !== '').join(' ');

    const access: JwtPayload = { exp: accessExp, iat: now };
    if (session !== null) access['auth_time'] = session.authTime;
    access['jti'] = accessJti;
    access['iss'] = ctx.issuer;
    const resourceAccess: Record<string, { roles: string[] }> = {};
    for (const [clientId, roles] of ctx.roles.clients) if (roles.size > 0) resourceAccess[clientId] = { roles: [...roles] };
    const aud = audience(Object.keys(resourceAccess).filter((c) => c !== client.clientId));
    if (aud !== undefined) access['aud'] = aud;
    access['sub'] = user.id;
    access['typ'] = TOKEN_TYPE.bearer;
    access['azp'] = client.clientId;
    if (session !== null) access['sid'] = session.id;
    access['acr'] = acr;
    const origins = allowedOrigins(client);
    if (origins.length > 0) access['allowed-origins'] = origins;
    if (ctx.roles.realm.size > 0) access['realm_access'] = { roles: [...ctx.roles.realm] };
    if (Object.keys(resourceAccess).length > 0) access['resource_access'] = resourceAccess;
    access['scope'] = ctx.scope;
    this.#userClaims(access, user, profile, email, name);

    const signer = this.#keys.signer(realm.id, realm.defaultSignatureAlgorithm);
    if (signer === undefined) throw new Error(`realm ${realm.name} has no active ${realm.defaultSignatureAlgorithm} key`);
    const accessToken = signer.algorithm === 'RS256' ? await signer.signAsync(access) : signer.sign(access);

    const body: Record<string, unknown> = { access_token: accessToken, expires_in: expiresIn(accessExp, now) };

    let refreshToken: string | null = null;
    let refreshJti: string | null = null;
    let refreshExp = 0;
    if (ctx.withRefreshToken && session !== null && clientSession !== null) {
      refreshExp = refreshTokenExpiry({
        realm: realm.sessions,
        client: clientSettings,
        userSession: session,
        clientSession: { started: clientSession.started, timestamp: now },
        offline: ctx.offline,
      });
      refreshJti = randomUUID();
      const refresh: JwtPayload = {};
      if (refreshExp > 0) refresh['exp'] = refreshExp;
      refresh['iat'] = now;
      refresh['jti'] = refreshJti;
      refresh['iss'] = ctx.issuer;
      refresh['aud'] = ctx.issuer;
      refresh['sub'] = user.id;
      refresh['typ'] = ctx.offline ? TOKEN_TYPE.offline : TOKEN_TYPE.refresh;
      refresh['azp'] = client.clientId;
      refresh['sid'] = session.id;
      refresh['scope'] = ctx.scope;
      if (ctx.reuseId !== undefined && ctx.reuseId !== null) refresh['reuse_id'] = ctx.reuseId;
      const hmac = this.#keys.signer(realm.id, 'HS512');
      if (hmac === undefined) throw new Error(`realm ${realm.name} has no active HS512 key`);
      refreshToken = hmac.sign(refresh);
    }
    body['refresh_expires_in'] = expiresIn(refreshExp, now);
    if (refreshToken !== null) body['refresh_token'] = refreshToken;
    body['token_type'] = 'Bearer';

    if (scopes.has('openid')) {
      const id: JwtPayload = { exp: accessExp, iat: now };
      if (session !== null) id['auth_time'] = session.authTime;
      id['jti'] = randomUUID();
      id['iss'] = ctx.issuer;
      id['aud'] = client.clientId;
      id['sub'] = user.id;
      id['typ'] = TOKEN_TYPE.id;
      id['azp'] = client.clientId;
      if (ctx.nonce !== undefined && ctx.nonce !== null) id['nonce'] = ctx.nonce;
      if (session !== null) id['sid'] = session.id;
      id['at_hash'] = this.#atHash(accessToken, signer.algorithm);
      id['acr'] = acr;
      this.#userClaims(id, user, profile, email, name);
      body['id_token'] = signer.algorithm === 'RS256' ? await signer.signAsync(id) : signer.sign(id);
    }
    body['not-before-policy'] = notBeforePolicy(realm.sessions.notBefore, client.notBefore, ctx.userNotBefore);
    if (session !== null) body['session_state'] = session.id;
    body['scope'] = ctx.scope;
    return { body, accessJti, refreshJti, accessExp, refreshExp };
  }

  #userClaims(claims: JwtPayload, user: UserRecord, profile: boolean, email: boolean, name: string): void {
    if (email) claims['email_verified'] = user.emailVerified;
    if (profile) {
      if (name !== '') claims['name'] = name;
      claims['preferred_username'] = user.username;
      if (user.firstName !== null) claims['given_name'] = user.firstName;
      if (user.lastName !== null) claims['family_name'] = user.lastName;
    }
    if (email && user.email !== null) claims['email'] = user.email;
  }

  /** OIDC at_hash: left half of the hash of the access token, base64url. */
  #atHash(accessToken: string, algorithm: string): string {
    const digest = createHash(algorithm === 'EdDSA' ? 'sha512' : 'sha256').update(accessToken).digest();
    return digest.subarray(0, digest.length / 2).toString('base64url');
  }
}
