// Fair admission of login attempts. Every password check costs a PBKDF2 hash
// from one bounded, node-wide queue; one address hammering wrong passwords
// would fill it and everyone else would get 503. Login attempts (password
// grants and login-form posts) are therefore limited per client address (the
// real client behind a trusted proxy, see proxy-headers.ts) with
// @fastify/rate-limit: at most `max` per window, the excess answered 429 with
// Retry-After before any hash is queued. Other token requests (refresh, code,
// client credentials) cost no hash and are not counted.
//
// A rate alone is not fair: the queue is first come, first served, so the
// attempts one address may make in a window, arriving at once, would sit in
// front of everyone else's for seconds. So an address also has at most
// LOGIN_HASHES_PER_ADDRESS_MAX hashes queued or running at a time (admitHash);
// past that its attempt is refused (429) without a hash, and everybody else
// waits behind at most that many of its hashes.

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FacadeContext } from '../context.js';
import { OAuthError } from './oauth-error.js';

/**
 * Password hashes one client address may have queued or running at once. Two
 * keep a browser's retry or a script's next login from being refused while
 * the previous one finishes; with the hash pool's two threads on a 2-core
 * node, one address can then hold at most the pool's width.
 */
export const LOGIN_HASHES_PER_ADDRESS_MAX = 2;

/** Hashes in flight per address, per node (the context): owner, the event loop. */
const hashesInFlight = new WeakMap<FacadeContext, Map<string, number>>();

/**
 * A hash slot for `address`, or null when it already has
 * LOGIN_HASHES_PER_ADDRESS_MAX in flight. The caller runs the hash, then
 * calls the returned release (once). Without admission (--login-rate-limit 0)
 * every attempt gets a slot.
 */
export function admitHash(ctx: FacadeContext, address: string): (() => void) | null {
  if (ctx.loginRate.max === 0) return () => {};
  let counts = hashesInFlight.get(ctx);
  if (counts === undefined) hashesInFlight.set(ctx, (counts = new Map()));
  const held = counts.get(address) ?? 0;
  if (held >= LOGIN_HASHES_PER_ADDRESS_MAX) return null;
  counts.set(address, held + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const now = (counts.get(address) ?? 1) - 1;
    if (now <= 0) counts.delete(address);
    else counts.set(address, now);
  };
}

/** The 429 an attempt gets when its address is over the limit (rate or hashes in flight). */
export function tooManyAttempts(retryAfterSeconds: number): OAuthError {
  return new OAuthError(429, 'temporarily_unavailable', 'Too many login attempts from this address, retry later', { 'retry-after': String(Math.max(1, retryAfterSeconds)) });
}

/** Registers the limiter (no route is limited until it asks for it with loginRateLimitConfig). */
export async function registerLoginRateLimit(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false });
}

/** Route config that limits this route's login attempts; `isAttempt` picks them out (after body parsing). */
export function loginRateLimitConfig(ctx: FacadeContext, isAttempt: (request: FastifyRequest) => boolean = () => true): { rateLimit?: object } {
  if (ctx.loginRate.max === 0) return {};
  return {
    rateLimit: {
      max: ctx.loginRate.max,
      timeWindow: ctx.loginRate.windowSeconds * 1000,
      hook: 'preHandler',
      groupId: 'login',
      keyGenerator: (request: FastifyRequest) => request.ip,
      allowList: (request: FastifyRequest) => !isAttempt(request),
      errorResponseBuilder: (_request: FastifyRequest, context: { ttl: number }) => tooManyAttempts(Math.ceil(context.ttl / 1000)),
    },
  };
}

/** A token request that checks a password. */
export function isPasswordGrant(request: FastifyRequest): boolean {
  const body = request.body as Record<string, unknown> | undefined;
  return body !== undefined && body !== null && body['grant_type'] === 'password';
}
