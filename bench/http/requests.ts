// The autocannon request definitions of the OIDC calls, and the token pools
// built with them. Bodies are form-encoded once up front where the pool is
// known, so that the generator spends its time on sockets, not on encoding.

import type { LoadRequest } from './load.js';
import { runLoad } from './load.js';
import { paths, type Target } from './target.js';

const FORM = 'application/x-www-form-urlencoded';

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function headers(target: Target): Record<string, string> {
  return { 'content-type': FORM, authorization: target.authorization };
}

/** Cycles through `bodies`, one per request, across all connections (a shared round-robin). */
function roundRobin(bodies: readonly string[]): (req: LoadRequest) => LoadRequest {
  if (bodies.length === 0) throw new RangeError('empty pool');
  let next = 0;
  return (req) => {
    req.body = bodies[next]!;
    next = next + 1 === bodies.length ? 0 : next + 1;
    return req;
  };
}

export function passwordBody(target: Target, user: number): string {
  return form({ grant_type: 'password', username: `${target.usersPrefix}${user}`, password: target.password, scope: 'openid' });
}

/** Password grants, users round-robin over the target's users. */
export function passwordRequest(target: Target, realm: string): LoadRequest {
  const bodies = Array.from({ length: target.users }, (_, i) => passwordBody(target, i));
  return { method: 'POST', path: paths.token(target, realm), headers: headers(target), setupRequest: roundRobin(bodies) };
}

export function refreshRequest(target: Target, realm: string, refreshTokens: readonly string[]): LoadRequest {
  const bodies = refreshTokens.map((t) => form({ grant_type: 'refresh_token', refresh_token: t }));
  return { method: 'POST', path: paths.token(target, realm), headers: headers(target), setupRequest: roundRobin(bodies) };
}

export function clientCredentialsRequest(target: Target, realm: string): LoadRequest {
  return { method: 'POST', path: paths.token(target, realm), headers: headers(target), body: form({ grant_type: 'client_credentials' }) };
}

/** Introspection answers 200 for dead tokens too: the tally counts `"active":false` bodies, a silent failure. */
export interface ActiveTally {
  active: number;
  inactive: number;
}

export function countActive(tally: ActiveTally, status: number, body: string): void {
  if (status !== 200) return;
  // Both sessiond and Keycloak write `"active":true` without spaces; no JSON.parse per response.
  if (body.includes('"active":true')) tally.active++;
  else tally.inactive++;
}

export function introspectRequest(target: Target, realm: string, accessTokens: readonly string[], tally: ActiveTally): LoadRequest {
  const bodies = accessTokens.map((t) => form({ token: t, token_type_hint: 'access_token' }));
  return {
    method: 'POST',
    path: paths.introspect(target, realm),
    headers: headers(target),
    setupRequest: roundRobin(bodies),
    onResponse: (status, body) => countActive(tally, status, body),
  };
}

export interface PooledSession {
  access: string;
  refresh: string;
  response: Record<string, unknown>;
}

/**
 * Logs in `count` users (user i for i < count, round-robin past the user
 * count) through autocannon with a fixed request amount, and keeps their
 * tokens. Any failed login fails the pool, with the first error body.
 */
export async function loginPool(target: Target, realm: string, count: number, connections: number): Promise<PooledSession[]> {
  const sessions: PooledSession[] = [];
  let firstFailure: string | null = null;
  let next = 0;
  const request: LoadRequest = {
    method: 'POST',
    path: paths.token(target, realm),
    headers: headers(target),
    setupRequest: (req) => {
      req.body = passwordBody(target, next++ % target.users);
      return req;
    },
    onResponse: (status, body) => {
      if (status === 200) {
        const json = JSON.parse(body) as Record<string, unknown>;
        if (typeof json['access_token'] === 'string' && typeof json['refresh_token'] === 'string') {
          sessions.push({ access: json['access_token'], refresh: json['refresh_token'], response: json });
          return;
        }
      }
      firstFailure ??= `status ${status}: ${body.slice(0, 300)}`;
    },
  };
  // Long timeout: an external server with 210k-iteration hashes answers ~10-20 logins/s.
  const result = await runLoad({ label: 'pool', origin: target.origin, connections: Math.min(connections, count), amount: count, requests: [request], timeoutS: 120, progress: null });
  if (firstFailure !== null || result.errors > 0 || sessions.length < count) {
    throw new Error(`login pool for realm ${realm}: ${sessions.length}/${count} logins succeeded; first failure: ${firstFailure ?? `${result.socketErrors} socket errors, ${result.timeouts} timeouts`}`);
  }
  return sessions;
}

/** One form POST outside the load (a sample response for the templates, a sanity check). */
export async function postForm(target: Target, path: string, fields: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> | null; text: string }> {
  const res = await fetch(`${target.origin}${path}`, { method: 'POST', headers: headers(target), body: form(fields) });
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

/** postForm that insists on a 2xx JSON body. */
export async function postFormOk(target: Target, path: string, fields: Record<string, string>, what: string): Promise<Record<string, unknown>> {
  const r = await postForm(target, path, fields);
  if (r.status < 200 || r.status >= 300 || r.json === null) throw new Error(`${what}: status ${r.status}: ${r.text.slice(0, 300)}`);
  return r.json;
}
