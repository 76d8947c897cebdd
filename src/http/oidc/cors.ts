// CORS on the OIDC endpoints with Keycloak's rules (its DefaultCors): a
// response carries Access-Control-Allow-Origin (the request's own Origin,
// never `*`) and Access-Control-Allow-Credentials only when that origin is
// allowed: by the authenticated client's web origins on token, introspect,
// revoke and logout (`+` = the origins of its redirect URIs, `*` = any), by
// the access token's `allowed-origins` claim on userinfo, by anyone on certs
// and discovery. Preflight (OPTIONS) answers every origin, as Keycloak does:
// the real request is what gets checked.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ClientRecord } from '../../realm/model.js';
import { allowedOrigins } from '../../tokens/token-service.js';

/** Keycloak's Cors.DEFAULT_ALLOW_HEADERS, plus Authorization on authenticated endpoints. */
const ALLOW_HEADERS = 'Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, Access-Control-Request-Headers, Authorization';
/** Keycloak's Cors.DEFAULT_MAX_AGE: browsers cache a preflight answer for an hour. */
const PREFLIGHT_MAX_AGE_S = 3600;
/** The wildcard web origin: any origin may read the answer. */
export const ANY_ORIGIN = '*';

declare module 'fastify' {
  interface FastifyRequest {
    /** Origins allowed to read this response, once the endpoint knows them. */
    corsOrigins?: readonly string[];
  }
}

/** The OIDC paths with CORS, and the methods their preflight allows. */
const PREFLIGHT: ReadonlyArray<[path: string, methods: string]> = [
  ['/realms/:realm/protocol/openid-connect/token', 'POST, OPTIONS'],
  ['/realms/:realm/protocol/openid-connect/token/introspect', 'POST, OPTIONS'],
  ['/realms/:realm/protocol/openid-connect/revoke', 'POST, OPTIONS'],
  ['/realms/:realm/protocol/openid-connect/logout', 'GET, POST, OPTIONS'],
  ['/realms/:realm/protocol/openid-connect/userinfo', 'GET, POST, OPTIONS'],
  ['/realms/:realm/protocol/openid-connect/certs', 'GET, OPTIONS'],
  ['/realms/:realm/.well-known/openid-configuration', 'GET, OPTIONS'],
];

// A redirect URI with a wildcard port (http://127.0.0.1:* followed by a path): its origin with any port.
const WILDCARD_PORT_ORIGIN = /^(https?:\/\/[\w-]+(?:\.[\w-]+)*):\*(?:\/|$)/i;

/**
 * The client's origins as Keycloak resolves them, plus, for `+`, the origins of redirect
 * URIs with a wildcard port as `scheme://host:*` rules (any port of that host): the redirect
 * URI already admits every port there, so the page it lands on may call the endpoints.
 */
export function clientOriginRules(client: Pick<ClientRecord, 'webOrigins' | 'redirectUris'>): string[] {
  const rules = allowedOrigins(client);
  if (!client.webOrigins.includes('+')) return rules;
  for (const uri of client.redirectUris) {
    const match = WILDCARD_PORT_ORIGIN.exec(uri);
    if (match !== null && !rules.includes(`${match[1]}:*`)) rules.push(`${match[1]}:*`);
  }
  return rules;
}

/** Allows this request's Origin to read the answer when the client's origins list it. */
export function allowClientOrigins(request: FastifyRequest, client: Pick<ClientRecord, 'webOrigins' | 'redirectUris'>): void {
  request.corsOrigins = clientOriginRules(client);
}

/** Whether `origin` is allowed by the rules: listed, `*`, or `scheme://host:*` with a numeric port. */
export function originAllowed(origin: string, rules: readonly string[]): boolean {
  for (const rule of rules) {
    if (rule === origin || rule === ANY_ORIGIN) return true;
    if (rule.endsWith(':*') && origin.startsWith(rule.slice(0, -1)) && /^\d{1,5}$/.test(origin.slice(rule.length - 1))) return true;
  }
  return false;
}

/** Origins from a token's `allowed-origins` claim. */
export function allowTokenOrigins(request: FastifyRequest, claim: unknown): void {
  request.corsOrigins = Array.isArray(claim) ? claim.filter((o): o is string => typeof o === 'string') : [];
}

export function allowAnyOrigin(request: FastifyRequest): void {
  request.corsOrigins = [ANY_ORIGIN];
}

function originOf(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  return typeof origin === 'string' && origin !== '' ? origin : undefined;
}

/** Preflight routes and the hook that adds the headers to answers (errors included) whose origin is allowed. */
export function registerCors(app: FastifyInstance): void {
  for (const [path, methods] of PREFLIGHT) {
    app.options(path, async (request: FastifyRequest, reply: FastifyReply) => {
      const origin = originOf(request);
      if (origin !== undefined) {
        void reply.headers({
          'access-control-allow-origin': origin,
          'access-control-allow-methods': methods,
          'access-control-allow-credentials': 'true',
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
          vary: 'Origin',
        });
      }
      return reply.code(200).send();
    });
  }
  app.addHook('onSend', async (request, reply, payload) => {
    const origin = originOf(request);
    const allowed = request.corsOrigins;
    if (origin === undefined || allowed === undefined || request.method === 'OPTIONS') return payload;
    if (originAllowed(origin, allowed)) {
      void reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true').header('vary', 'Origin');
    }
    return payload;
  });
}
