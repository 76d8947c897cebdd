// Fair admission of login attempts. Every password check costs a PBKDF2 hash
// from one bounded, node-wide queue; one address hammering wrong passwords
// would fill it and everyone else would get 503. Login attempts (password
// grants and login-form posts) are therefore limited per client address (the
// real client behind a trusted proxy, see proxy-headers.ts) with
// @fastify/rate-limit: at most `max` per window, the excess answered 429 with
// Retry-After before any hash is queued. Other token requests (refresh, code,
// client credentials) cost no hash and are not counted.
//
// A rate alone is not fair: the attempts one address may make in a window,
// arriving at once, would queue in front of everyone else's. The admitted
// attempts therefore hash in fair turns between addresses (fair-hash-queue.ts).

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FacadeContext } from '../context.js';
import { OAuthError } from './oauth-error.js';

/** The 429 an attempt gets when its address is over the limit. */
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
