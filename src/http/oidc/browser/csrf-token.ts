// CSRF protection of the login and logout-confirmation forms, with no server
// state (any node of a cluster checks any form): the form carries
// HMAC-SHA512(realm HS512 secret, realm id + AUTH_SESSION_ID), so only a page
// this server rendered for this browser's AUTH_SESSION_ID cookie can be
// posted back. A cross-site attacker can make a browser post but cannot read
// its HttpOnly cookie, nor compute the HMAC without the realm's secret.
//
// The HMAC is the signature part of a JWS that the realm's HS512 signer makes
// over a fixed payload, so the secret never leaves the key ring. Rotating the
// realm's HS512 key invalidates forms rendered before the rotation (their
// users start the login again), as it does Keycloak's codes.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { RealmRecord } from '../../../realm/model.js';
import type { FacadeContext } from '../../context.js';
import { COOKIE, cookieOf } from './browser-cookies.js';

/** AUTH_SESSION_ID values sessiond issues: 32 base64url characters (192 random bits). */
const AUTH_SESSION_ID = /^[A-Za-z0-9_-]{32}$/;
/** base64url of a 64-byte HMAC-SHA512. */
const CSRF_TOKEN = /^[A-Za-z0-9_-]{86}$/;

export function newAuthSessionId(): string {
  return randomBytes(24).toString('base64url');
}

/** The browser's AUTH_SESSION_ID, if it sent one of ours. */
export function authSessionIdOf(request: FastifyRequest): string | null {
  const value = cookieOf(request, COOKIE.authSession);
  return value !== undefined && AUTH_SESSION_ID.test(value) ? value : null;
}

export function csrfToken(ctx: FacadeContext, realm: RealmRecord, authSessionId: string): string {
  const signer = ctx.keys.signer(realm.id, 'HS512');
  if (signer === undefined) throw new Error(`realm ${realm.id} has no active HS512 key`);
  const jws = signer.sign({ typ: 'CSRF', realm: realm.id, asid: authSessionId });
  return jws.slice(jws.lastIndexOf('.') + 1);
}

/** Constant-time check of a posted CSRF token against the browser's AUTH_SESSION_ID. */
export function csrfTokenValid(ctx: FacadeContext, realm: RealmRecord, authSessionId: string, posted: string | undefined): boolean {
  if (posted === undefined || !CSRF_TOKEN.test(posted)) return false;
  const expected = Buffer.from(csrfToken(ctx, realm, authSessionId));
  const given = Buffer.from(posted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
