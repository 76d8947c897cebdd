// KEYCLOAK_IDENTITY: the HS512 JWT that lets a browser log in without a form
// (Keycloak's IdentityCookieToken, `typ: Serialized-ID`), and the checks of
// Keycloak's `authenticateIdentityCookie`: our realm key's signature, the
// realm's issuer, `exp` (unless a logout asks to ignore it), the realm and
// user not-before, then the session itself — it must exist, be valid
// (docs/keycloak-semantics.md#validity-checks), belong to this realm and to the token's subject, whose
// account must still be enabled.

import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { SessionView } from '../../../protocol/actor-messages.js';
import type { RealmRecord, UserRecord } from '../../../realm/model.js';
import { realmTimeouts } from '../../../session/expiry.js';
import { isStale } from '../../../session/not-before.js';
import { tokenExpired } from '../../../session/refresh-checks.js';
import { verifyJwt } from '../../../tokens/jwt.js';
import type { FacadeContext } from '../../context.js';
import { COOKIE, cookieOf } from './browser-cookies.js';

export const IDENTITY_TOKEN_TYPE = 'Serialized-ID';

/**
 * The lifetime of the identity token and the SSO cookies: the session's max
 * lifespan (docs/keycloak-semantics.md#expiry-formulas, #remember-me), max(ssoSessionMaxLifespan,
 * ssoSessionMaxLifespanRememberMe) for remembered sessions. As Keycloak's,
 * it counts from each issue (login or SSO); the session's own validity is
 * checked on every use anyway.
 */
export function ssoSessionMax(realm: RealmRecord, rememberMe: boolean): number {
  const t = realmTimeouts(realm.sessions);
  return rememberMe ? t.rememberMeMax : t.max;
}

/** Signs the identity token of `session`. */
export function mintIdentityToken(ctx: FacadeContext, realm: RealmRecord, issuer: string, session: SessionView, now: number): { jwt: string; exp: number } {
  const signer = ctx.keys.signer(realm.id, 'HS512');
  if (signer === undefined) throw new Error(`realm ${realm.id} has no active HS512 key`);
  const exp = now + ssoSessionMax(realm, session.rememberMe);
  const jwt = signer.sign({
    exp,
    iat: now,
    jti: randomUUID(),
    iss: issuer,
    sub: session.userId,
    typ: IDENTITY_TOKEN_TYPE,
    sid: session.id,
    state_checker: randomBytes(16).toString('base64url'),
  });
  return { jwt, exp };
}

export interface CookieIdentity {
  sessionId: string;
  userId: string;
  iat: number;
  exp: number;
}

/** The identity cookie's claims if its signature, type, issuer and (optionally) expiry check out; nothing about the session yet. */
export function readIdentityCookie(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, issuer: string, options: { checkActive: boolean; now: number }): CookieIdentity | null {
  const cookie = cookieOf(request, COOKIE.identity);
  if (cookie === undefined) return null;
  const verified = verifyJwt(cookie, (kid) => ctx.keys.verifier(realm.id, kid));
  if (!verified.ok || verified.header.alg !== 'HS512') return null;
  const t = verified.payload;
  if (t['typ'] !== IDENTITY_TOKEN_TYPE || t['iss'] !== issuer) return null;
  const sid = t['sid'];
  const sub = t['sub'];
  const iat = t['iat'];
  const exp = t['exp'];
  if (typeof sid !== 'string' || typeof sub !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return null;
  if (options.checkActive && tokenExpired(exp, options.now)) return null;
  if (isStale(iat, realm.sessions.notBefore)) return null;
  return { sessionId: sid, userId: sub, iat, exp };
}

export interface CookieSession {
  identity: CookieIdentity;
  session: SessionView;
  user: UserRecord;
}

/**
 * The user session the identity cookie stands for, when it may be used for
 * SSO now; null otherwise (no cookie, bad token, session gone or invalid).
 */
export async function authenticateIdentityCookie(
  ctx: FacadeContext,
  request: FastifyRequest,
  realm: RealmRecord,
  issuer: string,
  options: { checkActive: boolean; now: number },
): Promise<CookieSession | null> {
  const identity = readIdentityCookie(ctx, request, realm, issuer, options);
  if (identity === null) return null;
  const got = await ctx.engine.validate(identity.sessionId);
  if (!got.valid || got.session === null) return null;
  const session = got.session;
  if (session.realm !== realm.id || session.userId !== identity.userId) return null;
  const user = ctx.store.userById(session.userId);
  if (user === undefined || !user.enabled) return null;
  const userNotBefore = Math.max(user.notBefore, ctx.engine.notBefore(realm.id, undefined, user.id).user);
  if (isStale(identity.iat, userNotBefore)) return null;
  return { identity, session, user };
}
