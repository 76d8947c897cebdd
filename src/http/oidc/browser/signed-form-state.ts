// What a login or logout-confirmation form must remember between rendering
// and submission (the authorization request, the logout request), carried by
// the form itself as an HS512 JWT with an expiry instead of a server-side
// authentication session: any node can finish a login that another node
// started, and nothing is stored for a form nobody submits. The signature
// (realm HS512 key) makes it tamper-proof; the CSRF token (csrf-token.ts)
// binds the submission to the browser. Keycloak keeps the same data in its
// authentication session (and a KC_RESTART cookie).

import type { RealmRecord } from '../../../realm/model.js';
import { verifyJwt, type JwtPayload } from '../../../tokens/jwt.js';
import type { FacadeContext } from '../../context.js';

export const FORM_STATE_TYPE = Object.freeze({ authRequest: 'Auth-Request', logoutRequest: 'Logout-Request' });
export type FormStateType = (typeof FORM_STATE_TYPE)[keyof typeof FORM_STATE_TYPE];

export function signFormState(ctx: FacadeContext, realm: RealmRecord, typ: FormStateType, claims: JwtPayload, now: number, lifetimeSeconds: number): string {
  const signer = ctx.keys.signer(realm.id, 'HS512');
  if (signer === undefined) throw new Error(`realm ${realm.id} has no active HS512 key`);
  // Absent values are left out: the token rides in every login form, so shorter is better.
  const present = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== null && v !== undefined));
  return signer.sign({ ...present, typ, realm: realm.id, iat: now, exp: now + lifetimeSeconds });
}

export type FormStateResult = { status: 'valid'; claims: JwtPayload } | { status: 'expired'; claims: JwtPayload } | { status: 'invalid' };

/** Verifies a form state: our realm's HS512 signature, the expected type and realm, then expiry. */
export function verifyFormState(ctx: FacadeContext, realm: RealmRecord, typ: FormStateType, token: string | undefined, now: number): FormStateResult {
  if (token === undefined || token === '') return { status: 'invalid' };
  const verified = verifyJwt(token, (kid) => ctx.keys.verifier(realm.id, kid));
  if (!verified.ok || verified.header.alg !== 'HS512') return { status: 'invalid' };
  const claims = verified.payload;
  if (claims['typ'] !== typ || claims['realm'] !== realm.id || typeof claims['exp'] !== 'number') return { status: 'invalid' };
  return now > claims['exp'] ? { status: 'expired', claims } : { status: 'valid', claims };
}

export function stringClaim(claims: JwtPayload, name: string): string | null {
  const value = claims[name];
  return typeof value === 'string' ? value : null;
}

export function numberClaim(claims: JwtPayload, name: string): number | null {
  const value = claims[name];
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}
