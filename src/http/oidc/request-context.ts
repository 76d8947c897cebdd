// Per-request lookups shared by the OIDC endpoints: the realm named in the
// path, the issuer URL, the caller's address, and client authentication.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ClientRecord, RealmRecord } from '../../realm/model.js';
import type { FacadeContext } from '../context.js';
import { allowClientOrigins } from './cors.js';
import { OAuthError, invalidClient, unauthorizedClient } from './oauth-error.js';

export type FormBody = Record<string, string | string[] | undefined>;

/** The realm in `/realms/{realm}/...`; 404 with an OAuth error body when it does not exist or is disabled. */
export function realmOf(ctx: FacadeContext, request: FastifyRequest): RealmRecord {
  const name = (request.params as { realm?: string }).realm ?? '';
  const realm = ctx.store.realmByName(name);
  if (realm === undefined || !realm.enabled) throw new OAuthError(404, 'invalid_request', 'Realm does not exist');
  return realm;
}

/**
 * `http(s)://host[:port]`: --hostname-admin for requests that arrive through the admin
 * address, --hostname for all others; without --hostname, the request's own scheme and
 * Host (as a trusted proxy passed them on), which a caller can choose: hence the warning
 * at start.
 */
export function baseUrlOf(ctx: FacadeContext, request: FastifyRequest): string {
  if (ctx.hostname !== null) {
    if (ctx.hostnameAdmin !== null && new URL(ctx.hostnameAdmin).host === request.host.toLowerCase()) return ctx.hostnameAdmin;
    return ctx.hostname;
  }
  return `${request.protocol}://${request.host}`;
}

/** The realm's issuer (`iss`): `<base>/realms/<name>`, as Keycloak. */
export function issuerOf(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord): string {
  return `${baseUrlOf(ctx, request)}/realms/${encodeURIComponent(realm.name)}`;
}

export function ipOf(request: FastifyRequest): string {
  return request.ip;
}

/**
 * Keycloak's OIDC endpoints consume `application/x-www-form-urlencoded` only
 * (JAX-RS @Consumes): a JSON (or any other) body is 415, never read as a
 * form. A request without a body (no content type) passes. Use as a route's
 * preValidation hook, or call first thing in a handler.
 */
export async function requireFormBody(request: FastifyRequest): Promise<void> {
  const type = request.headers['content-type'];
  if (type === undefined) return;
  const mime = type.split(';')[0]!.trim().toLowerCase();
  if (mime !== 'application/x-www-form-urlencoded') {
    throw new OAuthError(415, 'invalid_request', 'Unsupported content type: expected application/x-www-form-urlencoded');
  }
}

/** One value of a form field: absent, or the first when repeated (repeats are refused by callers that care). */
export function field(body: FormBody, name: string): string | undefined {
  const value = body[name];
  if (Array.isArray(value)) return value[0];
  return value;
}

/** Constant-time comparison of two secrets (hashed first so lengths leak nothing). */
export function secretEquals(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b) && expected.length === given.length;
}

/**
 * Authenticates the client of a token-endpoint style request: HTTP Basic
 * (client_secret_basic), form client_id + client_secret (client_secret_post),
 * or a public client by client_id alone. Keycloak answers every credential
 * failure with the same 401 description.
 */
export function authenticateClient(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, body: FormBody): ClientRecord {
  let clientId: string | undefined;
  let secret: string | undefined;
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient();
    try {
      // RFC 6749 §2.3.1: both parts are form-urlencoded.
      clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      throw invalidClient();
    }
    const formClientId = field(body, 'client_id');
    if (formClientId !== undefined && formClientId !== clientId) throw invalidClient();
  } else {
    clientId = field(body, 'client_id');
    secret = field(body, 'client_secret');
  }
  if (clientId === undefined || clientId === '') {
    throw new OAuthError(401, 'invalid_client', 'Missing client_id parameter');
  }
  const client = ctx.store.clientByClientId(realm.id, clientId);
  if (client === undefined || !client.enabled) throw invalidClient('invalid_client');
  if (client.bearerOnly) throw unauthorizedClient('Bearer-only not allowed');
  // The client is known: its web origins may read the answer (errors included), as Keycloak.
  allowClientOrigins(request, client);
  if (client.publicClient) return client;
  if (secret === undefined || client.secret === null || !secretEquals(client.secret, secret)) throw invalidClient('unauthorized_client');
  return client;
}
